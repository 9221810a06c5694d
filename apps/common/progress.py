"""Progress of long work, on stderr and only when stderr is a terminal: the one progress line every loop uses.

Standard output holds a command's results, so that `evaluate > report.txt` writes the report alone; a bar
redrawn with carriage returns belongs on a screen, never in a log, so where stderr is a file or a pipe nothing
is drawn. Keras's own `Progbar` (and `model.fit(verbose=1)`) writes to stdout, hence this module, and
`keras_progress`, a callback that draws it for `fit`, `evaluate` and `predict` (called with `verbose=0`).

    with Progress(len(paths), "parsing", unit="file") as progress:
        for path in paths:
            parse(path)
            progress.update()

Nothing here imports TensorFlow until `keras_progress` is called.
"""

import functools
import sys
import threading
import time

from apps.common.quiet import stderr_is_terminal

REDRAW_S = 0.1
"""Least time between two redraws: a loop of a million short steps must not spend its time drawing."""
DELAY_S = 1.0
"""Work done sooner than this draws nothing: a quick command leaves no progress line behind."""
TICK_S = 1.0
"""How often a `Progress(tick=True)` redraws its line (its clock) while no step ends."""


def drawing(stream=None):
    """Whether progress is drawn on `stream` (default stderr): only on a terminal, the real stderr's answer when
    `apps.common.quiet`'s filter stands in front of it."""
    return stderr_is_terminal(sys.stderr if stream is None else stream)


class Progress:
    """A line `label: done/total unit (percent, elapsed, left)` redrawn in place on stderr, if a terminal.

    Args:
        total: the number of steps, or None where it is not known (then no percentage or time left).
        label: what is being done ("parsing", "explaining").
        unit: what a step is ("file", "text"); shown after the counts.
        stream: where to draw (default: `sys.stderr` when the object is made).
        show: False to draw nothing even on a terminal (a `--json` run, a caller's own loop).
        tick: redraw every `TICK_S` from a thread of its own, so that the clock runs through steps that take
            minutes each (a single long call: sampling a solo, writing MusicXML). Change `label` between
            stages to say which is running.
    """

    def __init__(self, total, label, unit="", stream=None, show=True, tick=False):
        self.total = total
        self.label = label
        self.unit = unit
        self.stream = sys.stderr if stream is None else stream
        self.enabled = bool(show) and drawing(self.stream)
        self.done = 0
        self.start = time.monotonic()
        self._drawn = None  # when the line was last drawn; None: never
        self._width = 0
        self._lock = threading.RLock()  # the ticking thread draws too
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, daemon=True) if tick and self.enabled else None
        if self._ticker is not None:
            self._ticker.start()

    def _tick(self):
        while not self._stop.wait(TICK_S):
            self.update(0)

    def update(self, steps=1):
        """Counts `steps` more steps done; draws the line once `DELAY_S` has passed, then every `REDRAW_S`."""
        with self._lock:
            self.done += steps
            if self.enabled:
                due = self.start + DELAY_S if self._drawn is None else self._drawn + REDRAW_S
                if time.monotonic() >= due:
                    self._draw()

    def print(self, line):
        """Writes `line` on the stream (terminal or not), above the progress line, which is then drawn again."""
        with self._lock:
            showing = self.enabled and self._drawn is not None
            self._write(("\r" + line.ljust(self._width) if showing else line) + "\n")
            if showing:
                self._draw()

    def close(self, summary=None):
        """Ends the line, if one was drawn: with the final count, or replaced by `summary`.

        A `summary` is a record, not a drawing: it is written whether or not the stream is a terminal.
        """
        if self._ticker is not None:
            self._stop.set()
            self._ticker.join()
        with self._lock:
            showing = self.enabled and self._drawn is not None
            if summary is not None:
                self._write(("\r" + summary.ljust(self._width) if showing else summary) + "\n")
            elif showing:
                self._draw()
                self._write("\n")
            self.enabled = False

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def _draw(self):
        from apps.common.cli import printable  # here: apps.common.cli imports files, which imports this module

        label = printable(self.label)  # a URL or a path of the user's may hold escape codes
        elapsed = time.monotonic() - self.start
        unit = f" {self.unit}" if self.unit else ""
        if self.total:
            share = min(self.done / self.total, 1.0)
            left = elapsed * (1 - share) / share if share else None
            text = f"{label}: {self.done:,}/{self.total:,}{unit} ({share:.0%}, {_clock(elapsed)}"
            text += f", {_clock(left)} left)" if left is not None and share < 1 else ")"
        elif self.done:
            text = f"{label}: {self.done:,}{unit} ({_clock(elapsed)})"
        else:  # one step of unknown length: what runs, and for how long
            text = f"{label} ({_clock(elapsed)})"
        # Spaces over the rest of a longer line drawn before; no escape codes, which not every terminal reads.
        self._write("\r" + text.ljust(self._width))
        self._width = len(text)
        self._drawn = time.monotonic()

    def _write(self, text):
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed terminal must not end the work it reports on
            self.enabled = False


