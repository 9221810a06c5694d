"""`python -m apps.studio`'s mistakes: one line on stderr and exit code 2, before Gradio or TensorFlow loads."""

import json
import socket
import subprocess
import sys

import pytest

from apps.common.paths import saved_model

SCRIPT = (
    "import contextlib, io, json, sys\n"
    "from apps.studio.cli import main\n"
    "err = io.StringIO()\n"
    "with contextlib.redirect_stderr(err):\n"
    "    code = main(sys.argv[1:])\n"
    "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'gradio', 'tensorflow', 'keras'})\n"
    "print(json.dumps([code, err.getvalue(), heavy]))\n"
)


def studio(*argv):
    """`(exit code, stderr)` of the studio's `main(argv)` in a fresh interpreter, which must not have loaded
    Gradio, TensorFlow or Keras."""
    done = subprocess.run([sys.executable, "-c", SCRIPT, *argv], capture_output=True, text=True, timeout=120)
    code, err, heavy = json.loads(done.stdout.strip().splitlines()[-1])
    assert heavy == [], heavy
    return code, err


def test_a_port_in_use_is_one_line():
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        code, err = studio("--port", str(port))
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"python -m apps.studio: error: cannot listen on 127.0.0.1:{port}: "), err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--port", "65536"], "argument --port: must be an integer from 1 to 65,535, got 65536"),
        (["--jazz-model", saved_model("dinos")], "dinos"),
        (["--sentiment-model", "no-such-bundle"], "no-such-bundle"),
    ],
)
def test_a_bad_option_or_bundle_is_one_line(argv, expected):
    code, err = studio(*argv)
    assert code == 2 and err.count("\n") == 1 and expected in err, err
