"""Encodings of a solo as tokens, their realisation back into notes, and the vocabulary.

Two encodings (`ENCODINGS`):

- `grammar`, the course's (deepjazz's) grammar, relative to the sounding chord. A note is
  `"<type>,<duration>,<window>"`: its tone type over the chord sounding at its onset (`C` chord tone,
  `S` scale tone, `A` approach tone, `X` other; see `apps.jazz.chords`), its duration and the window of
  intervals from the previous note it falls in, e.g. `"C,1/2,<+0,+4>"` (a chord tone, an eighth note, 0 to
  4 semitones above the previous note). A rest is `"R,<duration>"`. The first note of a solo
  has the window `<*>` (anywhere). Windows are `WINDOW_WIDTH` semitones wide and centred on even
  intervals, leaps beyond `MAX_LEAP` are clipped to it, so a few dozen windows cover every solo.
- `pitch`, the plain encoding for comparison: `"<midi>,<duration>"` for a note, `"R,<duration>"` for a rest.

Durations: onsets and ends are quantised to a grid of `GRID` steps a quarter note (1/12: sixteenths,
eighth and sixteenth triplets), and a duration is the distance between quantised times, so rounding never
accumulates. A note shorter than one step is dropped; a note is cut at the next onset (the melody is
monophonic); any sound or silence longer than `MAX_STEPS` (a 4/4 bar) is split: a long note keeps
`MAX_STEPS` and the rest of its time becomes a rest. Durations are written as fractions of a quarter note
(`1/3`, `1/2`, `3/2`).

Articulation: a gap of at most `ARTICULATION_STEPS` (1/6 quarter) after a note is articulation, not a rest
(the transcriptions are full of them): the note's duration runs to the next onset. With
`encode(..., articulation=True)` (what `train` encodes by default) the token keeps how much of that duration is
silent as a suffix `;<silence>`, e.g. `"C,1/2,<+0,+4>;1/6"`, an eighth that sounds 1/3 of a quarter, and
`realise` plays the note that much shorter; a token without the suffix is legato. Without it (bundles trained
before articulation) the gap is joined to the note, and every note sounds until the next token. Leaving the
suffixes out of an articulated encoding gives the encoding without articulation, token for token.

The first note of a solo goes nearest the middle of `REGISTER`; the vocabulary's start token (`START`,
id 0) is the input before the first token, the course's x⟨1⟩ = 0.

Realisation (`realise`) turns tokens back into notes over any chord progression: each note takes a pitch
of its tone type over the chord sounding at its onset, inside its window from the previous pitch and inside
`REGISTER`, so every `C` token becomes a chord tone and every `S` token a scale tone of its chord. Windows
overlap, but `encode` gives each interval one of them (the nearest even centre: `<+0,+4>` means +2, `<+2,+6>`
+3 to +5), and realisation prefers the pitches whose interval would encode to the token's window, so that
realising over a solo's own changes gives back its intervals as far as the tone types allow; failing those,
any pitch of the type in the window, and when the window holds none, the nearest one. When the chord has no
pitch of that type at all (over a major seventh chord every note outside the ionian scale is an approach
tone) the type falls back `X -> A -> S -> C`.
"""

import collections
import fractions
import json

import numpy as np

ENCODINGS = ("grammar", "pitch")
GRID = 12
MAX_STEPS = 4 * GRID
ARTICULATION_STEPS = 2
WINDOW_WIDTH = 4
MAX_LEAP = 12
REGISTER = (53, 86)  # F3..D6: covers the horn solos of the training data
REGISTER_NAMES = ("F3", "D6")
START = "<start>"
_FALLBACK = {"X": "A", "A": "S", "S": "C"}


def quantise(notes, join_steps=ARTICULATION_STEPS):
    """Quantises notes to the grid: returns `(onset_step, length_steps, midi)` triples, monophonic.

    Args:
        notes: `(offset, duration, midi)` triples, offsets and durations in quarter notes.
        join_steps: a gap of at most this many steps after a note joins the note.
    """
    return [(start, length, midi) for start, length, midi, _ in _quantise(notes, join_steps)]


