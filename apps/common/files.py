"""Files the apps read and write: what an output path may replace, atomic writes, and the limits on inputs.

The rules every command follows (docs/cli.md is the user's version):

- **Outputs are written whole or not at all.** A file is written to a temporary file beside its target and
  renamed onto it; a directory (a bundle, a SavedModel) is written to a temporary directory beside its target
  and swapped in. On Linux the swap is one `renameat2(RENAME_EXCHANGE)` call: at every moment the target holds
  the complete old content or the complete new content, never a mix and never nothing. Where the kernel or
  file system lacks it, the old directory is renamed away and the new one renamed in, which leaves a moment
  (two `rename` calls) with nothing at the path, and still never a mix.
- **`--out` never deletes what is not ours.** `check_output_dir` lets a command write a directory only where
  nothing exists yet, where an empty directory stands, or where a bundle or SavedModel *of the same app and
  kind* stands (recognised by its `config.json`'s `app` or by `OWNER_FILE`). Anything else (a file, a folder of
  the user's, another app's bundle, a SavedModel where a bundle goes) is refused unless the user passed
  `--force`. The check runs before any work, and again at the moment of the swap.
- **A file replaces only a file of ours.** Every file a command writes carries `MARKER`; `check_output_file`
  lets a command write a file (a main output, or one written beside it) where nothing is, over a file carrying
  the marker, or over one the caller knows as ours (a download whose sha256 the manifest lists); anything else
  only with `--force`. The home folder and the folders above it, like the current directory, are never an output.
- **A signal stops every rename.** Once Ctrl-C or SIGTERM has come (`apps.common.interrupts`), no temporary file
  or directory is renamed into place, even where a library swallowed the exception.
- **Replacing our output keeps the user's files in it.** When the directory replaced is a bundle or SavedModel
  of ours, whatever in it that no such output writes (`OWNED`: a README, notes, a licence) is carried into the
  new directory before the swap, so retraining into `saved_models/<app>` keeps its README. What `OWNED` names
  (the old model, history, curve) is replaced or, if the new run does not write it, dropped.
- **Downloads are checked.** Each app's `download` fetches what its manifest `data/<app>.json` lists
  (`read_manifest`, one format for every app) with `urllib`, streaming it in chunks into a temporary file
  beside its target while hashing it, refuses it once it grows past the manifest's `bytes`, and renames it into
  place only if its sha256 is an accepted one; a URL or a local path works as the source.
- **Inputs are bounded.** `read_text` refuses a file larger than its byte limit before reading it, and a line
  longer than its character limit, so a 2 GB file or a 2,000,000-character line is one error line, not a
  killed process. A zip archive's member (a `.mxl` solo, a member of a downloaded archive) is held to its
  limit by the size its header declares and again by the bytes it inflates to (`unzip_member`), so a 3 MB
  file that unzips to 3 GiB is refused before it is unzipped. The limits themselves are the constants below.
- **The machine's refusals are one line.** A full disk or quota, a file we may not read or write, a read-only
  mount (`USER_ENVIRONMENT`) are the user's environment, not a bug: `describe_os_error` words them, the
  atomic writers name the output a full disk stopped, and `apps.common.cli.run` prints the line. A failed
  write leaves no `.tmp-*` behind, nor the directories made for it.

Everything here raises `UsageError` for a mistake of the user's; nothing imports TensorFlow.
"""

import contextlib
import ctypes
import errno
import functools
import hashlib
import http.client
import itertools
import json
import os
import pathlib
import re
import shutil
import sys
import tempfile
import urllib.parse
import urllib.request
import zipfile
import zlib

from apps.common import interrupts
from apps.common.errors import UsageError
from apps.common.progress import Progress

# Inputs: every size a user controls. docs/cli.md lists them with the peak memory at each.
MIB = 1 << 20
MAX_TEXT_FILE_BYTES = 64 * MIB
"""Any text file an app reads (labelled sentences, texts to predict, chord files)."""
MAX_LABELLED_BYTES = 16 * MIB
"""A labelled file to train or evaluate on (SST's training sentences take 1 MiB, its treebank 2 MiB)."""
MAX_NAME_LIST_BYTES = 4 * MIB
"""A name list (one name a line): 200 times the shipped one, and still a few minutes an epoch."""
MAX_LINE_CHARS = 20_000
"""A line of any text input (a sentence, a text to predict, a progression)."""
MAX_NAME_CHARS = 100
"""A name of a name list (the shipped list's longest has 26): training pads every name to the longest."""
MAX_ARGUMENT_CHARS = 20_000
"""One command-line argument (a text to predict, a name to score, a progression)."""
MAX_MUSIC_FILE_BYTES = 16 * MIB
"""One MIDI/MusicXML solo, and the MusicXML a `.mxl` solo unzips to (the Weimar Jazz Database's largest unzips to
2.2 MB)."""
MAX_MIDI_FILE_BYTES = MIB // 2
"""One MIDI solo, lead sheet or primer: MIDI stores a note in 6 bytes where MusicXML takes some 100, and music21
keeps kilobytes a note either way."""
MAX_MUSIC_FILES = 5_000
"""Solos given to one command: training keeps about 2 KB of conditioning features for each note of its corpus,
and 5,000 solos just long enough for the default --seq-len hold 480,000."""
FETCH_TIMEOUT_S = 60
"""Seconds a download waits for a server's next bytes before it gives the server up as stalled."""
MAX_DOWNLOAD_BYTES = 64 * MIB
"""A download whose manifest entry gives no `bytes` (a zip archive), or one fetched with the user's own sha256."""
CHUNK_BYTES = MIB
"""What a download or an unzip holds in memory at a time."""
MAX_SEED = 2**31 - 1
"""Seeds are int32 in TensorFlow's random ops: a larger one would wrap onto a smaller one's results."""

