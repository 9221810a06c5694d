"""Lead sheets (chords, length, tempo) and primers (files and note lists), from tiny scores built here."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from music21 import chord, note, stream

from apps.common.errors import UsageError
from apps.jazz import chords, data, generate, leadsheet

from jazz_scores import CHORDS, MELODY, SHEET_CHORDS, SHEET_MELODY, lead_sheet_xml, make_score


def expected_changes():
    return [(offset, chords.parse_chord(figure)) for offset, figure in SHEET_CHORDS]


def test_a_musicxml_lead_sheet_gives_its_chord_symbols_length_and_tempo(tmp_path):
    path = str(tmp_path / "tune.musicxml")
    make_score(SHEET_MELODY, SHEET_CHORDS, bpm=150).write("musicxml", fp=path)
    timeline, bars, tempo, bar_quarters = leadsheet.read_lead_sheet(path, max_bars=100)
    assert [(offset, item.root, item.pitch_classes) for offset, item in timeline] == [
        (offset, item.root, item.pitch_classes) for offset, item in expected_changes()
    ]
    assert bars == 3 and tempo == pytest.approx(150) and bar_quarters == 4.0
    with pytest.raises(UsageError, match="3 bars; the limit is 2"):
        leadsheet.read_lead_sheet(path, max_bars=2)


def test_a_chord_inside_the_last_bar_adds_no_bar_to_the_form(tmp_path):
    path = str(tmp_path / "tune.musicxml")
    make_score([(0.0, 8.0, 60)], [(0.0, "C7"), (6.0, "F7")]).write("musicxml", fp=path)
    assert leadsheet.read_lead_sheet(path, max_bars=2)[1] == 2


def test_a_midi_lead_sheet_gives_the_chords_of_its_accompaniment(tmp_path):
    path = str(tmp_path / "tune.mid")
    make_score(MELODY, CHORDS, bpm=100, accompaniment=True).write("midi", fp=path)
    timeline, bars, tempo, _ = leadsheet.read_lead_sheet(path, max_bars=100)
    assert bars == 4 and tempo == pytest.approx(100)  # the held G ends in bar 4
    wanted = chords.Timeline(expected_changes()[:3])
    for offset in (0, 2, 4, 6, 8, 10):
        assert timeline.chord_at(offset).root == wanted.chord_at(offset).root
        assert timeline.chord_at(offset).pitch_classes == wanted.chord_at(offset).pitch_classes


@pytest.mark.parametrize(
    "name, write, message",
    [
        ("head.musicxml", lambda path: make_score(MELODY, []).write("musicxml", fp=path), "no chord symbols"),
        ("melody.mid", lambda path: make_score(MELODY, []).write("midi", fp=path), "needs an accompaniment"),
        ("empty.mid", lambda path: open(path, "wb").close(), "empty file"),
        (
            "silent.mid",
            lambda path: stream.Part([note.Rest(quarterLength=4)]).write("midi", fp=path),
            "needs an accompaniment",
        ),
        ("broken.musicxml", lambda path: open(path, "w").write("<score-partwise>"), "not a readable"),
        ("missing.musicxml", lambda path: None, "file not found"),
    ],
)
def test_a_lead_sheet_without_chords_or_music_is_refused(tmp_path, name, write, message):
    path = str(tmp_path / name)
    write(path)
    with pytest.raises(UsageError, match=message):
        leadsheet.read_lead_sheet(path, max_bars=100)


def test_a_midi_lead_sheet_skips_a_chord_that_music21_cannot_name(tmp_path):
    # music21 names D G C (a C sus2 over D) "susaddc" and then cannot read that name back.
    score, solo, piano = stream.Score(), stream.Part(), stream.Part()
    solo.partName, piano.partName = "Solo", "Piano"
    for offset in range(4):
        solo.insert(offset, note.Note(72))
    piano.insert(0, chord.Chord([50, 55, 60], quarterLength=2))
    piano.insert(2, chord.Chord([48, 52, 55], quarterLength=2))
    score.insert(0, solo)
    score.insert(0, piano)
    path = str(tmp_path / "truncated.mid")
    score.write("midi", fp=path)
    timeline = leadsheet.read_lead_sheet(path, max_bars=100)[0]
    assert [(offset, item.root, item.pitch_classes) for offset, item in timeline] == [(2.0, 0, {0, 4, 7})]
    assert data.read_solo(path).timeline.offsets == [2.0]  # the same chords for training


@pytest.mark.parametrize("beats, beat_type, message", [(1, 64, "1/16 quarter notes"), (17, 4, "17 quarter notes")])
def test_a_lead_sheet_whose_bar_the_grid_cannot_hold_is_refused(tmp_path, beats, beat_type, message):
    path = tmp_path / "odd.musicxml"
    path.write_text(lead_sheet_xml(beats, beat_type))
    with pytest.raises(UsageError, match=f"a bar of {beats}/{beat_type} lasts {message}; the model's grid needs"):
        leadsheet.read_lead_sheet(str(path), max_bars=1000)


@pytest.mark.parametrize("beats, beat_type", [(3, 8), (1, 8), (1, 16), (16, 4), (7, 16)])
def test_a_lead_sheet_is_played_in_its_own_time(tmp_path, beats, beat_type):
    path = tmp_path / "odd.musicxml"
    path.write_text(lead_sheet_xml(beats, beat_type))
    timeline, bars, _, bar_quarters = leadsheet.read_lead_sheet(str(path), max_bars=1000)
    assert bar_quarters == 4 * beats / beat_type
    score = generate.build_score([(0.0, 1 / 12, 72)], timeline, bars * bar_quarters, 120, bar_quarters)
    assert {part.flatten().getElementsByClass("TimeSignature")[0].ratioString for part in score.parts} == {
        f"{beats}/{beat_type}"
    }


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    beats=st.one_of(st.integers(-2, 40).map(str), st.sampled_from(["", "x", "3+2", "1.5", "\u0663", "1e5"])),
    beat_type=st.sampled_from(["0", "1", "2", "3", "4", "5", "8", "16", "32", "64", "128", "1024", "", "x", "-4"]),
)
def test_any_time_signature_is_played_or_refused_in_one_line(tmp_path_factory, beats, beat_type):
    path = tmp_path_factory.mktemp("sheet") / "sheet.musicxml"
    path.write_text(lead_sheet_xml(beats, beat_type))
    try:
        timeline, bars, _, bar_quarters = leadsheet.read_lead_sheet(str(path), max_bars=1000)
    except UsageError as error:
        assert "\n" not in str(error)
        return
    assert 1 / 12 <= bar_quarters <= data.MAX_BAR_QUARTERS
    generate.build_score([(0.0, 1 / 12, 72)], timeline, bars * bar_quarters, 120, bar_quarters)


def test_a_primer_note_list():
    assert leadsheet.read_primer("C5 E5:1/2 Bb4:0.5 R g#4:3/2 C-5") == [
        (0.0, 1.0, 72),
        (1.0, 0.5, 76),
        (1.5, 0.5, 70),
        (3.0, 1.5, 68),
        (4.5, 1.0, 71),
    ]


@pytest.mark.parametrize(
    "text, message",
    [
        ("C5 H5", "'H5'"),
        ("C5:0", "no duration"),
        ("R R:2", "no notes"),
        ("C5 E", "'E'"),
        ("C5:1/0", "'C5:1/0' divides by zero"),
        ("E#-5", "cannot read 'E#-5'"),  # a sharp and a flat
        ("C5:1/1000", "'C5:1/1000' lasts 1/1000 of a quarter note; the shortest note or rest is 1/12"),
        ("C5:1234567", "cannot read 'C5:1234567'"),
    ],
)
def test_a_primer_that_cannot_be_read_is_refused(text, message):
    with pytest.raises(UsageError, match=message):
        leadsheet.read_primer(text)


def test_a_primer_duration_may_be_a_decimal_over_a_divisor():
    assert leadsheet.read_primer("C5:1.5/2 D5:1/12") == [(0.0, 0.75, 72), (0.75, 1 / 12, 74)]


def test_a_primer_file_of_notes_too_short_for_the_grid_is_refused(tmp_path):
    path = str(tmp_path / "grace.musicxml")
    make_score([(0.0, 1 / 32, 72), (1.0, 1 / 32, 74)], CHORDS[:1]).write("musicxml", fp=path)
    with pytest.raises(UsageError, match="no note lasts 1/12 of a quarter note"):
        leadsheet.read_primer(path)


def test_a_primer_file_gives_its_melody(tmp_path):
    path = str(tmp_path / "primer.musicxml")
    make_score(MELODY[:4], CHORDS[:1]).write("musicxml", fp=path)
    assert leadsheet.read_primer(path) == MELODY[:4]


@pytest.mark.parametrize(
    "text, quarters, message",
    [
        ("E3 G3", 16, "spans E3-G3, outside the model's register F3-D6"),
        ("C5 Eb6", 16, "spans C5-Eb6"),
        ("C5:4 D5:4", 8, "lasts 8 quarter notes; the solo lasts 8"),
    ],
)
def test_a_primer_outside_the_register_or_not_shorter_than_the_solo_is_refused(text, quarters, message):
    with pytest.raises(UsageError, match=message):
        leadsheet.check_primer(leadsheet.read_primer(text), quarters)
    leadsheet.check_primer(leadsheet.read_primer("F3 D6:2"), 8)  # the register's ends, shorter than the solo
