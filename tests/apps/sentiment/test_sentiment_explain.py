"""Explanations: integrated gradients adds up, both methods find the deciding word, a hand-computed case, the
exported `explain` signature, and the CLI's `--explain` paths."""

import json

import numpy as np
import pytest
import tensorflow as tf

from apps.common import plots
from apps.common.bundle import load_bundle
from apps.sentiment.cli import _explanation_line
from apps.sentiment.explain import explain
from apps.sentiment.model import build_model, make_vectorizer

from sentiment_corpus import DECIDED, DECIDING, EXPLAINED, run_cli, write_lines


@pytest.fixture(scope="module")
def trained(trained_bundle):
    """`(model, config)` of the good/bad bundle, loaded once: each model traces its explaining function once."""
    return load_bundle(trained_bundle)


@pytest.mark.parametrize("method", ["integrated-gradients", "occlusion"])
def test_the_deciding_word_gets_the_largest_score_with_the_right_sign(trained, method):
    model, config = trained
    for target in (None, "0", "1"):
        results = explain(model, DECIDED, labels=config["labels"], method=method, target=target)
        for text, word, result in zip(DECIDED, DECIDING, results):
            assert result["tokens"] == text.split() and result["method"] == method
            scores = np.asarray(result["scores"])
            deciding = result["tokens"].index(word)
            assert np.argmax(np.abs(scores)) == deciding, result
            # Positive when explaining the class the word stands for, negative when explaining the other one.
            word_class = int(word in ("wonderful", "superb"))
            assert np.sign(scores[deciding]) == (1 if result["label_id"] == word_class else -1), result
            if target is None:
                assert result["label_id"] == word_class
            if method == "integrated-gradients":
                _assert_complete(result)


def _assert_complete(result):
    """The integrated-gradients scores add up to f(x) - f(x') within 1% (32 Gauss–Legendre nodes)."""
    assert result["steps"] == 32
    change = result["probability"] - result["baseline"]
    assert abs(sum(result["scores"]) - change) <= 0.01 * abs(change), result


def _tiny_rnn(e_good, e_bad, w, u, b, v, c):
    """strings -> Embedding(1) -> SimpleRNN(1) -> Dense softmax(2) with the given weights, vocabulary good/bad."""
    vectorizer = make_vectorizer(["good bad"], 10)
    model = build_model(vectorizer, 2, cell="rnn", units=1, bidirectional=False, embedding_dim=1, dropout=0.0)
    vocabulary = vectorizer.get_vocabulary()
    table = np.zeros((len(vocabulary), 1), "float32")
    table[vocabulary.index("good")], table[vocabulary.index("bad")] = e_good, e_bad
    model.get_layer("embedding").set_weights([table])
    model.get_layer("rnn_1").set_weights(
        [np.array([[w]], "float32"), np.array([[u]], "float32"), np.array([b], "float32")]
    )
    model.get_layer("classes").set_weights([np.array([v], "float32"), np.array(c, "float32")])
    return model


def test_a_two_token_text_through_a_tiny_model_matches_the_hand_computation():
    e1, e2, w, u, b, v, c = 0.8, -1.5, 1.3, 0.7, 0.1, [-0.9, 1.1], [0.2, -0.3]
    model = _tiny_rnn(e1, e2, w, u, b, v, c)

    def forward(x1, x2):  # a⟨1⟩ = tanh(w x⟨1⟩ + b), a⟨2⟩ = tanh(w x⟨2⟩ + u a⟨1⟩ + b), P(1) = σ(Δv a⟨2⟩ + Δc)
        a1 = np.tanh(w * x1 + b)
        a2 = np.tanh(w * x2 + u * a1 + b)
        p = 1 / (1 + np.exp(-((v[1] - v[0]) * a2 + c[1] - c[0])))
        dp_da2 = p * (1 - p) * (v[1] - v[0]) * (1 - a2**2)
        return p, dp_da2 * u * (1 - a1**2) * w, dp_da2 * w

    def one_token(x):
        return 1 / (1 + np.exp(-((v[1] - v[0]) * np.tanh(w * x + b) + c[1] - c[0])))

    p, _, _ = forward(e1, e2)
    nodes, weights = np.polynomial.legendre.leggauss(32)
    alphas, weights = (nodes + 1) / 2, weights / 2
    _, g1, g2 = forward(alphas * e1, alphas * e2)
    ig = [e1 * np.sum(weights * g1), e2 * np.sum(weights * g2)]
    # The 32 nodes have converged: a 200,001-point trapezoid over the same path agrees.
    fine = np.linspace(0, 1, 200_001)
    _, f1, f2 = forward(fine * e1, fine * e2)
    np.testing.assert_allclose(ig, [e1 * np.trapezoid(f1, fine), e2 * np.trapezoid(f2, fine)], atol=1e-9)

    (result,) = explain(model, ["good bad"], target=1)
    assert result["tokens"] == ["good", "bad"] and result["probability"] == pytest.approx(p, abs=1e-6)
    assert result["baseline"] == pytest.approx(forward(0.0, 0.0)[0], abs=1e-6)
    np.testing.assert_allclose(result["scores"], ig, atol=1e-6)
    (result,) = explain(model, ["good bad"], target=1, method="occlusion")
    np.testing.assert_allclose(result["scores"], [p - one_token(e2), p - one_token(e1)], atol=1e-6)


