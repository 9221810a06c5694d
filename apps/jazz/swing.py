"""Swing in what you hear: off-beat eighths played late, in the MIDI copy that is rendered to audio only.

The ratio is where the off-beat eighth falls, as a share of the beat: 0.5 straight, 0.6 a light swing, 2/3 the
triplet feel. The beat is the quarter note, counted from the start of the score (compound and odd meters are
not swung by their own beat). Swing is a time warp inside each beat, piecewise linear: its first half
[0, 0.5] is stretched onto [0, ratio], its second half [0.5, 1] squeezed onto [ratio, 1]; every event of the
copy (every note on and off) is moved by it, so on-beat notes stay where they are, an eighth-note pair becomes
long-short, and the MIDI and MusicXML files written keep the grid they read back as.
"""

import fractions

import numpy as np

from apps.common.cli import checked

STRAIGHT = 0.5
DEFAULT = 0.6
MAX = 0.8
"""Excluded: near it the pair is a dotted eighth and a sixteenth (0.75), another rhythm rather than a swing."""


def ratio(text):
    """`text` as a number, a decimal (`0.6`) or a fraction of two integers (`2/3`); ValueError if neither.

    A decimal is read by `float`, never as an exact `fractions.Fraction`: `1e-999999999` would build a
    billion-digit denominator.
    """
    if "/" not in text:
        return float(text)
    try:
        return float(fractions.Fraction(text))
    except ZeroDivisionError:
        raise ValueError(text) from None


SWING = checked(ratio, lambda value: STRAIGHT <= value < MAX, f"at least {STRAIGHT} and under {MAX}")
"""argparse type: a swing ratio, 0.5 <= RATIO < 0.8, as a decimal or a fraction (NaN and infinities refused)."""


def warp(ticks, ticks_per_beat, swing):
    """The times `ticks` (integers from the start) moved by the swing warp of `ticks_per_beat`-long beats, rounded
    to the nearest tick: at `swing` 0.5 every time is unchanged."""
    ticks = np.asarray(ticks, dtype=np.int64)
    beats, within = np.divmod(ticks, ticks_per_beat)
    moved = np.interp(within, [0, ticks_per_beat / 2, ticks_per_beat], [0, swing * ticks_per_beat, ticks_per_beat])
    return beats * ticks_per_beat + np.rint(moved).astype(np.int64)


def swing_midi(midi_path, out_path, swing):
    """Writes at `out_path` a copy of the Standard MIDI File `midi_path` with every event moved by `warp`.

    The warp never reorders (it is increasing), so each track's events keep their order and only the delta
    times between them change; at `swing` 0.5 the copy is byte for byte the file.
    """
    from music21 import midi

    midi_file = midi.MidiFile()
    midi_file.open(midi_path)
    try:
        midi_file.read()
    finally:
        midi_file.close()
    for track in midi_file.tracks:
        deltas = [event for event in track.events if isinstance(event, midi.DeltaTime)]
        moved = warp(np.cumsum([delta.time for delta in deltas]), midi_file.ticksPerQuarterNote, swing)
        for delta, time in zip(deltas, np.diff(moved, prepend=0)):
            delta.time = int(time)
    midi_file.open(out_path, "wb")
    try:
        midi_file.write()
    finally:
        midi_file.close()
