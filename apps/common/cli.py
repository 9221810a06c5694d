"""Command-line plumbing shared by every app: one error path, exit code 2, atomic outputs.

Every app's `main(argv) -> int` builds its parser with `make_parser`, dispatches with `run`, and raises
`CLIError` for anything the user got wrong. `run` turns that into one line on stderr and exit code 2, never a
traceback. Outputs are written through `atomic_file` / `atomic_dir` so a failure leaves nothing half-written.
"""

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile

USAGE_ERROR = 2
# `tf.distribute` strategies a `train` command offers (apps.common.distribute.make_strategy builds them).
STRATEGIES = ("none", "mirrored", "multi-worker")


def _current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


class CLIError(Exception):
    """A mistake in the user's input: reported as one line on stderr with exit code 2."""


class ArgumentParser(argparse.ArgumentParser):
    """An `argparse.ArgumentParser` whose errors are one line (no usage dump) and exit code 2."""

    def error(self, message):
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message}\n")


def make_parser(prog, description):
    """Returns the app's top-level parser and the subparsers action to add commands to."""
    parser = ArgumentParser(prog=prog, description=description)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    commands.required = True
    return parser, commands


def run(parser, argv, handlers):
    """Parses `argv`, calls `handlers[command](args)` and returns the process exit code.

    A handler returns an int (or None for 0). `CLIError`, a missing file and keyboard interrupts become one
    line on stderr; argparse's own errors keep their exit code 2.
    """
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else USAGE_ERROR
    try:
        return handlers[args.command](args) or 0
    except CLIError as error:
        print(f"{parser.prog} {args.command}: error: {error}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        print(f"{parser.prog} {args.command}: interrupted", file=sys.stderr)
        return 130


def positive_int(text):
    """argparse type: an integer > 0."""
    value = _parse(int, text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def positive_float(text):
    """argparse type: a finite float > 0."""
    value = _parse(float, text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def fraction(text):
    """argparse type: a float in [0, 1)."""
    value = _parse(float, text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def add_distribute_arguments(parser):
    """Adds `--distribute`, `--mixed-precision` and `--backup-dir` to a `train` command's parser.

    They live here, not in `apps.common.distribute`, so that a parser (and `--help`) needs no TensorFlow;
    `distribute.strategy_from_args(args)` reads them.

    Args:
        parser: an `argparse.ArgumentParser` (or subparser) of a command that trains.
    """
    group = parser.add_argument_group("distribution")
    group.add_argument(
        "--distribute", choices=STRATEGIES, default="none",
        help="none: one device; mirrored: every local GPU (or logical CPU device); multi-worker: the machines "
             "listed in the TF_CONFIG environment variable (default: %(default)s)")
    group.add_argument(
        "--mixed-precision", action="store_true",
        help="compute in float16 on a GPU (with loss scaling) or bfloat16 on a CPU; weights stay float32")
    group.add_argument(
        "--backup-dir", metavar="DIR",
        help="back up the training state to DIR after every epoch; rerunning the same command resumes from it")


def _parse(kind, text):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a valid {kind.__name__}: {text!r}") from None


@contextlib.contextmanager
def atomic_file(path, mode="w", **open_kwargs):
    """Opens a temporary file beside `path` and renames it onto `path` only if the block succeeds.

    Yields the open file object. Raises `CLIError` if the directory cannot be written.
    """
    directory = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp_path = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    except OSError as error:
        raise CLIError(f"cannot write {path}: {error.strerror}") from None
    try:
        # mkstemp makes the file private (0600); the output should get the permissions open() would give.
        os.chmod(tmp_path, 0o666 & ~_current_umask())
        with os.fdopen(fd, mode, **open_kwargs) as handle:
            yield handle
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp_path)
        raise


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path beside `path` (for writers that want a file name) and renames it on success."""
    directory = os.path.dirname(os.path.abspath(path))
    suffix = os.path.splitext(path)[1]
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp_path = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=directory)
        os.close(fd)
        os.chmod(tmp_path, 0o666 & ~_current_umask())
    except OSError as error:
        raise CLIError(f"cannot write {path}: {error.strerror}") from None
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp_path)
        raise


@contextlib.contextmanager
def atomic_dir(path):
    """Yields an empty temporary directory beside `path`; on success it replaces `path` whole.

    An existing `path` is swapped out only after the new content is complete, so readers never see a mix.
    """
    parent = os.path.dirname(os.path.abspath(path)) or "."
    try:
        os.makedirs(parent, exist_ok=True)
        tmp_dir = tempfile.mkdtemp(prefix=".tmp-", dir=parent)
        os.chmod(tmp_dir, 0o777 & ~_current_umask())
    except OSError as error:
        raise CLIError(f"cannot write {path}: {error.strerror}") from None
    try:
        yield tmp_dir
        if os.path.isdir(path):
            old = tempfile.mkdtemp(prefix=".old-", dir=parent)
            os.replace(path, os.path.join(old, "previous"))
            os.replace(tmp_dir, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp_dir, path)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise


def print_json(obj):
    """Prints `obj` as JSON on stdout (the `--json` output of every command)."""
    json.dump(obj, sys.stdout, indent=2, sort_keys=True, default=_to_builtin)
    sys.stdout.write("\n")


def _to_builtin(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def read_text(path, what="file"):
    """Reads a UTF-8 text file, turning the user's mistakes (missing, binary, non-UTF-8) into `CLIError`."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        raise CLIError(f"{what} not found: {path}") from None
    except IsADirectoryError:
        raise CLIError(f"{what} is a directory, expected a file: {path}") from None
    except OSError as error:
        raise CLIError(f"cannot read {what} {path}: {error.strerror}") from None
    if b"\x00" in raw:
        raise CLIError(f"{what} {path} looks binary, expected UTF-8 text")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CLIError(f"{what} {path} is not valid UTF-8 (byte {error.start})") from None
