"""Training shared by the apps: the language models' compile recipe, the strategy scope, the one way of keeping
the best weights, and the end of training (history, curve, bundle)."""

import contextlib
import json
import os
import tempfile

import keras

from apps.common import distribute
from apps.common.bundle import save_bundle
from apps.common.plots import plot_history
from apps.common.progress import keras_progress


def strategy_scope(strategy):
    """The scope of a `tf.distribute` strategy to build and compile the model in, or no scope for `None`."""
    return strategy.scope() if strategy else contextlib.nullcontext()


def early_stopping(monitor, patience, mode="min"):
    """Stops after `patience` epochs without a better `monitor`, and puts the best epoch's weights back.

    The apps' one way of keeping the best weights. Held in memory, unlike a `ModelCheckpoint` file, it needs no
    scratch file on every worker of a multi-worker run; list `training.ValidateAverageWeights` after it and the
    weights it keeps are the moving average's.
    """
    return keras.callbacks.EarlyStopping(monitor=monitor, mode=mode, patience=patience, restore_best_weights=True)


def fit_progress(verbose):
    """The callbacks that report `model.fit` (called with `verbose=0`): none for `verbose` 0, else a line an
    epoch with its metrics on stderr, and the epoch's batches drawn there when it is a terminal.

    Keras's own report (`verbose` 1 or 2) goes to stdout, which holds a command's results.
    """
    return [keras_progress()] if verbose else []


def save_trained(out, model, config, history, *, title, force=False, write_extras=None):
    """Saves the bundle of a finished run: `model`, its LiteRT conversion, `config`, `history.json` and the
    training curve `training.png`.

    Every worker of a multi-worker run calls it; only the chief's bundle lands at `out` (`distribute.chief_path`)
    and only the chief draws the curve.

    Args:
        out: the bundle directory (`apps.common.bundle.save_bundle`, which replaces it atomically).
        model, config: what the bundle holds.
        history: `model.fit(...).history`.
        title: the curve's title.
        force: replace whatever is at `out`, not only an earlier bundle of the same app.
        write_extras: called with a scratch directory, writes the app's own files into it and returns their
            paths, which the bundle holds too (each name in `apps.common.files.OWNED`); or `None`.
    """
    with tempfile.TemporaryDirectory() as scratch:
        history_path = os.path.join(scratch, "history.json")
        with open(history_path, "w", encoding="utf-8") as handle:
            json.dump({name: [float(v) for v in values] for name, values in history.items()}, handle, indent=1)
        extras = [history_path] + (list(write_extras(scratch)) if write_extras else [])
        if distribute.is_chief():
            plot = plot_history(history, os.path.join(scratch, "training.png"), title=title)
            if plot:
                extras.append(plot)
        with distribute.chief_path(out) as path:
            save_bundle(path, model, config, extra_files=extras, force=force, litert=True)


def compile_language_model(
    model, learning_rate, clipnorm, jit_compile="auto", steps_per_execution=1, ema_momentum=None
):
    """Adam with gradient clipping by global norm (`global_clipnorm`) and sparse cross-entropy in nats/token.

    Padding is masked by the model's Embedding, so padded steps add nothing to the loss. `ema_momentum`: the
    optimizer also keeps an exponential moving average of the weights (Keras's `use_ema`) with that momentum;
    `ValidateAverageWeights` makes validation and the best checkpoint use it. `None`: no average.
    """
    averaging = {} if ema_momentum is None else {"use_ema": True, "ema_momentum": ema_momentum}
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate, global_clipnorm=clipnorm, **averaging),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        jit_compile=jit_compile,
        steps_per_execution=steps_per_execution,
    )
    return model


class ValidateAverageWeights(keras.callbacks.Callback):
    """During validation and the epoch-end callbacks listed before this one, the model holds the optimizer's
    moving average of its weights (`use_ema`); training then goes on from the weights it had.

    Keras puts the average into the model only when `fit` ends (or every `ema_overwrite_frequency` steps, which
    would also restart training from it), so validation, early stopping and the best checkpoint would otherwise
    judge weights that are never the ones kept. List it after the checkpoint.
    """

    def on_train_begin(self, logs=None):
        self._trained = None

    def on_test_begin(self, logs=None):
        variables = self.model.trainable_variables
        self._trained = [variable.numpy() for variable in variables]
        self.model.optimizer.finalize_variable_values(variables)

    def on_epoch_end(self, epoch, logs=None):
        if self._trained is not None:
            for variable, value in zip(self.model.trainable_variables, self._trained):
                variable.assign(value)
            self._trained = None
