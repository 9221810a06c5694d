"""`train --ema MOMENTUM`: validation, early stopping and the best checkpoint see the optimizer's moving average
of the weights, the bundle holds that average, and training itself goes on from the trained weights."""

import json
import math
import os

import keras
import numpy as np

from apps.common.bundle import load_bundle
from apps.common.training import ValidateAverageWeights, compile_language_model
from apps.dinos.cli import main
from apps.dinos.model import build_model

from dinos_names import TRAIN_ARGS


class _Snapshot(keras.callbacks.Callback):
    """Records the model's weights and the optimizer's average at every epoch end (read through
    `finalize_variable_values`, which writes the average into the weights; the weights are then put back)."""

    def __init__(self):
        super().__init__()
        self.weights, self.averages = [], []

    def on_epoch_end(self, epoch, logs=None):
        variables = self.model.trainable_variables
        weights = [variable.numpy() for variable in variables]
        self.model.optimizer.finalize_variable_values(variables)
        self.weights.append(weights)
        self.averages.append([variable.numpy() for variable in variables])
        for variable, weight in zip(variables, weights):
            variable.assign(weight)


def _same(first, second):
    return all(np.array_equal(a, b) for a, b in zip(first, second))


def test_validation_and_the_epoch_end_see_the_average_and_training_the_trained_weights():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x, y = rng.integers(1, 7, (24, 5)), rng.integers(0, 6, (24, 5))
    model = compile_language_model(
        build_model(7, units=4, embedding_dim=3, dropout=0.0), learning_rate=0.05, clipnorm=5.0, ema_momentum=0.5
    )
    before, after = _Snapshot(), _Snapshot()
    history = model.fit(
        x,
        y,
        validation_data=(x[:8], y[:8]),
        batch_size=4,
        epochs=2,
        verbose=0,
        callbacks=[before, ValidateAverageWeights(), after],
    ).history

    for epoch in range(2):
        assert _same(before.weights[epoch], before.averages[epoch])
        assert not _same(after.weights[epoch], after.averages[epoch])
        model.set_weights(before.weights[epoch])
        assert math.isclose(
            model.evaluate(x[:8], y[:8], batch_size=4, verbose=0), history["val_loss"][epoch], rel_tol=1e-5
        )


def test_the_bundle_holds_the_average_it_was_validated_on(tmp_path, names_file, bundle):
    out = str(tmp_path / "model")
    assert main(["train", "--data", names_file, *TRAIN_ARGS, "--ema", "0.9", "--out", out]) == 0

    config = json.load(open(os.path.join(out, "config.json")))
    history = json.load(open(os.path.join(out, "history.json")))
    assert config["training"]["ema_momentum"] == 0.9
    assert math.isclose(config["metrics"]["val_bits_per_char"], min(history["val_loss"]) / math.log(2), rel_tol=1e-4)
    plain = json.load(open(os.path.join(bundle, "config.json")))
    assert plain["training"]["ema_momentum"] is None
    averaged, trained = load_bundle(out)[0], load_bundle(bundle)[0]
    assert not _same(averaged.get_weights(), trained.get_weights())


def test_bad_momentum_and_no_validation_are_usage_errors(tmp_path, names_file, capsys):
    out = tmp_path / "model"
    for extra in (["--ema", "1"], ["--ema", "0.9", "--val-split", "0"]):
        assert main(["train", "--data", names_file, *TRAIN_ARGS, *extra, "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert "--ema" in err and "\n" not in err and "Traceback" not in err
    assert not out.exists()
