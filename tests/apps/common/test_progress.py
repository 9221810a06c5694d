"""The one progress line: drawn in place on a terminal, after a moment; nothing anywhere else."""

import io
import time

import pytest

from apps.common import progress


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def at_once(monkeypatch):
    monkeypatch.setattr(progress, "DELAY_S", 0)
    monkeypatch.setattr(progress, "REDRAW_S", 0)


def test_a_terminal_gets_one_line_redrawn_in_place(at_once):
    screen = Terminal()
    with progress.Progress(3, "parsing", "file", stream=screen) as bar:
        for _ in range(3):
            bar.update()
        bar.print("warning: skipping x.mid")
    text = screen.getvalue()
    assert text.startswith("\rparsing: 1/3 file (33%, 0:00") and text.endswith("parsing: 3/3 file (100%, 0:00)\n")
    assert text.count("\n") == 2 and "\rwarning: skipping x.mid" in text  # the note on a line of its own


def test_nothing_is_drawn_off_a_terminal_but_a_summary_is_written(at_once):
    log = io.StringIO()
    bar = progress.Progress(3, "epoch 1/2", "batch", stream=log)
    bar.update(3)
    bar.close("epoch 1/2: loss: 0.5000")
    assert log.getvalue() == "epoch 1/2: loss: 0.5000\n"


def test_quick_work_draws_nothing():
    screen = Terminal()
    with progress.Progress(2, "classifying", stream=screen) as bar:
        bar.update(2)
    assert screen.getvalue() == ""


def test_a_ticking_line_shows_the_clock_through_one_long_step(at_once, monkeypatch):
    monkeypatch.setattr(progress, "TICK_S", 0.05)
    screen = Terminal()
    with progress.Progress(None, "sampling", stream=screen, tick=True):
        time.sleep(0.3)  # one step, never counted
    assert screen.getvalue().startswith("\rsampling (0:00)") and screen.getvalue().endswith("\n")
