"""`--swing RATIO`: the audio's off-beat eighths fall late, on the MIDI copy handed to the renderer only; the MIDI
written stays on the grid. The renderer is intercepted: what it is given is read back event by event, without
music21's quantisation; one test hears where FluidSynth plays an off-beat eighth."""

import os
import pathlib

import numpy as np
import pytest
from music21 import midi
from test_jazz_audio import read_wav, renderer_or_skip

from apps.jazz import audio, chords, generate, swing
from apps.jazz.cli import main

from clis import run_without_tensorflow

SHIPPED = os.path.join(os.path.dirname(__file__), "..", "..", "..", "saved_models", "jazz")
TICKS = 10_080
"""music21's ticks a quarter note: divisible by 2 and 3, so the straight and the triplet off-beat are whole ticks."""


@pytest.fixture
def heard(monkeypatch):
    """The bytes of each MIDI file handed to the renderer, in order; the renderer writes an empty WAV."""
    given = []

    def render(midi_path, wav_path, renderer, seconds):
        given.append(pathlib.Path(midi_path).read_bytes())
        pathlib.Path(wav_path).write_bytes(b"RIFF\4\0\0\0WAVE")  # a header for the marker to follow

    monkeypatch.setattr(audio, "render", render)
    monkeypatch.setattr(audio, "find_renderer", lambda soundfont=None: ("fluidsynth", "font.sf2"))
    return given


def events(data):
    """`(track, tick, kind, channel, pitch)` of every note on and off in the MIDI file `data`, in file order."""
    midi_file = midi.MidiFile()
    midi_file.readstr(data)
    assert midi_file.ticksPerQuarterNote == TICKS
    found = []
    for index, track in enumerate(midi_file.tracks):
        tick = 0
        for event in track.events:
            if isinstance(event, midi.DeltaTime):
                tick += event.time
            elif event.type in (midi.ChannelVoiceMessages.NOTE_ON, midi.ChannelVoiceMessages.NOTE_OFF):
                found.append((index, tick, event.type, event.channel, event.pitch))
    return found


def assert_swung(grid, swung, position):
    """Every event of `swung` is `grid`'s, with those on an off-beat eighth at `position` ticks into their beat
    (exactly) and those on a beat unmoved; returns how many note onsets were on an off-beat eighth."""
    grid, swung = events(grid), events(swung)
    assert [event[:1] + event[2:] for event in swung] == [event[:1] + event[2:] for event in grid]
    offbeats = 0
    for (_, tick, kind, *_), (_, moved, *_) in zip(grid, swung):
        beat, within = divmod(tick, TICKS)
        if within == 0:
            assert moved == tick
        elif within == TICKS // 2:
            assert moved == beat * TICKS + position
            offbeats += kind == midi.ChannelVoiceMessages.NOTE_ON
    return offbeats


def test_the_warp_stretches_the_first_half_of_each_beat_and_squeezes_the_second():
    ticks = [0, 2520, 5040, 7560, 10080, 15120, 20159]
    assert swing.warp(ticks, TICKS, 2 / 3).tolist() == [0, 3360, 6720, 8400, 10080, 16800, 20159]
    assert swing.warp(ticks, TICKS, 0.5).tolist() == ticks


def test_triplet_swing_moves_every_off_beat_eighth_of_solo_and_band_onto_the_triplet(tmp_path, heard):
    timeline, _ = chords.parse_progression("Dm7 G7 | Cmaj7")
    solo = [(0.5 * i, 0.5, 62 + i % 7) for i in range(12)] + [(6.0, 1.0, 67), (7.0, 0.25, 69), (7.5, 0.5, 71)]
    score = generate.build_score(solo, timeline, 8.0, tempo=120)
    midi_path, _ = generate.write_score(score, str(tmp_path / "solo.mid"), renderer=("fs", "font"), swing=2 / 3)
    with open(midi_path, "rb") as handle:
        written = handle.read()
    onsets = [
        tick for track, tick, kind, _, _ in events(written) if track == 1 and kind == midi.ChannelVoiceMessages.NOTE_ON
    ]
    assert onsets == [round(offset * TICKS) for offset, _, _ in solo]  # the MIDI written stays on the grid
    (given,) = heard
    assert assert_swung(written, given, position=2 * TICKS // 3) == 7  # the solo's 6 off-beat eighths, and 7.5


def test_the_cli_hands_the_renderer_the_midi_as_written_straight_and_swung_otherwise(tmp_path, heard):
    argv = ["generate", "--model", SHIPPED, "--measures", "4", "--tempo", "120", "--wav", "--seed", "3"]
    written = {}
    for option in ([], ["--swing", "0.5"], ["--swing", "2/3"]):
        out = tmp_path / f"{len(written)}.mid"
        assert main([*argv, *option, "--out", str(out)]) == 0
        written[tuple(option)] = out.read_bytes()
    default, straight, triplet = heard
    assert len(set(written.values())) == 1  # the MIDI written is the grid whatever the swing
    grid = written[()]
    assert straight == grid  # 0.5: byte for byte today's timing
    assert assert_swung(grid, triplet, position=6720) > 0
    assert assert_swung(grid, default, position=6048) > 0  # 0.6 of the beat without --swing


def test_a_bad_swing_is_one_line_and_exit_2_before_tensorflow(tmp_path):
    out = str(tmp_path / "solo.mid")
    values = ["0.8", "0.49", "-0.6", "nan", "inf", "1e-999999999", "abc", "1/0", "2/3/4", ""]
    cases = [("jazz", ["generate", "--wav", "--swing", value, "--out", out]) for value in values]
    cases.append(("jazz", ["generate", "--swing", "0.6", "--out", out]))
    results = run_without_tensorflow(cases)
    for value, (code, err) in zip(values, results):
        assert code == 2 and err.count("\n") == 1 and "--swing" in err and "Traceback" not in err, (value, err)
    assert "at least 0.5 and under 0.8, got 0.8" in results[0][1]
    assert "not a valid ratio: '1/0'" in results[values.index("1/0")][1]
    assert results[-1][0] == 2 and results[-1][1].endswith("error: --swing is for --wav\n")
    assert not os.path.exists(out)


@pytest.mark.parametrize(("ratio", "seconds"), [(0.5, 0.5), (2 / 3, 2 / 3)])
def test_fluidsynth_plays_the_off_beat_eighth_where_the_swing_puts_it(tmp_path, ratio, seconds):
    renderer = renderer_or_skip()
    timeline, _ = chords.parse_progression("C7")
    score = generate.build_score([(0.5, 0.5, 72)], timeline, 4.0, tempo=60, comp=False)  # a beat a second
    _, wav = generate.write_score(score, str(tmp_path / "solo.mid"), renderer=renderer, swing=ratio)
    samples = read_wav(wav)
    onset = np.argmax(np.abs(samples).max(axis=1) > 1e-3) / audio.SAMPLE_RATE
    assert onset == pytest.approx(seconds, abs=0.02)