CONFIG_FILE = "config.json"
MODEL_FILE = "model.keras"
SAVED_MODEL_FILE = "saved_model.pb"
OWNER_FILE = "sequence-models.json"
"""Written into every SavedModel an app exports: `{"app": ..., "kind": "savedmodel"}`."""

BUNDLE = "bundle"
SAVED_MODEL = "savedmodel"
KINDS = {BUNDLE: "model bundle", SAVED_MODEL: "SavedModel"}
OWNED = {
    # training_tokens.npz: a generative app's training corpus as tokens, for its copy check; model.tflite and
    # the files beside it: the LiteRT model (`apps.common.runtime`).
    BUNDLE: frozenset(
        {MODEL_FILE, CONFIG_FILE, "history.json", "training.png", "training_tokens.npz"}
        | {"model.tflite", "model.vocab.txt", "model.examples.json"}
    ),
    SAVED_MODEL: frozenset({SAVED_MODEL_FILE, OWNER_FILE, "variables", "assets", "fingerprint.pb"}),
}
"""What a bundle or a SavedModel of ours may hold that the next one written over it replaces or drops; anything
else in it is the user's, and is carried into the new one."""


USER_ENVIRONMENT = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS})
"""`OSError` kinds the user's machine causes (a full disk or quota, no permission, a read-only mount): the CLI
reports them in one line. Any other `OSError` is a bug and keeps its traceback."""
DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


def os_error_cause(error):
    """`(errno, path or None)` of an `OSError` of `USER_ENVIRONMENT`, or of TensorFlow's error for one; else None.

    TensorFlow reports a failed write as an `OpError` (`ResourceExhaustedError` for a full disk) whose message
    is `"PATH; <strerror>"`; its other `ResourceExhaustedError`s (a GPU out of memory) are not recognised.
    """
    if isinstance(error, OSError):
        return (error.errno, error.filename) if error.errno in USER_ENVIRONMENT else None
    tf_errors = sys.modules.get("tensorflow.python.framework.errors_impl")  # loaded only if TensorFlow is
    if tf_errors is not None and isinstance(error, tf_errors.OpError):
        path, _, reason = str(error.message).rpartition("; ")
        for code in USER_ENVIRONMENT:
            if reason == os.strerror(code):
                return code, path or None
    return None


def describe_os_error(error, path=None):
    """One line for an error `os_error_cause` recognises, naming `path` (else the error's own file); else None."""
    cause = os_error_cause(error)
    if cause is None:
        return None
    code, where = cause[0], path or cause[1]
    if code in DISK_FULL:
        return f"{os.strerror(code).lower()} writing {where}" if where else os.strerror(code).lower()
    return f"{where}: {os.strerror(code)}" if where else os.strerror(code)


def check_readable(path, what="file"):
    """Refuses a file this process may not open for reading, before a library that would misreport it reads it.

    (Keras says "File not found" of a `.keras` file it may not read; music21 and `get_file` wrap the error.)
    """
    try:
        with open(path, "rb"):
            pass
    except OSError as error:
        raise UsageError(f"cannot read {what} {path}: {error.strerror}") from None


def _current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def bundle_app(config):
    """The app a bundle's config belongs to: its `app` key, which every bundle of ours has, or `None`."""
    return config["app"] if isinstance(config, dict) and isinstance(config.get("app"), str) else None


def read_json(path):
    """The JSON value in the file `path`, or `None` where it cannot be read or parsed."""
    try:
        return json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def owner(path):
    """`(app, kind)` of the bundle or SavedModel of ours at the directory `path`, or `None`."""
    if os.path.islink(path) or not os.path.isdir(path):
        return None
    # A SavedModel names its app in OWNER_FILE, a bundle in its config: the same `app` key.
    for kind, main, named_in in ((SAVED_MODEL, SAVED_MODEL_FILE, OWNER_FILE), (BUNDLE, MODEL_FILE, CONFIG_FILE)):
        if os.path.isfile(os.path.join(path, main)):
            app = bundle_app(read_json(os.path.join(path, named_in)))
            return (app, kind) if app else None
    return None


def _describe(path):
    found = owner(path)
    if found:
        return f"a {found[0]} {KINDS[found[1]]}"
    if os.path.islink(path):
        return "a symbolic link"
    if os.path.isdir(path):
        return "a directory that is not empty"
    return "a file"


def _refusal(path, app, kind):
    return (
        f"{path} exists and is {_describe(path)}, not a {app} {KINDS[kind]}: refusing to replace it "
        f"(choose another path, or pass --force to delete it)"
    )


