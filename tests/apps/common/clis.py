"""The three command lines side by side, for tests of what every one of them promises (docs/cli.md).

`APPS` maps an app's name to how to call it in-process; `assert_usage_error` is the promise for a mistake:
exit code 2 and exactly one line on stderr, never a traceback.
"""

import contextlib
import os
import pty
import re
import signal
import subprocess
import sys
import threading

from apps.dinos.cli import main as dinos_main
from apps.jazz.cli import main as jazz_main
from apps.sentiment.cli import main as sentiment_main

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
APPS = {"dinos": dinos_main, "jazz": jazz_main, "sentiment": sentiment_main}
SHIPPED = {app: os.path.join(REPO, "saved_models", app) for app in APPS}
BUNDLE_FILES = ["config.json", "history.json", "model.keras", "model.tflite", "model.vocab.txt", "training.png"]
"""What `train` writes into a bundle of every app (jazz adds `training_tokens.npz`), sorted."""


def assert_usage_error(capsys, app, argv, *fragments):
    """Runs `python -m apps.<app> *argv` in-process; asserts exit 2 and one stderr line holding `fragments`."""
    assert APPS[app](list(argv)) == 2, argv
    err = capsys.readouterr().err.strip()
    assert err and "\n" not in err and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in err, err
    return err


def run_without_tensorflow(cases):
    """Runs each `(app, argv)` of `cases` in one fresh interpreter and returns `[(exit code, stderr), ...]`.

    Fails if TensorFlow or Keras was imported by the time the last case returned: the checks these cases
    exercise must come before the heavy imports.
    """
    script = (
        "import contextlib, io, json, sys\n"
        "from apps.dinos.cli import main as dinos\n"
        "from apps.jazz.cli import main as jazz\n"
        "from apps.sentiment.cli import main as sentiment\n"
        "mains = {'dinos': dinos, 'jazz': jazz, 'sentiment': sentiment}\n"
        "results = []\n"
        "for app, argv in json.loads(sys.stdin.read()):\n"
        "    err = io.StringIO()\n"
        "    with contextlib.redirect_stderr(err):\n"
        "        code = mains[app](argv)\n"
        "    results.append([code, err.getvalue()])\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras'))\n"
        "print(json.dumps({'results': results, 'heavy': heavy[:5]}))\n"
    )
    import json

    done = subprocess.run(
        [sys.executable, "-c", script], input=json.dumps(cases), capture_output=True, text=True, cwd=REPO, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["heavy"] == [], f"imported before the check: {report['heavy']}"
    return [tuple(result) for result in report["results"]]


@contextlib.contextmanager
def interruptible():
    """Children started inside it get Ctrl-C as a terminal delivers it.

    pytest-xdist's workers ignore SIGINT, and an ignored signal stays ignored across `exec`, so a child Python
    would never see Ctrl-C as KeyboardInterrupt; a handled one is reset to the default instead.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run_app(app, argv, *, terminal=False, env=None, timeout=300):
    """Runs `python -m apps.<app> *argv` (start-up filter and all) in a child whose progress lines are drawn from
    the first step.

    Standard output goes to a pipe; standard error to a pipe, or with `terminal` to a pseudo-terminal, which
    is a terminal to the child (`isatty`). Returns `(exit code, stdout, stderr)`.
    """
    child = (
        "import apps.common.progress\n"
        "apps.common.progress.DELAY_S = 0  # tiny work: draw at once\n"
        "from apps.common.quiet import run_app\n"
        f"run_app('apps.{app}')\n"
    )
    command = [sys.executable, "-c", child, *map(str, argv)]
    env = {**os.environ, **(env or {})}
    if not terminal:
        done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=env, timeout=timeout)
        return done.returncode, done.stdout, done.stderr
    controller, terminal_end = pty.openpty()
    chunks = []
    reader = threading.Thread(target=_drain, args=(controller, chunks), daemon=True)
    reader.start()
    try:
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=terminal_end, cwd=REPO, env=env) as process:
            os.close(terminal_end)
            stdout, _ = process.communicate(timeout=timeout)
        reader.join(timeout=10)
    finally:
        os.close(controller)
    return process.returncode, stdout.decode(), b"".join(chunks).decode(errors="replace")


def _drain(fd, chunks):
    while True:
        try:
            chunk = os.read(fd, 1 << 16)
        except OSError:  # EIO: the child's end closed
            return
        if not chunk:
            return
        chunks.append(chunk)


def drawn(stderr, label):
    """Whether `stderr` (read from a pseudo-terminal) holds a progress line `label: ...` redrawn in place."""
    return re.search(r"\r(?!\n)" + re.escape(label) + r"\b", stderr) is not None


def assert_plain(*outputs):
    """Asserts that redirected outputs hold no escape code and no line redrawn with a carriage return."""
    for output in outputs:
        assert "\x1b" not in output and "\r" not in output, repr(output[-2000:])
