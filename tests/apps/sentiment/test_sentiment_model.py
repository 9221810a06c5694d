"""The model: PTB standardisation, truncation, the empty text, training on the good/bad corpus, safe-mode load."""

import json
import os

import keras
import numpy as np
import tensorflow as tf

from apps.common.bundle import load_bundle
from apps.sentiment.model import MaskedPooling, TokenWindow, build_model, make_vectorizer, standardize_ptb


def standardized(text):
    return standardize_ptb(tf.constant([text])).numpy()[0].decode("utf-8").split()


def test_standardize_leaves_sst_text_as_it_is():
    sst = (
        "they presume their audience wo n't sit still for a sociology lesson , however entertainingly "
        "presented -lrb- it 's a crème brûlée ... -rrb- : `` bug-eyed '' monsters !"
    )
    assert standardized(sst) == sst.split()


def test_standardize_turns_raw_text_into_sst_tokens():
    assert standardized("It isn't good (at all)... I'd say \"Meh\", OK?") == (
        "it is n't good -lrb- at all -rrb- ... i 'd say '' meh '' , ok ?".split()
    )


def test_long_text_is_truncated_and_empty_text_gives_one_padding_step():
    vectorizer = make_vectorizer(["good bad"], max_tokens=10)
    window = TokenWindow(5)
    assert window(vectorizer(tf.constant(["good " * 300]))).shape == (1, 5)
    assert window(vectorizer(tf.constant(["good bad"]))).shape == (1, 2)
    np.testing.assert_array_equal(window(vectorizer(tf.constant(["", "  \t"]))), [[0], [0]])


def test_empty_texts_get_the_no_evidence_prediction():
    vectorizer = make_vectorizer(["good film", "bad film"], max_tokens=10)
    model = build_model(vectorizer, 3, units=4, embedding_dim=4)
    model.get_layer("classes").bias.assign([0.5, -1.0, 2.0])
    expected = keras.ops.softmax(np.array([0.5, -1.0, 2.0], "float32")).numpy()
    np.testing.assert_allclose(model(tf.constant(["", "   ", "\n"])), [expected] * 3, rtol=1e-6)
    # Padding is masked, so an empty text alongside a long one still gets the same answer.
    mixed = model(tf.constant(["", "good film good film bad"])).numpy()
    np.testing.assert_allclose(mixed[0], expected, rtol=1e-6)


def test_training_on_the_good_bad_corpus_reaches_high_accuracy(trained_bundle):
    with open(os.path.join(trained_bundle, "config.json"), encoding="utf-8") as handle:
        config = json.load(handle)
    assert config["dev_accuracy"] >= 0.95
    assert config["labels"] == ["0", "1"] and config["task"] == "file"
    for name in ("model.keras", "history.json", "training.png"):
        assert os.path.isfile(os.path.join(trained_bundle, name))


def test_bundle_loads_in_safe_mode_with_its_vocabulary(trained_bundle):
    model, config = load_bundle(trained_bundle)
    vocabulary = model.get_layer("vectorizer").get_vocabulary()
    assert vocabulary[:2] == ["", "[UNK]"]
    assert {"good", "awful", "movie"} <= set(vocabulary)
    assert len(vocabulary) == config["vocabulary_size"]
    probs = model(tf.constant(["a wonderful film", "the plot was dreadful", "Really GOOD!"])).numpy()
    np.testing.assert_array_equal(probs.argmax(axis=1), [1, 0, 1])
    # Saved without the optimizer's slots: the bundle is the weights and little more.
    assert os.path.getsize(os.path.join(trained_bundle, "model.keras")) < 100_000


def test_masked_pooling_ignores_padding_and_empty_rows():
    inputs = np.array([[[1.0, -4.0], [3.0, -2.0], [9.0, 9.0]], [[5.0, 5.0], [7.0, 7.0], [7.0, 7.0]]], "float32")
    mask = np.array([[True, True, False], [False, False, False]])
    np.testing.assert_allclose(MaskedPooling("mean")(inputs, mask=mask), [[2.0, -3.0], [0.0, 0.0]])
    np.testing.assert_allclose(MaskedPooling("max")(inputs, mask=mask), [[3.0, -2.0], [0.0, 0.0]])


def test_pooled_model_saves_and_answers_empty_texts(tmp_path):
    vectorizer = make_vectorizer(["good film", "bad film"], max_tokens=10)
    model = build_model(vectorizer, 2, units=3, embedding_dim=3, pooling="max")
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    texts = tf.constant(["", "good film", "bad"])
    probs = loaded(texts).numpy()
    np.testing.assert_allclose(probs, model(texts), rtol=1e-6)
    assert np.isfinite(probs).all()
