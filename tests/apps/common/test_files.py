"""apps.common.files: what an output path may replace, atomic directories, input limits."""

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from apps.common import files
from apps.common.errors import UsageError

from clis import REPO, interruptible


def make_bundle(path, app):
    path.mkdir(parents=True)
    (path / files.MODEL_FILE).write_bytes(b"model")
    (path / files.CONFIG_FILE).write_text(json.dumps({"app": app}))
    return path


def make_saved_model(path, app):
    path.mkdir(parents=True)
    (path / files.SAVED_MODEL_FILE).write_bytes(b"graph")
    files.write_owner(str(path), app)
    return path


def test_output_dir_may_be_new_empty_or_ours(tmp_path):
    assert files.check_output_dir(str(tmp_path / "new" / "deeper"), "dinos") == str(tmp_path / "new" / "deeper")
    (tmp_path / "empty").mkdir()
    files.check_output_dir(str(tmp_path / "empty"), "dinos")
    files.check_output_dir(str(make_bundle(tmp_path / "b", "dinos")), "dinos")
    files.check_output_dir(str(make_saved_model(tmp_path / "s", "jazz")), "jazz", files.SAVED_MODEL)
    assert not (tmp_path / "new").exists()  # a check creates nothing


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda p: make_bundle(p, "jazz"), "a jazz model bundle"),
        (lambda p: make_saved_model(p, "dinos"), "a dinos SavedModel"),
        (lambda p: (p.mkdir(), (p / "thesis.tex").write_text("precious")), "not empty"),
        (lambda p: p.write_text("precious"), "a file"),
        (lambda p: (p.mkdir(), (p / files.SAVED_MODEL_FILE).write_bytes(b"x")), "not empty"),  # no owner marker
    ],
)
def test_anything_else_is_refused_unless_forced(tmp_path, make, fragment):
    target = tmp_path / "target"
    make(target)
    with pytest.raises(UsageError, match="--force") as error:
        files.check_output_dir(str(target), "dinos")
    assert fragment in str(error.value)
    files.check_output_dir(str(target), "dinos", force=True)


def test_a_users_keras_folder_is_not_taken_for_an_old_bundle(tmp_path):
    # Bundles are known by the `app` their config names; a config merely shaped like an old sentiment one is
    # the user's (it used to be taken for a sentiment bundle and replaced).
    target = tmp_path / "mine"
    target.mkdir()
    (target / files.MODEL_FILE).write_bytes(b"my model")
    (target / files.CONFIG_FILE).write_text(json.dumps({"labels": ["neg", "pos"], "num_classes": 2}))
    assert files.owner(str(target)) is None
    with pytest.raises(UsageError, match="--force"):
        files.check_output_dir(str(target), "sentiment")
    with pytest.raises(UsageError, match="--force"), files.atomic_dir(str(target), app="sentiment") as tmp:
        (pathlib.Path(tmp) / files.MODEL_FILE).write_bytes(b"new")
    assert (target / files.MODEL_FILE).read_bytes() == b"my model"


@pytest.mark.parametrize("force", [False, True])
def test_the_home_folder_and_above_are_never_an_output(tmp_path, monkeypatch, force):
    home = tmp_path / "home" / "me"
    (home / "thesis").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path / "elsewhere")
    for path in (home, home.parent, str(home) + "/", home / "thesis" / ".."):
        with pytest.raises(UsageError, match="home folder"):
            files.check_output_dir(str(path), "dinos", files.SAVED_MODEL, force=force)
    assert files.check_output_dir(str(home / "new"), "dinos", force=force) == str(home / "new")


@pytest.mark.parametrize("path", [".", "..", "/", "./"])
def test_the_current_directory_and_above_are_never_an_output(tmp_path, monkeypatch, path):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match="current directory"):
        files.check_output_dir(path, "dinos", force=True)


def test_trailing_slash_and_dot_mean_the_directory(tmp_path):
    assert files.check_output_dir(str(tmp_path / "d") + "/", "dinos") == str(tmp_path / "d")
    assert files.check_output_dir(str(tmp_path / "d") + "/.", "dinos") == str(tmp_path / "d")