def test_empty_and_long_texts_are_explained_as_predict_reads_them():
    model = _tiny_rnn(0.8, -1.5, 1.3, 0.7, 0.1, [-0.9, 1.1], [0.2, -0.3])
    window = model.get_layer("window").max_length
    long_text = " ".join(["good", "bad", "zorblax"] * window)
    empty, blank, long = explain(model, ["", "  \t", long_text])
    for result in (empty, blank):
        assert not result["judged"] and result["tokens"] == result["scores"] == [] and result["label"] is None
    # Only what the model read is explained, and the cut is said.
    assert long["judged"] and long["truncated"] and long["words"] == 3 * window
    assert long["tokens"] == long_text.split()[:window] and len(long["scores"]) == window
    assert long["unknown"] == [token == "zorblax" for token in long["tokens"]]
    _assert_complete(long)
    assert not explain(model, ["good bad"])[0]["truncated"]
    with pytest.raises(ValueError, match="target"):
        explain(model, ["good"], target="positive")


def test_the_exported_explain_signature_gives_the_same_scores_without_this_package(trained, served):
    """The `explain` signature of the bundle that `export` wrote, called in a fresh interpreter (conftest.py)."""
    model, config = trained
    texts = EXPLAINED
    served = {key: np.asarray(value) for key, value in served["trained_bundle"]["explain"].items()}
    for row, result in enumerate(explain(model, texts, labels=config["labels"])):
        if not result["judged"]:
            assert not served["tokens"][row].any() and not served["scores"][row].any()
            continue
        count = len(result["tokens"])
        assert list(served["tokens"][row, :count]) == result["tokens"] and not served["tokens"][row, count:].any()
        np.testing.assert_allclose(served["scores"][row, :count], result["scores"], atol=1e-5)
        assert not served["scores"][row, count:].any()
        assert served["labels"][row] == result["label"] and not served["truncated"][row]
        assert served["baseline"][row] == pytest.approx(result["baseline"], abs=1e-5)


def test_predict_explain_in_the_terminal_in_json_and_in_a_picture(trained_bundle, trained, tmp_path, capsys):
    plot = tmp_path / "why.png"
    code, out, err = run_cli(
        capsys, "predict", "--model", trained_bundle, "--explain", "--explain-plot", plot, "the acting is dull", ""
    )
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("0\t") and lines[1].startswith("    why 0: the ") and "dull +0." in lines[1]
    assert "integrated gradients" in lines[1] and "\033[" not in out  # not a terminal: no colours
    assert lines[2].startswith("(no text to judge)") and lines[3] == f"explanation plot: {plot}"
    assert plot.stat().st_size > 0
    code, out, _ = run_cli(
        capsys,
        "predict",
        "--model",
        trained_bundle,
        "--explain",
        "--explain-method",
        "occlusion",
        "--json",
        "the acting is dull",
    )
    explanation = json.loads(out)[0]["explanation"]
    assert code == 0 and explanation["method"] == "occlusion" and explanation["tokens"][3] == "dull"
    model, config = trained
    expected = explain(model, ["the acting is dull"], labels=config["labels"], method="occlusion")[0]
    np.testing.assert_allclose(explanation["scores"], expected["scores"], atol=1e-6)
    coloured = _explanation_line(expected, colour=True)
    assert "\033[1;32mdull +0." in coloured and coloured.count("\033[0m") == len(expected["tokens"])


