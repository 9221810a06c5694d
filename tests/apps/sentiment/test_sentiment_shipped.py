"""The pretrained bundles in saved_models/ load in safe mode and answer sensibly (no training here)."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

import apps.sentiment.model  # noqa: F401  (registers the layers safe-mode loading looks up)
from apps.common.bundle import load_bundle, read_config
from apps.common.paths import saved_model
from apps.sentiment.data import SST_FILES, TREE_FILES

from sentiment_corpus import run_cli

SHIPPED = {"sentiment": "sst5", "sentiment-sst2": "sst2"}


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_bundle(name):
    path = saved_model(name)
    if not os.path.isdir(path):
        pytest.skip(f"{path} not trained")
    model, config = load_bundle(path)
    assert config["task"] == SHIPPED[name]
    # Trained on the treebank's phrases (trees/train.txt) or, before it, on the sentence file.
    phrases = config["train_data"].get("unit") == "phrases"
    assert config["train_data"]["source"] == (TREE_FILES[0] if phrases else SST_FILES[config["task"]][0])
    assert os.path.getsize(os.path.join(path, "model.keras")) < 5_000_000
    assert len(model.get_layer("vectorizer").get_vocabulary()) == config["vocabulary_size"]
    probs = model(tf.constant(["a gorgeous , witty , moving film .", "a dull , boring mess .", ""])).numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    # Expected star ratings: the positive sentence scores above the negative one.
    expected_class = probs @ np.arange(config["num_classes"])
    assert expected_class[0] > expected_class[1]


def test_predict_json_lists_the_probabilities_in_class_order(capsys):
    # The shipped classes run from "very negative" to "very positive": not their alphabetical order.
    labels = read_config(saved_model("sentiment"), "sentiment")["labels"]
    assert labels != sorted(labels)
    code, out, err = run_cli(capsys, "predict", "--json", "a gorgeous film", "a dull mess")
    assert code == 0, err
    for result in json.loads(out):
        assert list(result["probabilities"]) == labels
