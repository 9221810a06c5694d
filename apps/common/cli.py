"""Command-line plumbing shared by every app: argument types, one error path, exit codes.

Every app's `main(argv) -> int` builds its parser with `make_parser`, dispatches with `run`, and raises
`UsageError` for anything the user got wrong. `run` turns that into one line on stderr and exit code 2, never a
traceback, and so the machine's refusals (a full disk, a file it may not read, a deleted current directory);
Ctrl-C exits 130 and SIGTERM 143; a reader that closed our standard output early (`| head`) means exit 0,
quietly. Output paths, atomic writes and input limits live in
`apps.common.files`. Text from the user or a file reaches the terminal through `printable` (`shorten` uses it),
so that it cannot recolour or retitle the terminal. Nothing here imports TensorFlow, so arguments are checked
before it loads.
"""

import argparse
import contextlib
import json
import os
import re
import select
import signal
import sys
import textwrap

from apps.common import interrupts
from apps.common.errors import UsageError
from apps.common.files import MAX_ARGUMENT_CHARS, MAX_SEED, describe_os_error
from apps.common.interrupts import Terminated

USAGE_ERROR = 2
# `tf.distribute` strategies a `train` command offers (apps.common.distribute.make_strategy builds them).
STRATEGIES = ("none", "mirrored", "multi-worker")
WORKER_TIMEOUT_S = 300.0
"""`--worker-timeout`'s default: seconds a multi-worker task waits for the others to start."""


class ArgumentParser(argparse.ArgumentParser):
    """An `argparse.ArgumentParser` whose errors are one line (no usage dump) and exit code 2."""

    def error(self, message):
        # shorten: argparse quotes arguments as given ("unrecognized arguments: a\nb"), newlines, ESC and all.
        self.exit(USAGE_ERROR, f"{self.prog}: error: {shorten(message)}\n")


def make_parser(prog, description):
    """Returns the app's top-level parser and the subparsers action to add commands to."""
    parser = ArgumentParser(prog=prog, description=description)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser, required=True)
    return parser, commands


INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for Ctrl-C
TERMINATED = 143  # 128 + SIGTERM, what `timeout` and job schedulers send
MAX_MESSAGE_CHARS = 400


def run(parser, argv, handlers):
    """Parses `argv`, calls `handlers[command](args)` and returns the process exit code.

    A handler returns an int (or None for 0). A `UsageError` becomes one line on stderr, its control characters
    escaped (`shorten`), and exit code 2 (so do argparse's errors, an `OSError` of `files.USER_ENVIRONMENT` and a
    deleted current directory); Ctrl-C exits 130 and SIGTERM 143, each with one line, after the atomic writers
    have removed their temporary files. A signal counts even where a library swallowed its exception or raised
    another in its place (`apps.common.interrupts`): no output is renamed into place after it, and the exit code
    is still 130 or 143. Standard output closed by its reader exits 0 with nothing on stderr, as `head` expects.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    command = None
    with interrupts.handled(), _stdout_named():
        try:
            check_argv(argv)
            try:
                args = parser.parse_args(argv)
            except SystemExit as exit_:
                return exit_.code if isinstance(exit_.code, int) else USAGE_ERROR
            command = args.command
            code = handlers[command](args) or 0
            sys.stdout.flush()  # a full or closed standard output fails here, not in the interpreter's exit
            interrupts.check()
            return code
        except UsageError as error:
            if interrupts.received() is None:
                print(f"{_prefix(parser, command)}: error: {shorten(str(error))}", file=sys.stderr)
                return USAGE_ERROR
            return _interrupted(parser, command)
        except KeyboardInterrupt:
            return _interrupted(parser, command, signal.SIGINT)
        except Terminated:
            return _interrupted(parser, command, signal.SIGTERM)
        except Exception as error:
            if interrupts.received() is not None:
                return _interrupted(parser, command)  # a library's error in place of the signal's exception
            code = _environment_error(parser, command, error)
            if code is None:
                raise  # a bug: its traceback is what to report
            return code


def _interrupted(parser, command, raised=None):
    """The line and exit code of the signal received (or of the exception `raised`, where none was recorded)."""
    terminated = (interrupts.received() or raised) == signal.SIGTERM
    print(f"{_prefix(parser, command)}: {'terminated' if terminated else 'interrupted'}", file=sys.stderr)
    return TERMINATED if terminated else INTERRUPTED


def _environment_error(parser, command, error):
    """The exit code of an `Exception` that reached `run`: for one of the user's environment, 2 and one line;
    for a closed standard output, 0; for anything else (a bug) None."""
    if isinstance(error, BrokenPipeError) and _stdout_closed():
        _discard_stdout()
        return 0
    message = _environment_message(error)
    if message is None:
        return None
    if getattr(error, "filename", None) == STANDARD_OUTPUT:
        _discard_stdout()
    print(f"{_prefix(parser, command)}: error: {shorten(message)}", file=sys.stderr)
    return USAGE_ERROR


def _environment_message(error):
    """The line for an error of the user's machine rather than of our code (see `files.describe_os_error`)."""
    if isinstance(error, FileNotFoundError) and error.filename is None and _cwd_deleted():
        return "the current directory no longer exists: change to one that does and run the command again"
    return describe_os_error(error)


