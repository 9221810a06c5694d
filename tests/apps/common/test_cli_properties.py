"""Random bytes and strings through each app's input readers and argument parsers: a `UsageError` or a result,
never another exception (which the CLI would show as a traceback with exit code 1)."""

import argparse
import io
import json
import sys
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import apps.dinos.cli
import apps.jazz.cli
import apps.sentiment.cli
from apps.common import cli, files
from apps.common.errors import UsageError
from apps.dinos import data as dinos_data
from apps.jazz import chords, grammar, leadsheet
from apps.jazz import data as jazz_data
from apps.sentiment import data as sentiment_data
from apps.sentiment import embeddings

EXAMPLES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Any character, lone surrogates included: that is how Python hands over argv bytes that are not UTF-8.
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=30)
VALUES = st.one_of(
    ANY_TEXT,
    st.integers().map(str),
    st.floats(allow_nan=True).map(repr),
    st.sampled_from(["0", "-1", "1e309", "nan", "inf", "", ".", "/", "x.mid", "a/", "4294967297"]),
)
COMMANDS = {
    apps.dinos.cli: ["train", "sample", "score", "evaluate", "export", "download"],
    apps.jazz.cli: ["train", "generate", "evaluate", "export"],
    apps.sentiment.cli: ["train", "evaluate", "predict", "export", "download"],
}
OPTIONS = [
    "--out",
    "--model",
    "--seed",
    "--temperature",
    "--tempo",
    "--measures",
    "-n",
    "--top-k",
    "--max-len",
    "--data",
    "--task",
    "--epochs",
    "--units",
    "--json",
    "--force",
    "--chords",
    "--chords-from",
    "--file",
    "--prefix",
    "--learning-rate",
    "--dropout",
    "--midi",
    "--backup-dir",
    "--val-split",
    "--plot",
    "--cell",
    "--batch-size",
    "--distribute",
    "--help",
]


@pytest.mark.parametrize("module", list(COMMANDS), ids=lambda module: module.__name__.split(".")[1])
def test_argument_parsers_answer_0_or_2(module, monkeypatch, capsys):
    # The parse is under test, not the commands: each handler is replaced by one that does nothing.
    for command in COMMANDS[module]:
        monkeypatch.setattr(module, f"_{command}", lambda *args: 0)

    @EXAMPLES
    @given(
        st.sampled_from(COMMANDS[module] + ["", "nope"]),
        st.lists(st.one_of(st.sampled_from(OPTIONS), VALUES), max_size=8),
    )
    def check(command, argv):
        assert module.main([command, *argv]) in (0, 2)
        err = capsys.readouterr().err
        assert "Traceback" not in err and err.count("\n") <= 1 or err.startswith("usage:"), err

    check()


def reads_or_refuses(reader, *args):
    """`reader(*args)`, or None where it refuses in one line."""
    try:
        return reader(*args)
    except UsageError as error:
        assert "\n" not in str(error).strip()


FILE_READERS = [
    ("names.txt", dinos_data.read_names),
    ("labelled.txt", sentiment_data.read_examples),
    ("labelled.csv", sentiment_data.read_examples),
    ("labelled.tsv", sentiment_data.read_examples),
    ("vectors.txt", embeddings.read_vectors),
    ("trees.txt", sentiment_data.read_trees),
]


def each_file_reader_reads_or_refuses(directory, content):
    """Every reader of `FILE_READERS` on a file of `content` (bytes): a result or one line, and no warning (a
    second line on stderr); vectors have at least one finite value each."""
    for name, reader in FILE_READERS:
        path = directory / name
        path.write_bytes(content)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            read = reads_or_refuses(reader, str(path))
        if reader is embeddings.read_vectors and read is not None:
            assert read.dim > 0 and np.isfinite(read.vectors).all()


