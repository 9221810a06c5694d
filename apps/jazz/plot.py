"""A piano roll of a solo with its chords marked (matplotlib, the optional `plot` extra)."""

from apps.common.plots import save_figure


def piano_roll(notes, timeline, quarters, path, bar_quarters=4.0, title="solo"):
    """Saves the notes as bars over time (quarter notes) and pitch, chord changes as labelled lines.

    Args:
        notes: `(offset, duration, midi)` triples.
        timeline: the `apps.jazz.chords.Timeline` the solo is played over.
        quarters: length of the solo in quarter notes.
        path: the PNG to write (atomically).
        bar_quarters: bar length, for the bar grid.
        title: the plot title.

    Returns:
        `path`, or None when matplotlib is not installed.
    """
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pitches = [midi for _, _, midi in notes] or [60]
    low, high = min(pitches) - 5, max(pitches) + 3  # room below the notes for the legend
    figure, axis = plt.subplots(figsize=(max(8.0, quarters / 4), 4.5))
    colours = {"C": "tab:blue", "S": "tab:green", "A": "tab:orange", "X": "tab:red"}
    for offset, duration, midi in notes:
        kind = timeline.chord_at(offset).tone_type(midi)
        axis.broken_barh([(offset, duration)], (midi - 0.4, 0.8), color=colours[kind])
    for offset, chord in timeline:
        if offset < quarters:
            axis.axvline(offset, color="grey", linewidth=0.6, linestyle=":")
            axis.text(offset + 0.05, high - 0.5, chord.figure.replace("-", "b"), fontsize=8, va="top")
    for bar in range(int(quarters // bar_quarters) + 1):
        axis.axvline(bar * bar_quarters, color="black", linewidth=0.8)
    axis.set_xlim(0, quarters)
    axis.set_ylim(low, high)
    axis.set_xlabel("quarter notes")
    axis.set_ylabel("MIDI pitch")
    handles = [
        matplotlib.patches.Patch(color=colour, label=label)
        for label, colour in (
            ("chord tone", colours["C"]),
            ("scale tone", colours["S"]),
            ("approach", colours["A"]),
            ("other", colours["X"]),
        )
    ]
    axis.legend(handles=handles, loc="lower right", fontsize=7, ncol=4)
    axis.set_title(title)
    figure.tight_layout()
    return save_figure(figure, path)
