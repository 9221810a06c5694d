"""What the network is told about the step it predicts: the sounding chord, the next one, and the beat.

A grammar token is relative to the chord sounding at its onset (`apps.jazz.grammar`), yet a model fed only
the previous tokens has to guess which chord that is, when it changes and where in the bar the note falls.
Magenta's improv_rnn, MINGUS and BebopNet all give their networks the changes instead; here, at every step,
beside the previous token, the recurrent layer sees these features of the *predicted* token's onset:

| slice | size | what |
|---|---|---|
| `ROOT` | 12 | the sounding chord's root, one-hot (absolute pitch class) |
| `CHORD` | 12 | its pitch classes relative to its root, 12-hot (C7 and F7 look alike) |
| `NEXT_ROOT` | 12 | the next *different* chord's root relative to this root, one-hot (up a fourth: index 5) |
| `NEXT_CHORD` | 12 | the next chord's pitch classes relative to its own root, 12-hot |
| `DISTANCE` | 9 | quarter notes until that change, one-hot of `floor`, 0..7; index 8: eight or more, or no change |
| `POSITION` | 48 | the onset's grid step inside its bar (`grammar.GRID` steps a quarter), one-hot |

`features` is a pure function of the timeline, the onsets in grid steps and the bar length, so training
(onsets from a solo's own tokens) and sampling (onsets from the running sum of the sampled tokens' durations,
over any progression) compute the very same thing. Bars start at offset 0, as the tokens do. A chord symbol
repeated on the next bar is not a change. After the last change of a timeline its last chord sounds on, with
no next chord (the next-chord slices repeat the sounding chord, the distance is "eight or more").
"""

import numpy as np

from apps.jazz import grammar

MAX_DISTANCE_QUARTERS = 8
POSITIONS = grammar.MAX_STEPS  # a 4/4 bar; the steps of a longer bar beyond it share the last index

_SIZES = (
    ("ROOT", 12),
    ("CHORD", 12),
    ("NEXT_ROOT", 12),
    ("NEXT_CHORD", 12),
    ("DISTANCE", MAX_DISTANCE_QUARTERS + 1),
    ("POSITION", POSITIONS),
)
_starts = np.cumsum([0] + [size for _, size in _SIZES])
ROOT, CHORD, NEXT_ROOT, NEXT_CHORD, DISTANCE, POSITION = (
    slice(int(start), int(start) + size) for start, (_, size) in zip(_starts, _SIZES)
)
SIZE = int(_starts[-1])
MODES = ("changes", "none")
"""`--conditioning`: `changes` feeds `features` to the model at every step; `none` is the token-only model."""


def onsets(tokens):
    """The onset of each token in grid steps: the sum of the durations before it (the first starts at 0; a
    start token lasts 0 steps, as in the sampler)."""
    steps = [0 if token == grammar.START else grammar.duration_steps(token) for token in tokens]
    return np.concatenate([[0], np.cumsum(steps)[:-1]]).astype("int64") if steps else np.zeros(0, "int64")


def _pitch_set(chord):
    hot = np.zeros(12, "float32")
    hot[[(pc - chord.root) % 12 for pc in chord.pitch_classes]] = 1.0
    return hot


def features(timeline, onset_steps, bar_quarters=4.0):
    """The conditioning features of tokens starting at `onset_steps`.

    Args:
        timeline: an `apps.jazz.chords.Timeline`.
        onset_steps: int grid steps from the start of the first bar (`onsets` of a solo's tokens, or
            `np.arange(n)` for a table that a sampler indexes by its running time).
        bar_quarters: the bar's length in quarter notes.

    Returns:
        A float32 array `(len(onset_steps), SIZE)`.
    """
    onset_steps = np.asarray(onset_steps, dtype="int64").reshape(-1)
    offsets = np.array(timeline.offsets)
    chords = timeline.chords
    # Each change's next *different* chord (a symbol written again on the next bar is no change).
    following = [None] * len(chords)
    for index in range(len(chords) - 2, -1, -1):
        nxt = chords[index + 1]
        same = (nxt.root, nxt.pitch_classes) == (chords[index].root, chords[index].pitch_classes)
        following[index] = following[index + 1] if same else index + 1
    table = np.zeros((len(chords), SIZE - POSITIONS), "float32")  # the chord slices of each change
    for index, chord in enumerate(chords):
        nxt = chords[following[index]] if following[index] is not None else chord
        table[index, ROOT][chord.root] = 1.0
        table[index, CHORD] = _pitch_set(chord)
        table[index, NEXT_ROOT][(nxt.root - chord.root) % 12] = 1.0
        table[index, NEXT_CHORD] = _pitch_set(nxt)
    quarters = onset_steps / grammar.GRID
    current = np.maximum(np.searchsorted(offsets, quarters + 1e-9, side="right") - 1, 0)
    next_offset = np.array([offsets[j] if j is not None else np.inf for j in following])[current]
    distance = np.minimum(np.floor(next_offset - quarters + 1e-9), MAX_DISTANCE_QUARTERS).astype("int64")
    result = np.zeros((len(onset_steps), SIZE), "float32")
    result[:, : POSITION.start] = table[current]
    rows = np.arange(len(onset_steps))
    result[rows, DISTANCE.start + np.maximum(distance, 0)] = 1.0
    bar_steps = round(bar_quarters * grammar.GRID)
    result[rows, POSITION.start + np.minimum(onset_steps % bar_steps, POSITIONS - 1)] = 1.0
    return result


def step_table(timeline, quarters, bar_quarters=4.0):
    """`features` of every grid step from 0 to `quarters` plus a 4/4 bar (a sampled token may overrun the end).

    A sampler indexes it by its running onset: row s holds the features of a token starting at step s.
    """
    return features(timeline, np.arange(int(np.ceil(quarters * grammar.GRID)) + grammar.MAX_STEPS + 1), bar_quarters)
