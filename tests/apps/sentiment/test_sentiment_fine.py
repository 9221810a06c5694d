"""Training SST-2 on the five SST-5 labels (`--train-labels fine`)."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from apps.common.bundle import load_bundle
from apps.sentiment.data import Examples, read_examples
from apps.sentiment.model import GroupClasses
from apps.sentiment.predict import evaluate
from apps.sentiment.train import train

from sentiment_corpus import run_cli

TEXTS = ["a superb film", "the plot was dreadful", "an ordinary story", "", "It's NICE (really)!", "boring"]


def read_config(bundle):
    with open(os.path.join(bundle, "config.json"), encoding="utf-8") as handle:
        return json.load(handle)


def test_group_classes_sums_and_renormalises():
    fine = np.array([[0.1, 0.2, 0.4, 0.2, 0.1], [0.0, 0.0, 0.5, 0.0, 0.5]], "float32")
    np.testing.assert_allclose(GroupClasses([[0, 1], [3, 4]])(fine), [[0.5, 0.5], [0.0, 1.0]], rtol=1e-6)
    np.testing.assert_allclose(GroupClasses([[4], [0, 2]])(fine), [[0.1 / 0.6, 0.5 / 0.6], [0.5, 0.5]], rtol=1e-6)


@pytest.mark.parametrize("groups", [[[0, 1]], [[0, 1], []], [[0, 1], [1, 2]], [[-1], [2]]])
def test_group_classes_rejects_bad_groups(groups):
    with pytest.raises(ValueError, match="Invalid `groups`"):
        GroupClasses(groups)


def test_fine_trained_bundle_answers_with_the_grouped_fine_classes(fine_trained_bundle):
    config = read_config(fine_trained_bundle)
    assert config["labels"] == ["negative", "positive"] and config["num_classes"] == 2
    assert config["fine_labels"] == ["very negative", "negative", "neutral", "positive", "very positive"]
    assert config["class_groups"] == [[0, 1], [3, 4]]
    assert config["train_data"]["source"] == "stsa.fine.train" and config["train_data"]["examples"] == 300
    assert config["dev_data"] == {**config["dev_data"], "source": "stsa.binary.dev", "examples": 60}
    model, _ = load_bundle(fine_trained_bundle)
    probs = model(tf.constant(TEXTS)).numpy()
    fine = keras.Model(model.inputs, model.get_layer("classes").output)(tf.constant(TEXTS)).numpy()
    assert fine.shape == (len(TEXTS), 5)
    grouped = np.stack([fine[:, 0] + fine[:, 1], fine[:, 3] + fine[:, 4]], axis=1)
    np.testing.assert_allclose(probs, grouped / grouped.sum(axis=1, keepdims=True), rtol=1e-5)
    assert list(probs[[0, 1, 4, 5]].argmax(axis=1)) == [1, 0, 1, 0]


def test_fine_trained_dev_accuracy_is_that_of_the_saved_model(fine_trained_bundle, fine_sst_dir):
    config = read_config(fine_trained_bundle)
    with open(os.path.join(fine_trained_bundle, "history.json"), encoding="utf-8") as handle:
        history = json.load(handle)
    assert len(history["val_accuracy"]) == len(history["val_loss"]) == config["epochs_run"] == 5
    model, _ = load_bundle(fine_trained_bundle)
    dev = read_examples(str(fine_sst_dir / "stsa.binary.dev"), num_classes=2)
    assert config["dev_accuracy"] >= 0.9
    assert evaluate(model, config, dev)["accuracy"] == pytest.approx(config["dev_accuracy"])


@pytest.mark.parametrize("task", ["sst5", "file"])
def test_fine_labels_only_for_sst2(task, fine_sst_dir, tmp_path, capsys):
    code, _, err = run_cli(
        capsys, "train", "--task", task, "--train-labels", "fine", "--data", fine_sst_dir, "--out", tmp_path / "bundle"
    )
    assert code == 2 and err.count("\n") == 1
    assert f"--train-labels fine is for --task sst2, not --task {task}" in err
    assert not (tmp_path / "bundle").exists()


def test_fine_labels_need_their_groups(tmp_path):
    examples = Examples(["good", "bad"], [1, 0], "two")
    with pytest.raises(ValueError, match="go together"):
        train(examples, examples, ["neg", "pos"], str(tmp_path / "bundle"), fine_labels=["a", "b", "c"])
    assert not (tmp_path / "bundle").exists()