def test_unwritable_output_is_refused_before_any_work(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(UsageError, match="is a file, not a directory"):
        files.check_output_dir(str(blocker / "model"), "dinos")
    with pytest.raises(UsageError, match="is a file"):
        files.check_work_dirs(str(tmp_path / "model"), backup_dir=str(blocker))


def test_work_dirs_must_lie_apart_from_the_bundle(tmp_path):
    out = str(tmp_path / "model")
    with pytest.raises(UsageError, match="overlap"):
        files.check_work_dirs(out, backup_dir=out)
    with pytest.raises(UsageError, match="overlap"):
        files.check_work_dirs(out, backup_dir=os.path.join(out, "backup"))
    files.check_work_dirs(out, backup_dir=str(tmp_path / "backup"), tensorboard=None)


def test_a_backup_dir_is_new_empty_or_an_earlier_backup(tmp_path):
    # Keras's BackupAndRestore deletes the whole directory when training ends.
    out = str(tmp_path / "model")
    backup = tmp_path / "backup"
    backup.mkdir()
    files.check_work_dirs(out, backup_dir=str(backup))
    (backup / "latest.weights.h5").write_bytes(files.HDF5_SIGNATURE + b"weights")
    (backup / "training_metadata.json").write_text('{"epoch": 1, "batch": 0}')
    files.check_work_dirs(out, backup_dir=str(backup))
    (backup / "thesis.tex").write_text("precious")
    with pytest.raises(UsageError, match="not a training backup"):
        files.check_work_dirs(out, backup_dir=str(backup))


def test_output_file_is_a_file_with_the_right_suffix(tmp_path):
    (tmp_path / "dir").mkdir()
    with pytest.raises(UsageError, match="is a directory"):
        files.check_output_file(str(tmp_path / "dir"))
    with pytest.raises(UsageError, match="names a directory"):
        files.check_output_file(str(tmp_path / "x.mid") + "/")
    with pytest.raises(UsageError, match=r"\.mid"):
        files.check_output_file(str(tmp_path / "thesis.tex"), suffixes=(".mid", ".midi"))
    assert files.check_output_file(str(tmp_path / "a.MID"), suffixes=(".mid",)).endswith("a.MID")


def test_an_output_file_replaces_only_a_file_of_ours(tmp_path):
    users = tmp_path / "solo.png"
    users.write_bytes(b"\x89PNG my drawing")
    with pytest.raises(UsageError, match=r"--plot: .*solo\.png exists and was not written by this program.*--force"):
        files.check_output_file(str(users), suffixes=(".png",), what="--plot")
    assert files.check_output_file(str(users), force=True) == str(users)
    assert files.check_output_file(str(users), ours=lambda path: path == str(users)) == str(users)
    users.write_bytes(b"\x89PNG ... Software\x00" + files.MARKER.encode() + b" ...")
    assert files.is_ours(str(users))
    assert files.check_output_file(str(users)) == str(users)
    link = tmp_path / "link.png"
    link.symlink_to(users)  # a link to a file of ours is still the user's link
    with pytest.raises(UsageError, match="not written by this program"):
        files.check_output_file(str(link))
    assert users.read_bytes().startswith(b"\x89PNG ... Software")


def test_a_tensorboard_dir_is_new_empty_or_tensorboards(tmp_path):
    out = str(tmp_path / "bundle")
    logs = tmp_path / "tb"
    files.check_work_dirs(out, tensorboard=str(logs))
    (logs / "train" / "plugins" / "profile").mkdir(parents=True)
    (logs / "train" / "events.out.tfevents.1.host.1.v2").write_bytes(b"e")
    (logs / "train" / "plugins" / "profile" / "host.xplane.pb").write_bytes(b"p")
    (logs / "validation").mkdir()
    (logs / "validation" / "events.out.tfevents.2.host.1.v2").write_bytes(b"e")
    files.check_work_dirs(out, tensorboard=str(logs))
    (logs / "validation" / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="not TensorBoard logs"):
        files.check_work_dirs(out, tensorboard=str(logs))


def test_atomic_dir_replaces_ours_whole_and_keeps_it_on_failure(tmp_path):
    target = make_bundle(tmp_path / "b", "dinos")
    with pytest.raises(RuntimeError), files.atomic_dir(str(target), app="dinos") as tmp:
        open(os.path.join(tmp, "half"), "w").close()
        raise RuntimeError("the writer died")
    assert sorted(os.listdir(target)) == [files.CONFIG_FILE, files.MODEL_FILE]
    with files.atomic_dir(str(target), app="dinos") as tmp:
        with open(os.path.join(tmp, files.MODEL_FILE), "w") as handle:
            handle.write("new")
        with open(os.path.join(tmp, files.CONFIG_FILE), "w") as handle:
            handle.write(json.dumps({"app": "dinos"}))
    assert (target / files.MODEL_FILE).read_text() == "new"
    assert sorted(os.listdir(tmp_path)) == ["b"]  # no temporary or old directories left


def test_replacing_our_output_keeps_the_users_files_in_it(tmp_path):
    target = make_bundle(tmp_path / "b", "jazz")
    (target / "README.md").write_text("how this bundle was trained")
    (target / "notes").mkdir()
    (target / "notes" / "a.txt").write_text("mine")
    (target / "history.json").write_text("the old run's")  # ours: the new run writes none, so it goes
    with files.atomic_dir(str(target), app="jazz") as tmp:
        with open(os.path.join(tmp, files.MODEL_FILE), "w") as handle:
            handle.write("new")
        with open(os.path.join(tmp, files.CONFIG_FILE), "w") as handle:
            handle.write(json.dumps({"app": "jazz"}))
    assert sorted(os.listdir(target)) == sorted([files.CONFIG_FILE, "README.md", files.MODEL_FILE, "notes"])
    assert (target / files.MODEL_FILE).read_text() == "new"
    assert (target / "README.md").read_text() == "how this bundle was trained"
    assert (target / "notes" / "a.txt").read_text() == "mine"
    assert sorted(os.listdir(tmp_path)) == ["b"]

    export = make_saved_model(tmp_path / "export", "jazz")
    (export / "README.md").write_text("serving notes")
    (export / "variables").mkdir()
    (export / "variables" / "old.index").write_text("old")
    with files.atomic_dir(str(export), app="jazz", kind=files.SAVED_MODEL) as tmp:
        with open(os.path.join(tmp, files.SAVED_MODEL_FILE), "w") as handle:
            handle.write("new graph")
        files.write_owner(tmp, "jazz")
    assert sorted(os.listdir(export)) == sorted(["README.md", files.SAVED_MODEL_FILE, files.OWNER_FILE])
    assert (export / "README.md").read_text() == "serving notes"


def test_atomic_dir_rechecks_at_the_swap(tmp_path):
    target = tmp_path / "b"
    with pytest.raises(UsageError, match="refusing"), files.atomic_dir(str(target), app="dinos"):
        target.mkdir()  # someone puts their work there while we train
        (target / "thesis.tex").write_text("precious")
    assert (target / "thesis.tex").read_text() == "precious"
    assert sorted(os.listdir(tmp_path)) == ["b"]


WRITER = textwrap.dedent("""
    import os, sys, time
    from apps.common import cli, files

    def handler(args):
        for round_ in range(int(args.rounds)):
            with files.atomic_dir(args.out, app="dinos", kind=files.SAVED_MODEL) as tmp:
                with open(os.path.join(tmp, files.SAVED_MODEL_FILE), "w") as handle:
                    handle.write(str(os.getpid()))
                files.write_owner(tmp, "dinos")
                if args.wait:
                    print("writing", flush=True)
                    time.sleep(60)

    parser, commands = cli.make_parser("writer", "test")
    command = commands.add_parser("write")
    command.add_argument("out")
    command.add_argument("--rounds", default="1")
    command.add_argument("--wait", action="store_true")
    sys.exit(cli.run(parser, sys.argv[1:], {"write": handler}))
""")


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_mid_write_leaves_the_old_output_and_no_litter(tmp_path, signum, code):
    target = make_saved_model(tmp_path / "export", "dinos")
    with interruptible():
        process = subprocess.Popen(
            [sys.executable, "-c", WRITER, "write", str(target), "--wait"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    assert process.stdout.readline().strip() == "writing"
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == code
    assert err.strip() in ("writer write: terminated", "writer write: interrupted")
    assert sorted(os.listdir(tmp_path)) == ["export"]
    assert (target / files.SAVED_MODEL_FILE).read_text() == "graph"


def test_concurrent_writers_each_end_with_a_complete_output(tmp_path):
    target = str(tmp_path / "export")
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, "write", target, "--rounds", "150"],
            cwd=REPO,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for writer in writers:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0 and err == ""
    assert sorted(os.listdir(tmp_path)) == ["export"]
    assert sorted(os.listdir(target)) == sorted([files.OWNER_FILE, files.SAVED_MODEL_FILE])
    assert int(open(os.path.join(target, files.SAVED_MODEL_FILE)).read()) in {w.pid for w in writers}


def test_read_text_limits(tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("x" * 11)
    with pytest.raises(UsageError, match="11 bytes; the limit is 10"):
        files.read_text(str(path), "text file", max_bytes=10)
    assert files.read_text(str(path), "text file", max_bytes=11) == "x" * 11
    path.write_text("ok\n" + "y" * 6 + "\n")
    with pytest.raises(UsageError, match="line 2: 6 characters; the limit is 5"):
        files.read_text(str(path), "text file", max_line_chars=5)
    assert files.read_text(str(path), "text file", max_line_chars=6).endswith("yyyyyy\n")


def test_sha256_of_reads_a_file_larger_than_a_block(tmp_path):
    import hashlib

    payload = os.urandom(3 << 20) + b"tail"
    (tmp_path / "big").write_bytes(payload)
    assert files.sha256_of(tmp_path / "big") == hashlib.sha256(payload).hexdigest()


@pytest.mark.parametrize("app", ["dinos", "jazz", "sentiment"])
def test_every_manifest_has_the_one_format(app):
    manifest = files.read_manifest(os.path.join(REPO, "data", f"{app}.json"))
    assert manifest["name"] and manifest["description"] and manifest["licence"]
    for entry in manifest["files"]:
        assert entry["name"] and entry["url"].startswith("https://")
        for item in entry.get("members", [entry]):
            assert "sha256" not in item or len(item["sha256"]) == 64


FILE = {"name": "a.txt", "url": "https://example.invalid/a.txt", "sha256": "0" * 64}


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "cannot read the manifest"),
        ("{not json", "cannot read the manifest"),
        ('{"url": "https://example.com/x", "sha256": "00"}', "has no list of files"),
        ("[" * 5000, "cannot read the manifest"),
        ({"files": ["dinos.txt"]}, "entry 1 is a string, not an object"),
        ({"files": [{"name": "a.txt", "url": "https://example.invalid/a.txt"}]}, r"entry 1 \('a.txt'\) has no sha256"),
        ({"files": [dict(FILE, name="../a.txt")]}, "entry 1: '../a.txt' is not a plain file name"),
        ({"files": [FILE, dict(FILE, name="sub/a.txt")]}, "entry 2: 'sub/a.txt' is not a plain file name"),
        ({"files": [dict(FILE, sha256="00")]}, "sha256 '00' is not 64 lower-case hex digits"),
        ({"files": [dict(FILE, also_accepted=["a copy"])]}, "also_accepted is a list, not an object"),
        (
            {"files": [dict(FILE, members=[dict(FILE, member="trees/x.txt", name="trees/../../x.txt")])]},
            r"entry 1 \('a.txt'\), member 1, name 'trees/../../x.txt': '..' is not a plain file name",
        ),
    ],
)
def test_read_manifest_refuses_what_is_not_one(tmp_path, content, message):
    path = tmp_path / "manifest.json"
    if content is not None:
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(UsageError, match=message) as refusal:
        files.read_manifest(path)
    assert str(path) in str(refusal.value)