def _quantise(notes, join_steps):
    """`quantise`, each note with the steps of silence joined to it: `(onset, length, midi, silence)`."""
    quantised = []
    for offset, duration, midi in sorted(notes, key=lambda note: (note[0], -note[2])):
        start, end = round(offset * GRID), round((offset + duration) * GRID)
        if quantised and start <= quantised[-1][0]:
            continue  # a second note at the same onset: keep the highest, the melody line
        if quantised and quantised[-1][1] + join_steps >= start:
            quantised[-1][3] += max(0, start - quantised[-1][1])
            quantised[-1][1] = start
        if end > start:
            quantised.append([start, end, midi, 0])
    return [(start, end - start, midi, silence) for start, end, midi, silence in quantised]


def _duration_text(steps):
    return str(fractions.Fraction(steps, GRID))


def fields(token):
    """A token's comma-separated fields, its articulation suffix left out: `["C", "1/2", "<+0,+4>"]`."""
    return token.split(";", 1)[0].split(",", 2)


def duration_steps(token):
    """The duration of a token in grid steps (for a note, until the next token: its silence included)."""
    return int(fractions.Fraction(fields(token)[1]) * GRID)


def silent_steps(token):
    """The grid steps at the end of a note token's duration it does not sound (0: legato)."""
    _, _, silence = token.partition(";")
    return int(fractions.Fraction(silence) * GRID) if silence else 0


def _window(interval):
    centre = 2 * round(max(-MAX_LEAP, min(MAX_LEAP, interval)) / 2)
    return centre - WINDOW_WIDTH // 2, centre + WINDOW_WIDTH // 2


def encode(notes, timeline, encoding="grammar", articulation=False):
    """Encodes a melody as tokens.

    Args:
        notes: `(offset, duration, midi)` triples in quarter notes; gaps between them become rests, and so
            does the time from offset 0 to the first note, which keeps tokens aligned with the bars.
        timeline: an `apps.jazz.chords.Timeline`, the chords the melody is played over.
        encoding: one of `ENCODINGS`.
        articulation: keep the silence of each gap joined to a note as the note's articulation (see the
            module docstring); else the note is legato, as bundles trained without articulation expect.

    Returns:
        A list of token strings.
    """
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {ENCODINGS}; got {encoding!r}")
    tokens = []
    cursor, previous = 0, None

    def rest(steps):
        while steps > 0:
            tokens.append(f"R,{_duration_text(min(steps, MAX_STEPS))}")
            steps -= MAX_STEPS

    for start, length, midi, silence in _quantise(notes, ARTICULATION_STEPS):
        rest(start - cursor)
        sounding = min(length, MAX_STEPS)
        # A note longer than a bar ends in a rest token, which holds its silence, or some of it.
        silence = max(0, silence - (length - sounding)) if articulation else 0
        suffix = f";{_duration_text(silence)}" if silence else ""
        if encoding == "pitch":
            tokens.append(f"{midi},{_duration_text(sounding)}{suffix}")
        else:
            kind = timeline.chord_at(start / GRID).tone_type(midi)
            window = "<*>" if previous is None else "<{:+d},{:+d}>".format(*_window(midi - previous))
            tokens.append(f"{kind},{_duration_text(sounding)},{window}{suffix}")
        rest(length - sounding)
        cursor, previous = start + length, midi
    return tokens


def realise(tokens, timeline, encoding="grammar", seed=0, start_pitch=None, start=0.0, previous=None):
    """Turns tokens back into notes over the chords of `timeline`.

    Args:
        tokens: token strings (`START` and unknown tokens are ignored).
        timeline: the chords to play over; the first token starts at offset 0.
        encoding: the encoding of `tokens`.
        seed: seeds the choice between the pitches a grammar token allows (same seed, same notes).
        start_pitch: the pitch the first window-less note is nearest to (default: the middle of `REGISTER`).
        start: the offset of the first token in quarter notes (a continuation starts where its primer ends).
        previous: the pitch before the first token (a primer's last), which its window is relative to.

    Returns:
        `(offset, duration, midi)` triples in quarter notes, a note sounding its token's duration less its
        articulation's silence.
    """
    rng = np.random.default_rng(seed)
    notes, cursor = [], round(start * GRID)
    for token in tokens:
        parts = fields(token)
        if token == START or len(parts) < 2:
            continue
        steps = duration_steps(token)
        if parts[0] != "R":
            midi = (
                int(parts[0])
                if encoding == "pitch"
                else _choose(timeline.chord_at(cursor / GRID), parts[0], parts[2], previous, rng, start_pitch)
            )
            notes.append((cursor / GRID, (steps - silent_steps(token)) / GRID, midi))
            previous = midi
        cursor += steps
    return notes


