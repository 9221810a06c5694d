"""What a player brings to `generate`: a lead sheet to play over and a primer, the opening phrase to continue.

A lead sheet (`read_lead_sheet`) is a MusicXML file with chord symbols (as the Weimar Jazz Database files
have; the head's melody is ignored) or a MIDI file whose chords are named from its accompaniment every
`apps.jazz.data.DERIVED_CHORD_QUARTERS` quarters, as for training data (`apps.jazz.data`). Its form's length
(whole bars up to the last note or chord) and its tempo (first metronome mark) come with it.

A primer (`read_primer`) is a MIDI/MusicXML file, whose melody (`apps.jazz.data.melody_notes`) is taken at
its own offsets, or a note list: names with an octave (0 to 9) and an optional duration in quarter notes
after a colon, `R` for a rest, one quarter note each by default, e.g. `"C5 E5:1/2 G5:0.5 R Bb4:2"`. A name
has sharps (`#`, `##`) or flats (`b` or music21's `-`, up to two), not both. A duration is a number of at
most six digits, with at most six decimals, over an optional divisor of at most six digits, and lasts at
least one step of the model's grid (`MIN_DURATION`, 1/12 of a quarter note): the model plays nothing
shorter, and a primer of such notes only would be empty.
"""

import collections
import fractions
import math
import os
import re

from apps.common.errors import UsageError
from apps.jazz import data
from apps.jazz.chords import Timeline, max_chords_per_bar
from apps.jazz.grammar import GRID, REGISTER, REGISTER_NAMES, quantise

MIN_DURATION = fractions.Fraction(1, GRID)
_PRIMER_NOTE = re.compile(
    r"^(?:([A-G])(#{0,2}|[b-]{0,2})([0-9])|R)(?::([0-9]{1,6}(?:\.[0-9]{1,6})?)(?:/([0-9]{1,6}))?)?$", re.IGNORECASE
)


def read_lead_sheet(path, max_bars):
    """Reads the chords, length and tempo of a lead sheet.

    Args:
        path: a MusicXML (chord symbols) or MIDI (an accompaniment) file.
        max_bars: refuse a longer form.

    Returns:
        `(timeline, bars, tempo, bar_quarters)`; `tempo` is None without a metronome mark.

    Raises:
        UsageError: the file is unreadable or empty, its time signature's bar is one `data.score_bar_quarters`
            refuses, a MusicXML file has no chord symbols, a MIDI file has no accompaniment, or the form is
            longer than `max_bars`.
    """
    score = data.parse_music(path)
    bar_quarters = data.score_bar_quarters(score, path)
    changes = data.chord_symbols(score)
    if not changes:
        if not path.lower().endswith(data.MIDI_EXTENSIONS):
            raise UsageError(f"{path}: no chord symbols (a MusicXML lead sheet needs them)")
        changes = data.derive_chords(_accompaniment(score, path), score.highestTime)
    if not changes:
        raise UsageError(f"{path}: no chords (a MIDI lead sheet needs an accompaniment to name them from)")
    last_bar = max(offset for offset, _ in changes) // bar_quarters  # a chord sounds to the end of its bar
    bars = max(math.ceil(float(score.highestTime) / bar_quarters - 1e-9), int(last_bar) + 1)
    if bars > max_bars:
        raise UsageError(f"{path}: the form has {bars:,} bars; the limit is {max_bars:,}")
    per_bar = collections.Counter(int(offset // bar_quarters) for offset, _ in changes)
    busiest, count = max(per_bar.items(), key=lambda item: (item[1], -item[0]))
    if count > max_chords_per_bar(bar_quarters):
        raise UsageError(
            f"{path}: bar {busiest + 1:,} has {count:,} chords; the limit is {max_chords_per_bar(bar_quarters)}"
        )
    return Timeline(changes), bars, data.score_tempo(score), bar_quarters


def _accompaniment(score, path):
    """The parts of a MIDI file that sound chords: all but the melody where there are several, else the one
    part if it holds chords."""
    try:
        parts, melody, _ = data.melody_notes(score, path)
    except UsageError:  # no pitched notes at all: no accompaniment either
        return []
    if len(parts) > 1:
        return [part for part in parts if part is not melody]
    return [part for part in parts if any(len(element.pitches) > 1 for element in part.flatten().notes)]


def read_primer(text):
    """Reads a primer: a MIDI/MusicXML file's melody or a note list (see the module docstring).

    Returns:
        `(offset, duration, midi)` triples in quarter notes, sorted.

    Raises:
        UsageError: an unreadable file, a note that cannot be read, a note or rest shorter than
            `MIN_DURATION`, or no note that lasts that long.
    """
    if os.path.isfile(text) or text.lower().endswith(data.MUSIC_EXTENSIONS):
        notes = data.melody_notes(data.parse_music(text), text)[2]
        if not quantise(notes):
            raise UsageError(
                f"--primer {text}: no note lasts {MIN_DURATION} of a quarter note, the shortest the model plays"
            )
        return notes
    from music21 import pitch

    notes, cursor = [], fractions.Fraction(0)
    for word in text.split():
        match = _PRIMER_NOTE.match(word)
        if not match:
            raise UsageError(f"--primer: cannot read {word!r} as a note (e.g. C5, Bb4:1/2, R:1)")
        letter, accidental, octave, length, divisor = match.groups()
        if divisor is not None and int(divisor) == 0:
            raise UsageError(f"--primer: {word!r} divides by zero")
        duration = fractions.Fraction(length or 1) / int(divisor or 1)
        if duration == 0:
            raise UsageError(f"--primer: {word!r} has no duration")
        if duration < MIN_DURATION:
            raise UsageError(
                f"--primer: {word!r} lasts {duration} of a quarter note; the shortest note or rest is {MIN_DURATION}"
            )
        if letter:
            # As for chord symbols, "b" is a flat; music21's flat is "-".
            name = letter.upper() + accidental.replace("b", "-")
            # `ps`, not `midi`: music21 folds a `midi` above 127 down by octaves, and check_primer must see it.
            notes.append((float(cursor), float(duration), int(pitch.Pitch(name, octave=int(octave)).ps)))
        cursor += duration
    if not notes:
        raise UsageError("--primer: no notes given")
    return notes


def check_primer(notes, quarters):
    """Refuses a primer outside the model's `REGISTER` or not shorter than the solo (`quarters` long)."""
    low, high = min(midi for _, _, midi in notes), max(midi for _, _, midi in notes)
    if low < REGISTER[0] or high > REGISTER[1]:
        from music21 import pitch

        low, high = (pitch.Pitch(ps=m).nameWithOctave.replace("-", "b") for m in (low, high))
        raise UsageError(f"--primer spans {low}-{high}, outside the model's register {'-'.join(REGISTER_NAMES)}")
    end = max(offset + duration for offset, duration, _ in notes)
    if end >= quarters:
        raise UsageError(
            f"--primer lasts {end:g} quarter notes; the solo lasts {quarters:g}: the primer must be "
            "shorter (see --measures)"
        )