def test_a_folder_in_a_manifest_is_described_not_fetched():
    manifest = files.read_manifest(os.path.join(REPO, "data", "jazz.json"))
    assert [entry["name"] for entry in manifest["files"]] == ["wjazzd/mxl", "original_metheny.mid"]
    assert [entry["name"] for entry in files.fetched(manifest)] == ["original_metheny.mid"]


def test_download_accepts_an_also_accepted_copy_and_keeps_an_intact_one(tmp_path):
    import hashlib

    source = tmp_path / "copy.txt"
    source.write_bytes(b"a copy\n")
    digest = hashlib.sha256(b"a copy\n").hexdigest()
    entry = {
        "name": "list.txt",
        "url": "https://example.invalid/list.txt",
        "sha256": "0" * 64,
        "also_accepted": {digest: "a copy"},
    }
    out = tmp_path / "out" / "list.txt"
    assert files.download(entry, out, source=str(source)) == [(str(out), digest)]
    assert out.read_bytes() == b"a copy\n"
    source.unlink()
    assert files.download(entry, out) == [(str(out), digest)]  # intact: the unreachable URL is not fetched
    with pytest.raises(UsageError, match="source not found"):
        files.download(entry, tmp_path / "other.txt", source=str(source))


def test_download_never_replaces_a_file_the_manifest_does_not_list(tmp_path):
    import hashlib

    source = tmp_path / "list.txt"
    source.write_bytes(b"the list\n")
    entry = {
        "name": "list.txt",
        "url": "https://example.invalid/list.txt",
        "sha256": hashlib.sha256(b"the list\n").hexdigest(),
    }
    mine = tmp_path / "mine.txt"
    mine.write_text("my notes")
    with pytest.raises(UsageError, match="mine.txt exists and is not the file the manifest lists.*--force"):
        files.download(entry, mine, source=str(source))
    assert mine.read_text() == "my notes"
    assert files.download(entry, mine, source=str(source), force=True) == [(str(mine), entry["sha256"])]
    assert mine.read_bytes() == b"the list\n"
    assert files.download(entry, mine, source=str(source)) == [(str(mine), entry["sha256"])]  # ours now: kept