@EXAMPLES
@given(content=st.one_of(st.binary(max_size=300), ANY_TEXT.map(lambda text: text.encode("utf-8", "surrogatepass"))))
def test_file_readers_take_any_bytes(tmp_path_factory, content):
    each_file_reader_reads_or_refuses(tmp_path_factory.mktemp("fuzz"), content)
    stdin = type("Stdin", (), {"buffer": io.BytesIO(content)})()
    real_stdin, sys.stdin = sys.stdin, stdin
    try:
        reads_or_refuses(apps.sentiment.cli._read_stdin)
    finally:
        sys.stdin = real_stdin


@settings(max_examples=40, deadline=None)
@given(
    st.one_of(
        ANY_TEXT,
        st.lists(
            st.sampled_from(
                ["C", "Dm7", "|", "G7/B", "Bb", "#", "b", "/", "x", "||", " ", "power", "add", "sus", "f#", "#-", "ø"]
            ),
            max_size=12,
        ).map(" ".join),
        st.lists(
            st.sampled_from(["C", "G", "b", "#", "-", "/", "power", "add", "sus", "7", "9", "13", "m", "maj"])
        ).map("".join),
    )
)
def test_progression_parser_takes_any_text(text):
    reads_or_refuses(chords.parse_progression, text, 4.0, 1000)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.binary(min_size=1, max_size=200), suffix=st.sampled_from([".mid", ".musicxml", ".mxl"]))
def test_solo_reader_takes_any_bytes(tmp_path_factory, content, suffix):
    path = tmp_path_factory.mktemp("solo") / f"solo{suffix}"
    path.write_bytes(content)
    reads_or_refuses(jazz_data.read_solo, str(path))


# Numbers as the readers split them off, and what int() and float() make of them: "²" is a digit to
# str.isdigit() that int() refuses, "١" an Arabic-Indic one that it reads, 1e40 is beyond float32.
NUMBERS = st.sampled_from(["0", "1", "3", "0.5", "-1", "\u00b2", "\u0661", "1e40", "nan", "x", ""])
WORDS = st.sampled_from(["the", "a", "text", "label", "text,label", "text\tlabel", '"', ",", "\xa0", "(", ")"])
# Vectors: an optional `count dim` header, then `word v1 ... vd` rows.
VECTOR_FILES = st.tuples(
    st.lists(NUMBERS, min_size=2, max_size=2).map(" ".join) | st.just(""),
    st.lists(st.tuples(WORDS | NUMBERS, st.lists(NUMBERS, max_size=3)).map(lambda row: " ".join([row[0], *row[1]]))),
).map(lambda file: "\n".join([file[0], *file[1]]))
# Trees: brackets around labels and words, balanced or not.
TREES = st.recursive(
    st.sampled_from(["(2 a)", "(9 b)", "(2)", "a", "(x a)", "(1 a b)"]),
    lambda inner: st.tuples(
        st.sampled_from(["(1 ", "(", "(4 ", "("]), st.lists(inner, max_size=2), st.sampled_from([")", "", "))"])
    ).map(lambda node: node[0] + " ".join(node[1]) + node[2]),
    max_leaves=6,
)
TEXT_LINES = st.one_of(
    VECTOR_FILES,
    st.lists(TREES, max_size=3).map("\n".join),
    st.lists(st.lists(NUMBERS | WORDS, max_size=6).map(" ".join), max_size=5).map("\n".join),
)


@EXAMPLES
@given(text=TEXT_LINES)
def test_text_readers_take_any_lines(tmp_path_factory, text):
    each_file_reader_reads_or_refuses(tmp_path_factory.mktemp("lines"), text.encode("utf-8"))


# Notes: a letter, accidentals, an octave, and a duration of a number over a divisor, each part right or not.
PRIMER_WORDS = st.tuples(
    st.sampled_from(["C", "e", "B", "R", "H", ""]),
    st.sampled_from(["", "#", "##", "b", "-", "bb", "#-", "-#"]),
    st.sampled_from(["", "5", "9", "0", "-1", "\u0665"]),
    st.sampled_from(["", ":"]),
    st.sampled_from(["", "0", "1", "1.5", "12", "0.001", "1234567"]),
    st.sampled_from(["", "/0", "/2", "/12", "/1000", "/"]),
).map("".join)


