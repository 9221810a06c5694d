"""What every command line promises (docs/cli.md), checked on the three apps through one helper (`clis`).

A mistake is one line on stderr and exit code 2; `--out` never deletes what is not the app's own output; every
size a user controls has a limit that is checked before TensorFlow is imported.
"""

import hashlib
import importlib
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import unicodedata
import zipfile

import pytest

from apps.common import cli, files
from apps.dinos.config import MAX_CHARACTERS
from apps.jazz.cli import MAX_MEASURES
from apps.jazz.data import MAX_CHORD_SYMBOLS
from apps.sentiment.cli import MAX_TEXTS
from apps.sentiment.data import MAX_EXAMPLES

from clis import (
    APPS,
    REPO,
    SHIPPED,
    assert_plain,
    assert_usage_error,
    drawn,
    interruptible,
    run_app,
    run_without_tensorflow,
)

SEVERAL = pytest.mark.parametrize("app", sorted(APPS))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Small valid inputs of each app (a name list, a solo, a labelled file) and a directory of the user's."""
    root = tmp_path_factory.mktemp("inputs")
    (root / "names.txt").write_text("aardonyx\nabelisaurus\n")
    (root / "solo.mid").write_bytes(b"MThd")  # never parsed: every case refuses before reading solos
    (root / "labelled.txt").write_text("1 good film\n0 bad film\n")
    return root


def user_dir(root):
    """A directory holding a user's file: whatever happens, the file must survive."""
    work = root / "mywork"
    work.mkdir(exist_ok=True)
    (work / "thesis.tex").write_text("precious")
    return work


def writers(app, inputs, out):
    """The argv of every command of `app` that writes a directory with `--out`."""
    train = {
        "dinos": ["train", "--data", str(inputs / "names.txt")],
        "jazz": ["train", "--midi", str(inputs / "solo.mid")],
        "sentiment": ["train", "--task", "file", "--data", str(inputs / "labelled.txt")],
    }[app]
    return [train + ["--out", str(out)], ["export", "--model", SHIPPED[app], "--out", str(out)]]


# --- 1. --out never deletes what is not ours --------------------------------------------------------------


def test_no_output_main_or_side_replaces_a_users_file_before_tensorflow(inputs, tmp_path):
    """Each file a command writes, named by the user or beside what they named, replaces only a file of ours."""
    mine = {}

    def users(name, content="mine"):
        path = tmp_path / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(content)
        mine[path] = content
        return str(path)

    for name in ("notes/keep.txt", "a.png", "b.musicxml", "c-2.png", "d.vocab.txt", "s.examples.json"):
        users(name)  # beside an output: `generate --plot` writes a.png beside a.mid, and so on
    source = users("fetched.txt", "a list\n")
    digest = hashlib.sha256(b"a list\n").hexdigest()
    legacy = tmp_path / "keras-folder"
    legacy.mkdir()
    users("keras-folder/model.keras")
    users("keras-folder/config.json", json.dumps({"labels": ["a", "b"], "num_classes": 2}))
    generate = ["generate", "--measures", "1", "--out"]
    labelled = str(inputs / "labelled.txt")
    cases = [
        ("jazz", generate + [users("solo.mid")]),
        ("jazz", generate + [str(tmp_path / "a.mid"), "--plot"]),
        ("jazz", generate + [str(tmp_path / "b.mid"), "--musicxml"]),
        ("jazz", generate + [str(tmp_path / "c.mid"), "--num-outputs", "2", "--plot"]),
        ("dinos", ["export", "--format", "litert", "--out", str(tmp_path / "d.tflite")]),
        ("jazz", ["export", "--format", "litert", "--out", users("j.tflite")]),
        ("sentiment", ["export", "--format", "litert", "--out", str(tmp_path / "s.tflite")]),
        ("sentiment", ["predict", "--explain", "--explain-plot", users("why.png"), "ok"]),
        ("sentiment", ["evaluate", "--data", labelled, "--plot", users("confusion.png")]),
        ("dinos", ["download", "--source", source, "--sha256", digest, "--out", users("mine.txt")]),
        (
            "dinos",
            ["train", "--data", str(inputs / "names.txt"), "--out", "t", "--tensorboard", str(tmp_path / "notes")],
        ),
        ("sentiment", ["train", "--task", "file", "--data", labelled, "--out", str(legacy)]),
    ]
    results = run_without_tensorflow(cases)
    for (app, argv), (code, err) in zip(cases, results):
        assert code == 2 and err.count("\n") == 1, (argv, err)
        assert "--force" in err or "TensorBoard" in err, (argv, err)
    for path, content in mine.items():
        assert path.read_text() == content
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".tmp")]