def normalise_path(path, what="--out"):
    """`path` as the OS will resolve it (`dir/` and `dir/.` are `dir`); refuses the current directory, the home
    folder and the folders that hold either, whatever `--force` says."""
    if not path or not path.strip():
        raise UsageError(f"{what}: empty path")
    if "\x00" in path:
        raise UsageError(f"{what}: a path cannot hold a NUL character")
    normal = os.path.normpath(path)
    target = os.path.realpath(normal)
    if _holds(target, os.path.realpath(os.getcwd())):
        raise UsageError(f"{what} {path} is the current directory or one above it: name a new directory")
    home = os.path.expanduser("~")
    if home != "~" and _holds(target, os.path.realpath(home)):
        raise UsageError(f"{what} {path} is your home folder or one above it: name a new directory")
    return normal


def _holds(directory, inner):
    """Whether `directory` is `inner`, one of its ancestors, or the root (both real paths)."""
    return directory in (inner, os.sep) or inner.startswith(directory.rstrip(os.sep) + os.sep)


def _check_parent_writable(path):
    """Fails at once, creating nothing, when no directory could be made or written at `path`."""
    ancestor = os.path.dirname(os.path.abspath(path))
    while not os.path.lexists(ancestor):
        ancestor = os.path.dirname(ancestor)
    if not os.path.isdir(ancestor):
        raise UsageError(f"cannot write {path}: {ancestor} is a file, not a directory")
    # os.access says yes to root on a read-only mount and knows nothing of quotas: try it instead.
    try:
        probe = tempfile.mkdtemp(prefix=".tmp-probe-", dir=ancestor)
    except OSError as error:
        raise UsageError(f"cannot write {path}: {ancestor}: {error.strerror}") from None
    os.rmdir(probe)


def check_output_dir(path, app, kind=BUNDLE, force=False, what="--out"):
    """Checks, before any work, that a command may write the directory `path`; returns it normalised.

    Args:
        path: where the bundle or SavedModel goes.
        app: the name of the app writing it.
        kind: `BUNDLE` or `SAVED_MODEL`.
        force: the user's `--force`: whatever is at `path` may be deleted.
        what: the option's name, for messages.

    Raises:
        UsageError: `path` holds something that is not a `kind` of `app` (without `force`), or cannot be written.
    """
    path = normalise_path(path, what)
    if os.path.lexists(path) and not force and not _replaceable(path, app, kind):
        raise UsageError(_refusal(path, app, kind))
    _check_parent_writable(path)
    return path


def _replaceable(path, app, kind):
    return os.path.isdir(path) and not os.path.islink(path) and (not os.listdir(path) or owner(path) == (app, kind))


def check_output_file(path, suffixes=None, what="--out", force=False, ours=None):
    """Checks, before any work, that a command may write the file `path`; returns it normalised.

    A file is written where nothing is, or over a file of ours: one that carries `MARKER` (every file our
    commands write carries it, `is_ours`), or that `ours(path)` accepts (a downloaded file whose sha256 the
    manifest lists, a file written beside a `.tflite` file of ours). Anything else is refused unless `force`. A
    directory is never taken for a file, and a path must end in one of `suffixes` (when given), so that a solo
    is not written over `thesis.tex`.

    Args:
        path: the file to write (a main output, or a side output named after it, such as `solo.png`).
        suffixes: the file name must end in one of these (any case).
        what: the option's name, for messages.
        force: the user's `--force`: whatever file is at `path` may be overwritten.
        ours: `ours(path) -> bool`, another way than `MARKER` to know a file as ours.
    """
    if path.endswith((os.sep, os.sep + ".")):
        raise UsageError(f"{what} {path} names a directory; give a file name")
    path = normalise_path(path, what)
    if os.path.isdir(path):
        raise UsageError(f"{what} {path} is a directory; give a file name")
    if suffixes and not path.lower().endswith(tuple(suffixes)):
        raise UsageError(f"{what} {path}: the file name must end in {' or '.join(suffixes)}")
    if os.path.lexists(path) and not force and (os.path.islink(path) or not (is_ours(path) or (ours and ours(path)))):
        raise UsageError(
            f"{what}: {path} exists and was not written by this program: refusing to replace it "
            "(choose another path, or pass --force to overwrite it)"
        )
    _check_parent_writable(path)
    return path


MARKER = "written by sequence-models"
"""What every file our commands write carries, so that a later command knows it may replace it: a PNG's
`Software` text, a MIDI file's first text event, a MusicXML file's `<software>`, a WAV file's `ISFT` tag, a
`.tflite` file's description. A file without it is the user's."""
MAX_MARKED_BYTES = 64 * MIB
"""A file larger than this is not searched for `MARKER` (none of ours is): it is taken for the user's."""


def is_ours(path):
    """Whether the regular file `path` carries `MARKER` (it was written by one of our commands)."""
    try:
        if os.path.islink(path) or not os.path.isfile(path) or os.path.getsize(path) > MAX_MARKED_BYTES:
            return False
        with open(path, "rb") as handle:
            return MARKER.encode() in handle.read(MAX_MARKED_BYTES)
    except OSError:
        return False


