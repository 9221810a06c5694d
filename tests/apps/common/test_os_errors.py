"""The machine's refusals (a full disk, a file we may not read, a closed standard output, a deleted current
directory, a damaged --backup-dir) are one line and exit code 2, and leave no temporary file behind
(docs/cli.md, "Exit codes" and "Outputs")."""

import builtins
import ctypes
import errno
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys

import pytest

from apps.common import cli, files
from apps.common.errors import UsageError

from clis import APPS, REPO, SHIPPED, assert_usage_error

NAMES = ["aardonyx", "abelisaurus", "brachiosaurus", "ceratops", "diplodocus", "eoraptor", "iguanodon", "zuniceratops"]
TINY_TRAINING = ["--units", "4", "--embedding-dim", "2", "--epochs", "2", "--batch-size", "4", "--seed", "1"]


def last_error_line(capsys, app, argv):
    """Runs `python -m apps.<app> *argv` in-process; asserts exit code 2 and no traceback, and returns the
    last line on stderr (Python warnings of TensorFlow's may come before it)."""
    assert APPS[app](argv) == 2, argv
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    return err.splitlines()[-1]


# --- one place: run() words the environment's OSError kinds, and only those ---------------------------------


def run_raising(error):
    parser, commands = cli.make_parser("prog", "test")
    commands.add_parser("go")

    def handler(args):
        raise error

    return cli.run(parser, ["go"], {"go": handler})


@pytest.mark.parametrize(
    "code, line",
    [
        (errno.ENOSPC, "prog go: error: no space left on device writing /data/out"),
        (errno.EDQUOT, "prog go: error: disk quota exceeded writing /data/out"),
        (errno.EACCES, "prog go: error: /data/out: Permission denied"),
        (errno.EPERM, "prog go: error: /data/out: Operation not permitted"),
        (errno.EROFS, "prog go: error: /data/out: Read-only file system"),
    ],
)
def test_the_machines_refusals_are_one_line_and_any_other_os_error_a_traceback(capsys, code, line):
    assert run_raising(OSError(code, os.strerror(code), "/data/out")) == 2
    assert capsys.readouterr().err == line + "\n"
    with pytest.raises(OSError):  # not the user's environment: a bug, whose traceback is what to report
        run_raising(OSError(errno.EIO, os.strerror(errno.EIO), "/data/out"))


