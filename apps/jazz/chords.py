"""Chords: what a chord symbol sounds like, which scale a soloist plays over it, and user-typed progressions.

A `Chord` is reduced to what the grammar needs: its root and pitch classes (taken from music21's
`ChordSymbol.pitches`, which are right even where its `chordKind` is not: music21 calls `F#m7b5` a
"minor-seventh" but spells F# A C E). The quality, and from it the chord scale, is read off those pitch
classes, so a chord derived from a MIDI accompaniment and one typed by a user are treated the same way.

Chord-scale choices (`CHORD_SCALES`), the usual jazz-pedagogy defaults for a chord heard on its own:

| quality | example | scale |
|---|---|---|
| maj, 6, maj7 | C, C6, Cmaj7 | ionian |
| maj7#11, maj7b5 | Cmaj7#11 | lydian |
| maj7#5 | Cmaj7#5 | lydian augmented |
| 7 | C7, C9, C13 | mixolydian |
| 7#11 | C7#11 | lydian dominant |
| 7b9 (also #9) | C7b9 | half-whole diminished |
| 7alt (b9/#9 with b13) | C7b9b13 | altered |
| aug, 7#5, 7b5 | C+, C+7, C7b5 | whole tone |
| m, m6, m7 | Cm, Cm6, Cm7 | dorian |
| mMaj7 | CmMaj7 | melodic minor |
| m7b5 | Cø7, Cm7b5 | locrian |
| m9b5 | Cø9 | locrian natural 2 |
| dim, dim7 | Cdim, Cdim7 | whole-half diminished |
| sus4, 7sus4 | Csus4, C7sus4 | mixolydian |
| sus2, 5, pedal | Csus2, C5 | ionian |

Tone types of a pitch over a chord (deepjazz's grammar): `C` chord tone; `S` scale tone (in the chord
scale, not in the chord); `A` approach tone (neither, but a semitone from a chord tone); `X` anything else.

User progressions (`parse_progression`): bars are separated by `|` and the chords inside a bar share it
evenly ("Dm7 G7 | Cmaj7" = two chords of two beats, then one of four); without any `|` every chord fills one
bar ("Dm7 G7 Cmaj7" = three bars). Flats may be written `b` or music21's `-` (`Bbmaj7`, `B-maj7`); minor is
`m` (in music21, `C-7` is C-flat seven). Symbols follow `music21.harmony.ChordSymbol`.
"""

import bisect
import dataclasses
import functools
import re

from apps.common.errors import UsageError
from apps.common.progress import track
from apps.jazz import grammar

IONIAN = (0, 2, 4, 5, 7, 9, 11)
LYDIAN = (0, 2, 4, 6, 7, 9, 11)
LYDIAN_AUGMENTED = (0, 2, 4, 6, 8, 9, 11)
MIXOLYDIAN = (0, 2, 4, 5, 7, 9, 10)
LYDIAN_DOMINANT = (0, 2, 4, 6, 7, 9, 10)
HALF_WHOLE = (0, 1, 3, 4, 6, 7, 9, 10)
ALTERED = (0, 1, 3, 4, 6, 8, 10)
WHOLE_TONE = (0, 2, 4, 6, 8, 10)
DORIAN = (0, 2, 3, 5, 7, 9, 10)
MELODIC_MINOR = (0, 2, 3, 5, 7, 9, 11)
LOCRIAN = (0, 1, 3, 5, 6, 8, 10)
LOCRIAN_NATURAL_2 = (0, 2, 3, 5, 6, 8, 10)
WHOLE_HALF = (0, 2, 3, 5, 6, 8, 9, 11)

# quality -> (scale name, scale degrees in semitones above the root)
CHORD_SCALES = {
    "maj": ("ionian", IONIAN),
    "6": ("ionian", IONIAN),
    "maj7": ("ionian", IONIAN),
    "maj7#11": ("lydian", LYDIAN),
    "maj7b5": ("lydian", LYDIAN),
    "maj7#5": ("lydian augmented", LYDIAN_AUGMENTED),
    "7": ("mixolydian", MIXOLYDIAN),
    "7#11": ("lydian dominant", LYDIAN_DOMINANT),
    "7b9": ("half-whole diminished", HALF_WHOLE),
    "7alt": ("altered", ALTERED),
    "aug": ("whole tone", WHOLE_TONE),
    "7#5": ("whole tone", WHOLE_TONE),
    "7b5": ("whole tone", WHOLE_TONE),
    "m": ("dorian", DORIAN),
    "m6": ("dorian", DORIAN),
    "m7": ("dorian", DORIAN),
    "mMaj7": ("melodic minor", MELODIC_MINOR),
    "m7b5": ("locrian", LOCRIAN),
    "m9b5": ("locrian natural 2", LOCRIAN_NATURAL_2),
    "dim": ("whole-half diminished", WHOLE_HALF),
    "dim7": ("whole-half diminished", WHOLE_HALF),
    "sus4": ("mixolydian", MIXOLYDIAN),
    "7sus4": ("mixolydian", MIXOLYDIAN),
    "sus2": ("ionian", IONIAN),
    "5": ("ionian", IONIAN),
    "pedal": ("ionian", IONIAN),
}