def check_distinct(paths):
    """Refuses outputs of one command that are the same path or lie inside one another.

    Args:
        paths: dict option name -> path (`None` for an output not asked for).
    """
    given = [(name, os.path.realpath(path)) for name, path in paths.items() if path]
    for (name_a, a), (name_b, b) in itertools.combinations(given, 2):
        if a == b or a.startswith(b + os.sep) or b.startswith(a + os.sep):
            raise UsageError(f"{name_a} and {name_b} must be separate paths ({a} and {b} overlap)")


BACKUP_FILES = {"latest.weights.h5", "training_metadata.json", "latest.weights.h5.bkp", "training_metadata.json.bkp"}
"""What `keras.callbacks.BackupAndRestore` (Keras 3.15) writes into its directory."""


def check_work_dirs(out, backup_dir=None, tensorboard=None):
    """Checks the directories a `train` command writes beside its bundle (`--backup-dir`, `--tensorboard`).

    Each must be a directory (or not exist yet), be writable, and lie apart from the bundle `out` and from the
    other: a backup inside the bundle would be deleted when the bundle is replaced. `keras.callbacks.
    BackupAndRestore` deletes its whole directory when training ends, so `--backup-dir` must be new, empty, or
    hold nothing but an earlier backup (to resume from): never a folder with the user's files in it.

    Args:
        out: the bundle directory (already checked by `check_output_dir`).
        backup_dir, tensorboard: the options' paths, or `None`.
    """
    named = {"--out": out}
    for option, path in (("--backup-dir", backup_dir), ("--tensorboard", tensorboard)):
        if not path:
            continue
        path = normalise_path(path, option)
        if os.path.lexists(path) and not os.path.isdir(path):
            raise UsageError(f"{option} {path} is a file; it must be a directory")
        if option == "--backup-dir":
            _check_backup(path)
        if option == "--tensorboard" and os.path.isdir(path) and not _tensorboard_logs_only(path):
            raise UsageError(
                f"--tensorboard {path} holds files that are not TensorBoard logs: choose a new or empty directory, "
                "or one an earlier --tensorboard wrote"
            )
        _check_parent_writable(os.path.join(path, "x") if os.path.isdir(path) else path)
        named[option] = path
    check_distinct(named)


def _tensorboard_logs_only(path):
    """Whether the directory `path` holds nothing but what `keras.callbacks.TensorBoard` writes: event files
    (`events.out.tfevents.*`, in `train/` and `validation/`) and its `plugins/` folders."""
    for root, dirs, names in os.walk(path):
        if any(os.path.islink(os.path.join(root, name)) for name in dirs):
            return False
        inside_plugins = "plugins" in os.path.relpath(root, path).split(os.sep)
        if not inside_plugins and not all(name.startswith("events.out.tfevents.") for name in names):
            return False
    return True


HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
MAX_BACKUP_METADATA_BYTES = 1 << 16


def _check_backup(path):
    """Refuses a `--backup-dir` that `BackupAndRestore` could not resume from, or would write or delete through.

    It deletes its directory when training ends (which fails on a symbolic link, after all the epochs), writes
    into `latest.weights.h5` (through a symbolic link, onto whatever it points at), and reads the epoch
    from `training_metadata.json`.
    """
    if os.path.islink(path):
        raise UsageError(
            f"--backup-dir {path} is a symbolic link; training deletes its backup directory when it ends, "
            "which it cannot do through a link: give a directory"
        )
    if not os.path.isdir(path):
        return
    names = sorted(os.listdir(path))
    if not set(names) <= BACKUP_FILES:
        raise UsageError(
            f"--backup-dir {path} holds files that are not a training backup, and training deletes "
            "its backup directory when it ends: choose a new or empty directory"
        )
    for name in names:
        problem = _backup_file_problem(os.path.join(path, name), name)
        if problem:
            raise UsageError(
                f"--backup-dir {path}: {name} {problem}, so training cannot resume from it: delete the "
                "directory to start afresh, or choose another"
            )


def _backup_file_problem(path, name):
    """What is wrong with the file `name` of a training backup at `path`, or None."""
    if os.path.islink(path):
        return "is a symbolic link"
    if not os.path.isfile(path):
        return "is not a file"
    try:
        with open(path, "rb") as handle:
            head = handle.read(MAX_BACKUP_METADATA_BYTES + 1)
    except OSError as error:
        return f"cannot be read ({error.strerror})"
    if name.startswith("latest.weights.h5"):
        return None if head.startswith(HDF5_SIGNATURE) else "is not an HDF5 file"
    try:
        epoch = json.loads(head.decode("utf-8"))["epoch"]
    except (ValueError, TypeError, KeyError, IndexError):
        epoch = None
    return None if isinstance(epoch, int) and not isinstance(epoch, bool) and epoch >= 0 else "names no epoch"


@contextlib.contextmanager
def atomic_file(path, mode="w", **open_kwargs):
    """Opens a temporary file beside `path` and renames it onto `path` only if the block succeeds.

    Yields the open file object. Raises `UsageError` if the directory cannot be written or the disk is full.
    """
    with atomic_path(path) as tmp_path, open(tmp_path, mode, **open_kwargs) as handle:
        yield handle


