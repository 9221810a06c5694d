"""Keeps TensorFlow's C++ start-up lines off a CLI user's terminal, and every other line on it.

On a machine without a GPU, TensorFlow 2.21 prints five or more lines to the process's stderr while it loads
(the absl preamble, oneDNN and cudart_stub notices, the CPU-feature notice, and `E0000 ... failed call to
cuInit: ... CUDA error`, which reads like a failure); `predict` adds oneDNN's `E0000 ... DT_BOOL` fallback
notice, and the LiteRT converter `W0000 ... Ignored output_format.` and the like; the LiteRT interpreter, which
answers without TensorFlow, says `INFO: Created TensorFlow Lite XNNPACK delegate for CPU.` when it loads a
model. `TF_CPP_MIN_LOG_LEVEL=3` does not silence them all, and they are written by C++ straight to file descriptor 2, out of reach of Python's
logging.

`filter_startup_noise()` puts a pipe in front of descriptor 2 and a child process that copies every line to the
real stderr except those (`NOISE`): Python's own output, warnings and tracebacks, and TensorFlow's warnings and
errors other than the missing-CUDA one, still show. `SEQUENCE_MODELS_TF_LOGS=1` turns the filter off.

The filter is a process of its own, not a thread, so that it outlives the command: when the command dies (an
`os.abort()` after a C++ `Check failed`, a segfault reported by `faulthandler`, SIGKILL), the pipe closes and the
filter passes on every line still in it before it exits. It ignores SIGINT and SIGTERM, which a terminal's Ctrl-C
and a process-group kill send to it too, so that the command's own `interrupted` line still reaches the user.
"""

import atexit
import contextlib
import importlib
import os
import re
import signal
import sys
import time

ENV = "SEQUENCE_MODELS_TF_LOGS"
_IGNORED = (signal.SIGINT, signal.SIGTERM)
"""What the filter ignores: a terminal's Ctrl-C and a process-group kill reach it too."""
_terminal = None
"""Whether the real stderr is a terminal, recorded when the filter's pipe takes its place; None: no filter."""
NOISE = re.compile(
    rb"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    rb"|I\d{4} [\d:.]+ +\d+ \S+:\d+\] "  # absl INFO lines (oneDNN, cudart_stub, cpu_feature_guard)
    rb"|E\d{4} [\d:.]+ +\d+ cuda_\w+\.cc:\d+\] failed call to cuInit"  # no GPU: not an error here
    rb"|E\d{4} [\d:.]+ +\d+ util\.cc:\d+\] oneDNN supports DT_BOOL only on platforms with AVX-512"  # a fallback
    # `export --format litert`: the converter's notes on options it does not use
    rb"|W\d{4} [\d:.]+ +\d+ tf_tfl_flatbuffer_helpers\.cc:\d+\] Ignored \w+\."
    # the LiteRT interpreter, on every `.tflite` it loads: the CPU delegate it uses by default
    rb"|INFO: Created TensorFlow Lite XNNPACK delegate for CPU\.$"
    rb"|To enable the following instructions: .*rebuild TensorFlow with the appropriate compiler flags\.$)"
)


def filter_startup_noise(env=os.environ):
    """Filters TensorFlow's start-up lines out of this process's stderr (see the module docstring), unless
    `SEQUENCE_MODELS_TF_LOGS` is set to anything but `0` or the empty string. Call it once, before TensorFlow
    is imported; the filter lasts until the interpreter exits. Returns whether it is on."""
    if env.get(ENV, "") not in ("", "0"):
        return False
    # Blocked until the child ignores them: a Ctrl-C in between would otherwise stop the filter, not the command.
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, _IGNORED)
    try:
        sys.stderr.flush()
        real = os.dup(2)
        read_end, write_end = os.pipe()
        child = os.fork()
    except OSError:  # no descriptor 2 to filter (a daemon, a closed stderr), or no process to spare
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        return False
    if child == 0:
        _filter_process(read_end, write_end, real, mask)
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    os.close(read_end)
    global _terminal
    _terminal = os.isatty(real)
    os.dup2(write_end, 2)
    os.close(write_end)

    def restore():
        # Putting the real stderr back closes the pipe's last write end: the filter passes on what is left and
        # exits. Waiting for it keeps those lines before the shell's prompt.
        sys.stderr.flush()
        os.dup2(real, 2)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                if os.waitpid(child, os.WNOHANG)[0]:
                    return
            time.sleep(0.005)

    atexit.register(restore)
    return True


def _filter_process(read_end, write_end, real, mask):
    """The forked filter: copies the pipe to the real stderr until every writer has closed it, then exits."""
    code = 0
    try:
        for signum in _IGNORED:
            signal.signal(signum, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        os.close(write_end)
        # Hold none of the command's other ends: a reader of its stdout (`| head`) must see it close with it.
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        _copy_lines(read_end, real)
    except BaseException:  # noqa: BLE001  nothing to report to: the real stderr is what failed
        code = 1
    finally:
        os._exit(code)  # never the parent's atexit handlers or buffered files


def stderr_is_terminal(stream):
    """Whether `stream` writes to a terminal: for descriptor 2 behind the filter, whether the real stderr is one."""
    try:
        if _terminal is not None and stream.fileno() == 2:
            return _terminal
        return stream.isatty()
    except (AttributeError, OSError, ValueError):  # no descriptor (a StringIO), or closed
        return False


def run_app(package):
    """`python -m <package>` (an app's `__main__` passes its `__package__`): turns the filter on, then runs
    `<package>.cli.main` and exits with its code.

    The app is imported only once the filter is on, so that TensorFlow's start-up lines, printed when a
    command imports it, meet the filter."""
    filter_startup_noise()
    try:
        sys.exit(importlib.import_module(f"{package}.cli").main(sys.argv[1:]))
    except KeyboardInterrupt:  # Ctrl-C before `main` installed its handlers: still one line and 130
        print(f"python -m {package}: interrupted", file=sys.stderr)
        sys.exit(130)


def _copy_lines(read_end, real):
    with os.fdopen(read_end, "rb", buffering=0) as pipe:
        pending = b""
        while chunk := pipe.read(65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            _write(real, b"".join(line + b"\n" for line in lines if not NOISE.match(line)))
            if b"\r" in pending:  # a progress line redrawn in place: pass it on now, not at the next newline
                _write(real, pending)
                pending = b""
        if pending and not NOISE.match(pending):
            _write(real, pending)


def _write(fd, data):
    while data:
        data = data[os.write(fd, data) :]
