"""The command line: predict (texts, --file, stdin), evaluate, export, and one clear line for each bad input."""

import io
import json
import os
import sys

import numpy as np
import pytest
import tensorflow as tf

from apps.common.bundle import load_bundle, save_bundle
from apps.common.paths import saved_model
from apps.sentiment.data import read_examples
from apps.sentiment.model import build_model, make_vectorizer

from sentiment_corpus import TEXTS, make_corpus, run_cli, write_lines


def test_predict_json_agrees_with_the_model(trained_bundle, capsys):
    code, out, err = run_cli(capsys, "predict", "--model", trained_bundle, "--json", *TEXTS)
    assert code == 0, err
    results = json.loads(out)
    model, _config = load_bundle(trained_bundle)
    assert [r["text"] for r in results] == TEXTS
    # Empty and whitespace-only texts are not judged; every other text gets the model's answer.
    assert [r["judged"] for r in results] == [bool(text.strip()) for text in TEXTS]
    assert all(r["label"] is None and r["probabilities"] is None for r in results if not r["judged"])
    judged = [r for r in results if r["judged"]]
    expected = model(tf.constant([r["text"] for r in judged])).numpy()
    np.testing.assert_allclose([list(r["probabilities"].values()) for r in judged], expected, rtol=1e-5)
    assert [r["label_id"] for r in judged] == list(expected.argmax(axis=1))
    assert [r["label"] for r in results[:2]] == ["1", "0"]
    assert all(r["stars"] is None for r in results)  # a 2-class model has no stars


def test_predict_reads_a_file_or_stdin(trained_bundle, tmp_path, capsys, monkeypatch):
    path = tmp_path / "texts.txt"
    path.write_text("a superb story\nboring acting\n", encoding="utf-8")
    code, out, _ = run_cli(capsys, "predict", "--model", trained_bundle, "--file", path)
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("1\t") and lines[1].startswith("0\t")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"a superb story\nboring acting\n")))
    assert run_cli(capsys, "predict", "--model", trained_bundle)[1] == out


def test_predict_gives_stars_for_a_five_class_model(tmp_path, capsys):
    model = build_model(make_vectorizer(["a b c"], 10), 5, units=2, embedding_dim=2)
    names = ["very negative", "negative", "neutral", "positive", "very positive"]
    save_bundle(tmp_path / "five", model, {"app": "sentiment", "labels": names, "num_classes": 5})
    code, out, _ = run_cli(capsys, "predict", "--model", tmp_path / "five", "--json", "a b", "c")
    assert code == 0
    for result in json.loads(out):
        assert result["stars"] == result["label_id"] + 1 and result["label"] == names[result["label_id"]]


