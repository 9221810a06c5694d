"""Training: solos -> token windows -> `model.fit` -> a bundle (model + vocabulary + config) in one directory.

The validation set is a tenth of the solos (whole solos, so its perplexity is that of unseen music); with a
single solo it is the last tenth of its windows instead (`validation_split` sets the fraction; 0: none).
Windows are `seq_len` tokens long, overlap by half, and start from the start token as the course's
x⟨1⟩ = 0.
"""

import contextlib
import json
import os
import statistics as stats
import tempfile

import keras
import numpy as np

from apps.common import bundle, distribute, plots, seeding
from apps.common.cli import CLIError
from apps.jazz import data, grammar
from apps.jazz import model as jazz_model

PATIENCE = 3


def token_sequences(solos, encoding):
    """The token sequence of each solo."""
    return [grammar.encode(solo.notes, solo.timeline, encoding) for solo in solos]


def windows(id_sequences, seq_len):
    """Cuts id sequences into `(inputs, targets)` windows of `seq_len`: inputs are [start] + targets[:-1]."""
    targets = []
    for ids in id_sequences:
        for start in range(0, len(ids) - seq_len + 1, max(1, seq_len // 2)):
            targets.append(ids[start:start + seq_len])
    if not targets:
        return np.zeros((0, seq_len), "int32"), np.zeros((0, seq_len), "int32")
    targets = np.stack(targets).astype("int32")
    inputs = np.concatenate([np.zeros_like(targets[:, :1]), targets[:, :-1]], axis=1)
    return inputs, targets


def split_solos(solos, validation_fraction, seed):
    """Splits solos into `(training, validation)` at random (seeded); validation is empty for one solo."""
    if len(solos) < 2 or validation_fraction <= 0:
        return list(solos), []
    order = np.random.default_rng(seed).permutation(len(solos))
    count = max(1, int(round(validation_fraction * len(solos))))
    return [solos[i] for i in sorted(order[count:])], [solos[i] for i in sorted(order[:count])]


def train(paths, out, encoding="grammar", cell="lstm", units=64, seq_len=30, epochs=30, batch_size=64, seed=0,
          validation_split=0.1, learning_rate=5e-3, embedding_dim=32, dropout=0.1, cache_dir="auto",
          command=None, verbose=1, strategy=None, backup_dir=None, force=False):
    """Trains a jazz model on the solos in `paths` and saves it as a bundle in `out`.

    Args:
        paths: MIDI/MusicXML files, directories or globs.
        out: the bundle directory (replaced atomically; only an earlier jazz bundle unless `force`).
        encoding: `grammar` or `pitch` (`apps.jazz.grammar`).
        cell, units, embedding_dim, dropout: the model (`apps.jazz.model.build_model`).
        seq_len: Tx, the window length in tokens.
        epochs, batch_size, learning_rate: the optimisation; training stops early after `PATIENCE` epochs
            without a better validation loss and keeps the best weights.
        seed: seeds the split, the weights and the shuffling.
        validation_split: fraction of the solos held out.
        cache_dir: where parsed solos are cached (`apps.jazz.data.load_solos`).
        command: the command line, recorded in the config.
        verbose: Keras's verbosity (1: progress bar).
        strategy: a `tf.distribute` strategy (`distribute.strategy_from_args`, created before any TensorFlow
            op): the model is built in its scope and fed through a sharded `tf.data` pipeline, `batch_size`
            being the global batch. `None`: one device. Mixed precision follows Keras's global dtype policy
            (`distribute.set_mixed_precision`); the bundle is saved in float32 either way, by the chief only.
        backup_dir: back up the training state there every epoch (`BackupAndRestore`), or `None`.

    Returns:
        The bundle's config dict.

    Raises:
        CLIError: no usable solo, or solos too short for `seq_len`.
    """
    solos = data.load_solos(paths, cache_dir=cache_dir, progress=verbose > 0)
    training, validation = split_solos(solos, validation_split, seed)
    train_tokens = token_sequences(training, encoding)
    vocabulary = grammar.Vocabulary.build(train_tokens)
    x, y = windows([vocabulary.encode(tokens) for tokens in train_tokens], seq_len)
    if validation:
        x_val, y_val = windows([vocabulary.encode(t) for t in token_sequences(validation, encoding)], seq_len)
    else:
        count = int(len(x) * validation_split)
        x, x_val, y, y_val = x[:len(x) - count], x[len(x) - count:], y[:len(y) - count], y[len(y) - count:]
    if not len(x):
        longest = max(len(tokens) for tokens in train_tokens)
        raise CLIError(f"the solos are too short for --seq-len {seq_len} (longest: {longest} tokens)")
    has_validation = len(x_val) > 0

    # Here, not earlier: parsing a file with music21 draws from Python's global random generator, so a run
    # that parses its solos would otherwise start from other weights than one that finds them cached.
    seeding.set_seed(seed)
    with strategy.scope() if strategy else contextlib.nullcontext():
        model = jazz_model.build_model(len(vocabulary), cell=cell, units=units, embedding_dim=embedding_dim,
                                       dropout=dropout, seed=seed)
        jazz_model.compile_model(model, learning_rate=learning_rate)
    monitor = "val_loss" if has_validation else "loss"
    callbacks = [keras.callbacks.EarlyStopping(monitor, patience=PATIENCE, restore_best_weights=True)]
    history = model.fit(
        **distribute.fit_inputs(x, y, batch_size, (x_val, y_val) if has_validation else None, strategy=strategy,
                                seed=seed),
        epochs=epochs, verbose=verbose, callbacks=callbacks + distribute.backup_callbacks(backup_dir),
    ).history
    model = distribute.to_float32(model)  # the model itself unless trained under mixed precision
    best = int(np.argmin(history[monitor]))
    steps = [grammar.duration_steps(token) for tokens in train_tokens for token in tokens]
    config = {
        "app": "jazz",
        "encoding": encoding,
        "cell": cell,
        "units": units,
        "embedding_dim": embedding_dim,
        "seq_len": seq_len,
        "vocabulary": vocabulary.tokens[1:],
        "tempo": stats.median(solo.tempo for solo in solos),
        "bar_quarters": stats.median(solo.bar_quarters for solo in solos),
        "mean_token_quarters": float(np.mean(steps)) / grammar.GRID,
        "training": {
            "paths": [os.path.abspath(path) for path in paths],
            "corpus_sha256": data.corpus_checksum(paths),
            "solos": len(training),
            "validation_solos": len(validation),
            "validation_files": [solo.name for solo in validation],
            "windows": int(len(x)),
            "validation_windows": int(len(x_val)),
            "seed": seed,
            "command": command,
        },
        "metrics": {
            "epochs": len(history["loss"]),
            "best_epoch": best + 1,
            "loss": float(history["loss"][best]),
            "perplexity": float(np.exp(history["loss"][best])),
        },
    }
    if has_validation:
        config["metrics"]["val_loss"] = float(history["val_loss"][best])
        config["metrics"]["val_perplexity"] = float(np.exp(history["val_loss"][best]))
    with tempfile.TemporaryDirectory() as tmp:
        history_path = os.path.join(tmp, "history.json")
        with open(history_path, "w", encoding="utf-8") as handle:
            json.dump({key: [float(v) for v in values] for key, values in history.items()}, handle, indent=1)
        extras = [history_path]
        if distribute.is_chief():
            curve = plots.plot_history(history, os.path.join(tmp, "training.png"),
                                       title=f"jazz ({cell}, {encoding})")
            if curve:
                extras.append(curve)
        with distribute.chief_path(out) as path:
            bundle.save_bundle(path, model, config, extra_files=extras, force=force)
    return config