@EXAMPLES
@given(st.one_of(ANY_TEXT, st.lists(PRIMER_WORDS, min_size=1, max_size=4).map(" ".join)))
def test_primer_parser_takes_any_text(text):
    try:
        notes = leadsheet.read_primer(text)
        leadsheet.check_primer(notes, 64.0)
    except UsageError as error:
        assert "\n" not in str(error).strip()
    else:
        assert grammar.quantise(notes)  # the solo continues from the primer's last note


# JSON as a manifest holds it. No value holds "://", so no entry's url sends `download` to the network: a
# string url is a local path that does not exist.
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text("ab./\\0", max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text("ab", max_size=3), inner, max_size=3),
    max_leaves=8,
)
NAMES = st.sampled_from(["a.txt", "../a.txt", "sub/a.txt", "..", ".", "", "trees/x.txt", "a\\b", "/abs", "a\x00b"])
DIGESTS = st.sampled_from(["0" * 64, "A" * 64, "00", ""])
MEMBER = st.fixed_dictionaries(
    {}, optional={"member": NAMES | JSON_VALUES, "name": NAMES | JSON_VALUES, "sha256": DIGESTS}
)
ENTRY = st.fixed_dictionaries(
    {},
    optional={
        "name": NAMES | JSON_VALUES,
        "url": st.just("missing/source.txt") | JSON_VALUES,
        "sha256": DIGESTS | JSON_VALUES,
        "members": st.lists(MEMBER | JSON_VALUES, max_size=2) | JSON_VALUES,
        "also_accepted": st.dictionaries(DIGESTS, st.just("a copy"), max_size=2) | JSON_VALUES,
        "files": st.integers(0, 3) | JSON_VALUES,
    },
)


@EXAMPLES
@given(manifest=st.one_of(JSON_VALUES, st.fixed_dictionaries({"files": st.lists(ENTRY | JSON_VALUES, max_size=3)})))
def test_downloads_take_any_manifest(tmp_path_factory, manifest):
    directory = tmp_path_factory.mktemp("manifest")
    path = directory / "manifest.json"
    path.write_text(json.dumps(manifest))
    reads_or_refuses(files.read_manifest, str(path))
    # Each either refuses the manifest or gets as far as the missing source, having written nothing.
    reads_or_refuses(sentiment_data.download, str(directory / "sst"), str(path))
    reads_or_refuses(dinos_data.download, str(directory / "dinos.txt"), "missing/source.txt", None, str(path))
    assert sorted(item.name for item in directory.iterdir()) == ["manifest.json"]


ARGUMENT_TYPES = [
    (cli.int_in(0, 10), lambda value: type(value) is int and 0 <= value <= 10),
    (cli.float_in(0.001, 1000), lambda value: 0.001 <= value <= 1000),
    (cli.float_in(0, 1, low_open=True), lambda value: 0 < value <= 1),
    (cli.seed, lambda value: type(value) is int and 0 <= value < 2**31),
    (cli.positive_int, lambda value: type(value) is int and value > 0),
    (cli.positive_float, lambda value: 0 < value < float("inf")),
    (cli.fraction, lambda value: 0 <= value < 1),
    (apps.jazz.cli.TEMPO, lambda value: 20 <= value <= 400),
]


@EXAMPLES
@given(
    st.sampled_from(range(len(ARGUMENT_TYPES))),
    st.one_of(VALUES, st.sampled_from(["1_0", " 1 ", "+1", "\u0661", "1" * 5000])),
)
def test_argument_types_take_any_text(index, text):
    parse, holds = ARGUMENT_TYPES[index]
    try:
        value = parse(text)
    except argparse.ArgumentTypeError as error:
        assert "\n" not in str(error)
    else:
        assert holds(value), (text, value)
