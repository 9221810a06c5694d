"""`train --distribute mirrored` and `--mixed-precision` (apps.common.distribute) train and save usable bundles.

On a CPU-only machine MirroredStrategy runs over the one CPU device: this checks the wiring (scope, tf.data
input, chief-only saving), not the arithmetic across replicas, which tests/apps/common/test_distribute.py covers.
"""

import os

import keras
import numpy as np
import pytest

from apps.common.bundle import load_bundle
from apps.dinos import data
from apps.dinos.cli import main
from apps.dinos.evaluate import score_names

from clis import BUNDLE_FILES
from dinos_names import NAMES, TRAIN_ARGS


@pytest.fixture
def float32_policy_after():
    """`--mixed-precision` sets Keras's global dtype policy; the other tests expect float32."""
    yield
    keras.config.set_dtype_policy("float32")


def train_and_load(names_file, out, *extra):
    assert main(["train", "--data", names_file, *TRAIN_ARGS, "--out", str(out), *extra]) == 0
    assert sorted(os.listdir(out)) == BUNDLE_FILES
    model, config = load_bundle(str(out))
    assert config["training"]["epochs_run"] == 2
    vocab = data.Vocabulary.from_config(config["vocabulary"])
    assert np.all(np.isfinite(score_names(model, vocab, [NAMES[0].lower()])))
    return model, config


def test_mirrored_trains_and_saves_a_bundle(names_file, tmp_path, float32_policy_after):
    model, config = train_and_load(names_file, tmp_path / "dinos", "--distribute", "mirrored")
    assert np.isfinite(config["metrics"]["val_bits_per_char"])
    assert all(weight.dtype == "float32" for weight in model.weights)


def test_mixed_precision_saves_a_float32_model(names_file, tmp_path, float32_policy_after):
    out = tmp_path / "dinos"
    loaded_in_process, config = train_and_load(
        names_file, out, "--distribute", "mirrored", "--mixed-precision", "--backup-dir", str(tmp_path / "backup")
    )
    assert keras.config.dtype_policy().name.startswith("mixed_")  # the flag took effect for training
    assert np.isfinite(config["metrics"]["train_bits_per_char"])
    assert not os.path.exists(tmp_path / "backup")  # BackupAndRestore deletes its backup once training ends
    keras.config.set_dtype_policy("float32")  # as in a fresh process that loads the bundle
    for model in (loaded_in_process, load_bundle(str(out))[0]):
        computing = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
        assert {layer.dtype_policy.name for layer in computing} == {"float32"}  # the int32 input has no say
        assert model(np.array([[2, 3, 4]], dtype="int32")).dtype == "float32"