def _cwd_deleted():
    try:
        os.getcwd()
    except FileNotFoundError:
        return True
    return False


STANDARD_OUTPUT = "standard output"


@contextlib.contextmanager
def _stdout_named():
    """Within it, `sys.stdout` is a `_StandardOutput`, whose errors name it."""
    stdout, sys.stdout = sys.stdout, _StandardOutput(sys.stdout)
    try:
        yield
    finally:
        sys.stdout = stdout


class _StandardOutput:
    """`sys.stdout` while a command runs, whose errors name it (`print`'s `OSError` names no file)."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        return self._named(self._stream.write, text)

    def writelines(self, lines):
        return self._named(self._stream.writelines, lines)

    def flush(self):
        return self._named(self._stream.flush)

    def __getattr__(self, name):
        return getattr(self._stream, name)

    @staticmethod
    def _named(call, *args):
        try:
            return call(*args)
        except OSError as error:
            if error.filename is None:
                error.filename = STANDARD_OUTPUT
            raise


def _discard_stdout():
    """Points standard output at /dev/null (the Python docs' recipe for a closed pipe): the interpreter flushes
    what is left in its buffer at exit, which must not fail a second time."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # a replaced sys.stdout (a test's capture) has no descriptor
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def _stdout_closed():
    """Whether standard output is a pipe whose reader has gone (the kernel reports POLLERR on its write end)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # a replaced sys.stdout (a test's capture) has no descriptor
        return False
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & select.POLLERR for _, events in poller.poll(0))


def _prefix(parser, command):
    return f"{parser.prog} {command}" if command else parser.prog


def shorten(text, limit=MAX_MESSAGE_CHARS):
    """`text` on one line of at most `limit` characters, so that an error quoting a 50 MB input stays readable.

    White space runs become one space, as in `textwrap.shorten`; other control characters are escaped
    (`printable`) before the text is cut, so the escapes count towards `limit`.
    """
    return textwrap.shorten(printable(" ".join(text.split())), limit, placeholder=" …")


# What a terminal acts on instead of showing: C0 controls, DEL and C1 controls (ESC and CSI U+009B start colour,
# cursor and title sequences), the line and paragraph separators, lone surrogates (which UTF-8 cannot encode),
# and the bidi embeddings, overrides and isolates, which reorder the rest of the line. Emoji joiners, variation
# selectors and tag characters are format characters too, but are kept: emoji sequences are made of them.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]+")


def printable(text):
    """`text` with every character a terminal would act on written as its Python escape, the rest unchanged.

    `"\\x1b]0;title\\x07"` becomes the characters `\\x1b]0;title\\x07`, a newline `\\n`, a tab `\\t`, U+202E
    `\\u202e`; accents, CJK and emoji are kept. A backslash is kept as it is, so that the parts of a message
    that quote a value with `repr` are not escaped twice.
    """
    return _UNPRINTABLE.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), text)


def check_argv(argv):
    """Refuses arguments that are not UTF-8 text or longer than `MAX_ARGUMENT_CHARS`, naming the first."""
    for index, arg in enumerate(argv, 1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:  # Python decodes such bytes of argv as lone surrogates
            raise UsageError(f"argument {index} is not valid UTF-8 text") from None
        if len(arg) > MAX_ARGUMENT_CHARS:
            raise UsageError(
                f"argument {index} is {len(arg):,} characters; the limit is {MAX_ARGUMENT_CHARS:,} "
                "(put long texts in a file)"
            )


def checked(kind, accept, expected):
    """argparse type: `kind(text)` where `accept(value)` holds, else "must be `expected`, got <text>"."""

    def parse(text):
        value = _parse(kind, text)
        if not accept(value):
            raise argparse.ArgumentTypeError(f"must be {expected}, got {shorten(text, 40)}")
        return value

    parse.__name__ = kind.__name__
    return parse


def int_in(low, high):
    """argparse type: an integer in [low, high]."""
    return checked(int, lambda value: low <= value <= high, f"an integer from {low:,} to {high:,}")


def float_in(low, high, low_open=False):
    """argparse type: a number in [low, high] (or (low, high] with `low_open`)."""
    return checked(
        float,
        lambda value: (low < value if low_open else low <= value) and value <= high,
        f"in {'(' if low_open else '['}{low:g}, {high:g}]",
    )


seed = int_in(0, MAX_SEED)
"""argparse type: a random seed, 0 to 2**31 - 1 (TensorFlow's seeds are int32; larger ones would wrap)."""
positive_int = checked(int, lambda value: value > 0, "a positive integer")
"""argparse type: an integer > 0."""
positive_float = checked(float, lambda value: 0 < value < float("inf"), "a positive number")
"""argparse type: a finite float > 0."""
fraction = checked(float, lambda value: 0 <= value < 1, "in [0, 1)")
"""argparse type: a float in [0, 1)."""


def add_removed_argument(parser, flag, why):
    """Keeps `flag`, an option the command no longer has, out of `--help` but known, so that it is refused with
    one line saying `why` (what to use instead), exit code 2, rather than as an unknown argument."""

    class Removed(argparse.Action):
        def __call__(self, parser, namespace, values, option_string=None):
            raise argparse.ArgumentError(self, f"was removed: {why}")

    parser.add_argument(flag, nargs="?", action=Removed, default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def refusing_removed(parse, removed):
    """argparse type: `parse(text)`, but a value the option no longer takes (a key of `removed`) is refused with
    one line saying why (its value there)."""

    def parse_or_refuse(text):
        if text in removed:
            raise argparse.ArgumentTypeError(f"{text} was removed: {removed[text]}")
        return parse(text)

    return parse_or_refuse


def add_compile_arguments(parser, steps_per_execution=10):
    """Adds `--jit-compile` and `--steps-per-execution` to a `train` command: how its steps are compiled.

    Defaults: no XLA, and `steps_per_execution` batches per call, the app's fastest settings on a CPU in
    `benchmarks/README.md` ("Apps")."""
    parser.add_argument("--jit-compile", action="store_true", help="compile training steps with XLA")
    parser.add_argument(
        "--steps-per-execution",
        type=positive_int,
        default=steps_per_execution,
        help="batches per compiled call (default: %(default)s)",
    )


def add_force_argument(parser):
    """Adds `--force` to a command that writes a directory with `--out`."""
    parser.add_argument(
        "--force",
        action="store_true",
        help="DELETE whatever is at --out (a file, or a directory with everything in it) and write there; "
        "without it, --out replaces only an earlier output of the same kind of this app",
    )


def add_overwrite_argument(parser):
    """Adds `--force` to a command that writes files (a solo, a plot, a download): see `files.check_output_file`."""
    parser.add_argument(
        "--force",
        action="store_true",
        help="overwrite a file at an output path even if this program did not write it; without it, only "
        "files this program wrote are replaced",
    )


def add_distribute_arguments(parser):
    """Adds `--distribute`, `--mixed-precision` and `--backup-dir` to a `train` command's parser.

    They live here, not in `apps.common.distribute`, so that a parser (and `--help`) needs no TensorFlow;
    `distribute.strategy_from_args(args)` reads them.

    Args:
        parser: an `argparse.ArgumentParser` (or subparser) of a command that trains.
    """
    group = parser.add_argument_group("distribution")
    group.add_argument(
        "--distribute",
        choices=STRATEGIES,
        default="none",
        help="none: one device; mirrored: every local GPU (or logical CPU device); multi-worker: the machines "
        "listed in the TF_CONFIG environment variable (default: %(default)s)",
    )
    group.add_argument(
        "--mixed-precision",
        action="store_true",
        help="compute in float16 on a GPU (with loss scaling) or bfloat16 on a CPU; weights stay float32",
    )
    group.add_argument(
        "--worker-timeout",
        type=positive_float,
        default=WORKER_TIMEOUT_S,
        metavar="SECONDS",
        help="multi-worker: give up when another worker of TF_CONFIG does not answer within SECONDS "
        "(default: %(default)g)",
    )
    group.add_argument(
        "--backup-dir",
        metavar="DIR",
        help="back up the training state to DIR after every epoch; rerunning the same command resumes from it",
    )


def _parse(kind, text):
    try:
        return kind(text)
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(f"not a valid {kind.__name__}: {shorten(repr(text), 40)}") from None


def print_json(obj, sort_keys=True):
    """Prints `obj` as JSON on stdout (the `--json` output of every command); `sort_keys=False` keeps the
    dicts' own order where it means something (a model's classes)."""
    print(json.dumps(obj, indent=2, sort_keys=sort_keys, default=_to_builtin))


def _to_builtin(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
