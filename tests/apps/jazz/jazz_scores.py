"""Tiny scores built with music21, and a tiny model, for the jazz tests (no shared data needed)."""

from music21 import chord, harmony, meter, note, stream, tempo


def make_score(melody, chords, bpm=120, accompaniment=False):
    """A 4/4 score: `melody` is `(offset, quarterLength, midi)`; `chords` is `(offset, figure)`.

    With `accompaniment`, the chords go into a second part as sounding whole chords (as in a MIDI file with
    no chord symbols) instead of being `ChordSymbol`s in the melody part.
    """
    score = stream.Score()
    solo = stream.Part()
    solo.partName = "Solo"
    solo.insert(0, meter.TimeSignature("4/4"))
    solo.insert(0, tempo.MetronomeMark(number=bpm))
    for offset, length, midi in melody:
        solo.insert(offset, note.Note(midi, quarterLength=length))
    ends = [offset for offset, _ in chords[1:]] + [max(o + q for o, q, _ in melody)]
    if accompaniment:
        comp = stream.Part()
        comp.partName = "Piano"
        for (offset, figure), end in zip(chords, ends):
            symbol = harmony.ChordSymbol(figure)
            comp.insert(offset, chord.Chord([p.midi - 12 for p in symbol.pitches], quarterLength=end - offset))
        score.insert(0, solo)
        score.insert(0, comp)
    else:
        for offset, figure in chords:
            solo.insert(offset, harmony.ChordSymbol(figure))
        score.insert(0, solo)
    return score


# Two bars of a ii-V-I line in C: eighths, a triplet, a dotted quarter, rests and a held note.
MELODY = [
    (0.0, 0.5, 62),
    (0.5, 0.5, 65),
    (1.0, 0.5, 69),
    (1.5, 0.5, 72),
    (2.0, 1 / 3, 71),
    (7 / 3, 1 / 3, 67),
    (8 / 3, 1 / 3, 65),
    (3.0, 0.5, 64),
    (4.0, 1.5, 64),
    (5.5, 0.5, 62),
    (6.0, 0.5, 61),
    (6.5, 0.5, 60),
    (7.0, 6.0, 67),
]
CHORDS = [(0.0, "Dm7"), (2.0, "G7"), (4.0, "Cmaj7")]

# A three-bar lead sheet: the ii-V-I above, the head resting in bar 2, then a bar of A7.
SHEET_CHORDS = CHORDS + [(8.0, "A7")]
SHEET_MELODY = MELODY[:8] + [(8.0, 4.0, 69)]


def lead_sheet_xml(beats, beat_type):
    """A MusicXML lead sheet of one bar in `beats`/`beat_type` time, a C chord and a whole note, written as text so
    that the file holds exactly the time signature asked for, whatever music21 makes of it."""
    return f"""<?xml version="1.0" encoding="utf-8"?>
<score-partwise version="4.0">
  <part-list><score-part id="P1"><part-name>Solo</part-name></score-part></part-list>
  <part id="P1"><measure number="1">
    <attributes><divisions>1</divisions><time><beats>{beats}</beats><beat-type>{beat_type}</beat-type></time></attributes>
    <harmony><root><root-step>C</root-step></root><kind>major</kind></harmony>
    <note><pitch><step>C</step><octave>5</octave></pitch><duration>4</duration><type>whole</type></note>
  </measure></part>
</score-partwise>
"""


def tiny_model(tokens, conditioning="none", head="joint"):
    """A jazz training model small enough for a test: vocabulary `tokens` (after the start token), 6 units,
    5-dimensional token vectors, 4-dimensional conditions."""
    from apps.jazz.model import build_model

    return build_model(
        len(tokens) + 1,
        units=6,
        embedding_dim=5,
        conditioning=conditioning,
        condition_dim=4,
        head=head,
        token_strings=tokens,
    )