@contextlib.contextmanager
def atomic_path(path, suffix=None):
    """Yields a temporary path beside `path` (for writers that want a file name) and renames it on success.

    The temporary name ends in `suffix` (default: `path`'s extension), for writers that go by it. On any failure
    (Ctrl-C included) the temporary file and the directories made for it are removed; a full disk becomes
    `UsageError("no space left on device writing PATH")`.
    """
    suffix = os.path.splitext(path)[1] if suffix is None else suffix
    with _temporary_beside(path, _make_file, 0o666, _replace_file, suffix=suffix) as tmp_path:
        yield tmp_path


def _make_file(**kwargs):
    fd, tmp_path = tempfile.mkstemp(**kwargs)
    os.close(fd)
    return tmp_path


def _replace_file(tmp_path, path):
    try:
        os.replace(tmp_path, path)
    except IsADirectoryError:
        raise UsageError(f"cannot write {path}: it is a directory") from None


@contextlib.contextmanager
def _temporary_beside(path, make, mode, finish, **make_kwargs):
    """Yields `make(prefix=".tmp-", dir=..., **make_kwargs)`, a new file or directory beside `path`, then calls
    `finish(temporary, path)` unless a signal has come; on any failure removes the temporary and the directories
    made for it, and words a full disk."""
    directory = os.path.dirname(os.path.abspath(path))
    made = _make_parents(path, directory)
    tmp = None
    try:
        try:
            tmp = make(prefix=".tmp-", dir=directory, **make_kwargs)
            # mkstemp and mkdtemp make it private; the output should get the permissions open() or mkdir() give.
            os.chmod(tmp, mode & ~_current_umask())
        except OSError as error:
            raise UsageError(f"cannot write {path}: {error.strerror}") from None
        yield tmp
        interrupts.check()
        finish(tmp, path)
    except BaseException as error:
        if tmp is not None:
            _remove(tmp)
        _remove_made(made)
        _raise_if_disk_full(error, path)
        raise


def _make_parents(path, directory):
    """Makes `directory` (where `path` goes) and its missing parents; returns those it made, deepest first."""
    made = []
    missing = directory
    while not os.path.lexists(missing) and os.path.dirname(missing) != missing:
        made.append(missing)
        missing = os.path.dirname(missing)
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as error:
        _remove_made(made)
        raise UsageError(f"cannot write {path}: {error.strerror}") from None
    return made


def _remove_made(made):
    """Removes the directories `_make_parents` made, deepest first, where they are still empty."""
    for directory in made:
        with contextlib.suppress(OSError):
            os.rmdir(directory)


def _raise_if_disk_full(error, path):
    cause = os_error_cause(error)
    if cause is not None and cause[0] in DISK_FULL:
        raise UsageError(describe_os_error(error, path)) from None


@contextlib.contextmanager
def atomic_dir(path, app=None, kind=BUNDLE, force=False):
    """Yields an empty temporary directory beside `path`; on success it takes `path`'s place whole.

    Args:
        path: the directory to write.
        app, kind, force: as for `check_output_dir`, checked again at the swap (another process may have put
            something there since); `app=None` skips the check (for scratch directories of our own).

    Two writers racing for one `path` each end with a complete directory there (the last one's), or with
    the refusal of `check_output_dir` if something else took the path meanwhile. On any failure, as for
    `atomic_path`, the temporary directory and the directories made for it are removed, and a full disk
    (an `OSError` or TensorFlow's error) becomes `UsageError("no space left on device writing PATH")`.
    """
    swap_in = functools.partial(_swap_in, app=app, kind=kind, force=force)
    with _temporary_beside(os.path.normpath(path), tempfile.mkdtemp, 0o777, swap_in) as tmp_dir:
        yield tmp_dir


def _swap_in(tmp_dir, path, app, kind, force, attempts=20):
    for _ in range(attempts):
        if not os.path.lexists(path):
            try:
                os.rename(tmp_dir, path)
                return
            except FileExistsError:
                continue  # another writer got there first: replace its result instead
            except OSError as error:
                if error.errno == errno.ENOTEMPTY:
                    continue
                raise UsageError(f"cannot write {path}: {error.strerror}") from None
        if app is not None and not force and not _replaceable(path, app, kind):
            raise UsageError(_refusal(path, app, kind))
        if os.path.islink(path) or not os.path.isdir(path):
            _remove(path)  # only reached with force (or no app): a file or link where the directory goes
            continue
        if app is not None and owner(path) == (app, kind):
            _carry_users_files(path, tmp_dir, kind)
        exchanged = _exchange(tmp_dir, path)
        if exchanged is None:
            _replace_in_two_steps(tmp_dir, path)
            return
        if exchanged:
            shutil.rmtree(tmp_dir, ignore_errors=True)  # it now holds what `path` held
            return
    raise UsageError(f"cannot write {path}: other processes keep changing it")


