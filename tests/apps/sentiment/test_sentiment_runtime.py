"""`predict --runtime auto|litert|keras`: the bundle's `.tflite` model answers as the Keras model does (labels
exactly, probabilities to 1e-5), without importing TensorFlow; what LiteRT cannot do goes to Keras."""

import json
import os
import random
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pytest

from apps.common.bundle import save_bundle
from apps.sentiment import cli

from sentiment_corpus import FILLER, NEGATIVE, POSITIVE, TEXTS, run_cli

TABLE = [0.1, 0.3, 0.3, 0.2, 0.1]
"""What the table bundle answers to every text: a tie for the likeliest class, which goes to the first (1)."""
STARS = ["very negative", "negative", "neutral", "positive", "very positive"]
TOLERANCE = 1e-5
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


@pytest.fixture(scope="module")
def table_bundles(tmp_path_factory):
    """`(with_litert, without_litert)`: one 5-class model whose softmax answers `TABLE` whatever the text, saved
    with its `.tflite` file and without."""
    import keras

    from apps.sentiment.model import build_model, make_vectorizer

    keras.utils.set_random_seed(3)
    model = build_model(make_vectorizer(["a good film", "a bad one"], 10), 5, units=2, embedding_dim=2, max_length=8)
    classes = model.get_layer("classes")
    kernel, _ = classes.get_weights()
    classes.set_weights([np.zeros_like(kernel), np.log(np.asarray(TABLE, "float32"))])
    directory = tmp_path_factory.mktemp("table")
    config = {"app": "sentiment", "labels": STARS, "num_classes": 5, "max_length": 8}
    save_bundle(str(directory / "litert"), model, config, litert=True)
    save_bundle(str(directory / "keras"), model, config)
    return str(directory / "litert"), str(directory / "keras")


def assert_one_line_error(capsys, argv, fragment):
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and err.count("\n") == 1 and fragment in err and "Traceback" not in err, err


def predict_json(capsys, bundle, runtime, *argv):
    code, out, err = run_cli(capsys, "predict", "--model", bundle, "--json", "--runtime", runtime, *argv)
    assert code == 0, err
    results = json.loads(out)
    assert runtime == "auto" or {row["runtime"] for row in results} <= {runtime}, results
    return results


def test_fed_the_same_probabilities_both_runtimes_pick_the_same_labels_and_stars(table_bundles, capsys):
    texts = ["a good film", "", "words it never saw", "good " * 20]
    answers = {runtime: predict_json(capsys, table_bundles[0], runtime, *texts) for runtime in ("litert", "keras")}
    for litert_row, keras_row in zip(answers["litert"], answers["keras"]):
        assert (litert_row["label"], litert_row["label_id"], litert_row["stars"], litert_row["judged"]) == (
            keras_row["label"],
            keras_row["label_id"],
            keras_row["stars"],
            keras_row["judged"],
        )
        if keras_row["judged"]:
            assert (keras_row["label_id"], keras_row["stars"]) == (1, 2)  # the first of the tied classes
            np.testing.assert_allclose(list(litert_row["probabilities"].values()), TABLE, atol=TOLERANCE)


def random_texts(seed, count=5):
    """`count` texts of the corpus's words and words it never saw, one past the model's 100-token window, one
    empty or blank."""
    rng = random.Random(seed)
    words = POSITIVE + NEGATIVE + FILLER + ["zyzzyva", "Café", "(really)", "isn't", "...", "!!"]
    texts = [" ".join(rng.choices(words, k=rng.randint(1, 12))) for _ in range(count - 2)]
    return [*texts, " ".join(rng.choices(words, k=rng.randint(101, 140))), rng.choice(["", "  \t "])]