def quality(intervals):
    """Names the quality of a chord from its intervals above the root (a set of semitones 0..11).

    Returns:
        A key of `CHORD_SCALES`.
    """
    has = intervals.__contains__
    if has(4):  # major third
        if has(8) and not has(7):
            return "maj7#5" if has(11) else ("7#5" if has(10) else "aug")
        if has(6) and not has(7):
            return "maj7b5" if has(11) else ("7b5" if has(10) else "maj7#11")
        if has(10):
            if has(1) or has(3):
                return "7alt" if has(8) else "7b9"
            return "7#11" if has(6) else "7"
        if has(11):
            return "maj7#11" if has(6) else "maj7"
        return "6" if has(9) else "maj"
    if has(3):  # minor third
        if has(6) and not has(7):
            if has(10):
                return "m9b5" if has(2) else "m7b5"
            return "dim7" if has(9) else "dim"
        if has(11):
            return "mMaj7"
        if has(10):
            return "m7"
        return "m6" if has(9) else "m"
    if has(5):
        return "7sus4" if has(10) else "sus4"
    if has(2):
        return "sus2"
    return "5" if has(7) else "pedal"


@dataclasses.dataclass(frozen=True)
class Chord:
    """A sounding chord: its symbol, root pitch class and pitch classes."""

    figure: str
    root: int
    pitch_classes: frozenset

    @classmethod
    def from_symbol(cls, symbol):
        """Builds a `Chord` from a `music21.harmony.ChordSymbol` (or any music21 chord with a root)."""
        return cls(symbol.figure, symbol.root().pitchClass, frozenset(p.pitchClass for p in symbol.pitches))

    @functools.cached_property
    def quality(self):
        return quality({(pc - self.root) % 12 for pc in self.pitch_classes})

    @property
    def scale_name(self):
        return CHORD_SCALES[self.quality][0]

    @functools.cached_property
    def scale(self):
        """Pitch classes of the chord scale (always including the chord tones)."""
        degrees = CHORD_SCALES[self.quality][1]
        return frozenset((self.root + d) % 12 for d in degrees) | self.pitch_classes

    @functools.cached_property
    def tone_types(self):
        """The tone type (`C`, `S`, `A` or `X`) of each of the 12 pitch classes over this chord."""
        approach = {(pc + step) % 12 for pc in self.pitch_classes for step in (-1, 1)}
        # The first kind that holds names a pitch class: a chord tone is a scale tone too, and so on.
        kinds = (("C", self.pitch_classes), ("S", self.scale), ("A", approach))
        return tuple(next((kind for kind, members in kinds if pc in members), "X") for pc in range(12))

    def tone_type(self, midi):
        """Returns the tone type of MIDI pitch `midi` over this chord."""
        return self.tone_types[midi % 12]

    def to_json(self):
        return [self.figure, self.root, sorted(self.pitch_classes)]

    @classmethod
    def from_json(cls, item):
        figure, root, pcs = item
        return cls(figure, root, frozenset(pcs))


class Timeline:
    """Chords in time: `chord_at(offset)` is the chord sounding at `offset` quarters.

    Args:
        changes: `(offset, Chord)` pairs, in any order; before the first change the first chord sounds.
    """

    def __init__(self, changes):
        changes = sorted(changes, key=lambda change: change[0])
        if not changes:
            raise ValueError("a timeline needs at least one chord")
        self.offsets = [float(offset) for offset, _ in changes]
        self.chords = [chord for _, chord in changes]

    def chord_at(self, offset):
        index = bisect.bisect_right(self.offsets, offset + 1e-9) - 1
        return self.chords[max(index, 0)]

    def __iter__(self):
        return iter(zip(self.offsets, self.chords))

    def __len__(self):
        return len(self.chords)

    def to_json(self):
        return [[offset, *chord.to_json()] for offset, chord in self]

    @classmethod
    def from_json(cls, items):
        return cls([(item[0], Chord.from_json(item[1:])) for item in items])


