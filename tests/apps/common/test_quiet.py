"""TensorFlow's start-up lines stay off a CLI user's stderr; everything else still shows (apps/common/quiet.py)."""

import os
import signal
import subprocess
import sys

import pytest

from clis import interruptible

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

# Lines TensorFlow 2.21 (and the LiteRT interpreter) write from C++ on a CPU machine, as they came from
# `python -m apps.jazz generate`.
TF_STARTUP = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    (
        "I0000 00:00:1796173116.038732   14057 port.cc:153] oneDNN custom operations are on. You may see slightly "
        "different numerical results due to floating-point round-off errors from different computation orders. To "
        "turn them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`."
    ),
    (
        "I0000 00:00:1796173116.039095   14057 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU "
        "will not be used."
    ),
    (
        "To enable the following instructions: AVX2 AVX512F AVX512_VNNI AVX512_BF16 FMA, in other operations, rebuild "
        "TensorFlow with the appropriate compiler flags."
    ),
    (
        "E0000 00:00:1796173133.954151   14057 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: Failed "
        "call to cuInit: UNKNOWN ERROR (303)"
    ),
    # From `export --format litert`.
    "W0000 00:00:1796180290.966343   23318 tf_tfl_flatbuffer_helpers.cc:364] Ignored output_format.",
    "W0000 00:00:1796180290.966343   23318 tf_tfl_flatbuffer_helpers.cc:367] Ignored drop_control_dependency.",
    # From the LiteRT interpreter, loading a bundle's `.tflite` model.
    "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
]
REAL_ERROR = "E0000 00:00:1796173133.954151   14057 op_kernel.cc:1857] OP_REQUIRES failed: out of memory"

SCRIPT = f"""
import os, sys
from apps.common.quiet import filter_startup_noise
filter_startup_noise()
for line in {TF_STARTUP + [REAL_ERROR]!r}:
    os.write(2, line.encode() + b"\\n")  # as C++ writes: straight to descriptor 2
print("python says", file=sys.stderr)
os.write(2, b"progress 1/2\\rprogress 2/2\\r")
raise SystemExit("the end")
"""


def run_script(**env):
    # Bytes, not text: universal newlines would turn the progress bar's "\r" into "\n".
    return subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=REPO,
        capture_output=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": REPO, **env},
    ).stderr.decode()


def test_startup_lines_are_dropped_and_everything_else_passes():
    stderr = run_script(SEQUENCE_MODELS_TF_LOGS="")
    assert stderr == f"{REAL_ERROR}\npython says\nprogress 1/2\rprogress 2/2\rthe end\n"


def test_environment_variable_keeps_every_line():
    stderr = run_script(SEQUENCE_MODELS_TF_LOGS="1")
    assert stderr.splitlines()[: len(TF_STARTUP)] == TF_STARTUP


def test_generate_leaves_stderr_empty(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "SEQUENCE_MODELS_TF_LOGS"}
    result = subprocess.run(
        [sys.executable, "-m", "apps.jazz", "generate", "--chords", "Dm7 G7", "--out", str(tmp_path / "solo.mid")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**env, "PYTHONPATH": REPO},
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert (tmp_path / "solo.mid").is_file()


DYING = """
import ctypes, faulthandler, os, sys
from apps.common.quiet import filter_startup_noise
filter_startup_noise()
os.write(2, {startup!r} + b"\\n")
print("python's last words", file=sys.stderr, flush=True)
os.write(2, b"F0000 check_op.cc:12] Check failed: a == b\\n")
{death}
"""


@pytest.mark.parametrize(
    "death, last",
    [
        ("os.abort()", "Check failed: a == b"),
        ("faulthandler.enable()\nctypes.string_at(0)", "Fatal Python error: Segmentation fault"),
    ],
)
def test_a_dying_process_loses_no_line_to_the_filter(death, last):
    script = DYING.format(startup=TF_STARTUP[0].encode(), death=death)
    for _ in range(5):  # the thread it replaced lost them every time
        stderr = subprocess.run(
            [sys.executable, "-c", script],
            cwd=REPO,
            capture_output=True,
            timeout=60,
            env={**os.environ, "PYTHONPATH": REPO},
        ).stderr.decode()
        assert "python's last words" in stderr and last in stderr, stderr
        assert TF_STARTUP[0] not in stderr


def test_ctrl_c_to_the_whole_process_group_still_shows_the_interrupted_line():
    # A terminal's Ctrl-C reaches every process of the foreground group: the filter too.
    script = (
        "import sys, time\n"
        "from apps.common import quiet\n"
        "sys.argv = ['x', 'wait']\n"
        "import apps.common.cli as cli\n"
        "quiet.filter_startup_noise()\n"
        "parser, commands = cli.make_parser('python -m apps.test', 'test')\n"
        "commands.add_parser('wait')\n"
        "def wait(args):\n"
        "    print('ready', flush=True)\n"
        "    time.sleep(60)\n"
        "sys.exit(cli.run(parser, ['wait'], {'wait': wait}))\n"
    )
    with interruptible():  # as a terminal's foreground job, even where the test runner ignores Ctrl-C
        process = subprocess.Popen(
            [sys.executable, "-c", script],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            env={**os.environ, "PYTHONPATH": REPO},
        )
    assert process.stdout.readline() == "ready\n"
    os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert err == "python -m apps.test wait: interrupted\n"


def test_a_ctrl_c_as_the_filter_starts_stops_the_command_not_the_filter():
    # The signal comes the moment the filter's process exists, before it can ignore it (in a real terminal, a
    # Ctrl-C typed just then); were the filter stopped, the command's later lines would go nowhere.
    script = (
        "import os, signal, sys\n"
        "from apps.common import quiet\n"
        "fork = os.fork\n"
        "def fork_then_ctrl_c():\n"
        "    pid = fork()\n"
        "    if pid == 0:\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "    return pid\n"
        "os.fork = fork_then_ctrl_c\n"
        "quiet.filter_startup_noise()\n"
        "print('the last line', file=sys.stderr, flush=True)\n"
    )
    env = {**os.environ, "PYTHONPATH": REPO}
    env.pop("SEQUENCE_MODELS_TF_LOGS", None)
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, env=env, timeout=60
    )
    assert result.stderr == "the last line\n"