@pytest.mark.slow
def test_over_20_seeds_of_texts_both_runtimes_answer_alike(trained_bundle, tmp_path, capsys):
    texts = [text for seed in range(20) for text in random_texts(seed)] + TEXTS
    path = tmp_path / "texts.txt"
    path.write_text("".join(text.replace("\n", " ") + "\n" for text in texts), encoding="utf-8")
    litert_rows, keras_rows = (predict_json(capsys, trained_bundle, rt, "--file", path) for rt in ("litert", "keras"))
    assert [row["text"] for row in litert_rows] == [row["text"] for row in keras_rows]
    assert [row["judged"] for row in litert_rows] == [row["judged"] for row in keras_rows]
    judged = [(a, b) for a, b in zip(litert_rows, keras_rows) if b["judged"]]
    assert len(judged) == 20 * 4 + 4
    np.testing.assert_allclose(
        [list(a["probabilities"].values()) for a, _ in judged],
        [list(b["probabilities"].values()) for _, b in judged],
        atol=TOLERANCE,
    )
    for litert_row, keras_row in judged:
        if litert_row["label_id"] != keras_row["label_id"]:
            top = sorted(keras_row["probabilities"].values())
            gap = top[-1] - top[-2]
            # Only a near-tie may pick another label: the two likeliest classes within the tolerance.
            assert gap < TOLERANCE, f"unexplained: {litert_row} against {keras_row}"
            warnings.warn(
                f"{keras_row['text']!r}: {litert_row['label']} or {keras_row['label']}, a near tie ({gap:.1e})"
            )


def test_every_way_of_giving_texts_and_every_output_answers_on_litert(trained_bundle, tmp_path, capsys, monkeypatch):
    import io

    texts = ["a superb story", "", "boring acting"]
    path = tmp_path / "texts.txt"
    path.write_text("".join(f"{text}\n" for text in texts), encoding="utf-8")
    code, out, err = run_cli(capsys, "predict", "--model", trained_bundle, "--verbose", *texts)
    assert (code, err) == (0, "runtime: litert\n")
    rows = predict_json(capsys, trained_bundle, "litert", *texts)
    assert out.splitlines() == [
        f"{row['label']}\t[{' '.join(f'{p:.3f}' for p in row['probabilities'].values())}]\t{row['text']}"
        if row["judged"]
        else f"(no text to judge)\t\t{row['text']}"
        for row in rows
    ]
    assert [row["label"] for row in rows] == ["1", None, "0"]
    assert run_cli(capsys, "predict", "--model", trained_bundle, "--file", path, "--verbose")[1:] == (out, err)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(path.read_bytes())))
    assert run_cli(capsys, "predict", "--model", trained_bundle, "--verbose")[1:] == (out, err)


@pytest.mark.slow
def test_auto_answers_on_keras_for_a_bundle_without_a_litert_model(table_bundles, capsys):
    _, keras_only = table_bundles
    code, out, err = run_cli(capsys, "predict", "--model", keras_only, "--json", "--verbose", "a good film")
    assert (code, err) == (0, "runtime: keras\n")
    (row,) = json.loads(out)
    assert row["runtime"] == "keras" and row["stars"] == 2
    np.testing.assert_allclose(list(row["probabilities"].values()), TABLE, atol=TOLERANCE)


@pytest.mark.slow
def test_auto_answers_on_keras_above_the_texts_litert_serves_sooner(trained_bundle, capsys, monkeypatch):
    monkeypatch.setattr(cli, "LITERT_MAX_TEXTS", 2)
    code, out, err = run_cli(capsys, "predict", "--model", trained_bundle, "--json", "--verbose", "good", "bad")
    assert (code, err) == (0, "runtime: litert\n")
    code, out, err = run_cli(capsys, "predict", "--model", trained_bundle, "--json", "--verbose", "good", "bad", "ok")
    assert (code, err) == (0, "runtime: keras\n")
    assert {row["runtime"] for row in json.loads(out)} == {"keras"}
    # Asked for by name, LiteRT answers however many texts there are.
    assert {row["runtime"] for row in predict_json(capsys, trained_bundle, "litert", "good", "bad", "ok")} == {"litert"}


