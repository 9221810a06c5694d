"""`export --format litert` of the sentiment model: the host's standardisation and look-up reproduce the model's
`TextVectorization`, and the .tflite file from token ids on gives the Keras model's probabilities."""

import json
import os

import numpy as np
import pytest

pytest.importorskip("ai_edge_litert")

from apps.sentiment import litert as sentiment_litert
from apps.sentiment.cli import main

TRAIN = [
    "a good film , is n't it ?",
    "a bad movie -lrb- really -rrb- ...",
    "the cast 's work is superb !",
    "it 's awful ; they 'll hate it",
    "café zoë : naïve über-déjà vu",
    "do n't miss it",
]
HARD = [  # beyond the module's own examples: what RE2's ASCII classes and TensorFlow's split treat specially
    "İSTANBUL ΣΟΦΟΣ ǅ ẞ",
    "a\vb\u00a0c\u2003d",
    "O'Neill's can't WON'T isn't",
    "ÉTÉ n't",
    'x(y)z"q"',
    "e\u0301t\u00e9's",
    "  \t\n ",
    "...!?;:,.",
    "word_with_underscore's",
    "it'S",
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    import keras

    from apps.common.bundle import save_bundle
    from apps.sentiment.model import build_model, make_vectorizer

    keras.utils.set_random_seed(2)
    vectorizer = make_vectorizer(TRAIN, max_tokens=30)
    model = build_model(vectorizer, 3, units=4, embedding_dim=4, max_length=8)
    directory = tmp_path_factory.mktemp("sentiment")
    save_bundle(
        str(directory / "bundle"), model, {"app": "sentiment", "labels": ["neg", "neu", "pos"], "max_length": 8}
    )
    out = str(directory / "sentiment.tflite")
    assert main(["export", "--format", "litert", "--model", str(directory / "bundle"), "--out", out]) == 0
    return model, out


def test_the_host_standardisation_and_lookup_give_the_vectorizers_ids(exported):
    import tensorflow as tf

    model, out = exported
    ids = sentiment_litert.read_vocabulary(out)
    vectorizer = model.get_layer("vectorizer")
    assert len(ids) + 1 == vectorizer.vocabulary_size()
    for text in sentiment_litert.EXAMPLES + HARD + TRAIN:
        expected = vectorizer(tf.constant([text])).numpy()
        np.testing.assert_array_equal(sentiment_litert.token_ids(text, ids), expected, text)


def test_the_tflite_model_gives_the_keras_probabilities_at_two_lengths_and_beyond_max_length(exported):
    import tensorflow as tf

    model, out = exported
    texts = ["a good film", "the cast 's work is awful , they 'll hate it", " ".join(["good"] * 20), ""]
    probs = sentiment_litert.predict(out, texts)
    np.testing.assert_allclose(probs, model.predict_on_batch(tf.constant(texts)), atol=1e-5)


def test_the_examples_file_holds_ids_and_probabilities_a_host_can_test_against(exported):
    _model, out = exported
    with open(sentiment_litert.side_paths(out)[1], encoding="utf-8") as handle:
        written = json.load(handle)
    assert written["labels"] == ["neg", "neu", "pos"] and written["max_length"] == 8
    assert [example["text"] for example in written["examples"]] == sentiment_litert.EXAMPLES
    ids = sentiment_litert.read_vocabulary(out)
    for example in written["examples"]:
        assert example["token_ids"] == sentiment_litert.token_ids(example["text"], ids)[0].tolist()
        np.testing.assert_allclose(
            sentiment_litert.predict(out, [example["text"]])[0], example["probabilities"], atol=1e-5
        )


def test_a_side_file_that_is_a_directory_is_refused_before_anything_is_written(exported, tmp_path, capsys):
    out = str(tmp_path / "s.tflite")
    os.mkdir(tmp_path / "s.vocab.txt")
    assert main(["export", "--format", "litert", "--out", out]) == 2
    assert capsys.readouterr().err.count("\n") == 1 and not os.path.exists(out)