def test_evaluate_explain_shows_the_surest_errors(trained_bundle, trained, tmp_path, capsys, monkeypatch):
    # Three of these labels are wrong on purpose: those are the errors, the surest first.
    examples = [
        (1, "the acting is dull"),
        (0, "a superb story"),
        (0, "a boring plot"),
        (1, "quite a lovely film"),
        (1, "the film was awful"),
    ]
    data = write_lines(tmp_path / "labelled.txt", examples)
    model, _ = trained
    probs = model(tf.constant([text for _, text in examples])).numpy()
    wrong = [index for index, (label, _) in enumerate(examples) if probs[index].argmax() != label]
    assert len(wrong) == 3
    surest = sorted(wrong, key=lambda index: -probs[index].max())
    drawn = []  # the headings of the explanation plot's rows

    def plot_token_scores(rows, path, title):
        drawn.extend(heading for heading, _, _ in rows)
        return real(rows, path, title)

    real = plots.plot_token_scores
    monkeypatch.setattr(plots, "plot_token_scores", plot_token_scores)
    # Occlusion here: `predict --explain` runs integrated gradients through the same code.
    code, out, err = run_cli(
        capsys,
        "evaluate",
        "--model",
        trained_bundle,
        "--data",
        data,
        "--plot",
        tmp_path / "c.png",
        "--explain",
        2,
        "--explain-method",
        "occlusion",
        "--json",
    )
    assert code == 0, err
    errors = json.loads(out)["errors"]
    assert [e["text"] for e in errors] == [examples[index][1] for index in surest[:2]]
    expected = explain(model, [e["text"] for e in errors], method="occlusion")
    for error, index, explanation in zip(errors, surest, expected):
        assert error["true_label_id"] == examples[index][0] != error["label_id"]
        assert error["probability"] == pytest.approx(probs[index].max(), abs=1e-6)
        np.testing.assert_allclose(error["scores"], explanation["scores"], atol=1e-6)
    code, out, _ = run_cli(
        capsys,
        "evaluate",
        "--model",
        trained_bundle,
        "--data",
        data,
        "--plot",
        tmp_path / "c.png",
        "--explain",
        5,
        "--explain-method",
        "occlusion",
        "--explain-plot",
        tmp_path / "why.png",
    )
    assert code == 0 and "the 3 wrong answers the model is surest of (of 5 asked for)" in out
    # The picture heads each error as the report does: its true label, then what the model said.
    printed = [line.split("\t")[0] for line in out.splitlines() if line.startswith("true ")]
    assert len(drawn) == len(printed) == 3 and (tmp_path / "why.png").exists()
    for heading, line in zip(drawn, printed):
        assert heading.startswith(f"{line}: "), (heading, line)
    assert out.count("    why ") == 3 and "occlusion" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["predict", "--explain-plot", "why.png", "good"], "go with --explain"),
        (["predict", "--explain", "--explain-plot", "why.txt", "good"], "must end in .png"),
        (
            ["evaluate", "--data", "data.txt", "--explain", "1", "--plot", "same.png", "--explain-plot", "same.png"],
            "must be separate paths",
        ),
    ],
)
def test_bad_explain_options_are_one_line_and_exit_2(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and message in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_predict_explain_refuses_non_utf8_like_predict(trained_bundle, tmp_path, capsys):
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"tr\xe8s bien\n")
    code, out, err = run_cli(capsys, "predict", "--model", trained_bundle, "--explain", "--file", path)
    assert code == 2 and "not valid UTF-8" in err and err.count("\n") == 1 and out == ""


@pytest.fixture(scope="module", params=["fine_trained_bundle", "ensemble_bundle"])
def bundle(request):
    """A model answering SST-2 through `GroupClasses`, and one of two networks averaged (as `--ensemble 2` saved
    one); the single model: above."""
    return load_bundle(request.getfixturevalue(request.param))


def test_integrated_gradients_add_up_to_the_change_in_probability(bundle):
    model, config = bundle
    texts = DECIDED + ["the movie was really quite ordinary and the plot and the acting a story", "film"]
    for target in (None, 0):  # the predicted class, and one asked for
        results = explain(model, texts, labels=config["labels"], target=target)
        expected = model(tf.constant(texts)).numpy()
        for result, probs in zip(results, expected):
            assert result["probability"] == pytest.approx(probs[result["label_id"]])
            _assert_complete(result)