def test_litert_is_refused_in_one_line_where_it_cannot_answer(table_bundles, trained_bundle, tmp_path, capsys):
    with_litert, keras_only = table_bundles
    assert_one_line_error(capsys, ["predict", "--model", keras_only, "--runtime", "litert", "x"], "no LiteRT")
    argv = ["predict", "--model", with_litert, "--runtime", "litert", "--explain", "x"]
    assert_one_line_error(capsys, argv, "--runtime litert does not serve --explain")
    copied = str(tmp_path / "copied")
    shutil.copytree(with_litert, copied)
    shutil.copy(os.path.join(trained_bundle, "model.tflite"), os.path.join(copied, "model.tflite"))
    for runtime in ("auto", "litert"):
        argv = ["predict", "--model", copied, "--runtime", runtime, "x"]
        assert_one_line_error(capsys, argv, "model.tflite does not match the config.json beside it")


@pytest.mark.slow
def test_auto_explains_on_keras(table_bundles, capsys):
    code, out, err = run_cli(
        capsys, "predict", "--model", table_bundles[0], "--json", "--explain", "--verbose", "a film"
    )
    assert (code, err) == (0, "runtime: keras\n")
    (row,) = json.loads(out)
    assert row["runtime"] == "keras" and row["explanation"]["tokens"] == ["a", "film"]


@pytest.mark.slow
def test_a_bundle_trained_as_an_ensemble_answers_on_litert_once_converted(ensemble_bundle, tmp_path, capsys):
    from apps.common.bundle import load_bundle

    converted = str(tmp_path / "ensemble")
    save_bundle(converted, *load_bundle(ensemble_bundle), litert=True)
    texts = ["a wonderful film", "the plot was dreadful and dull", "GOOD!!! (really)", ""]
    on_keras = predict_json(capsys, ensemble_bundle, "auto", *texts)  # saved without LiteRT: Keras answers
    assert {row["runtime"] for row in on_keras} == {"keras"}
    on_litert = predict_json(capsys, converted, "litert", *texts)
    assert [row["label"] for row in on_litert] == [row["label"] for row in on_keras]
    judged = [(a, b) for a, b in zip(on_litert, on_keras) if b["judged"]]
    np.testing.assert_allclose(
        [list(a["probabilities"].values()) for a, _ in judged],
        [list(b["probabilities"].values()) for _, b in judged],
        atol=TOLERANCE,
    )


FRESH = """
import atexit, json, os, runpy, sys
def report():
    heavy = sorted(name for name in sys.modules if name.split(".")[0] in ("tensorflow", "keras"))
    with open(os.environ["HEAVY_REPORT"], "w") as handle:
        json.dump(heavy, handle)
atexit.register(report)
runpy.run_module("apps.sentiment", run_name="__main__", alter_sys=True)
"""
"""`python -m apps.sentiment` (start-up filter and all) that writes, as it exits, which TensorFlow and Keras
modules it imported."""


@pytest.mark.parametrize("given", ["arguments", "file", "stdin"])
def test_a_process_answering_on_litert_never_imports_tensorflow_and_leaves_stderr_empty(given, tmp_path):
    texts = ["a gorgeous , witty , moving film .", "", "There is nothing to like in this movie."]
    path = tmp_path / "texts.txt"
    path.write_text("".join(f"{text}\n" for text in texts), encoding="utf-8")
    argv = {"arguments": texts, "file": ["--file", str(path)], "stdin": []}[given]
    report = tmp_path / "heavy.json"
    done = subprocess.run(
        [sys.executable, "-c", FRESH, "predict", "--json", *argv],  # the shipped bundle, --runtime auto
        input=path.read_text(encoding="utf-8"),
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "HEAVY_REPORT": str(report)},
        timeout=120,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert json.loads(report.read_text()) == []
    results = json.loads(done.stdout)
    assert [row["runtime"] for row in results] == ["litert"] * 3
    assert [row["label"] for row in results] == ["very positive", None, "very negative"]
