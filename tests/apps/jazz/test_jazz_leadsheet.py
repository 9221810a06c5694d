"""Lead sheets (chords, length, tempo) and primers (files and note lists), from tiny scores built here."""

import pytest
from music21 import note, stream

from apps.common.errors import UsageError
from apps.jazz import chords, leadsheet

from jazz_scores import CHORDS, MELODY, SHEET_CHORDS, SHEET_MELODY, make_score


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


def test_a_primer_note_list():
    assert leadsheet.read_primer("C5 E5:1/2 Bb4:0.5 R g#4:3/2 C-5") == [
        (0.0, 1.0, 72),
        (1.0, 0.5, 76),
        (1.5, 0.5, 70),
        (3.0, 1.5, 68),
        (4.5, 1.0, 71),
    ]


@pytest.mark.parametrize(
    "text, message", [("C5 H5", "'H5'"), ("C5:0", "no duration"), ("R R:2", "no notes"), ("C5 E", "'E'")]
)
def test_a_primer_that_cannot_be_read_is_refused(text, message):
    with pytest.raises(UsageError, match=message):
        leadsheet.read_primer(text)


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
