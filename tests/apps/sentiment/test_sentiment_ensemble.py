"""An ensemble (`--ensemble N`): members with their own weights over one vocabulary, answering with their mean."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from apps.common.bundle import load_bundle
from apps.sentiment.data import read_examples
from apps.sentiment.model import average_members, build_model, make_vectorizer
from apps.sentiment.predict import evaluate

TEXTS = ["a wonderful film", "the plot was dreadful and dull", "", "GOOD!!! (really)"]


def test_members_have_their_own_weights_and_the_ensemble_averages_them():
    vectorizer = make_vectorizer(["good film", "bad film"], max_tokens=10)
    model = build_model(vectorizer, 3, units=2, embedding_dim=2, members=3)
    members = model(tf.constant(TEXTS))
    assert len(members) == 3
    kernels = [model.get_layer(f"member_{index}_embedding").embeddings.numpy() for index in (1, 2, 3)]
    assert not np.allclose(kernels[0], kernels[1]) and not np.allclose(kernels[1], kernels[2])
    np.testing.assert_allclose(average_members(model)(tf.constant(TEXTS)), np.mean(members, axis=0), rtol=1e-6)
    single = build_model(vectorizer, 3, units=2, embedding_dim=2)
    assert average_members(single) is single


def test_ensemble_bundle_answers_with_its_members_mean(ensemble_bundle, corpus_files):
    with open(os.path.join(ensemble_bundle, "config.json"), encoding="utf-8") as handle:
        config = json.load(handle)
    assert config["members"] == 2 and config["dev_accuracy"] >= 0.9
    model, _ = load_bundle(ensemble_bundle)
    members = keras.Model(model.inputs, [model.get_layer(f"member_{index}_classes").output for index in (1, 2)])
    expected = np.mean(members(tf.constant(TEXTS)), axis=0)
    probs = model(tf.constant(TEXTS)).numpy()
    np.testing.assert_allclose(probs, expected, rtol=1e-6)
    assert list(probs[[0, 1, 3]].argmax(axis=1)) == [1, 0, 1]
    dev = read_examples(corpus_files[1])
    assert evaluate(model, config, dev)["accuracy"] == pytest.approx(config["dev_accuracy"])
