"""`train --distribute` and `--mixed-precision` (apps.common.distribute wired into the sentiment app)."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from apps.common.bundle import load_bundle
from apps.sentiment.cli import main

TINY = [
    "--units",
    "4",
    "--embedding-dim",
    "4",
    "--max-tokens",
    "50",
    "--dropout",
    "0.1",
    "--word-dropout",
    "0",
    "--epochs",
    "2",
    "--batch-size",
    "16",
    "--learning-rate",
    "0.01",
    "--quiet",
]


@pytest.fixture
def float32_policy():
    """`--mixed-precision` sets Keras's global dtype policy; later tests must find float32 again."""
    yield
    keras.config.set_dtype_policy("float32")


def _train(corpus_files, out, *options):
    train_path, dev_path = corpus_files
    assert (
        main(["train", "--task", "file", "--data", train_path, "--dev", dev_path, "--out", str(out), *TINY, *options])
        == 0
    )


def test_mirrored_training_saves_a_loadable_bundle(corpus_files, tmp_path, float32_policy):
    out = tmp_path / "mirrored"
    _train(corpus_files, out, "--distribute", "mirrored")
    model, config = load_bundle(out)
    assert config["epochs_run"] == 2 and os.path.isfile(out / "history.json")
    probabilities = model(tf.constant(["a wonderful film", "dull"])).numpy()
    assert probabilities.shape == (2, 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_mixed_precision_bundle_computes_in_float32(corpus_files, tmp_path, float32_policy):
    out = tmp_path / "mixed"
    _train(corpus_files, out, "--mixed-precision", "--backup-dir", str(tmp_path / "backup"))
    assert keras.config.dtype_policy().name.startswith("mixed_")  # training really was mixed
    keras.config.set_dtype_policy("float32")  # as in a fresh process that loads the bundle
    model, config = load_bundle(out)
    assert config["epochs_run"] == 2
    assert not os.path.exists(tmp_path / "backup")  # BackupAndRestore deletes its backup once training ends
    # No layer, wrapped ones included, computes in a mixed policy: the model's config names none.
    assert "mixed_" not in json.dumps(model.get_config())
    # The float32 copy kept the adapted vocabulary (it is not among the weights).
    vocabulary = model.get_layer("vectorizer").get_vocabulary()
    assert config["vocabulary_size"] == len(vocabulary) > 10 and "wonderful" in vocabulary
    probabilities = model(tf.constant(["a wonderful film"]))
    assert probabilities.dtype == tf.float32
    history = json.loads((out / "history.json").read_text())
    assert len(history["loss"]) == 2 and all(np.isfinite(history["loss"]))