def track(iterable, label, unit="", total=None, tick=False):
    """Yields the items of `iterable`, drawing a `Progress` of them (`total` default: `len(iterable)`)."""
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)
    with Progress(total, label, unit, tick=tick) as progress:
        for item in iterable:
            yield item
            progress.update()


def _clock(seconds):
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def keras_progress(label="predicting", unit="batch"):
    """A Keras callback drawing a `Progress` of the batches of `fit` (one line an epoch), `evaluate` and `predict`.

    Pass it with `verbose=0`. For `fit` it also writes, on a terminal or not, one plain line an epoch with the
    metrics (`epoch 3/20: loss 1.2345 - val_loss 1.3456 (0:04)`), the record a log of a long run needs; for
    `evaluate` and `predict` the line `label: done/total unit`.
    """
    return _keras_progress_class()(label, unit)


@functools.cache
def _keras_progress_class():
    import keras

    class KerasProgress(keras.callbacks.Callback):
        def __init__(self, label, unit):
            super().__init__()
            self.label, self.unit = label, unit
            self._progress, self._fitting = None, False

        def _begin(self, label):
            self._end()
            self._progress = Progress(self.params.get("steps"), label, self.unit)

        def _batch(self, batch):
            # With steps_per_execution, one call stands for several batches: `batch` is the last one's index.
            if self._progress is not None:
                self._progress.update(batch + 1 - self._progress.done)

        def _end(self, summary=None):
            progress, self._progress = self._progress, None
            if progress is not None:
                progress.close(summary)

        def on_train_begin(self, logs=None):
            self._fitting = True

        def on_train_end(self, logs=None):
            self._end()
            self._fitting = False

        def on_epoch_begin(self, epoch, logs=None):
            self._started = time.monotonic()
            self._begin(self._epoch(epoch))

        def on_train_batch_end(self, batch, logs=None):
            self._batch(batch)

        def on_epoch_end(self, epoch, logs=None):
            metrics = " - ".join(f"{name}: {value:.4f}" for name, value in (logs or {}).items() if _is_number(value))
            self._end(f"{self._epoch(epoch)}: {metrics} ({_clock(time.monotonic() - self._started)})")

        def _epoch(self, epoch):
            return f"epoch {epoch + 1}/{self.params.get('epochs')}"

        def on_test_begin(self, logs=None):
            if not self._fitting:  # validation inside `fit` is part of the epoch's line
                self._begin(self.label)

        def on_test_batch_end(self, batch, logs=None):
            if not self._fitting:
                self._batch(batch)

        def on_test_end(self, logs=None):
            if not self._fitting:
                self._end()

        def on_predict_begin(self, logs=None):
            self._begin(self.label)

        def on_predict_batch_end(self, batch, logs=None):
            self._batch(batch)

        def on_predict_end(self, logs=None):
            self._end()

    return KerasProgress


def _is_number(value):
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True
