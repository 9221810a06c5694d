"""`--wav`: FluidSynth renders the score, band and all, to a WAV as long as the MIDI; its absence is one clear error."""

import os
import subprocess
import sys
import time
import wave

import numpy as np
import pytest
from music21 import converter

from apps.common import files
from apps.common.errors import UsageError
from apps.jazz import audio, chords, generate
from apps.jazz.cli import main

SHIPPED = os.path.join(os.path.dirname(__file__), "..", "..", "..", "saved_models", "jazz")

RELEASE_TAIL_S = 3.0
"""FluidSynth renders until the last voice has died away: ~2.5-2.8 s of release after the last note-off with
FluidR3_GM's vibraphone, piano and bass."""


def renderer_or_skip():
    try:
        return audio.find_renderer()
    except UsageError as error:
        pytest.skip(str(error))


def read_wav(path):
    with wave.open(str(path)) as handle:
        assert handle.getsampwidth() == 2 and handle.getframerate() == audio.SAMPLE_RATE
        samples = np.frombuffer(handle.readframes(handle.getnframes()), "<i2").reshape(-1, handle.getnchannels())
    return samples.astype(np.float64) / 32768


def rms(samples):
    return float(np.sqrt(np.mean(samples**2)))


@pytest.mark.parametrize("comp", [True, False])
def test_the_wav_lasts_as_long_as_the_midi_and_the_band_sounds_from_the_first_beat(tmp_path, comp):
    renderer = renderer_or_skip()
    timeline, _ = chords.parse_progression("Dm7 G7 | Cmaj7 | A7")
    notes = [(4.0 + 0.5 * i, 0.5, 62 + 2 * i) for i in range(8)]  # the solo enters in bar 2
    score = generate.build_score(notes, timeline, 12.0, tempo=150, comp=comp)
    midi, wav = generate.write_score(score, str(tmp_path / "solo.mid"), renderer=renderer)
    assert wav == str(tmp_path / "solo.wav")
    assert files.is_ours(wav)  # so that the next `generate` may replace it, and still a WAV that reads
    samples = read_wav(wav)
    seconds = len(samples) / audio.SAMPLE_RATE
    midi_seconds = converter.parse(midi).highestTime * 60 / 150
    assert midi_seconds == pytest.approx(4.8 if comp else 3.2)  # the band plays to the end, the solo stops early
    assert midi_seconds - 0.5 <= seconds <= midi_seconds + 0.5 + RELEASE_TAIL_S
    assert rms(samples) > 0.01  # -40 dBFS: well above silence, whatever the instrument
    first_beat = rms(samples[: audio.SAMPLE_RATE * 60 // 150])
    # With the band the first chord and root are heard before the solo comes in; without it, silence.
    assert first_beat > 0.01 if comp else first_beat < 1e-4


def test_a_render_loads_only_the_instruments_it_plays_and_sounds_as_a_full_load_does(tmp_path):
    fluidsynth, soundfont = renderer_or_skip()
    timeline, _ = chords.parse_progression("Dm7 G7 | Cmaj7 | A7")
    score = generate.build_score([(0.5 * i, 0.5, 62 + i) for i in range(16)], timeline, 12.0, tempo=150)
    [midi] = generate.write_score(score, str(tmp_path / "solo.mid"))
    # Measured in a process of its own: its children's peak memory is FluidSynth's alone.
    script = (
        "import resource, sys\n"
        "from apps.jazz import audio\n"
        "audio.render(sys.argv[1], sys.argv[2], audio.find_renderer(), 5)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, midi, str(tmp_path / "ours.wav")], capture_output=True, text=True
    )
    assert int(done.stdout.split()[-1]) < os.path.getsize(soundfont) / 1024 / 2, done.stderr[-2000:]  # KiB
    full = [fluidsynth, "-n", "-i", "-q", "-g", str(audio.GAIN), "-r", str(audio.SAMPLE_RATE), "-T", "wav"]
    subprocess.run([*full, "-F", str(tmp_path / "full.wav"), soundfont, midi], check=True, capture_output=True)
    assert (tmp_path / "ours.wav").read_bytes() == (tmp_path / "full.wav").read_bytes()


def test_missing_fluidsynth_or_soundfont_is_one_clear_error(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "fluidsynth").write_text("#!/bin/sh\n")
    (bin_dir / "fluidsynth").chmod(0o755)
    (tmp_path / "not-a-font.sf2").write_text("text")
    monkeypatch.setenv("PATH", str(bin_dir))  # a FluidSynth is found, whether or not this machine has one
    monkeypatch.setattr(audio, "SOUNDFONTS", (str(tmp_path / "none.sf2"),))
    with pytest.raises(UsageError, match="--soundfont .*no-such.sf2: file not found"):
        audio.find_renderer(str(tmp_path / "no-such.sf2"))
    with pytest.raises(UsageError, match="not-a-font.sf2: not a SoundFont"):
        audio.find_renderer(str(tmp_path / "not-a-font.sf2"))
    with pytest.raises(UsageError, match="needs a General MIDI SoundFont and none is installed"):
        audio.find_renderer()
    (bin_dir / "fluidsynth").unlink()
    with pytest.raises(UsageError, match="needs FluidSynth, which is not installed"):
        audio.find_renderer()


def test_a_stuck_fluidsynth_is_stopped_in_time_scaled_to_the_audio(tmp_path, monkeypatch, capsys):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # A shell that waits on a child: killing the shell alone would leave the child holding the output pipes.
    (bin_dir / "fluidsynth").write_text("#!/bin/sh\nsleep 60\n")
    (bin_dir / "fluidsynth").chmod(0o755)
    font = tmp_path / "font.sf2"
    font.write_bytes(b"RIFF\0\0\0\0sfbk")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(audio, "RENDER_START_S", 1, raising=False)
    out = tmp_path / "out"
    argv = ["generate", "--model", SHIPPED, "--measures", "2", "--tempo", "120", "--wav", "--soundfont", str(font)]
    started = time.monotonic()
    assert main([*argv, "--out", str(out / "solo.mid")]) == 2
    elapsed = time.monotonic() - started
    err = capsys.readouterr().err.strip()
    # 2 bars at 120 bpm are 4 s of audio: FluidSynth gets 1 s to start and 1 s more at a quarter of real time.
    assert "did not finish rendering 4 s of audio within 2 s" in err and "\n" not in err, err
    assert elapsed < 30  # the model loads in seconds; FluidSynth's child would sleep for 60
    assert not out.exists() or list(out.iterdir()) == []  # no MIDI, no WAV, no temporary file
