"""Ctrl-C and SIGTERM, remembered: a signal that a library swallowed still stops the command before it writes.

Python raises `KeyboardInterrupt` wherever the main thread happens to be, and TensorFlow and Keras run much of a
command inside `try` blocks and finalizers of their own: there the exception can be swallowed (training went on
and saved its bundle, exit 0) or replaced by another (`RuntimeError: Exiting device scope without proper scope
nesting`). So `apps.common.cli.run` installs `handle` for SIGINT and SIGTERM, which records the signal before it
raises, and every atomic writer of `apps.common.files` calls `check()` before it renames its output into place:
once a signal has come, the earlier output is never replaced, whatever happened to the exception.
"""

import contextlib
import signal


class Terminated(BaseException):
    """Raised in the main thread on SIGTERM, so that every `finally` and atomic write cleans up as on Ctrl-C.

    A `BaseException`, like `KeyboardInterrupt`: library code's `except Exception` must not swallow it.
    """


_received = []


def received():
    """The first signal (`signal.SIGINT` or `signal.SIGTERM`) received inside `handled()`, or `None`."""
    return _received[0] if _received else None


def _exception(signum):
    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated()


def handle(signum, frame):
    """The signal handler: remembers `signum`, then raises as Python's own Ctrl-C handler does."""
    _received.append(signum)
    raise _exception(signum)


def check():
    """Raises `KeyboardInterrupt` or `Terminated` if a signal has come since `handled()` began; else nothing."""
    if _received:
        raise _exception(_received[0])


@contextlib.contextmanager
def handled():
    """Within it, SIGINT and SIGTERM are remembered (`received`, `check`); the previous handlers come back after.

    Where no handler can be installed (a thread other than the main one) signals are left as they were. A SIGINT
    ignored by whoever started the process (`nohup`, a background job of a script) stays ignored, as a Unix tool's
    does.
    """
    _received.clear()
    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        # ValueError: not the main thread (a test runner's worker, a library caller's thread).
        with contextlib.suppress(ValueError):
            if signal.getsignal(signum) is not signal.SIG_IGN:
                previous[signum] = signal.signal(signum, handle)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
