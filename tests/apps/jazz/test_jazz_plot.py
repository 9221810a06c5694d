"""The piano roll of `generate --plot`: a long form reads like sheet music, rows of bars with named pitches."""

import math
import re

import matplotlib.image

from apps.jazz import chords, grammar, plot

TOKENS = ["C,1/2,<*>", "C,1/3,<+0,+4>", "S,1,<-4,+0>", "A,1/6,<-2,+2>", "C,2,<+2,+6>", "R,1", "X,3/2,<-6,-2>"]


def test_a_long_form_wraps_into_rows_of_bars_with_note_names_and_the_primers_end(tmp_path, monkeypatch):
    bars = 133
    progression, form = chords.parse_progression("Dm7 G7 | Cmaj7 | F7 Bb7 | Ebmaj7 | Am7 D7 | Gmaj7 | C#m7b5 F#7")
    timeline = chords.repeat(progression, form, bars, 4.0)
    notes = [note for note in grammar.realise(TOKENS * 200, timeline, seed=1) if note[0] < bars * 4]
    drawn = []

    def save_figure(figure, path):
        drawn.append(figure)
        return real(figure, path)

    real = plot.save_figure
    monkeypatch.setattr(plot, "save_figure", save_figure)
    path = plot.piano_roll(notes, timeline, bars * 4.0, str(tmp_path / "roll.png"), primer_end=6.5)
    height, width, _ = matplotlib.image.imread(path).shape
    assert width < 3000 and 0.2 < width / height < 5, (width, height)
    (figure,) = drawn
    rows = figure.axes
    assert len(rows) == math.ceil(bars / plot.BARS_PER_ROW) == 17
    # Every row starts where the last ended, and together they hold every bar, numbered from 1.
    assert [axis.get_xlim() for axis in rows] == [(32.0 * i, 32.0 * (i + 1)) for i in range(17)]
    numbers = [label.get_text() for axis in rows for label in axis.get_xticklabels()]
    assert numbers == [str(bar) for bar in range(1, bars + 1)]
    names = [label.get_text() for label in rows[0].get_yticklabels()]
    assert names and all(re.fullmatch(r"[A-G][#b]?-?\d", name) for name in names), names
    assert "C4" in names or "C5" in names
    marked = [axis for axis in rows if any("primer ends" in text.get_text() for text in axis.texts)]
    assert marked == [rows[0]]
