"""`apps.sentiment.train` under XLA: the strings become ids in the pipeline, in a few fixed lengths, and the
saved model still takes strings."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY

from apps.sentiment import train as train_lib
from apps.sentiment.cli import main
from apps.sentiment.data import Examples
from apps.sentiment.model import build_model, make_vectorizer, standardize_ptb

TEXTS = ["", "good", "a good film", "a bad , bad film and a long one " * 3, "bad " * 40]


def test_ids_in_pipeline_pads_to_fixed_lengths_and_gives_the_strings_models_numbers():
    vectorizer = make_vectorizer(["a good film", "a bad film"], max_tokens=10)
    model = build_model(vectorizer, 3, units=4, embedding_dim=4, max_length=30)
    to_ids = train_lib.IdsInPipeline(model)
    assert to_ids.lengths == [8, 14, 20, 28, 30]
    widths = [int(to_ids(tf.constant([text])).shape[1]) for text in TEXTS]
    # "" keeps one padding step; 30 words are cut to max_length, as the strings model does.
    assert widths == [8, 8, 8, 28, 30]
    ids = to_ids(tf.constant(TEXTS))
    assert ids.shape == (len(TEXTS), 30)
    # The extra padding is masked: the ids model answers as the strings model does.
    for text in TEXTS:
        np.testing.assert_allclose(to_ids.model(to_ids(tf.constant([text]))), model(tf.constant([text])), atol=1e-6)
    assert to_ids.model.count_params() == model.count_params()


def test_make_dataset_turns_batches_into_ids(corpus_files):
    from apps.sentiment.data import read_examples

    examples = read_examples(corpus_files[0])
    vectorizer = make_vectorizer(examples.texts, max_tokens=50)
    to_ids = train_lib.IdsInPipeline(build_model(vectorizer, 2, units=4, embedding_dim=4))
    dataset = train_lib.make_dataset(examples, 16, shuffle_seed=0, to_ids=to_ids)
    for ids, labels in dataset.take(5):
        assert ids.dtype == tf.int64 and int(ids.shape[1]) in to_ids.lengths and len(labels) == len(ids)


def test_train_with_jit_compile_trains_from_ids_under_xla_and_saves_a_strings_model(
    corpus_files, tmp_path, monkeypatch
):
    fitted = []
    real_fit = keras.Model.fit

    def spy(self, *args, **kwargs):
        fitted.append((self.jit_compile, self.steps_per_execution, self.inputs[0].dtype))
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", spy)
    train_path, dev_path = corpus_files
    out = str(tmp_path / "bundle")
    argv = ["train", "--task", "file", "--data", train_path, "--dev", dev_path, "--units", "8"]
    argv += ["--embedding-dim", "8", "--max-tokens", "50", "--epochs", "3", "--patience", "3"]
    assert main([*argv, *TINY, "--jit-compile", "--steps-per-execution", "4", "--out", out]) == 0
    assert fitted == [(True, 4, "int64")]
    with open(os.path.join(out, "config.json"), encoding="utf-8") as handle:
        assert json.load(handle)["dev_accuracy"] > 0.9
    loaded = keras.saving.load_model(os.path.join(out, "model.keras"), safe_mode=True)
    assert loaded.inputs[0].dtype == "string"
    probabilities = loaded(tf.constant(["a good film", "a bad film"])).numpy()
    assert probabilities[0].argmax() != probabilities[1].argmax()


def test_the_vocabulary_is_counted_a_batch_of_texts_at_a_time_and_is_that_of_the_whole_corpus(monkeypatch):
    from apps.sentiment import model as model_lib

    # Ties in count (film/plot, good/bad) are broken by the words themselves, as over the whole corpus at once.
    texts = ["a good film", "a bad plot", "good (film)", "bad plot", "It's a film", "the end"] * 3 + ["one more"]
    whole = keras.layers.TextVectorization(
        max_tokens=8, standardize=model_lib.standardize_ptb, split="whitespace", output_mode="int"
    )
    whole.adapt(tf.constant(texts))
    counted = []
    real_update = keras.layers.TextVectorization.update_state
    monkeypatch.setattr(
        keras.layers.TextVectorization,
        "update_state",
        lambda self, data: counted.append(len(data)) or real_update(self, data),
    )
    monkeypatch.setattr(model_lib, "ADAPT_BATCH", 4, raising=False)
    vectorizer = make_vectorizer(texts, max_tokens=8)
    assert counted == [4] * 4 + [3], counted  # not the 19 texts in one tensor, each step's work on all of them
    assert vectorizer.get_vocabulary() == whole.get_vocabulary()


def _vectorizer_of_the_whole(train_texts, max_tokens):
    """`make_vectorizer` adapted on the whole corpus in one tensor."""
    vectorizer = keras.layers.TextVectorization(
        max_tokens=max_tokens, standardize=standardize_ptb, split="whitespace", output_mode="int", name="vectorizer"
    )
    vectorizer.adapt(tf.constant(list(train_texts)))
    return vectorizer


@pytest.mark.slow
def test_a_corpus_trains_to_the_weights_and_history_it_did_with_its_words_counted_all_at_once(monkeypatch):
    from sentiment_corpus import make_corpus

    corpus = make_corpus(90, seed=3)
    examples = Examples([text for _, text in corpus], [label for label, _ in corpus], "corpus")
    train, dev = train_lib.hold_out(examples, 0.2, seed=0)
    saved = []
    monkeypatch.setattr(
        train_lib, "save_trained", lambda out, model, config, history, **_: saved.append((model, history))
    )
    options = {"units": 3, "embedding_dim": 3, "max_tokens": 30, "epochs": 3, "batch_size": 8, "verbose": 0}
    train_lib.train(train, dev, ["neg", "pos"], "unused", **options)
    monkeypatch.setattr(train_lib, "make_vectorizer", _vectorizer_of_the_whole)
    train_lib.train(train, dev, ["neg", "pos"], "unused", **options)
    (model, history), (reference, reference_history) = saved
    assert history == reference_history
    vocabulary, reference_vocabulary = (m.get_layer("vectorizer").get_vocabulary() for m in (model, reference))
    assert vocabulary == reference_vocabulary
    for weights, reference_weights in zip(model.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_array_equal(weights, reference_weights)
