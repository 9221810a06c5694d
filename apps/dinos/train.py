"""Training: names -> a bundle (model, vocabulary, config, history, training-curve PNG)."""

import collections
import contextlib
import json
import os
import tempfile

import keras

from apps.common import distribute
from apps.common.bundle import save_bundle
from apps.common.plots import plot_history
from apps.common.seeding import set_seed
from apps.common.training import ValidateAverageWeights
from apps.dinos import data
from apps.dinos.evaluate import bits_per_char
from apps.dinos.model import build_model, compile_model

APP = "dinos"
MAX_LEN_MARGIN = 4


def train(names, out, *, cell="lstm", units=128, layers=1, dropout=0.1, embedding_dim=32, epochs=30,
          batch_size=32, val_split=0.1, seed=0, keep_case=False, learning_rate=5e-3, clipnorm=5.0,
          patience=5, tensorboard=None, jit_compile=False, steps_per_execution=1, data_path=None,
          data_sha256=None, verbose="auto", strategy=None, backup_dir=None, input_dropout=0.0,
          recurrent_dropout=0.0, embedding_dropout=0.0, ema_momentum=None, force=False):
    """Trains a character language model on `names` and saves it as a bundle in `out`.

    Repeated names are dropped first, so that no name sits in both splits. The vocabulary is every
    character of the list. Training stops early once the validation loss has not improved for `patience`
    epochs, and the bundle keeps the weights of the best validation epoch (from the checkpoint).

    Args:
        names: the names, already normalised (`data.read_names`).
        out: bundle directory; replaced atomically once everything is written.
        cell, units, layers, dropout, embedding_dim, input_dropout, recurrent_dropout, embedding_dropout: the model
            (`model.build_model`).
        epochs, batch_size, learning_rate, clipnorm: `model.fit` and Adam with `global_clipnorm`.
        ema_momentum: validate, checkpoint and keep an exponential moving average of the weights with this
            momentum instead of the weights themselves (`training.ValidateAverageWeights`), or `None`. Needs a
            validation split: the training loss is that of the weights, not of their average.
        val_split: fraction of the names held out for validation; 0 trains on all of them and monitors
            the training loss instead.
        seed: seeds the split, the initial weights and dropout.
        keep_case: recorded in the vocabulary, so that sampling and scoring normalise alike.
        patience: early-stopping patience in epochs.
        tensorboard: directory for TensorBoard logs, or `None`.
        jit_compile, steps_per_execution: passed to `model.compile`. XLA pays off on a GPU; on a CPU
            it made an epoch slower in our measurements, hence off by default.
        data_path, data_sha256: recorded in the config, for provenance.
        verbose: `model.fit`'s verbosity ("auto": a progress bar when interactive).
        strategy: a `tf.distribute` strategy (`distribute.strategy_from_args`, created before any TensorFlow
            op): the model is built in its scope and fed through a sharded `tf.data` pipeline, `batch_size`
            being the global batch. `None`: one device, the arrays fed to `fit` as they always were.
            Mixed precision follows Keras's global dtype policy (`distribute.set_mixed_precision`); the
            bundle is saved in float32 either way.
        backup_dir: back up the training state there every epoch (`BackupAndRestore`), or `None`. A resumed
            run's history, early stopping and best checkpoint cover only the epochs run after resuming.
        force: replace whatever is at `out`, not only an earlier dinos bundle (`apps.common.files`).

    Returns:
        The bundle's config dict (vocabulary, hyper-parameters, metrics).
    """
    set_seed(seed)
    distinct = data.unique(names)
    train_names, val_names = data.split_names(distinct, val_split, seed)
    vocab = data.Vocabulary.from_names(distinct, keep_case)
    x, y = data.make_arrays(train_names, vocab)
    validation = data.make_arrays(val_names, vocab) if val_names else None
    monitor = "val_loss" if validation else "loss"
    if ema_momentum is not None and not validation:
        raise ValueError("a moving average of the weights needs validation names (val_split > 0)")

    with strategy.scope() if strategy else contextlib.nullcontext():
        model = build_model(len(vocab), cell=cell, units=units, layers=layers, dropout=dropout,
                            embedding_dim=embedding_dim, seed=seed, input_dropout=input_dropout,
                            recurrent_dropout=recurrent_dropout, embedding_dropout=embedding_dropout)
        compile_model(model, learning_rate=learning_rate, clipnorm=clipnorm, jit_compile=jit_compile,
                      steps_per_execution=steps_per_execution, ema_momentum=ema_momentum)
    inputs = distribute.fit_inputs(x, y, batch_size, validation, strategy=strategy, seed=seed)

    with tempfile.TemporaryDirectory() as work:
        best = os.path.join(work, "best.weights.h5")
        callbacks = [
            keras.callbacks.EarlyStopping(monitor=monitor, patience=patience),
            keras.callbacks.ModelCheckpoint(best, monitor=monitor, save_best_only=True, save_weights_only=True),
        ]
        if ema_momentum is not None:
            callbacks.append(ValidateAverageWeights())
        if tensorboard and distribute.is_chief():
            callbacks.append(keras.callbacks.TensorBoard(tensorboard))
        callbacks += distribute.backup_callbacks(backup_dir)
        history = model.fit(**inputs, epochs=epochs, callbacks=callbacks, verbose=verbose).history
        model.load_weights(best)
        model = distribute.to_float32(model)  # the model itself unless trained under mixed precision

        best_epoch = min(range(len(history[monitor])), key=history[monitor].__getitem__) + 1
        lengths = collections.Counter(len(name) for name in train_names)
        config = {
            "app": APP,
            "vocabulary": vocab.get_config(),
            "model": {"cell": cell, "units": units, "layers": layers, "dropout": dropout,
                      "input_dropout": input_dropout, "recurrent_dropout": recurrent_dropout,
                      "embedding_dim": embedding_dim, "embedding_dropout": embedding_dropout,
                      "parameters": model.count_params()},
            "training": {
                "data": data_path, "data_sha256": data_sha256, "names": len(names),
                "distinct_names": len(distinct), "train_names": len(train_names), "val_names": len(val_names),
                "val_split": val_split, "seed": seed, "epochs": epochs, "epochs_run": len(history[monitor]),
                "best_epoch": best_epoch, "batch_size": batch_size, "learning_rate": learning_rate,
                "clipnorm": clipnorm, "patience": patience, "ema_momentum": ema_momentum,
            },
            "metrics": {
                "train_bits_per_char": bits_per_char(model, vocab, train_names),
                "val_bits_per_char": bits_per_char(model, vocab, val_names) if val_names else None,
            },
            # Sampling gives up on a name a little past the longest training name unless --max-len says
            # otherwise: longer ones are all but unheard of, and every step costs the whole batch.
            "max_len": max(len(name) for name in distinct) + MAX_LEN_MARGIN,
            "training_lengths": {str(k): v for k, v in sorted(lengths.items())},
            # One-way digests, so that --novel works without the bundle carrying the data set.
            "seen_digests": sorted({data.name_digest(name) for name in distinct}),
        }
        history_path = os.path.join(work, "history.json")
        with open(history_path, "w", encoding="utf-8") as handle:
            json.dump({key: [float(v) for v in values] for key, values in history.items()}, handle, indent=2)
        extras = [history_path]
        if distribute.is_chief():
            plot = plot_history(history, os.path.join(work, "training.png"),
                                title=f"dinos: {cell} {units}x{layers}")
            if plot:
                extras.append(plot)
        with distribute.chief_path(out) as path:
            save_bundle(path, model, config, extra_files=extras, force=force)
    return config
