"""`jazz train --distribute` and `--mixed-precision` (apps.common.distribute) train and save usable bundles.

On a CPU-only machine MirroredStrategy runs over the one CPU device: this checks the wiring (scope, tf.data
input, chief-only saving, float32 bundle), not the arithmetic across replicas, which
tests/apps/common/test_distribute.py covers.
"""

import os

import keras
import numpy as np
import pytest

from apps.common.bundle import load_bundle
from apps.jazz.cli import main
from apps.jazz.conditioning import SIZE

from clis import BUNDLE_FILES

TRAIN_ARGS = ["--seq-len", "8", "--epochs", "2", "--units", "8", "--seed", "0"]


@pytest.fixture
def float32_policy_after():
    """`--mixed-precision` sets Keras's global dtype policy; the other tests expect float32."""
    yield
    keras.config.set_dtype_policy("float32")


def train_and_load(solos_dir, out, *extra):
    assert main(["train", "--midi", str(solos_dir), *TRAIN_ARGS, "--out", str(out), *extra]) == 0
    assert sorted(os.listdir(out)) == sorted([*BUNDLE_FILES, "training_tokens.npz"])
    model, config = load_bundle(str(out))
    assert config["metrics"]["epochs"] == 2 and np.isfinite(config["metrics"]["val_perplexity"])
    return model


def generates(model_dir, tmp_path):
    out = tmp_path / f"{os.path.basename(model_dir)}.mid"
    assert main(["generate", "--model", str(model_dir), "--measures", "2", "--out", str(out)]) == 0
    return out.stat().st_size > 0


def test_one_device_training_is_reproducible_for_a_seed(solos_dir, tmp_path):
    first = train_and_load(solos_dir, tmp_path / "first", "--distribute", "none")
    second = train_and_load(solos_dir, tmp_path / "second")
    for a, b in zip(first.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_mirrored_trains_and_saves_a_bundle_that_generates(solos_dir, tmp_path, float32_policy_after):
    model = train_and_load(solos_dir, tmp_path / "mirrored", "--distribute", "mirrored")
    assert all(weight.dtype == "float32" for weight in model.weights)
    assert generates(tmp_path / "mirrored", tmp_path)


def test_mixed_precision_saves_a_float32_model(solos_dir, tmp_path, float32_policy_after):
    out = tmp_path / "mixed"
    loaded_in_process = train_and_load(
        solos_dir, out, "--distribute", "mirrored", "--mixed-precision", "--backup-dir", str(tmp_path / "backup")
    )
    assert keras.config.dtype_policy().name.startswith("mixed_")  # the flag took effect for training
    assert not os.path.exists(tmp_path / "backup")  # BackupAndRestore deletes its backup once training ends
    keras.config.set_dtype_policy("float32")  # as in a fresh process that loads the bundle
    for model in (loaded_in_process, load_bundle(str(out))[0]):
        computing = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
        assert {layer.dtype_policy.name for layer in computing} == {"float32"}
        tokens = np.array([[0, 1, 2]], dtype="int32")
        assert model({"tokens": tokens, "conditions": np.zeros((1, 3, SIZE), "float32")}).dtype == "float32"
    assert generates(out, tmp_path)
