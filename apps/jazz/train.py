"""Training: solos -> token windows -> `model.fit` -> a bundle (model + vocabulary + config) in one directory.

The validation set is a tenth of the solos (whole solos, so its perplexity is that of unseen music); with a
single solo it is the last tenth of its windows instead (`validation_split` sets the fraction; 0: none).
The bundle also carries the training solos' grammar tokens (`apps.jazz.evaluate.TRAINING_TOKENS_FILE`), for
`evaluate`'s copy check, and records the data by checksum and by `apps.common.paths.recorded` paths.
Windows are `seq_len` tokens long, overlap by half, and start from the start token as the course's
x⟨1⟩ = 0. A conditioned model's windows also carry, for each target token, the features of its onset in the
solo (`apps.jazz.conditioning`), cut at the same places.
"""

import os
import statistics as stats

import numpy as np

from apps.common import distribute, seeding
from apps.common.config import defaults_from, record
from apps.common.errors import UsageError
from apps.common.paths import recorded
from apps.common.training import compile_language_model, early_stopping, fit_progress, save_trained, strategy_scope
from apps.jazz import conditioning, data, evaluate, grammar
from apps.jazz import model as jazz_model
from apps.jazz.config import Hyperparameters

PATIENCE = 3


def token_sequences(solos, encoding, articulation=False):
    """The token sequence of each solo (`apps.jazz.grammar.encode`)."""
    return [grammar.encode(solo.notes, solo.timeline, encoding, articulation) for solo in solos]