def _carry_users_files(old_dir, new_dir, kind):
    """Copies (hard-links where it can) what `old_dir` holds beyond `OWNED[kind]` into `new_dir`."""
    try:
        names = os.listdir(old_dir)
    except FileNotFoundError:
        return  # gone meanwhile: nothing left to keep
    for name in names:
        if name in OWNED[kind] or os.path.lexists(os.path.join(new_dir, name)):
            continue
        source, target = os.path.join(old_dir, name), os.path.join(new_dir, name)
        try:
            if os.path.isdir(source) and not os.path.islink(source):
                shutil.copytree(source, target, symlinks=True, copy_function=_link_or_copy)
            else:
                _link_or_copy(source, target)
        except OSError as error:
            raise UsageError(f"cannot keep {source} in the new {KINDS[kind]}: {error.strerror or error}") from None


def _link_or_copy(source, target):
    if os.path.islink(source):
        os.symlink(os.readlink(source), target)
        return
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a, b):
    """Swaps two paths in one step (Linux `renameat2`): True, False if `b` vanished, None if unsupported."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return None
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code == errno.ENOENT:
        return False
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return None
    raise UsageError(f"cannot write {b}: {os.strerror(code)}")


def _replace_in_two_steps(tmp_dir, path):
    parent = os.path.dirname(os.path.abspath(path))
    old = tempfile.mkdtemp(prefix=".tmp-old-", dir=parent)
    previous = os.path.join(old, "previous")
    try:
        os.rename(path, previous)
        try:
            os.rename(tmp_dir, path)
        except BaseException:
            os.rename(previous, path)  # the old output back in its place before `old` is removed
            raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            os.remove(path)


def write_owner(directory, app, kind=SAVED_MODEL):
    """Marks `directory` (a SavedModel being written) as `app`'s, so that a later `--out` may replace it."""
    pathlib.Path(directory, OWNER_FILE).write_text(json.dumps({"app": app, "kind": kind}), encoding="utf-8")


def read_text(path, what="file", max_bytes=MAX_TEXT_FILE_BYTES, max_line_chars=MAX_LINE_CHARS):
    """Reads a UTF-8 text file, turning the user's mistakes into `UsageError` before anything big is read.

    Raises:
        UsageError: missing, a directory, larger than `max_bytes`, binary, not UTF-8, or a line longer than
            `max_line_chars` characters.
    """
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > max_bytes:
                raise UsageError(f"{what} {path} is {size:,} bytes; the limit is {max_bytes:,}")
            raw = handle.read(max_bytes + 1)  # a pipe or a growing file has no trustworthy size
    except FileNotFoundError:
        raise UsageError(f"{what} not found: {path}") from None
    except IsADirectoryError:
        raise UsageError(f"{what} is a directory, expected a file: {path}") from None
    except OSError as error:
        raise UsageError(f"cannot read {what} {path}: {error.strerror}") from None
    if len(raw) > max_bytes:
        raise UsageError(f"{what} {path} is over the limit of {max_bytes:,} bytes")
    if b"\x00" in raw:
        raise UsageError(f"{what} {path} looks binary, expected UTF-8 text")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UsageError(f"{what} {path} is not valid UTF-8 (byte {error.start})") from None
    check_line_lengths(text, f"{what} {path}", max_line_chars)
    return text


def check_line_lengths(text, where, max_chars):
    """Refuses `text` if one of its lines is longer than `max_chars` characters (naming the first)."""
    if len(text) <= max_chars:
        return
    for number, line in enumerate(text.splitlines(), 1):
        if len(line) > max_chars:
            raise UsageError(f"{where}, line {number}: {len(line):,} characters; the limit is {max_chars:,}")