def test_the_home_folder_is_never_an_output_even_with_force(tmp_path):
    home = tmp_path / "users" / "me"
    home.mkdir(parents=True)
    (home / ".bashrc").write_text("mine")
    (tmp_path / "elsewhere").mkdir()
    for argv in (["export", "--out", str(home), "--force"], ["export", "--out", str(home.parent), "--force"]):
        done = subprocess.run(
            [sys.executable, "-m", "apps.dinos", *argv],
            cwd=tmp_path / "elsewhere",
            env={**os.environ, "HOME": str(home), "PYTHONPATH": REPO},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 2 and "home folder" in done.stderr and done.stderr.count("\n") == 1, done.stderr
    assert os.listdir(home) == [".bashrc"] and (home / ".bashrc").read_text() == "mine"


def test_out_refuses_what_is_not_the_apps_own_before_tensorflow(inputs, tmp_path):
    work = user_dir(tmp_path)
    a_file = tmp_path / "notes.txt"
    a_file.write_text("precious")
    other_bundle = tmp_path / "other"
    shutil.copytree(SHIPPED["jazz"], other_bundle)
    cases = []
    for app in sorted(APPS):
        for target in (work, a_file) + ((other_bundle,) if app != "jazz" else ()):
            cases += [(app, argv) for argv in writers(app, inputs, target)]
    results = run_without_tensorflow(cases)
    for (app, argv), (code, err) in zip(cases, results):
        assert code == 2 and err.count("\n") == 1 and "refusing to replace" in err and "--force" in err, (argv, err)
    assert (work / "thesis.tex").read_text() == "precious" and os.listdir(work) == ["thesis.tex"]
    assert a_file.read_text() == "precious"
    assert sorted(os.listdir(other_bundle)) == sorted(os.listdir(SHIPPED["jazz"]))
    assert sorted(os.listdir(tmp_path)) == ["mywork", "notes.txt", "other"]  # no temporary files left


def test_export_replaces_its_own_output_and_force_deletes_the_rest(tmp_path, capsys):
    work = user_dir(tmp_path)
    assert APPS["jazz"](["export", "--model", SHIPPED["jazz"], "--out", str(work), "--force"]) == 0
    assert "thesis.tex" not in os.listdir(work)
    assert json.loads((work / files.OWNER_FILE).read_text()) == {"app": "jazz", "kind": "savedmodel"}
    (work / "variables" / "marker").write_text("from the first export")
    # Without --force: the path now holds a jazz SavedModel, which a jazz export may replace (`d/.` is `d`).
    assert APPS["jazz"](["export", "--model", SHIPPED["jazz"], "--out", str(work) + "/."]) == 0
    assert not (work / "variables" / "marker").exists() and (work / files.SAVED_MODEL_FILE).is_file()
    assert sorted(os.listdir(tmp_path)) == ["mywork"]
    # ... but a dinos export may not.
    assert_usage_error(
        capsys, "dinos", ["export", "--model", SHIPPED["dinos"], "--out", str(work)], "a jazz SavedModel"
    )


# --- 2. limits, at limit + 1, before TensorFlow -------------------------------------------------------------


def test_every_limit_is_refused_at_limit_plus_one_before_tensorflow(tmp_path):
    long_name = tmp_path / "long-name.txt"
    long_name.write_text("abc\n" + "x" * (files.MAX_NAME_CHARS + 1) + "\n")
    big_list = tmp_path / "big-list.txt"
    big_list.write_text(("abcdefg\n" * (files.MAX_NAME_LIST_BYTES // 8)) + "x")
    huge_solo = tmp_path / "huge.musicxml"
    with open(huge_solo, "wb") as handle:
        handle.truncate(files.MAX_MUSIC_FILE_BYTES + 1)  # sparse: nothing is written, only its size counts
    huge_midi = tmp_path / "huge.mid"
    with open(huge_midi, "wb") as handle:
        handle.truncate(files.MAX_MIDI_FILE_BYTES + 1)
    huge_text = tmp_path / "huge.txt"
    with open(huge_text, "wb") as handle:
        handle.truncate(files.MAX_TEXT_FILE_BYTES + 1)
    labelled = tmp_path / "labelled.txt"
    with open(labelled, "wb") as handle:
        handle.truncate(files.MAX_LABELLED_BYTES + 1)
    long_line = tmp_path / "long-line.txt"
    long_line.write_text("fine\n" + "w " * (files.MAX_LINE_CHARS // 2) + "w\n")
    many_texts = tmp_path / "many.txt"
    many_texts.write_text("ok\n" * (MAX_TEXTS + 1))
    many_examples = tmp_path / "many-examples.txt"
    many_examples.write_text("0 a\n" * (MAX_EXAMPLES + 1))
    chords = tmp_path / "chords.txt"
    chords.write_text("C7 " * (MAX_MEASURES + 1))
    big_chords = tmp_path / "big-chords.txt"
    big_chords.write_text("C7 " * ((1 << 20) // 3 + 1))
    out = str(tmp_path / "never-written")
    many_characters = tmp_path / "many-characters.txt"
    many_characters.write_text("".join(chr(0x4E00 + index) + "\n" for index in range(MAX_CHARACTERS + 1)))
    bomb = tmp_path / "bomb.mxl"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive, archive.open("solo.xml", "w") as handle:
        for _ in range(16):
            handle.write(bytes(1 << 20))
        handle.write(b"<")  # 16 MiB + 1, in 16 KiB
    many_classes = tmp_path / "many-classes.txt"
    many_classes.write_text("0 a fine film\n1000 a thousand classes\n")
    (tmp_path / "treebank" / "trees").mkdir(parents=True)
    long_tree = "(2 w)"
    for index in range(100):
        long_tree = f"(2 {long_tree} (2 w{index}))"
    (tmp_path / "treebank" / "trees" / "train.txt").write_text(long_tree + "\n")
    wide_vectors = tmp_path / "wide.vec"
    wide_vectors.write_text("3 100000\n")
    sentiment_train = ["train", "--task", "file", "--data", str(tmp_path / "labelled-ok.txt"), "--out", out]
    generate = ["generate", "--out", out + ".mid"]
    many_solos = tmp_path / "many-solos"
    many_solos.mkdir()
    for index in range(files.MAX_MUSIC_FILES + 1):
        (many_solos / f"{index}.mid").touch()
    (tmp_path / "labelled-ok.txt").write_text("0 a bad film\n1 a good film\n")
    symbol = "<harmony><root><root-step>C</root-step></root><kind>dominant</kind></harmony>\n"
    many_symbols = tmp_path / "many-symbols.musicxml"
    many_symbols.write_text(f"<score-partwise>\n{symbol * (MAX_CHORD_SYMBOLS + 1)}</score-partwise>\n")
    many_symbols_mxl = tmp_path / "many-symbols.mxl"
    with zipfile.ZipFile(many_symbols_mxl, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(many_symbols, "score.musicxml")
    too_many_symbols = "24,001 chord symbols; the limit is 24,000 a score"
    cases = [
        ("dinos", ["train", "--data", str(long_name), "--out", out], "name 2: 101 characters; the limit is 100"),
        ("dinos", ["train", "--data", str(big_list), "--out", out], "the limit is 4,194,304"),
        ("dinos", ["sample", "-n", "100001"], "from 1 to 100,000"),
        ("dinos", ["evaluate", "-n", "100001"], "from 1 to 100,000"),
        ("dinos", ["sample", "--max-len", "101"], "from 1 to 100"),
        ("dinos", ["sample", "--prefix", "a" * 101], "--prefix is 101 characters; the limit is 100"),
        ("dinos", ["score", "b" * 101], "101 characters; the limit is 100"),
        ("dinos", ["inspect", "b" * 101], "101 characters; the limit is 100"),
        ("dinos", ["score", *["abel"] * 10_001], "10,001 names to score; the limit is 10,000"),
        ("jazz", ["generate", "--measures", str(MAX_MEASURES + 1), "--out", out + ".mid"], "from 1 to 1,000"),
        ("jazz", ["generate", "--chords-from", str(chords), "--out", out + ".mid"], "1,001 bars; the limit is 1,000"),
        ("jazz", ["generate", "--chords-from", str(big_chords), "--out", out + ".mid"], "the limit is 1,048,576"),
        ("jazz", ["train", "--midi", str(huge_solo), "--out", out], "the limit for a MusicXML solo is 16,777,216"),
        ("jazz", ["evaluate", "--midi", str(huge_solo)], "the limit for a MusicXML solo is 16,777,216"),
        ("jazz", ["train", "--midi", str(huge_midi), "--out", out], "the limit for a MIDI solo is 524,288"),
        ("jazz", ["train", "--midi", str(many_solos), "--out", out], "more than 5,000 music files given"),
        ("jazz", ["evaluate", "--midi", str(many_solos)], "more than 5,000 music files given; that is the limit"),
        ("jazz", ["evaluate", "--midi", str(huge_midi)], "the limit for a MIDI solo is 524,288"),
        ("jazz", [*generate, "--chords-from", str(huge_midi)], "the limit for a MIDI file is 524,288"),
        ("jazz", [*generate, "--primer", str(huge_midi)], "the limit for a MIDI file is 524,288"),
        ("jazz", [*generate, "--primer", str(huge_solo)], "the limit for a MusicXML file is 16,777,216"),
        ("sentiment", ["predict", "--file", str(many_texts)], "100,001 texts to classify; the limit is 100,000"),
        ("sentiment", ["predict", "--file", str(long_line)], "line 2: 20,001 characters; the limit is 20,000"),
        ("sentiment", ["train", "--task", "file", "--data", str(labelled), "--out", out], "the limit is 16,777,216"),
        ("sentiment", ["evaluate", "--data", str(labelled)], "the limit is 16,777,216"),
        (
            "sentiment",
            ["train", "--task", "file", "--data", str(many_examples), "--out", out],
            f"{many_examples}:{MAX_EXAMPLES + 1}: more than 2,000,000 examples; the limit is 2,000,000",
        ),
        ("sentiment", ["evaluate", "--data", str(many_examples)], "more than 2,000,000 examples"),
        ("sentiment", ["predict", "--file", str(huge_text)], "the limit is 67,108,864"),
        ("sentiment", ["predict", "t" * (files.MAX_ARGUMENT_CHARS + 1)], "20,001 characters; the limit is 20,000"),
        ("jazz", ["generate", "--chords", "C " * 10_001], "the limit is 20,000"),
        ("dinos", ["train", "--data", str(many_characters), "--out", out], "257 distinct characters; the limit is 256"),
        ("jazz", ["train", "--midi", str(bomb), "--out", out], "unzips to 16,777,217 bytes; the limit is 16,777,216"),
        ("jazz", ["evaluate", "--midi", str(bomb)], "unzips to 16,777,217 bytes; the limit is 16,777,216"),
        (
            "sentiment",
            ["train", "--task", "file", "--data", str(many_classes), "--out", out],
            "the limit is 1,000 classes",
        ),
        ("sentiment", ["train", "--data", str(tmp_path / "treebank"), "--out", out], "more than 100 words"),
        ("sentiment", [*sentiment_train, "--embeddings", str(wide_vectors)], "vectors of 100,000 values; the limit"),
        ("jazz", [*generate, "--chords-from", str(many_symbols)], too_many_symbols),
        ("jazz", [*generate, "--primer", str(many_symbols_mxl)], too_many_symbols),
        ("jazz", ["train", "--midi", str(many_symbols), "--out", out], too_many_symbols),
        ("jazz", ["evaluate", "--midi", str(many_symbols_mxl)], too_many_symbols),
    ]
    results = run_without_tensorflow([(app, argv) for app, argv, _ in cases])
    for (app, argv, fragment), (code, err) in zip(cases, results):
        assert code == 2 and err.count("\n") == 1 and fragment in err and "Traceback" not in err, (app, err)
    assert not any(name.startswith("never-written") for name in os.listdir(tmp_path))


def test_a_bar_of_more_chords_than_a_solo_can_be_timed_by_is_refused_at_once(tmp_path):
    bar = tmp_path / "bar.txt"
    bar.write_text("|\n" + "C7 Dm7 G7\n" * 6000 + "|\n")  # one bar of 18,000 chords, over 6,000 lines
    [(code, err)] = run_without_tensorflow([("jazz", ["generate", "--chords-from", str(bar), "--out", "never.mid"])])
    assert code == 2 and err.count("\n") == 1, err
    assert "bar 1 of the progression has 18,000 chords; the limit is 48" in err


# --- 3, 4. one line and exit 2, checked before the work starts --------------------------------------------


@SEVERAL
def test_another_apps_bundle_is_refused_in_one_line(capsys, app):
    other = {"dinos": "jazz", "jazz": "sentiment", "sentiment": "dinos"}[app]
    command = {"dinos": ["sample"], "jazz": ["generate", "--out", "never.mid"], "sentiment": ["predict", "great"]}
    assert_usage_error(capsys, app, [*command[app], "--model", SHIPPED[other]], f"not a {app}")
    assert not os.path.exists("never.mid")


def test_what_the_bundles_config_decides_is_refused_before_tensorflow(tmp_path):
    names = tmp_path / "names.txt"
    names.write_text("abelisaurus\nt-rex\n")
    labelled = tmp_path / "labelled.txt"
    labelled.write_text("1 good film\n7 bad film\n")
    solo = tmp_path / "solo.mid"
    solo.write_bytes(b"MThd")  # never parsed: the bundle is refused first
    out = str(tmp_path / "never-written")
    cases = [
        ("sentiment", ["predict", "--model", SHIPPED["jazz"], "hi"], "is a jazz model bundle, not a sentiment one"),
        ("sentiment", ["evaluate", "--data", str(labelled), "--plot", out + ".png"], ":2: label 7 is out of range"),
        ("sentiment", ["export", "--model", SHIPPED["dinos"], "--out", out + ".tflite", "--format", "litert"], "dinos"),
        ("dinos", ["score", "abelisaurus", "T-rex"], "'t-rex' has characters outside the model's vocabulary: '-'"),
        ("dinos", ["sample", "--prefix", "t-"], "'t-' has characters outside the model's vocabulary"),
        ("dinos", ["inspect", "T-rex"], "'t-rex' has characters outside the model's vocabulary: '-'"),
        ("dinos", ["inspect", " ", "--plot", out + ".png"], "the name is empty"),
        ("dinos", ["sample", "--prefix", "abelisaurus", "--max-len", "5"], "longer than --max-len 5"),
        ("dinos", ["evaluate", "--data", str(names)], "names.txt, name 2: 't-rex' has characters outside"),
        ("dinos", ["export", "--model", SHIPPED["jazz"], "--out", out], "is a jazz model bundle, not a dinos one"),
        ("jazz", ["generate", "--model", SHIPPED["dinos"], "--out", out + ".mid"], "is a dinos model bundle"),
        ("jazz", ["evaluate", "--midi", str(solo), "--model", SHIPPED["sentiment"]], "is a sentiment model bundle"),
    ]
    results = run_without_tensorflow([(app, argv) for app, argv, _ in cases])
    for (app, argv, fragment), (code, err) in zip(cases, results):
        assert code == 2 and err.count("\n") == 1 and fragment in err, (argv, err)
    assert sorted(os.listdir(tmp_path)) == ["labelled.txt", "names.txt", "solo.mid"]


@SEVERAL
@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["--help-me", "caf\udce9"], "not valid UTF-8"),
        (["train", "--seed", "1180591620717411303424"], "--seed"),
        (["train", "--seed", "4294967297"], "from 0 to"),
        (["train", "--seed", "-1"], "--seed"),
    ],
)
def test_arguments_are_checked_in_one_line(capsys, app, argv, fragment):
    assert_usage_error(capsys, app, argv, fragment)


# (app, train's arguments, what was removed, what the refusal says)
REMOVED = [
    (
        "jazz",
        ["--midi", "x.mid", "--head", "factored"],
        "factored",
        "--head: factored was removed: use chain, the default",
    ),
    ("sentiment", ["--ensemble", "3"], "--ensemble", "--ensemble: was removed: three networks averaged"),
    ("sentiment", ["--task", "sst2", "--ensemble"], "--ensemble", "--ensemble: was removed"),
]


def test_a_removed_option_is_refused_saying_what_replaced_it_before_tensorflow(capsys):
    results = run_without_tensorflow([(app, ["train", *argv]) for app, argv, _, _ in REMOVED])
    for (app, argv, removed, fragment), (code, err) in zip(REMOVED, results):
        assert code == 2 and err.count("\n") == 1 and fragment in err, (argv, err)
        assert APPS[app](["train", "--help"]) == 0
        assert removed not in capsys.readouterr().out, removed


def test_outputs_are_checked_before_training(inputs, tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    cases = []
    for app in sorted(APPS):
        train = writers(app, inputs, tmp_path / "model")[0]
        cases += [
            (app, train + ["--backup-dir", str(a_file)], "is a file"),
            (app, train + ["--backup-dir", str(user_dir(tmp_path))], "not a training backup"),
            (app, train[:-1] + [str(a_file / "model")], "is a file, not a directory"),
            (app, train + ["--backup-dir", str(tmp_path / "model" / "backup")], "overlap"),
        ]
    results = run_without_tensorflow([(app, argv) for app, argv, _ in cases])
    for (app, argv, fragment), (code, err) in zip(cases, results):
        assert code == 2 and err.count("\n") == 1 and fragment in err, (argv, err)
    assert sorted(os.listdir(tmp_path)) == ["a-file", "mywork"]
    assert os.listdir(tmp_path / "mywork") == ["thesis.tex"]


def printed_help(capsys, monkeypatch, app, *command):
    """What `python -m apps.<app> [command] --help` prints, wide enough that no line wraps."""
    monkeypatch.setenv("COLUMNS", "1000")
    assert APPS[app]([*command, "--help"]) == 0
    return capsys.readouterr().out


def listed(text):
    """`{name: help}` of each argument or command `--help` lists: an entry's help follows its name after two
    spaces, or on the next line, indented, where the name is long."""
    lines = text.splitlines() + [""]
    entries = {}
    for line, following in itertools.pairwise(lines):
        entry = re.match(r" {2,4}(\S+(?: \S+)*)(?: {2,}(\S.*))?$", line)
        if entry and not line.startswith(" " * 5):
            entries[entry[1]] = entry[2] or (following.strip() if following.startswith(" " * 6) else "")
    return entries


@SEVERAL
def test_every_option_has_help_and_export_names_both_formats(app, capsys, monkeypatch):
    commands = listed(printed_help(capsys, monkeypatch, app).split("positional arguments:")[1].split("options:")[0])
    assert "train" in commands and "export" in commands
    for command in [name for name in commands if name != "COMMAND"]:
        entries = listed(printed_help(capsys, monkeypatch, app, command).split("\n\n", 1)[1])
        assert entries and not [name for name, help in entries.items() if not help], (command, entries)
        if command == "export":
            (out,) = [help for name, help in entries.items() if name.startswith("--out")]
            assert all("SavedModel" in text and ".tflite" in text for text in (commands["export"], out))


@pytest.mark.parametrize(
    "app, argv, fragment",
    [
        ("jazz", ["generate", "--out", "{dir}"], "is a directory"),
        ("jazz", ["generate", "--out", "{dir}/solo.mid/"], "names a directory"),
        ("jazz", ["generate", "--out", "{dir}/thesis.tex"], "must end in .mid or .midi"),
        ("jazz", ["generate", "--out", "{dir}/x.mid", "--plot", "--musicxml"], "x.png is a directory"),
        ("jazz", ["generate", "--tempo", "3"], "[20, 400]"),
        ("jazz", ["generate", "--tempo", "1e-9"], "[20, 400]"),
        ("jazz", ["generate", "--tempo", "nan"], "[20, 400]"),
        ("jazz", ["generate", "--chords", "H" * 5000, "--out", "{dir}/x.mid"], "unknown chord symbol"),
        ("sentiment", ["evaluate", "--data", "{labelled}", "--plot", "{dir}"], "is a directory"),
        ("sentiment", ["download", "--out", "{file}"], "is a file"),
        ("dinos", ["download", "--out", "{dir}"], "is a directory"),
        ("dinos", ["sample", "--temperature", "inf"], "--temperature"),
    ],
)
def test_paths_and_values_in_one_short_line(inputs, tmp_path, capsys, app, argv, fragment):
    (tmp_path / "file").write_text("x")
    (tmp_path / "x.png").mkdir()
    argv = [arg.format(dir=tmp_path, file=tmp_path / "file", labelled=inputs / "labelled.txt") for arg in argv]
    err = assert_usage_error(capsys, app, argv, fragment)
    assert len(err) < cli.MAX_MESSAGE_CHARS + 80  # a 5,000-character chord is not echoed whole
    assert sorted(os.listdir(tmp_path)) == ["file", "x.png"] and os.listdir(tmp_path / "x.png") == []


# --- 5. no silent nonsense --------------------------------------------------------------------------------


def test_an_empty_text_is_not_judged(capsys):
    assert APPS["sentiment"](["predict", "", "   ", "a great film", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert [r["judged"] for r in results] == [False, False, True]
    assert results[0]["label"] is None and results[0]["probabilities"] is None
    assert APPS["sentiment"](["predict", ""]) == 0
    assert capsys.readouterr().out.startswith("(no text to judge)")


# --- 6. signals -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raised, code, word", [(KeyboardInterrupt, 130, "interrupted"), (cli.Terminated, 143, "terminated")]
)
def test_interrupts_exit_with_their_codes_in_one_line(capsys, raised, code, word):
    parser, commands = cli.make_parser("prog", "test")
    commands.add_parser("go")

    def handler(args):
        raise raised()

    assert cli.run(parser, ["go"], {"go": handler}) == code
    assert capsys.readouterr().err == f"prog go: {word}\n"


def _swallowing(write, replacement=None):
    """A command that gets Ctrl-C inside a library that swallows it (or raises `replacement` in its place), as
    TensorFlow's and Keras's `try` blocks and finalizers do, and then goes on to write its output."""

    def handler(args):
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)  # the handler raises in this thread long before
        except KeyboardInterrupt:
            if replacement:
                raise replacement from None
        write()

    return handler


@pytest.mark.parametrize("replacement", [None, RuntimeError("Exiting device scope without proper scope nesting")])
def test_ctrl_c_that_a_library_swallowed_still_stops_the_write_and_exits_130(tmp_path, capsys, replacement):
    target = tmp_path / "solo.mid"
    target.write_text("earlier output")
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / files.MODEL_FILE).write_text("earlier model")
    (bundle / files.CONFIG_FILE).write_text(json.dumps({"app": "dinos"}))

    def write():
        with files.atomic_file(str(target)) as handle:
            handle.write("new output")
        with files.atomic_dir(str(bundle), app="dinos") as tmp:
            for name in (files.MODEL_FILE, files.CONFIG_FILE):
                open(os.path.join(tmp, name), "w").write("new")

    parser, commands = cli.make_parser("prog", "test")
    commands.add_parser("go")
    with interruptible():
        assert cli.run(parser, ["go"], {"go": _swallowing(write, replacement)}) == 130
    assert capsys.readouterr().err == "prog go: interrupted\n"
    assert target.read_text() == "earlier output"
    assert (bundle / files.MODEL_FILE).read_text() == "earlier model"
    assert sorted(os.listdir(tmp_path)) == ["bundle", "solo.mid"]  # no temporary file or directory left


def test_ctrl_c_swallowed_after_the_last_write_still_exits_130(capsys):
    parser, commands = cli.make_parser("prog", "test")
    commands.add_parser("go")
    with interruptible():
        assert cli.run(parser, ["go"], {"go": _swallowing(lambda: None)}) == 130
    assert capsys.readouterr().err == "prog go: interrupted\n"


def test_ctrl_c_before_the_command_line_is_read_is_one_line_and_130(monkeypatch, capsys):
    from apps.common import quiet

    def interrupted_import(name):
        raise KeyboardInterrupt

    monkeypatch.setenv(quiet.ENV, "1")  # no stderr filter in the test process
    monkeypatch.setattr(quiet.importlib, "import_module", interrupted_import)
    try:
        quiet.run_app("apps.dinos")
    except SystemExit as exit_:
        code = exit_.code
    except KeyboardInterrupt:  # caught here, or it would stop the test run itself
        code = "KeyboardInterrupt escaped"
    assert code == 130
    assert capsys.readouterr().err == "python -m apps.dinos: interrupted\n"


def test_ctrl_c_while_tensorflow_is_imported_is_one_line_and_130():
    with interruptible():
        process = subprocess.Popen(
            # On Keras: on LiteRT, predict never imports TensorFlow.
            [sys.executable, "-m", "apps.sentiment", "predict", "--runtime", "keras", "x"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    deadline = time.monotonic() + 60
    # The shared library appears in the process's memory map as soon as `import tensorflow` starts loading it.
    while "tensorflow" not in open(f"/proc/{process.pid}/maps").read() and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert err.splitlines()[-1] == "python -m apps.sentiment predict: interrupted" and "Traceback" not in err


@pytest.mark.parametrize(
    "app, extra, expected",
    [
        ("dinos", [], {"jit_compile": False, "steps_per_execution": 10}),
        ("jazz", ["--jit-compile", "--steps-per-execution", "3"], {"jit_compile": True, "steps_per_execution": 3}),
    ],
)
def test_train_compiles_as_its_flags_say(inputs, tmp_path, monkeypatch, app, extra, expected):
    """`--jit-compile` and `--steps-per-execution` (`cli.add_compile_arguments`) reach `train`, with the
    defaults `benchmarks/apps.py` measured fastest on a CPU."""
    asked = {}

    class Stop(Exception):
        pass

    def record(*args, **kwargs):
        asked.update(kwargs)
        raise Stop

    monkeypatch.setattr(importlib.import_module(f"apps.{app}.train"), "train", record)
    argv = writers(app, inputs, tmp_path / "out")[0]
    with pytest.raises(Stop):
        APPS[app](argv + extra)
    assert {key: asked[key] for key in expected} == expected


# --- 7. text from the user or a file cannot drive the terminal ----------------------------------------------

RED = "\x1b[31m"
TITLE = "\x1b]0;pwned\x07"
TITLE_ESCAPED = "\\x1b]0;pwned\\x07"
# Bidi classes of the embeddings, overrides and isolates, which reorder the rest of a line.
BIDI_CONTROLS = {"LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI"}


def test_printable_escapes_what_a_terminal_acts_on_and_keeps_the_rest():
    acted_on, rest = [], []
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        control = unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp")
        (acted_on if control or unicodedata.bidirectional(char) in BIDI_CONTROLS else rest).append(char)
    acted_on, rest = "".join(acted_on), "".join(rest)
    assert cli.printable(acted_on) == acted_on.encode("unicode_escape").decode("ascii")
    assert cli.printable(rest) == rest  # accents, CJK, emoji with their joiners and tags, backslashes
    assert cli.printable(f"{TITLE}a\tb\nc\u202ed\x9b") == "\\x1b]0;pwned\\x07a\\tb\\nc\\u202ed\\x9b"
    kept = "café 東京 👩‍👩‍👧 \U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f C:\\x1b"
    assert cli.printable(kept) == kept


def test_shorten_escapes_before_it_cuts():
    line = cli.shorten(f"{RED}word\n\tnext " * 100, 60)
    assert "\x1b" not in line and len(line) <= 60 and line.startswith("\\x1b[31mword next")


def test_error_lines_escape_control_characters(tmp_path, capsys):
    header = tmp_path / "header.csv"
    header.write_text(f"text{RED},label\ngood,1\n", encoding="utf-8")
    cases = [
        ("dinos", ["train", "--data", f"{tmp_path}/names{RED}.txt"], "names\\x1b[31m.txt"),
        ("dinos", ["sample", f"--bogus{TITLE}"], f"--bogus{TITLE_ESCAPED}"),  # argparse's own line
        ("jazz", ["generate", "--chords", f"Dm7 {RED}G7", "--out", f"{tmp_path}/x.mid"], "\\x1b[31mG7"),
        ("jazz", ["generate", "--chords-from", f"{tmp_path}/{TITLE}.txt", "--out", f"{tmp_path}/x.mid"], TITLE_ESCAPED),
        ("sentiment", ["predict", "--file", f"{tmp_path}/\x9b2J.txt"], "\\x9b2J.txt"),
        ("sentiment", ["evaluate", "--data", str(header), "--plot", f"{tmp_path}/c.png"], "'text\\x1b[31m', 'label'"),
    ]
    for app, argv, escaped in cases:
        err = assert_usage_error(capsys, app, argv, escaped)
        assert not {"\x1b", "\x07", "\x9b"} & set(err), (app, ascii(err))
    assert os.listdir(tmp_path) == ["header.csv"]


def test_the_readmes_export_paths_are_ignored_by_git():
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as readme:
        outs = re.findall(r"export --out (\S+)", readme.read())
    assert outs
    done = subprocess.run(["git", "check-ignore", *outs], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert sorted(done.stdout.split()) == sorted(outs), done.stderr


# --- progress: on stderr, drawn only on a terminal (issue 30) ---------------------------------------------


def _solo(path):
    """A two-bar MusicXML solo over Dm7 G7 | Cmaj7, made here."""
    from music21 import harmony, meter, note, stream

    part = stream.Part()
    part.insert(0, meter.TimeSignature("4/4"))
    for index, midi in enumerate([62, 65, 69, 72, 71, 67, 65, 64, 64, 62, 60, 67]):
        part.insert(index * 2 / 3, note.Note(midi, quarterLength=2 / 3))
    for offset, figure in ((0, "Dm7"), (2, "G7"), (4, "Cmaj7")):
        part.insert(offset, harmony.ChordSymbol(figure))
    score = stream.Score()
    score.insert(0, part)
    score.write("musicxml", fp=str(path))
    return path


@pytest.mark.slow
@pytest.mark.parametrize(
    "app, argv, labels",
    [
        (
            "jazz",
            ["evaluate", "--midi", "{solo}", "--corpus", "{solo}", "--model", SHIPPED["jazz"]],
            ["parsing", "measuring"],
        ),
        (
            "sentiment",
            ["predict", "--model", SHIPPED["sentiment"], "--explain", "a dull film", "a gem"],
            ["explaining"],
        ),
        (
            "dinos",
            ["train", "--data", "{names}", "--epochs", "2", "--units", "4", "--val-split", "0.25", "--out", "{out}"],
            ["epoch 1/2"],
        ),
    ],
)
def test_progress_is_drawn_on_a_terminal_and_never_redirected(tmp_path, app, argv, labels):
    names = "aardonyx abelisaurus brachiosaurus ceratops diplodocus eoraptor iguanodon stegosaurus".split()
    (tmp_path / "names.txt").write_text("\n".join(names))
    solo = _solo(tmp_path / "solo.musicxml")
    for terminal in (False, True):
        values = {"solo": solo, "names": tmp_path / "names.txt", "out": tmp_path / f"model-{terminal}"}
        args = [arg.format(**values) for arg in argv]
        env = {"JAZZ_CACHE_DIR": str(tmp_path / f"cache-{terminal}")}  # parsed afresh each time
        code, out, err = run_app(app, args, terminal=terminal, env=env)
        assert code == 0, err[-3000:]
        assert out.strip() and "\r" not in out and "\x1b" not in out  # the results alone on stdout
        if terminal:
            assert all(drawn(err, label) for label in labels), err[-3000:]
        else:
            assert_plain(err)
        if app == "dinos":  # a line an epoch on stderr, terminal or not
            assert re.search(r"epoch 2/2: loss: \d+\.\d+ - val_loss: \d+\.\d+ \(\d+:\d\d\)", err), err[-3000:]
            assert "loss" not in out