_ROOT = re.compile(r"^([A-Ga-g])([b#-]*)(.*?)(?:/([A-Ga-g])([b#-]*))?$")


def parse_chord(text):
    """Parses one chord symbol as typed by a user ("Bbmaj7", "F#m7b5", "G7/B").

    The `Chord`'s figure is music21's spelling ("B-maj7"), which music21 reads back.

    Raises:
        UsageError: music21 does not know the symbol (the message names it).
    """
    from music21 import harmony  # music21 takes a second to import; only parsing needs it.

    match = _ROOT.match(text.strip())
    if not match:
        raise UsageError(f"unknown chord symbol {text!r}")
    root, accidentals, rest, bass, bass_accidentals = match.groups()
    # music21 reads a "b" after the root as part of the kind ("Ab7" -> A major); its flat is "-".
    figure = root.upper() + accidentals.replace("b", "-") + rest
    if bass:
        figure += "/" + bass.upper() + (bass_accidentals or "").replace("b", "-")
    try:
        symbol = harmony.ChordSymbol(figure)
        if not symbol.pitches:
            raise ValueError("no pitches")
    except Exception:  # noqa: BLE001  music21 raises ValueError, ChordException, KeyError ... for an unknown figure.
        raise UsageError(f"unknown chord symbol {text!r}") from None
    return Chord.from_symbol(symbol)


def parse_progression(text, bar_quarters=4.0, max_bars=None):
    """Parses a progression typed by a user (see the module docstring for the syntax).

    Args:
        text: e.g. "Dm7 G7 Cmaj7" (one chord a bar) or "Dm7 G7 | Cmaj7 |" (bars separated by `|`).
        bar_quarters: length of a bar in quarter notes.
        max_bars: refuse a longer progression (before music21 reads a single symbol), or `None`.

    Returns:
        `(timeline, bars)`: a `Timeline` and the number of bars the progression spans.

    Raises:
        UsageError: an empty progression, an empty bar between two `|`, an unknown chord symbol, more than
            `max_bars` bars, or a bar of more than `max_chords_per_bar` chords.
    """
    text = text.strip()
    if "|" in text:
        bars = [bar.split() for bar in text.strip("|").split("|")]
        if any(not bar for bar in bars):
            raise UsageError(f"empty bar in chord progression {text!r}")
    else:
        bars = [[symbol] for symbol in text.split()]
    if not bars or not bars[0]:
        raise UsageError("empty chord progression")
    if max_bars is not None and len(bars) > max_bars:
        raise UsageError(f"the progression has {len(bars):,} bars; the limit is {max_bars:,}")
    most = max_chords_per_bar(bar_quarters)
    for number, bar in enumerate(bars, 1):
        if len(bar) > most:
            raise UsageError(
                f"bar {number:,} of the progression has {len(bar):,} chords; the limit is {most} "
                f"(one per 1/{grammar.GRID} of a quarter note, the finest step a solo's notes are placed on)"
            )
    # A tune repeats its chords: music21 reads each distinct symbol once (it takes milliseconds a symbol).
    distinct = dict.fromkeys(symbol for bar in bars for symbol in bar)
    parsed = {symbol: parse_chord(symbol) for symbol in track(distinct, "reading chords", "symbol")}
    changes = [
        (index * bar_quarters + position * bar_quarters / len(bar), parsed[symbol])
        for index, bar in enumerate(bars)
        for position, symbol in enumerate(bar)
    ]
    return Timeline(changes), len(bars)


def max_chords_per_bar(bar_quarters=4.0):
    """The most chords a bar may hold: one a grid step (`apps.jazz.grammar.GRID` a quarter note), the finest
    time a solo's notes are placed at; a shorter chord could not sound under any note of its own."""
    return int(round(bar_quarters * grammar.GRID))


def repeat(timeline, bars, total_bars, bar_quarters=4.0):
    """Cycles a `bars`-bar progression (the choruses of a tune) until it fills `total_bars` bars."""
    length = bars * bar_quarters
    changes = [
        (chorus * length + offset, chord) for chorus in range(-(-total_bars // bars)) for offset, chord in timeline
    ]
    return Timeline([(start, chord) for start, chord in changes if start < total_bars * bar_quarters])