def test_evaluate_reports_and_plots(trained_bundle, corpus_files, tmp_path, capsys):
    plot = tmp_path / "confusion.png"
    code, out, err = run_cli(
        capsys, "evaluate", "--model", trained_bundle, "--data", corpus_files[1], "--plot", plot, "--json"
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["examples"] == 60 and report["accuracy"] >= 0.95 and report["macro_f1"] >= 0.95
    assert np.sum(report["confusion"]) == 60 and [row["support"] for row in report["per_class"]] == [30, 30]
    assert plot.stat().st_size > 0
    code, out, _ = run_cli(capsys, "evaluate", "--model", trained_bundle, "--data", corpus_files[1], "--plot", plot)
    assert code == 0 and "macro-F1" in out and "confusion matrix" in out


@pytest.mark.parametrize("bundle_fixture", ["trained_bundle", "fine_trained_bundle", "ensemble_bundle"])
def test_export_serves_strings_without_this_package(bundle_fixture, request, served):
    """The `serving_default` signature of the bundle that `export` wrote, called in a fresh interpreter
    (conftest.py)."""
    model, config = load_bundle(request.getfixturevalue(bundle_fixture))
    expected = model(tf.constant(TEXTS)).numpy()
    out = served[bundle_fixture]["serving_default"]
    np.testing.assert_allclose(out["probabilities"], expected, rtol=1e-5, atol=1e-7)
    assert out["label_ids"] == list(expected.argmax(axis=1))
    assert out["labels"] == [config["labels"][i] for i in expected.argmax(axis=1)]


def test_train_reads_csv_and_tsv_columns(tmp_path, capsys):
    rows = make_corpus(80, seed=3)
    csv_path = tmp_path / "reviews.csv"
    csv_path.write_text(
        "id,stars,review\n" + "".join(f'{i},{label},"{text},\nyes"\n' for i, (label, text) in enumerate(rows)),
        encoding="utf-8",
    )
    tsv_path = tmp_path / "reviews.tsv"
    tsv_path.write_text("review\tstars\n" + "".join(f"{text}\t{label}\n" for label, text in rows), encoding="utf-8")
    from_csv = read_examples(str(csv_path), text_col="review", label_col="stars")
    from_tsv = read_examples(str(tsv_path), text_col="review", label_col="stars")
    assert from_csv.labels == from_tsv.labels == [label for label, _ in rows]
    assert from_csv.texts == [f"{text},\nyes" for _, text in rows]  # quoted commas and line breaks
    assert from_tsv.texts == [text for _, text in rows]
    code, _out, err = run_cli(
        capsys,
        "train",
        "--task",
        "file",
        "--data",
        tsv_path,
        "--text-col",
        "review",
        "--label-col",
        "stars",
        "--units",
        "4",
        "--embedding-dim",
        "4",
        "--epochs",
        "1",
        "--no-bidirectional",
        "--out",
        tmp_path / "bundle",
        "--quiet",
    )
    assert code == 0, err
    assert json.loads((tmp_path / "bundle" / "config.json").read_text())["dev_data"]["examples"] == 8


BAD_FILES = {
    "not_utf8.txt": (b"1 caf\xe9 au lait\n", "not valid UTF-8"),
    "letters.txt": (b"1 good film\npositive great film\n", "label 'positive' is not an integer"),
    "negative.txt": (b"1 good film\n-1 bad film\n", "label -1 is out of range"),
    "empty.txt": (b"\n  \n", "holds no labelled examples"),
    "no_text.txt": (b"1 good film\n0\n", "no text after the label"),
    "columns.csv": (b"label,body\n1,good film\n", "no column 'text'"),
    "short_row.csv": (b"label,text\n1,good film\n0\n", "1 columns, the header has 2"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_training_file_is_one_line_and_exit_2_with_nothing_written(name, tmp_path, capsys):
    content, message = BAD_FILES[name]
    path = tmp_path / name
    path.write_bytes(content)
    code, _out, err = run_cli(capsys, "train", "--task", "file", "--data", path, "--out", tmp_path / "bundle")
    assert code == 2
    assert err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "bundle").exists()
    assert sorted(os.listdir(tmp_path)) == [name]


def test_labels_out_of_range_for_the_task_or_model(trained_bundle, tmp_path, capsys):
    sst = tmp_path / "sst"
    sst.mkdir()
    write_lines(sst / "stsa.binary.train", [(0, "bad"), (2, "neutral")])
    write_lines(sst / "stsa.binary.dev", [(0, "bad")])
    code, _, err = run_cli(capsys, "train", "--task", "sst2", "--data", sst, "--out", tmp_path / "b")
    assert code == 2 and "stsa.binary.train:2: label 2 is out of range (expected 0..1)" in err
    code, _, err = run_cli(
        capsys, "evaluate", "--model", trained_bundle, "--data", sst / "stsa.binary.train", "--plot", tmp_path / "c.png"
    )
    assert code == 2 and "label 2 is out of range" in err and not (tmp_path / "c.png").exists()


def test_bad_predict_inputs(trained_bundle, tmp_path, capsys, monkeypatch):
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"tr\xe8s bien\n")
    code, _, err = run_cli(capsys, "predict", "--model", trained_bundle, "--file", path)
    assert code == 2 and "not valid UTF-8" in err and err.count("\n") == 1
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"tr\xe8s bien\n")))
    code, _, err = run_cli(capsys, "predict", "--model", trained_bundle)
    assert code == 2 and "standard input is not valid UTF-8" in err
    code, _, err = run_cli(capsys, "predict", "--model", tmp_path / "nowhere", "good")
    assert code == 2 and "model directory not found" in err


# OSC (retitles the terminal), a tab inside the text, CSI in its one-character C1 form, and a bidi override.
CONTROLS = "\x1b]0;pwned\x07a great film\twith \x9b2J a \u202etab"
CONTROLS_ESCAPED = "\\x1b]0;pwned\\x07a great film\\twith \\x9b2J a \\u202etab"
RAW = {"\x1b", "\x07", "\x9b", "\u202e"}


def test_predict_echoes_texts_with_their_control_characters_escaped(tmp_path, capsys, monkeypatch):
    shipped = saved_model("sentiment")
    path = tmp_path / "texts.txt"
    path.write_text(CONTROLS + "\n", encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(path.read_bytes())))
    for source in ([CONTROLS], ["--file", path], []):
        code, out, err = run_cli(capsys, "predict", "--model", shipped, *source)
        assert code == 0 and not RAW & set(out + err), ascii(out + err)
        assert out.count("\t") == 2 and out.endswith(f"\t{CONTROLS_ESCAPED}\n")  # the TSV's own tabs only
    code, out, err = run_cli(capsys, "predict", "--model", shipped, "--explain", CONTROLS)
    assert code == 0 and not RAW & set(out + err), ascii(out + err)
    assert "\\x1b]0" in out.splitlines()[1]  # the words that decided, each escaped as well
    code, out, _ = run_cli(capsys, "predict", "--model", shipped, "--json", CONTROLS)
    assert code == 0 and not RAW & set(out) and json.loads(out)[0]["text"] == CONTROLS


def test_evaluate_echoes_the_files_texts_with_their_control_characters_escaped(tmp_path, capsys):
    labelled = tmp_path / "labelled.txt"
    labelled.write_text(f"0 {CONTROLS}, wonderful and moving\n", encoding="utf-8")  # a wrong label, to explain
    argv = ["evaluate", "--model", saved_model("sentiment"), "--data", labelled, "--plot", tmp_path / "c.png"]
    code, out, err = run_cli(capsys, *argv, "--explain", "1")
    assert code == 0 and not RAW & set(out + err), ascii(out + err)
    assert f"\t{CONTROLS_ESCAPED}, wonderful and moving\n    why " in out
