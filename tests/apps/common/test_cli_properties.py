"""Random bytes and strings through each app's input readers and argument parsers: a `UsageError` or a result,
never another exception (which the CLI would show as a traceback with exit code 1)."""

import io
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import apps.dinos.cli
import apps.jazz.cli
import apps.sentiment.cli
from apps.common.errors import UsageError
from apps.dinos import data as dinos_data
from apps.jazz import chords
from apps.jazz import data as jazz_data
from apps.sentiment import data as sentiment_data

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
    try:
        reader(*args)
    except UsageError as error:
        assert "\n" not in str(error).strip()


@EXAMPLES
@given(content=st.one_of(st.binary(max_size=300), ANY_TEXT.map(lambda text: text.encode("utf-8", "surrogatepass"))))
def test_file_readers_take_any_bytes(tmp_path_factory, content):
    directory = tmp_path_factory.mktemp("fuzz")
    for name, reader in [
        ("names.txt", dinos_data.read_names),
        ("labelled.txt", sentiment_data.read_examples),
        ("labelled.csv", sentiment_data.read_examples),
        ("labelled.tsv", sentiment_data.read_examples),
    ]:
        path = directory / name
        path.write_bytes(content)
        reads_or_refuses(reader, str(path))
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
        st.lists(st.sampled_from(["C", "Dm7", "|", "G7/B", "Bb", "#", "b", "/", "x", "||", " "]), max_size=12).map(
            " ".join
        ),
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
