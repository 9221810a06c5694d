import pytest
from music21 import harmony

from apps.common.errors import UsageError
from apps.jazz import chords


@pytest.mark.parametrize(
    "figure, quality, scale",
    [
        ("Cmaj7", "maj7", "ionian"),
        ("C6", "6", "ionian"),
        ("Cmaj7#11", "maj7#11", "lydian"),
        ("Dm7", "m7", "dorian"),
        ("Cm6", "m6", "dorian"),
        ("G7", "7", "mixolydian"),
        ("G13", "7", "mixolydian"),
        ("G7#11", "7#11", "lydian dominant"),
        ("G7b9", "7b9", "half-whole diminished"),
        ("C+7", "7#5", "whole tone"),
        ("F#m7b5", "m7b5", "locrian"),  # music21's chordKind says "minor-seventh"; the pitches say otherwise
        ("Bdim7", "dim7", "whole-half diminished"),
        ("C7sus4", "7sus4", "mixolydian"),
    ],
)
def test_chord_scale_choices(figure, quality, scale):
    chord = chords.parse_chord(figure)
    assert chord.quality == quality
    assert chord.scale_name == scale


JAZZ_KINDS = [
    kind
    for kind in harmony.CHORD_TYPES
    if kind
    not in (
        # classical colour chords, and extensions no chord scale of seven or eight notes holds
        "Neapolitan",
        "Italian",
        "French",
        "German",
        "Tristan",
        "diminished-minor-ninth",
        "augmented-11th",
        "augmented-major-11th",
        "half-diminished-11th",
        "augmented-major-13th",
        "augmented-dominant-13th",
        "half-diminished-13th",
    )
]


@pytest.mark.parametrize("kind", JAZZ_KINDS)
def test_chord_tones_lie_in_the_chosen_scale(kind):
    chord = chords.Chord.from_symbol(harmony.ChordSymbol(root="E-", kind=kind))
    degrees = chords.CHORD_SCALES[chord.quality][1]
    assert chord.pitch_classes <= {(chord.root + degree) % 12 for degree in degrees}


def test_every_music21_kind_has_a_scale():
    for kind in harmony.CHORD_TYPES:
        chord = chords.Chord.from_symbol(harmony.ChordSymbol(root="C", kind=kind))
        assert chord.quality in chords.CHORD_SCALES


def test_tone_types():
    cmaj7 = chords.parse_chord("Cmaj7")
    assert [cmaj7.tone_type(m) for m in (60, 62, 64, 65, 61, 70)] == ["C", "S", "C", "S", "A", "A"]
    c_triad = chords.parse_chord("C")
    assert c_triad.tone_type(70) == "X"  # B-flat: outside C ionian and not a semitone from C, E or G
    assert c_triad.tone_type(71) == "S"


def test_flats_are_read_as_flats():
    assert chords.parse_chord("Bbmaj7").pitch_classes == {10, 2, 5, 9}
    assert chords.parse_chord("Ab7").pitch_classes == {8, 0, 3, 6}  # music21 alone reads "Ab7" as A major
    assert chords.parse_chord("Ebm7/Db").root == 3


def test_progression_syntax():
    timeline, bars = chords.parse_progression("Dm7 G7 Cmaj7")
    assert bars == 3 and timeline.offsets == [0, 4, 8]
    timeline, bars = chords.parse_progression("| Dm7 G7 | Cmaj7 |")
    assert bars == 2 and timeline.offsets == [0, 2, 4]
    assert timeline.chord_at(3.9).figure == "G7"
    assert timeline.chord_at(100).figure == "Cmaj7"


@pytest.mark.parametrize("text, named", [("Dm7 Xyz7 Cmaj7", "Xyz7"), ("Dm7 | Cfoo", "Cfoo"), ("H7", "H7")])
def test_unknown_chord_symbol_is_named(text, named):
    with pytest.raises(UsageError, match=named):
        chords.parse_progression(text)


def test_empty_progressions_are_errors():
    for text in ("", "  ", "Dm7 || G7"):
        with pytest.raises(UsageError):
            chords.parse_progression(text)


def test_repeat_cycles_the_progression():
    timeline, bars = chords.parse_progression("Dm7 G7 | Cmaj7")
    long = chords.repeat(timeline, bars, 5)
    assert long.offsets == [0, 2, 4, 8, 10, 12, 16, 18]
    assert long.chord_at(17).figure == "Dm7"


def test_a_progression_reads_each_distinct_symbol_once(monkeypatch):
    read = []
    symbol = harmony.ChordSymbol
    monkeypatch.setattr(harmony, "ChordSymbol", lambda figure: read.append(figure) or symbol(figure))
    timeline, bars = chords.parse_progression(" | ".join(["Dm7 G7 Cmaj7 Bb7"] * 100))  # music21: ms a symbol
    assert bars == 100 and len(timeline) == 400
    assert sorted(read) == ["B-7", "Cmaj7", "Dm7", "G7"]
    assert [chord.figure for chord in timeline.chords[-4:]] == ["Dm7", "G7", "Cmaj7", "B-7"]


def test_a_bar_holds_at_most_a_chord_a_grid_step():
    timeline, bars = chords.parse_progression("| " + "C7 F7 " * 24 + "|")  # 48 chords: a twelfth of a beat each
    assert bars == 1 and len(timeline) == 48
    with pytest.raises(UsageError, match="bar 2 of the progression has 49 chords; the limit is 48"):
        chords.parse_progression("| C7 | " + "C7 " * 49 + "|")
