"""A piano roll of a solo with its chords marked (matplotlib, the optional `plot` extra)."""

import math

from apps.common.plots import save_figure

BARS_PER_ROW = 8
"""Bars in one row (system) of the picture: a long form wraps onto further rows, as sheet music does."""
QUARTER_INCHES = 0.5
ROW_INCHES = 2.2
COLOURS = {"C": "tab:blue", "S": "tab:green", "A": "tab:orange", "X": "tab:red"}
KINDS = (("chord tone", "C"), ("scale tone", "S"), ("approach", "A"), ("other", "X"))


def systems(quarters, bar_quarters=4.0, bars_per_row=BARS_PER_ROW):
    """The `(start, end)` quarter notes of each row of the picture: `bars_per_row` bars each (fewer bars in all:
    one row as long as the solo), the last row as wide as the others so every row has the same scale."""
    bars = max(1, math.ceil(quarters / bar_quarters - 1e-9))
    row = min(bars_per_row, bars) * bar_quarters
    return [(index * row, (index + 1) * row) for index in range(math.ceil(bars / min(bars_per_row, bars)))]


def piano_roll(notes, timeline, quarters, path, bar_quarters=4.0, title="solo", primer_end=None):
    """Saves `piano_roll_figure` of the solo as a PNG at `path` (atomically).

    Returns:
        `path`, or None when matplotlib is not installed.
    """
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    return save_figure(piano_roll_figure(notes, timeline, quarters, bar_quarters, title, primer_end), path)


def piano_roll_figure(notes, timeline, quarters, bar_quarters=4.0, title="solo", primer_end=None):
    """The notes as bars over time and pitch, in rows of `BARS_PER_ROW` bars, chord changes as labelled
    lines, bar numbers along the time axis and note names (C4, E4, ...) along the pitch axis: a matplotlib
    `Figure` of the object API, safe to draw in any thread (no pyplot state).

    Args:
        notes: `(offset, duration, midi)` triples.
        timeline: the `apps.jazz.chords.Timeline` the solo is played over.
        quarters: length of the solo in quarter notes.
        bar_quarters: bar length, for the bar grid.
        title: the plot title.
        primer_end: where the primer given to the model ends (quarter notes), marked; None without a primer.
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    rows = systems(quarters, bar_quarters)
    pitches = [midi for _, _, midi in notes] or [60]
    low, high = min(pitches) - 2, max(pitches) + 4  # room above the notes for the chord symbols
    width = QUARTER_INCHES * (rows[0][1] - rows[0][0]) + 1.2
    figure = Figure(figsize=(max(6.0, width), 0.5 + ROW_INCHES * len(rows)))
    axes = figure.subplots(len(rows), 1, sharey=True, squeeze=False)[:, 0]
    for axis, (start, end) in zip(axes, rows):
        _draw_row(axis, notes, timeline, start, min(end, quarters), bar_quarters, high)
        axis.set_xlim(start, end)
        if primer_end is not None and start <= primer_end < end:
            axis.axvline(primer_end, color="magenta", linewidth=1.5)
            axis.text(primer_end, low + 0.3, " primer ends", color="magenta", fontsize=8, va="bottom")
    _pitch_axis(axes[0], low, high)
    for axis in axes:
        axis.set_ylabel("pitch", fontsize=8)
        axis.tick_params(axis="y", labelsize=7)
    axes[-1].set_xlabel("bar")
    handles = [Patch(color=COLOURS[kind], label=label) for label, kind in KINDS]
    figure.legend(handles=handles, loc="upper right", fontsize=7, ncol=4)
    figure.suptitle(title, x=0.02, y=1 - 0.08 / figure.get_figheight(), ha="left", va="top")
    figure.tight_layout(rect=(0, 0, 1, 1 - 0.35 / figure.get_figheight()))
    return figure


def _draw_row(axis, notes, timeline, start, end, bar_quarters, high):
    """The notes, chord changes and bar lines between quarter notes `start` and `end` on `axis`."""
    from matplotlib.collections import PolyCollection

    shown = [(offset, duration, midi) for offset, duration, midi in notes if offset < end and offset + duration > start]
    # One collection for the row's notes: each collection added costs Matplotlib a pass over the axes' limits.
    bars = [
        [(offset, midi - 0.4), (offset, midi + 0.4), (offset + duration, midi + 0.4), (offset + duration, midi - 0.4)]
        for offset, duration, midi in shown
    ]
    colours = [COLOURS[timeline.chord_at(offset).tone_type(midi)] for offset, _, midi in shown]
    axis.add_collection(PolyCollection(bars, color=colours), autolim=False)
    for offset, chord in timeline:
        if start <= offset < end:
            axis.axvline(offset, color="grey", linewidth=0.6, linestyle=":")
            axis.text(offset + 0.05, high - 0.3, chord.figure.replace("-", "b"), fontsize=8, va="top")
    first, last = round(start / bar_quarters), math.ceil(end / bar_quarters - 1e-9)
    for bar in range(first, last + 1):
        axis.axvline(bar * bar_quarters, color="black", linewidth=0.8)
    axis.set_xticks([bar * bar_quarters for bar in range(first, last)], [str(bar + 1) for bar in range(first, last)])


def _pitch_axis(axis, low, high):
    """Ticks named C4, E4, G#4, ... on every C, E and G# between `low` and `high` (shared by every row)."""
    from music21 import pitch

    ticks = [midi for midi in range(math.ceil(low), math.floor(high) + 1) if midi % 4 == 0]
    axis.set_yticks(ticks, [pitch.Pitch(midi=midi).nameWithOctave.replace("-", "b") for midi in ticks])
    axis.set_ylim(low, high)