def sha256_of(path):
    """Hex sha256 of a file's bytes, read in blocks (a corpus file or a model may be large)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def read_manifest(path):
    """Reads a data manifest (`data/<app>.json`), the one format every app's `download` reads.

    The manifest is a JSON object with `name`, `description`, `licence` and `files`, a list of entries:

    - a file: `{"name", "url", "sha256", "bytes"}`, optionally `also_accepted` (`{sha256: why}`, other copies
      that are fine too) and notes (`records`, `corroborated_by`, ...);
    - a zip archive: `{"name", "url", "members": [{"member", "name", "sha256"}]}`: only the listed members are
      extracted, each checked against its own sha256;
    - a folder of files to point a command at (`files`, their count, and no `sha256` or `members`) is
      documentation only: `fetched` leaves it out.

    Every entry is checked here, before anything is fetched or written: a file's or archive's `name` is a plain
    file name (no `/`, `\\`, `..`), a member's `name` a relative path of such names, and each sha256 is 64
    lower-case hex digits.

    Raises:
        UsageError: the manifest is missing, not JSON, has no `files` list, or holds an entry that is none of
            the above (the message names the manifest and the entry).
    """
    try:
        manifest = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise UsageError(f"cannot read the manifest {path}: {error.strerror}") from None
    except (ValueError, RecursionError) as error:  # RecursionError: lists nested a thousand deep
        raise UsageError(f"cannot read the manifest {path}: {error}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
        raise UsageError(f"the manifest {path} has no list of files")
    for number, entry in enumerate(manifest["files"], 1):
        _check_entry(entry, f"the manifest {path}, entry {number}")
    return manifest


def fetched(manifest):
    """The entries of a manifest (`read_manifest`) that `download` fetches: all but the folders, which are
    described only."""
    return [entry for entry in manifest["files"] if not _is_folder(entry)]


_SHA256 = re.compile(r"[0-9a-f]{64}")


def _is_folder(entry):
    return "sha256" not in entry and "members" not in entry and type(entry.get("files")) is int


def _check_entry(entry, where):
    """Refuses a manifest entry that `download` could not use or that would write outside its folder."""
    if not isinstance(entry, dict):
        raise UsageError(f"{where} is {_json_kind(entry)}, not an object")
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise UsageError(f"{where} has no name")
    if _is_folder(entry):
        return
    _check_file_name(name, where)
    where = f"{where} ({_quoted(name)})"
    if not isinstance(entry.get("url"), str) or not entry["url"]:
        raise UsageError(f"{where} has no url")
    if "members" not in entry:
        _check_sha256(entry.get("sha256"), where)
        also_accepted = entry.get("also_accepted", {})
        if not isinstance(also_accepted, dict):
            raise UsageError(f"{where}: also_accepted is {_json_kind(also_accepted)}, not an object")
        for digest in also_accepted:
            _check_sha256(digest, f"{where}, also_accepted")
        return
    members = entry["members"]
    if not isinstance(members, list) or not members:
        raise UsageError(f"{where}: members is {_json_kind(members)}, not a list of members")
    for number, item in enumerate(members, 1):
        member = f"{where}, member {number}"
        if not isinstance(item, dict):
            raise UsageError(f"{member} is {_json_kind(item)}, not an object")
        for key in ("member", "name"):
            if not isinstance(item.get(key), str) or not item[key]:
                raise UsageError(f"{member} has no {key}")
        for part in item["name"].split("/"):
            _check_file_name(part, f"{member}, name {_quoted(item['name'])}")
        _check_sha256(item.get("sha256"), member)


def _check_file_name(name, where):
    if name in ("", ".", "..") or any(char in name for char in "/\\\0"):
        raise UsageError(f"{where}: {_quoted(name)} is not a plain file name (no '/', '\\', NUL, '.' or '..')")


def _check_sha256(digest, where):
    if digest is None:
        raise UsageError(f"{where} has no sha256")
    if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
        what = _quoted(digest) if isinstance(digest, str) else _json_kind(digest)
        raise UsageError(f"{where}: sha256 {what} is not 64 lower-case hex digits")


def _quoted(text, limit=60):
    """`text` quoted, cut to `limit` characters: a message must still show why after a long name."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _json_kind(value):
    """What a JSON value is, for a message: "a string", "a number", "null", ..."""
    if value is None:
        return "null"
    kinds = ((bool, "true/false"), (str, "a string"), ((int, float), "a number"), (list, "a list"), (dict, "an object"))
    return next(kind for types, kind in kinds if isinstance(value, types))


def download(entry, out, source=None, sha256=None, force=False):
    """Fetches one manifest entry and writes it, checked, to `out`; what is already there and intact is kept.

    A file is streamed in chunks into a temporary file beside its target and hashed on the way; a zip archive
    is streamed into a temporary file in `out`, and each listed member unzipped the same way (`unzip_member`).
    A file or member larger than its entry's `bytes` is refused as soon as it passes them (without `bytes`, or
    with the caller's own `sha256`: `MAX_DOWNLOAD_BYTES`), so a wrong source of gigabytes costs neither memory
    nor disk.

    Args:
        entry: one item of a manifest's `files` (see `read_manifest`).
        out: the file to write; for a zip archive's entry, the directory its members go into under their names.
        source: a URL or a local path to fetch instead of the entry's `url` (a local path works offline).
        sha256: the one hash to accept instead of the entry's `sha256` and `also_accepted`.
        force: overwrite a file at a target that is not the one the manifest lists (by default such a file is
            the user's, and is refused before anything is fetched).

    Returns:
        `[(path, sha256), ...]` of the files at their places, in the entry's order.

    Raises:
        UsageError: the source cannot be fetched, is too large, or a hash is not an accepted one; nothing is
            written then.
    """
    members = entry.get("members")
    if members is None:
        accepted = [sha256.lower()] if sha256 else [entry["sha256"], *entry.get("also_accepted", {})]
        targets = [(str(out), accepted, _size_limit(entry, sha256))]
    else:
        targets = [
            (os.path.join(out, item["name"]), [sha256.lower() if sha256 else item["sha256"]], _size_limit(item, sha256))
            for item in members
        ]
    kept = [(path, sha256_of(path)) for path, _, _ in targets if os.path.isfile(path)]
    if len(kept) == len(targets) and all(digest in accepted for (_, digest), (_, accepted, _) in zip(kept, targets)):
        return kept
    for path, accepted, _ in targets:
        if os.path.lexists(path) and not force and (os.path.islink(path) or sha256_of(path) not in accepted):
            raise UsageError(
                f"{path} exists and is not the file the manifest lists: refusing to replace it "
                "(choose another --out, or pass --force to overwrite it)"
            )
    origin = source or entry["url"]
    shown = urllib.parse.unquote(origin)
    with contextlib.ExitStack() as renames:
        # Each target's temporary file (and the directories it needs) first: all are renamed, or none.
        temporaries = [renames.enter_context(atomic_path(path)) for path, _, _ in targets]
        if members is None:
            with open(temporaries[0], "wb") as handle:
                digests = [_fetch(origin, handle, targets[0][2])]
            names = [shown]
        else:
            archive_file = renames.enter_context(tempfile.TemporaryFile(prefix=".tmp-", suffix=".zip", dir=out))
            _fetch(origin, archive_file, _size_limit(entry, None))
            names = [f"{shown}!{item['member']}" for item in members]
            try:
                archive = renames.enter_context(zipfile.ZipFile(archive_file))
            except zipfile.BadZipFile as error:
                raise UsageError(f"{shown} is not the expected zip archive: {error}") from None
            digests = []
            for temporary, (_, _, limit), item, name in zip(temporaries, targets, members, names):
                with open(temporary, "wb") as handle:
                    digests.append(unzip_member(archive, item["member"], handle, limit, name))
        for name, digest, (_, accepted, _) in zip(names, digests, targets):
            if digest not in accepted:
                raise UsageError(f"{name} has sha256 {digest}, expected {' or '.join(accepted)}")
    return [(path, digest) for (path, _, _), digest in zip(targets, digests)]


