"""The three command lines side by side, for tests of what every one of them promises (docs/cli.md).

`APPS` maps an app's name to how to call it in-process; `assert_usage_error` is the promise for a mistake:
exit code 2 and exactly one line on stderr, never a traceback.
"""

import contextlib
import os
import signal
import subprocess
import sys

from apps.dinos.cli import main as dinos_main
from apps.jazz.cli import main as jazz_main
from apps.sentiment.cli import main as sentiment_main

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
APPS = {"dinos": dinos_main, "jazz": jazz_main, "sentiment": sentiment_main}
SHIPPED = {app: os.path.join(REPO, "saved_models", app) for app in APPS}


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