def _cut(sequences, seq_len):
    """Windows of `seq_len` steps of each sequence, overlapping by half (a sequence shorter gives none)."""
    return [
        sequence[start : start + seq_len]
        for sequence in sequences
        for start in range(0, len(sequence) - seq_len + 1, max(1, seq_len // 2))
    ]


def windows(id_sequences, seq_len):
    """Cuts id sequences into `(inputs, targets)` windows of `seq_len`: inputs are [start] + targets[:-1]."""
    targets = np.array(_cut(id_sequences, seq_len), "int32").reshape(-1, seq_len)  # (0, seq_len) for none
    inputs = np.concatenate([np.zeros_like(targets[:, :1]), targets[:, :-1]], axis=1)
    return inputs, targets


def feature_windows(feature_sequences, seq_len):
    """Cuts per-token feature arrays `(tokens, F)` into `(windows, seq_len, F)` where `windows` cuts the ids."""
    cut = _cut(feature_sequences, seq_len)
    return np.stack(cut) if cut else np.zeros((0, seq_len, conditioning.SIZE), "float32")


def token_features(solos, token_lists):
    """The conditioning features of each token of each solo (`(tokens, F)` arrays)."""
    return [
        conditioning.features(solo.timeline, conditioning.onsets(tokens), solo.bar_quarters)
        for solo, tokens in zip(solos, token_lists)
    ]


def model_inputs(solos, token_lists, vocabulary, seq_len, conditioned):
    """`(x, y)` training windows: `x` the token ids, or for a conditioned model a dict with the features."""
    x, y = windows([vocabulary.encode(tokens) for tokens in token_lists], seq_len)
    if conditioned:
        x = {"tokens": x, "conditions": feature_windows(token_features(solos, token_lists), seq_len)}
    return x, y


def _rows(x, part):
    return {key: value[part] for key, value in x.items()} if isinstance(x, dict) else x[part]


def split_solos(solos, validation_fraction, seed):
    """Splits solos into `(training, validation)` at random (seeded); validation is empty for one solo."""
    if len(solos) < 2 or validation_fraction <= 0:
        return list(solos), []
    order = np.random.default_rng(seed).permutation(len(solos))
    count = max(1, int(round(validation_fraction * len(solos))))
    return [solos[i] for i in sorted(order[count:])], [solos[i] for i in sorted(order[:count])]


@defaults_from(Hyperparameters)
def train(
    paths,
    out,
    *,
    encoding,
    articulation,
    conditioning_mode,
    head,
    cell,
    units,
    dropout,
    embedding_dim,
    seq_len,
    epochs,
    batch_size,
    learning_rate,
    validation_split,
    seed,
    cache_dir="auto",
    command=None,
    verbose=1,
    strategy=None,
    backup_dir=None,
    force=False,
    jit_compile=False,
    steps_per_execution=10,
    use_fused_bptt=False,
):
    """Trains a jazz model on the solos in `paths` and saves it as a bundle in `out`.

    Training stops early after `PATIENCE` epochs without a better validation loss and keeps the best weights
    (`training.early_stopping`).

    Args:
        paths: MIDI/MusicXML files, directories or globs.
        out: the bundle directory (replaced atomically; only an earlier jazz bundle unless `force`).
        encoding ... seed: the hyper-parameters, defaults and meanings in `apps.jazz.config.Hyperparameters`
            (the model: `apps.jazz.model.build_model`; the tokens: `apps.jazz.grammar`).
        cache_dir: where parsed solos are cached (`apps.jazz.data.load_solos`).
        command: the command line, recorded in the config.
        verbose: 0 for silence; else each epoch's progress and metrics on stderr (`training.fit_progress`).
        strategy: a `tf.distribute` strategy (`distribute.strategy_from_args`, created before any TensorFlow
            op): the model is built in its scope and fed through a sharded `tf.data` pipeline, `batch_size`
            being the global batch. `None`: one device. Mixed precision follows Keras's global dtype policy
            (`distribute.set_mixed_precision`); the bundle is saved in float32 either way, by the chief only.
        backup_dir: back up the training state there every epoch (`BackupAndRestore`), or `None`.
        jit_compile, steps_per_execution: passed to `model.compile`. On a CPU, XLA made training 2-4x slower
            (`benchmarks/apps.py`), hence off; several steps per call cut `fit`'s overhead per step.
        use_fused_bptt: as in `apps.jazz.model.build_model`.

    Returns:
        The bundle's config dict.

    Raises:
        UsageError: no usable solo, or solos too short for `seq_len`.
    """
    solos = data.load_solos(paths, cache_dir=cache_dir, progress=verbose > 0)
    training, validation = split_solos(solos, validation_split, seed)
    train_tokens = token_sequences(training, encoding, articulation)
    vocabulary = grammar.Vocabulary.build(train_tokens)
    conditioned = conditioning_mode == "changes"
    x, y = model_inputs(training, train_tokens, vocabulary, seq_len, conditioned)
    if validation:
        x_val, y_val = model_inputs(
            validation, token_sequences(validation, encoding, articulation), vocabulary, seq_len, conditioned
        )
    else:
        count = int(len(y) * validation_split)
        kept, held = slice(0, len(y) - count), slice(len(y) - count, len(y))
        x, x_val, y, y_val = _rows(x, kept), _rows(x, held), y[kept], y[held]
    if not len(y):
        longest = max(len(tokens) for tokens in train_tokens)
        raise UsageError(f"the solos are too short for --seq-len {seq_len} (longest: {longest} tokens)")
    has_validation = len(y_val) > 0

    # Here, not earlier: parsing a file with music21 draws from Python's global random generator, so a run
    # that parses its solos would otherwise start from other weights than one that finds them cached.
    seeding.set_seed(seed)
    with strategy_scope(strategy):
        model = jazz_model.build_model(
            len(vocabulary),
            cell=cell,
            units=units,
            embedding_dim=embedding_dim,
            dropout=dropout,
            seed=seed,
            conditioning=conditioning_mode,
            use_fused_bptt=use_fused_bptt,
            head=head,
            token_strings=vocabulary.tokens[1:],
        )
        compile_language_model(
            model, learning_rate, clipnorm=1.0, jit_compile=jit_compile, steps_per_execution=steps_per_execution
        )
    monitor = "val_loss" if has_validation else "loss"
    history = model.fit(
        **distribute.fit_inputs(
            x, y, batch_size, (x_val, y_val) if has_validation else None, strategy=strategy, seed=seed
        ),
        epochs=epochs,
        verbose=0,
        callbacks=[early_stopping(monitor, PATIENCE)] + distribute.backup_callbacks(backup_dir) + fit_progress(verbose),
    ).history
    model = distribute.to_float32(model)  # the model itself unless trained under mixed precision
    best = int(np.argmin(history[monitor]))
    steps = [grammar.duration_steps(token) for tokens in train_tokens for token in tokens]
    config = {
        "app": "jazz",
        **record(Hyperparameters, locals(), "model"),
        "vocabulary": vocabulary.tokens[1:],
        "tempo": stats.median(solo.tempo for solo in solos),
        "bar_quarters": stats.median(solo.bar_quarters for solo in solos),
        "mean_token_quarters": float(np.mean(steps)) / grammar.GRID,
        "training": {
            **record(Hyperparameters, locals(), "training"),
            "paths": [recorded(path) for path in paths],
            "corpus_sha256": data.corpus_checksum(paths),
            "solos": len(training),
            "validation_solos": len(validation),
            "validation_files": [solo.name for solo in validation],
            "windows": int(len(y)),
            "validation_windows": int(len(y_val)),
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
        config["metrics"].update(
            val_loss=float(history["val_loss"][best]), val_perplexity=float(np.exp(history["val_loss"][best]))
        )
    # The copy check of `evaluate` measures spans in grammar tokens without articulation, whatever the model's
    # encoding: a phrase replayed with other articulation is still a copy.
    copy_tokens = (
        train_tokens if (encoding, articulation) == ("grammar", False) else token_sequences(training, "grammar")
    )

    def write_training_tokens(scratch):
        path = os.path.join(scratch, evaluate.TRAINING_TOKENS_FILE)
        evaluate.save_training_tokens(path, copy_tokens)
        return [path]

    save_trained(
        out, model, config, history, title=f"jazz ({cell}, {encoding})", force=force, write_extras=write_training_tokens
    )
    return config