def _size_limit(item, sha256):
    """The most bytes a download of the manifest `item` may bring: its `bytes`, unless the caller vouches for
    another file with its own `sha256`."""
    return item["bytes"] if "bytes" in item and not sha256 else MAX_DOWNLOAD_BYTES


def _fetch(origin, target, max_bytes):
    """Streams the bytes at `origin` (a URL or a local path) into the open file `target`; returns their sha256.

    A server that sends nothing for `FETCH_TIMEOUT_S` seconds (while connecting, or between two reads) is given
    up; progress is shown on a terminal.

    Raises:
        UsageError: `origin` cannot be fetched, or holds more than `max_bytes` bytes (refused once they have come).
    """
    if "://" not in origin:
        if not os.path.isfile(origin):
            raise UsageError(f"source not found: {origin}")
        check_readable(origin, "source")
        origin = pathlib.Path(origin).resolve().as_uri()
    name = urllib.parse.unquote(origin)
    try:
        with urllib.request.urlopen(origin, timeout=FETCH_TIMEOUT_S) as response:
            size = response.headers.get("Content-Length")
            with Progress(int(size) if size and size.isdigit() else None, f"fetching {name}", "bytes") as progress:
                return copy_bounded(response, target, max_bytes, name, progress.update)
    except (OSError, ValueError, http.client.HTTPException) as error:  # URLError and HTTPError are OSErrors
        if isinstance(error, OSError) and error.errno in DISK_FULL:
            raise  # writing, not fetching: `atomic_path` names the output
        reason = getattr(error, "reason", None) or error
        if isinstance(reason, TimeoutError):
            reason = f"the server sent nothing for {FETCH_TIMEOUT_S} s"
        raise UsageError(f"cannot fetch {name}: {reason}") from None


def copy_bounded(source, target, max_bytes, what, progress=None):
    """Copies the open file `source` into `target` `CHUNK_BYTES` at a time; returns the sha256 of what it copied.

    `progress`, if given, is called with the size of each chunk.

    Raises:
        UsageError: `source` holds more than `max_bytes` bytes; nothing past them is read.
    """
    digest = hashlib.sha256()
    copied = 0
    while chunk := source.read(min(CHUNK_BYTES, max_bytes + 1 - copied)):
        copied += len(chunk)
        if copied > max_bytes:
            raise UsageError(f"{what} is over the limit of {max_bytes:,} bytes")
        digest.update(chunk)
        target.write(chunk)
        if progress is not None:
            progress(len(chunk))
    return digest.hexdigest()


def check_member_size(archive, member, max_bytes, what):
    """Refuses `member` of the open `zipfile.ZipFile` `archive` if its header declares more than `max_bytes`.

    Raises:
        UsageError: no such member, or one over the limit; `what` names it.
    """
    try:
        declared = archive.getinfo(member).file_size
    except KeyError:
        raise UsageError(f"{what}: no such member in the archive") from None
    if declared > max_bytes:
        raise UsageError(f"{what} unzips to {declared:,} bytes; the limit is {max_bytes:,}")


def unzip_member(archive, member, target, max_bytes, what):
    """Unzips `member` of the open `zipfile.ZipFile` `archive` into the open file `target`; returns its sha256.

    The member is refused by the size its header declares, before a byte is unzipped, and again by the bytes it
    inflates to, should the header lie: a few megabytes of zeros can unzip to gigabytes.

    Raises:
        UsageError: no such member, a member over `max_bytes` bytes, or a corrupt one; `what` names it.
    """
    check_member_size(archive, member, max_bytes, what)
    try:
        with archive.open(member) as source:
            return copy_bounded(source, target, max_bytes, what)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as error:
        raise UsageError(f"{what} cannot be unzipped: {error}") from None
