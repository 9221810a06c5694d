"""Training: names -> a bundle (model, vocabulary, config, history, training-curve PNG)."""

import collections

import keras

from apps.common import distribute
from apps.common.config import defaults_from, record
from apps.common.seeding import set_seed
from apps.common.training import (
    ValidateAverageWeights,
    compile_language_model,
    early_stopping,
    fit_progress,
    save_trained,
    strategy_scope,
)
from apps.dinos import data
from apps.dinos.config import Hyperparameters
from apps.dinos.evaluate import bits_per_char
from apps.dinos.model import build_model, recurrent_layers

APP = "dinos"
MAX_LEN_MARGIN = 4


@defaults_from(Hyperparameters)
def train(
    names,
    out,
    *,
    cell,
    units,
    layers,
    dropout,
    embedding_dim,
    input_dropout,
    recurrent_dropout,
    embedding_dropout,
    epochs,
    patience,
    batch_size,
    learning_rate,
    clipnorm,
    ema_momentum,
    val_split,
    seed,
    keep_case=False,
    tensorboard=None,
    jit_compile=False,
    steps_per_execution=10,
    use_fused_bptt=True,
    data_path=None,
    data_sha256=None,
    verbose=1,
    strategy=None,
    backup_dir=None,
    force=False,
):
    """Trains a character language model on `names` and saves it as a bundle in `out`.

    Repeated names are dropped first, so that no name sits in both splits. The vocabulary is every
    character of the list. Training stops early once the validation loss has not improved for `patience`
    epochs, and the bundle keeps the weights of the best validation epoch (`training.early_stopping`).

    Args:
        names: the names, already normalised (`data.read_names`).
        out: bundle directory; replaced atomically once everything is written.
        cell ... seed: the hyper-parameters, defaults and meanings in `apps.dinos.config.Hyperparameters`.
            `ema_momentum` keeps the moving average of the weights (`training.ValidateAverageWeights`) and
            needs a validation split (the training loss is that of the weights, not of their average);
            `val_split` 0 trains on all the names and monitors the training loss instead.
        keep_case: recorded in the vocabulary, so that sampling and scoring normalise alike.
        tensorboard: directory for TensorBoard logs, or `None`.
        jit_compile, steps_per_execution: passed to `model.compile`. XLA pays off on a GPU; on a CPU it
            made training slower in our measurements, hence off by default, while several steps per call cut
            `fit`'s overhead per step (`benchmarks/apps.py`).
        use_fused_bptt: train the recurrent layers with the hand-written backpropagation through time, faster
            than Keras's loop on masked names with recurrent dropout (`apps.dinos.model.build_model`); the
            saved model runs Keras's loop, for names of any length.
        data_path, data_sha256: recorded in the config, for provenance.
        verbose: 0 for silence; else each epoch's progress and metrics on stderr (`training.fit_progress`).
        strategy: a `tf.distribute` strategy (`distribute.strategy_from_args`, created before any TensorFlow
            op): the model is built in its scope and fed through a sharded `tf.data` pipeline, `batch_size`
            being the global batch. `None`: one device, the arrays fed to `fit` as they always were.
            Mixed precision follows Keras's global dtype policy (`distribute.set_mixed_precision`); the
            bundle is saved in float32 either way.
        backup_dir: back up the training state there every epoch (`BackupAndRestore`), or `None`. A resumed
            run's history, early stopping and best weights cover only the epochs run after resuming.
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

    with strategy_scope(strategy):
        model = build_model(
            len(vocab),
            cell=cell,
            units=units,
            layers=layers,
            dropout=dropout,
            embedding_dim=embedding_dim,
            seed=seed,
            input_dropout=input_dropout,
            recurrent_dropout=recurrent_dropout,
            embedding_dropout=embedding_dropout,
            use_fused_bptt=use_fused_bptt,
        )
        compile_language_model(model, learning_rate, clipnorm, jit_compile, steps_per_execution, ema_momentum)
    inputs = distribute.fit_inputs(x, y, batch_size, validation, strategy=strategy, seed=seed)

    # The average, when kept, is what early stopping judges and keeps: ValidateAverageWeights comes after it.
    callbacks = [early_stopping(monitor, patience)]
    if ema_momentum is not None:
        callbacks.append(ValidateAverageWeights())
    if tensorboard and distribute.is_chief():
        callbacks.append(keras.callbacks.TensorBoard(tensorboard))
    callbacks += distribute.backup_callbacks(backup_dir) + fit_progress(verbose)
    history = model.fit(**inputs, epochs=epochs, callbacks=callbacks, verbose=0).history
    model = distribute.to_float32(model)  # the model itself unless trained under mixed precision
    # The fused path pays in training only: its forward pass keeps what the backward pass needs, which scoring
    # and sampling never use.
    for layer in recurrent_layers(model):
        if hasattr(layer, "use_fused_bptt"):
            layer.use_fused_bptt = False

    best_epoch = min(range(len(history[monitor])), key=history[monitor].__getitem__) + 1
    lengths = collections.Counter(len(name) for name in train_names)
    config = {
        "app": APP,
        "vocabulary": vocab.get_config(),
        "model": {**record(Hyperparameters, locals(), "model"), "parameters": model.count_params()},
        "training": {
            **record(Hyperparameters, locals(), "training"),
            "data": data_path,
            "data_sha256": data_sha256,
            "names": len(names),
            "distinct_names": len(distinct),
            "train_names": len(train_names),
            "val_names": len(val_names),
            "epochs_run": len(history[monitor]),
            "best_epoch": best_epoch,
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
    save_trained(out, model, config, history, title=f"dinos: {cell} {units}x{layers}", force=force)
    return config