def test_a_stalled_server_is_given_up_after_the_timeout_between_bytes(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "FETCH_TIMEOUT_S", 1, raising=False)
    server = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def stall():
        """Accepts, reads the request and never answers; gives up by itself after 20 s."""
        server.settimeout(20)
        try:
            connection, _ = server.accept()
        except OSError:
            return
        with connection:
            done.wait(20)
        server.close()

    thread = threading.Thread(target=stall, daemon=True)
    thread.start()
    entry = {"name": "list.txt", "url": f"http://127.0.0.1:{server.getsockname()[1]}/list.txt", "sha256": "0" * 64}
    started = time.monotonic()
    try:
        with pytest.raises(UsageError, match=r"cannot fetch http://127.0.0.1:\d+/list.txt: .*nothing for 1 s"):
            files.download(entry, tmp_path / "list.txt")
    finally:
        done.set()
        thread.join()
    assert time.monotonic() - started < 10  # the server would hold on for 20 s
    assert os.listdir(tmp_path) == []


def zip_of_zeros(path, member, size, declared=None):
    """A zip archive holding `size` zero bytes as `member` (deflated to about size / 1000); with `declared`, its
    headers lie and say it unzips to that many bytes."""
    import struct
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive, archive.open(member, "w") as handle:
        for start in range(0, size, 1 << 20):
            handle.write(bytes(min(1 << 20, size - start)))
    if declared is not None:
        raw = bytearray(path.read_bytes())
        for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
            at = raw.index(signature) + offset
            raw[at : at + 4] = struct.pack("<I", declared)
        path.write_bytes(bytes(raw))
    return path