def _choose(chord, kind, window, previous, rng, start_pitch):
    """Picks a pitch of tone type `kind` over `chord` inside `window` from `previous` and inside REGISTER."""
    while kind in _FALLBACK and kind not in chord.tone_types:
        kind = _FALLBACK[kind]
    candidates = np.array([m for m in range(REGISTER[0], REGISTER[1] + 1) if chord.tone_type(m) == kind])
    if previous is None or window == "<*>":
        target = start_pitch if start_pitch is not None else sum(REGISTER) // 2
        return int(candidates[np.argmin(np.abs(candidates - target))])
    low, high = (int(bound) for bound in window.strip("<>").split(","))
    inside = candidates[(candidates >= previous + low) & (candidates <= previous + high)]
    # Windows overlap, but `encode` gives each interval one window (the nearest even centre): prefer the
    # pitches whose interval `encode` would give this very window, so realising undoes encoding.
    exact = inside[[_window(int(m) - previous) == (low, high) for m in inside]]
    if len(exact):
        return int(rng.choice(exact))
    if len(inside):
        return int(rng.choice(inside))
    # Outside the register the window is mirrored (a leap up becomes a leap down), else the nearest pitch.
    centre = previous + (low + high) / 2
    if not REGISTER[0] <= centre <= REGISTER[1]:
        centre = previous - (low + high) / 2
    distance = np.abs(candidates - centre)
    return int(rng.choice(candidates[distance == distance.min()]))


class Vocabulary:
    """Maps token strings to ids and back; id 0 is `START`, the input before the first token.

    Args:
        tokens: the token strings, in id order after `START`.
    """

    def __init__(self, tokens):
        self.tokens = [START] + [token for token in tokens if token != START]
        self.ids = {token: index for index, token in enumerate(self.tokens)}

    @classmethod
    def build(cls, sequences, min_count=1):
        """Builds the vocabulary of the tokens in `sequences` seen at least `min_count` times, most common first."""
        counts = collections.Counter(token for sequence in sequences for token in sequence)
        kept = [token for token, count in counts.items() if count >= min_count]
        return cls(sorted(kept, key=lambda token: (-counts[token], token)))

    def __len__(self):
        return len(self.tokens)

    def __contains__(self, token):
        return token in self.ids

    def encode(self, tokens):
        """Token strings -> int ids; a token not in the vocabulary becomes its nearest one (`nearest`)."""
        return np.array(
            [self.ids[token if token in self.ids else self.nearest(token)] for token in tokens], dtype="int32"
        )

    def decode(self, ids):
        """Int ids -> token strings."""
        return [self.tokens[int(index)] for index in ids]

    def nearest(self, token):
        """The known token closest to `token`: same type (and window, or pitch) first, then closest duration,
        then closest articulation (a vocabulary without articulation plays the note legato)."""
        parts = fields(token)
        steps, silence = duration_steps(token), silent_steps(token)

        def distance(candidate):
            other = fields(candidate)
            if candidate == START:
                return (3, 0, 0)
            mismatch = (other[0] != parts[0]) * 2 + (other[2:] != parts[2:])
            return (mismatch, abs(duration_steps(candidate) - steps), abs(silent_steps(candidate) - silence))

        return min(self.tokens, key=distance)

    def to_json(self):
        return json.dumps(self.tokens[1:])

    @classmethod
    def from_json(cls, text):
        return cls(json.loads(text))