def test_tensorflows_full_disk_error_is_one_line_and_its_out_of_memory_a_traceback(capsys):
    import tensorflow as tf

    full = tf.errors.ResourceExhaustedError(None, None, "/data/out/.tmp-1/saved_model.pb.tmp2; No space left on device")
    assert run_raising(full) == 2
    assert (
        capsys.readouterr().err
        == "prog go: error: no space left on device writing /data/out/.tmp-1/saved_model.pb.tmp2\n"
    )
    with pytest.raises(tf.errors.ResourceExhaustedError):
        run_raising(tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor with shape[1000000]"))


def test_a_deleted_current_directory_is_one_line(tmp_path, monkeypatch, capsys):
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    assert_usage_error(capsys, "dinos", ["download", "--out", "names.txt"], "current directory no longer exists")


# --- standard output closed early or full -----------------------------------------------------------------


@pytest.fixture(scope="module")
def printing_command(tmp_path_factory):
    """`python -m apps.dinos download` of a name list already in place: one line on stdout, no TensorFlow."""
    names = tmp_path_factory.mktemp("stdout") / "names.txt"
    names.write_text("\n".join(NAMES) + "\n")
    digest = hashlib.sha256(names.read_bytes()).hexdigest()
    return [sys.executable, "-m", "apps.dinos", "download", "--out", str(names), "--sha256", digest]


def unbuffered(flag):
    """The environment with Python's output buffered (flag False) or not (`PYTHONUNBUFFERED`)."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
    return {**env, "PYTHONUNBUFFERED": "1"} if flag else env


@pytest.mark.parametrize("flag", [False, True])
def test_a_reader_that_closed_stdout_early_is_exit_0_and_nothing_on_stderr(printing_command, flag):
    read_end, write_end = os.pipe()
    os.close(read_end)  # `| head -1` after its line: every write now fails with EPIPE
    try:
        done = subprocess.run(
            printing_command, stdout=write_end, stderr=subprocess.PIPE, text=True, cwd=REPO, env=unbuffered(flag)
        )
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (0, "")


@pytest.mark.parametrize("flag", [False, True])
def test_a_full_stdout_is_one_line_and_exit_2(printing_command, flag):
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            printing_command, stdout=full, stderr=subprocess.PIPE, text=True, cwd=REPO, env=unbuffered(flag)
        )
    assert done.returncode == 2
    assert done.stderr == "python -m apps.dinos download: error: no space left on device writing standard output\n"


# --- no litter ----------------------------------------------------------------------------------------------


def test_a_failed_write_leaves_no_temporary_file_nor_the_directories_made_for_it(tmp_path):
    for writer in (files.atomic_path, files.atomic_dir):
        with pytest.raises(KeyboardInterrupt), writer(str(tmp_path / "new" / "deeper" / "out.png")) as tmp:
            assert os.path.basename(tmp).startswith(".tmp-")
            raise KeyboardInterrupt
        assert os.listdir(tmp_path) == []


def test_a_two_step_swap_that_fails_puts_the_old_output_back(tmp_path, monkeypatch):
    target = tmp_path / "export"
    target.mkdir()
    (target / files.SAVED_MODEL_FILE).write_text("old graph")
    files.write_owner(str(target), "dinos")
    monkeypatch.setattr(files, "_exchange", lambda a, b: None)  # a file system without renameat2
    rename = os.rename

    def full_rename(source, destination):
        if os.path.basename(source).startswith(".tmp-") and destination == str(target):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        rename(source, destination)

    monkeypatch.setattr(os, "rename", full_rename)
    with (
        pytest.raises(UsageError, match=f"no space left on device writing {target}$"),
        files.atomic_dir(str(target), app="dinos", kind=files.SAVED_MODEL) as tmp,
    ):
        with open(os.path.join(tmp, files.SAVED_MODEL_FILE), "w") as handle:
            handle.write("new graph")
        files.write_owner(tmp, "dinos")
    assert (target / files.SAVED_MODEL_FILE).read_text() == "old graph"
    assert os.listdir(tmp_path) == ["export"]


# --- a full disk, in every command that writes ----------------------------------------------------------------


class FullDiskFile:
    """A file opened for writing on a full disk: its writes fail with ENOSPC, as the kernel's would."""

    def __init__(self, handle):
        self._handle = handle

    def write(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self._handle.close()

    def __getattr__(self, name):
        return getattr(self._handle, name)


@pytest.fixture
def disk(tmp_path, monkeypatch):
    """`(root, fill)`: a directory, and the function that makes its disk full: from then on Python's writes
    under `root` and TensorFlow's (`tf.io.gfile`, which writes `saved_model.pb`) fail as on a full disk.
    Reading, and writing elsewhere, work."""
    import tensorflow as tf

    root = tmp_path / "disk"
    root.mkdir()
    inside = str(root) + os.sep
    real_open = builtins.open
    gfile_write = tf.io.gfile.GFile.write

    def open_(file, mode="r", *args, **kwargs):
        handle = real_open(file, mode, *args, **kwargs)
        on_full_disk = isinstance(file, (str, os.PathLike)) and os.path.abspath(file).startswith(inside)
        return FullDiskFile(handle) if on_full_disk and set(mode) & set("wax+") else handle

    def gfile_write_(self, content):
        if os.path.abspath(self.name).startswith(inside):
            raise tf.errors.ResourceExhaustedError(None, None, f"{self.name}; {os.strerror(errno.ENOSPC)}")
        return gfile_write(self, content)

    def fill():
        monkeypatch.setattr(builtins, "open", open_)
        monkeypatch.setattr(io, "open", open_)
        monkeypatch.setattr(tf.io.gfile.GFile, "write", gfile_write_)

    return root, fill


def snapshot(root):
    """`{relative path: bytes}` of every file under `root`."""
    return {
        os.path.relpath(os.path.join(folder, name), root): open(os.path.join(folder, name), "rb").read()
        for folder, _, names in os.walk(root)
        for name in names
    }


FULL_DISK_COMMANDS = {
    "train": ("dinos", ["train", "--data", "{inputs}/names.txt", *TINY_TRAINING, "--out", "{disk}/m"], "m"),
    "export": ("dinos", ["export", "--model", "{dinos}", "--out", "{disk}/sm"], "sm"),
    "export-litert": (
        "dinos",
        ["export", "--model", "{dinos}", "--format", "litert", "--out", "{disk}/m.tflite"],
        "m.tflite",
    ),
    "generate": ("jazz", ["generate", "--model", "{jazz}", "--measures", "1", "--out", "{disk}/a.mid"], "a.mid"),
    "evaluate-plot": (
        "sentiment",
        ["evaluate", "--model", "{sentiment}", "--data", "{inputs}/labelled.txt", "--plot", "{disk}/p.png"],
        "p.png",
    ),
    "download": (
        "dinos",
        ["download", "--source", "{inputs}/names.txt", "--sha256", "{names_sha256}", "--out", "{disk}/names.txt"]
        + ["--force"],  # the earlier file is not the one asked for
        "names.txt",
    ),
}
"""command -> (app, argv, what it writes under {disk}); an earlier output of the same name is there first."""


def write_earlier_output(disk, written):
    if written == "m":
        shutil.copytree(SHIPPED["dinos"], disk / written)
    elif written == "sm":
        (disk / written).mkdir()
        (disk / written / files.SAVED_MODEL_FILE).write_bytes(b"earlier graph")
        files.write_owner(str(disk / written), "dinos")
    else:
        for name in (written, written.replace(".tflite", ".vocab.txt")):
            (disk / name).write_bytes(f"earlier {name}, {files.MARKER}".encode())


@pytest.mark.slow
@pytest.mark.parametrize("command", sorted(FULL_DISK_COMMANDS))
def test_a_full_disk_is_one_line_and_leaves_the_earlier_output_and_no_litter(disk, tmp_path, capsys, command):
    app, argv, written = FULL_DISK_COMMANDS[command]
    root, fill = disk
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "names.txt").write_text("\n".join(NAMES) + "\n")
    (inputs / "labelled.txt").write_text("1 a good film\n0 a dull film\n")
    names_sha256 = hashlib.sha256((inputs / "names.txt").read_bytes()).hexdigest()
    argv = [arg.format(disk=root, inputs=inputs, names_sha256=names_sha256, **SHIPPED) for arg in argv]
    write_earlier_output(root, written)
    before = snapshot(root)
    fill()
    line = last_error_line(capsys, app, argv)
    assert line == f"python -m apps.{app} {argv[0]}: error: no space left on device writing {root / written}"
    assert snapshot(root) == before  # the earlier output as it was, and no .tmp-* beside it


# --- files we may not read --------------------------------------------------------------------------------

PR_CAPBSET_DROP = 24
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 1, 2


def obey_file_permissions():
    """`preexec_fn`: the child honours file permissions even as root, whose capabilities to override them
    leave the bounding set (exec then drops them: `capabilities(7)`); a user other than root always does."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


CHILD = """
import contextlib, io, json, sys
from apps.common.cli import run, make_parser
from apps.common.files import read_manifest
from apps.dinos.cli import main as dinos
from apps.jazz.cli import main as jazz
from apps.sentiment.cli import main as sentiment

def manifest(argv):
    parser, commands = make_parser("python -m apps.manifest", "read a manifest")
    commands.add_parser("read").add_argument("path")
    return run(parser, argv, {"read": lambda args: read_manifest(args.path) and None})

mains = {"dinos": dinos, "jazz": jazz, "sentiment": sentiment, "manifest": manifest}
for app, argv in json.loads(sys.stdin.read()):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = mains[app](argv)
    print(json.dumps([code, err.getvalue()]), flush=True)
"""


@pytest.mark.slow
def test_every_input_we_may_not_read_is_one_line_naming_it(tmp_path):
    def unreadable(name, content=b"x"):
        path = tmp_path / name
        path.write_bytes(content)
        path.chmod(0)
        return str(path)

    def bundle_without(name):
        copy = tmp_path / f"dinos-no-{name}"
        shutil.copytree(SHIPPED["dinos"], copy)
        (copy / name).chmod(0)
        return str(copy), str(copy / name)

    (tmp_path / "labelled.txt").write_text("1 good film\n0 bad film\n")
    model, model_file = bundle_without(files.MODEL_FILE)
    config, config_file = bundle_without(files.CONFIG_FILE)
    solo, sheet, primer = unreadable("solo.mid", b"MThd"), unreadable("sheet.musicxml"), unreadable("primer.mid")
    names, texts, chords = unreadable("names.txt"), unreadable("texts.txt"), unreadable("chords.txt")
    embeddings, manifest = unreadable("vectors.txt"), unreadable("dinos.json")
    out = str(tmp_path / "out")
    cases = [
        (("dinos", ["train", "--data", names, "--out", out]), names),
        (("dinos", ["sample", "--model", model]), model_file),
        (("dinos", ["score", "rex", "--model", config]), config_file),
        (("dinos", ["export", "--model", model, "--out", out]), model_file),
        (("dinos", ["download", "--source", names, "--out", out + ".txt"]), names),
        (("jazz", ["train", "--midi", solo, "--out", out]), solo),
        (("jazz", ["evaluate", "--midi", solo]), solo),
        (("jazz", ["generate", "--model", SHIPPED["jazz"], "--chords-from", chords, "--out", out + ".mid"]), chords),
        (("jazz", ["generate", "--model", SHIPPED["jazz"], "--chords-from", sheet, "--out", out + ".mid"]), sheet),
        (("jazz", ["generate", "--model", SHIPPED["jazz"], "--primer", primer, "--out", out + ".mid"]), primer),
        (("sentiment", ["predict", "--file", texts]), texts),
        (("sentiment", ["evaluate", "--data", names]), names),
        (
            (
                "sentiment",
                ["train", "--task", "file", "--data", str(tmp_path / "labelled.txt"), "--embeddings", embeddings],
            ),
            embeddings,
        ),
        (("manifest", ["read", manifest]), manifest),
    ]
    done = subprocess.run(
        [sys.executable, "-c", CHILD],
        input=json.dumps([case for case, _ in cases]),
        capture_output=True,
        text=True,
        cwd=REPO,
        preexec_fn=obey_file_permissions,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = [json.loads(line) for line in done.stdout.splitlines()]
    for ((app, argv), path), (code, err) in zip(cases, results, strict=True):
        line = err.strip()
        assert code == 2 and "\n" not in line, (app, argv, err)
        assert path in line and line.endswith("Permission denied"), line
        for misleading in ("Traceback", "[Errno", "corrupt", "not found", "not a readable"):
            assert misleading not in line, line


# --- --backup-dir: what Keras could not resume from, or would write or delete through -----------------------


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda b: (b / "latest.weights.h5").write_bytes(b"garbage"), "latest.weights.h5 is not an HDF5 file"),
        (lambda b: (b / "training_metadata.json").write_text("{not json"), "training_metadata.json names no epoch"),
        (lambda b: (b / "training_metadata.json").mkdir(), "training_metadata.json is not a file"),
        (lambda b: (b / "latest.weights.h5").symlink_to(b.parent / "elsewhere"), "is a symbolic link"),
    ],
)
def test_a_backup_dir_training_cannot_resume_from_is_refused_before_tensorflow(tmp_path, make, fragment):
    backup = tmp_path / "backup"
    backup.mkdir()
    (tmp_path / "elsewhere").write_text("the user's")
    make(backup)
    with pytest.raises(UsageError, match=fragment):
        files.check_work_dirs(str(tmp_path / "model"), backup_dir=str(backup))
    assert (tmp_path / "elsewhere").read_text() == "the user's"


def test_a_symbolic_link_as_backup_dir_is_refused(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "backup").symlink_to(tmp_path / "real")
    # Training would run every epoch, then fail to delete the backup through the link, and save nothing.
    with pytest.raises(UsageError, match="is a symbolic link"):
        files.check_work_dirs(str(tmp_path / "model"), backup_dir=str(tmp_path / "backup"))


@pytest.fixture
def names_file(tmp_path):
    path = tmp_path / "names.txt"
    path.write_text("\n".join(NAMES) + "\n")
    return str(path)


@pytest.mark.slow
def test_a_backup_of_another_model_is_one_line(tmp_path, names_file, capsys):
    import keras

    backup = tmp_path / "backup"
    backup.mkdir()
    other = keras.Sequential([keras.Input((3,)), keras.layers.Dense(5)])
    other.save_weights(str(backup / "latest.weights.h5"))
    (backup / "training_metadata.json").write_text(json.dumps({"epoch": 1, "batch": 0}))
    argv = ["train", "--data", names_file, *TINY_TRAINING, "--out", str(tmp_path / "m"), "--backup-dir", str(backup)]
    line = last_error_line(capsys, "dinos", argv)
    assert line.startswith(f"python -m apps.dinos train: error: --backup-dir {backup}: training cannot resume")


@pytest.mark.slow
def test_a_backup_that_does_not_fit_on_the_disk_is_one_line_and_keeps_the_last_one(
    tmp_path, names_file, capsys, monkeypatch
):
    backup = tmp_path / "backup"
    kept = {}
    disk_usage = shutil.disk_usage

    def filling_up(path):
        usage = disk_usage(path)
        if not os.path.isfile(backup / "latest.weights.h5"):
            return usage  # room for the first epoch's backup
        kept.update(snapshot(backup))
        return usage._replace(free=1000)  # and then the disk is full

    monkeypatch.setattr(shutil, "disk_usage", filling_up)
    argv = ["train", "--data", names_file, *TINY_TRAINING, "--out", str(tmp_path / "m"), "--backup-dir", str(backup)]
    line = last_error_line(capsys, "dinos", argv)
    assert line.startswith(
        f"python -m apps.dinos train: error: no space left on device writing {backup / 'latest.weights.h5'}"
    )
    assert kept and snapshot(backup) == kept  # the first epoch's backup, to resume from