def test_a_zip_member_is_held_to_its_limit_by_its_header_and_by_what_it_unzips_to(tmp_path):
    import io
    import zipfile

    with zipfile.ZipFile(zip_of_zeros(tmp_path / "bomb.zip", "a.xml", (8 << 20) + 1)) as archive:
        assert archive.getinfo("a.xml").compress_size < 64 << 10
        with pytest.raises(UsageError, match=r"^bomb!a.xml unzips to 8,388,609 bytes; the limit is 8,388,608$"):
            files.unzip_member(archive, "a.xml", io.BytesIO(), 8 << 20, "bomb!a.xml")
    with zipfile.ZipFile(zip_of_zeros(tmp_path / "liar.zip", "a.xml", 1 << 20, declared=1000)) as archive:
        unzipped = io.BytesIO()
        with pytest.raises(UsageError, match="^liar!a.xml cannot be unzipped"):
            files.unzip_member(archive, "a.xml", unzipped, 4096, "liar!a.xml")
        assert len(unzipped.getvalue()) <= 4096


def test_download_streams_its_source_and_refuses_it_past_the_manifests_bytes(tmp_path):
    source = tmp_path / "huge.txt"
    with open(source, "wb") as handle:
        handle.truncate(4 << 30)  # sparse: 4 GiB that take no disk, and would take 4 GiB of memory if read whole
    out = tmp_path / "data" / "list.txt"
    entry = {"name": "list.txt", "url": "https://example.invalid/list.txt", "sha256": "0" * 64, "bytes": 1000}
    script = textwrap.dedent(
        f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
        from apps.common import files
        from apps.common.errors import UsageError
        try:
            files.download({entry!r}, {str(out)!r}, source={str(source)!r})
        except UsageError as error:
            print(error)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == f"{source.as_uri()} is over the limit of 1,000 bytes"
    assert not (tmp_path / "data").exists()


def test_download_refuses_an_archive_member_past_its_bytes(tmp_path):
    archive = zip_of_zeros(tmp_path / "trees.zip", "trees/train.txt", 4 << 20)
    entry = {
        "name": "trees.zip",
        "url": archive.as_uri(),
        "members": [{"member": "trees/train.txt", "name": "train.txt", "sha256": "0" * 64, "bytes": 100}],
    }
    with pytest.raises(UsageError, match=r"trees.zip!trees/train.txt unzips to 4,194,304 bytes; the limit is 100$"):
        files.download(entry, tmp_path / "out")
    assert not (tmp_path / "out").exists()
