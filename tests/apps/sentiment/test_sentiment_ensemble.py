"""Bundles trained with `--ensemble N`, an option `train` no longer has, still answer: with the mean of their
networks' probabilities, through `predict`, `evaluate` (here) and `export` and `--explain` (test_sentiment_cli.py,
test_sentiment_explain.py)."""

import json

import keras
import numpy as np
import tensorflow as tf

from apps.common.bundle import load_bundle

from sentiment_corpus import run_cli

TEXTS = ["a wonderful film", "the plot was dreadful and dull", "GOOD!!! (really)"]


def test_a_bundle_trained_as_an_ensemble_answers_with_its_networks_mean(ensemble_bundle, corpus_files, capsys):
    model, config = load_bundle(ensemble_bundle)
    assert config["members"] == 2
    networks = keras.Model(model.inputs, [model.get_layer(f"member_{index}_classes").output for index in (1, 2)])
    first, second = (np.asarray(answer) for answer in networks(tf.constant(TEXTS)))
    assert np.abs(first - second).max() > 0.05
    code, out, err = run_cli(capsys, "predict", "--model", ensemble_bundle, "--json", *TEXTS)
    assert code == 0, err
    answers = [[row["probabilities"][label] for label in config["labels"]] for row in json.loads(out)]
    np.testing.assert_allclose(answers, (first + second) / 2, rtol=1e-5)
    assert [row["label_id"] for row in json.loads(out)] == [1, 0, 1]
    code, out, err = run_cli(capsys, "evaluate", "--model", ensemble_bundle, "--data", corpus_files[1], "--json")
    assert code == 0, err
    assert json.loads(out)["accuracy"] >= 0.9
