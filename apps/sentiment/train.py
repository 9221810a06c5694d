"""Training: adapt the vocabulary, fit with early stopping on dev accuracy, save a bundle.

The bundle (`apps.common.bundle`) holds the inference model (strings -> probabilities, no optimizer state, so
it stays small), `config.json` (labels, hyper-parameters, data checksums, dev accuracy), `history.json` and the
training-curve plot `training.png`.
"""

import math
import os

import keras
import numpy as np
import tensorflow as tf

from apps.common import distribute, files
from apps.common.config import defaults_from, record
from apps.common.errors import UsageError
from apps.common.seeding import set_seed
from apps.common.training import early_stopping, fit_progress, save_trained
from apps.sentiment.config import DEFAULT_EMBEDDING_DIM, Hyperparameters
from apps.sentiment.data import Examples
from apps.sentiment.embeddings import embedding_matrix, extra_words
from apps.sentiment.model import build_model, extend_vocabulary, group_classes, is_one_token, make_vectorizer

# Batches of similar length waste less time on padded steps; texts are grouped by whitespace token count.
BUCKET_BOUNDARIES = [8, 14, 20, 28, 40]


def hold_out(examples, fraction, seed):
    """Splits `examples` into `(train, dev)` at random, `fraction` of them (at least one) going to dev."""
    if len(examples) < 2:
        raise UsageError(
            f"{examples.source} has {len(examples)} example; at least 2 are needed to hold out a "
            "dev set (or pass --dev)"
        )
    order = np.random.default_rng(seed).permutation(len(examples))
    count = min(max(1, round(fraction * len(examples))), len(examples) - 1)
    dev, train = order[:count], order[count:]

    def pick(rows, part):
        return Examples(
            [examples.texts[i] for i in rows], [examples.labels[i] for i in rows], f"{examples.source} ({part})"
        )

    return pick(train, "train part"), pick(dev, "held-out dev part")


def make_dataset(examples, batch_size, shuffle_seed=None, to_ids=None):
    """A `tf.data` pipeline of (strings, labels) batches.

    For training (`shuffle_seed` given) the examples are reshuffled every pass, grouped into batches of
    similar length, and repeated without end: an epoch is then `ceil(len(examples) / batch_size)` steps.
    `batch_size` is the global batch (split across the replicas of a `tf.distribute` strategy); across
    workers the batches are sharded by element (`AutoShardPolicy.DATA`). `to_ids` (`IdsInPipeline`): each
    batch of strings becomes the model's token ids in the pipeline, (ids, labels) batches.
    """
    dataset = tf.data.Dataset.from_tensor_slices((tf.constant(examples.texts), np.asarray(examples.labels)))
    if shuffle_seed is None:
        dataset = dataset.batch(batch_size)
    else:
        dataset = dataset.shuffle(len(examples), seed=shuffle_seed, reshuffle_each_iteration=True).repeat()
        dataset = dataset.bucket_by_sequence_length(
            lambda text, label: tf.size(tf.strings.split(text)),
            BUCKET_BOUNDARIES,
            [batch_size] * (len(BUCKET_BOUNDARIES) + 1),
        )
    if to_ids is not None:
        dataset = dataset.map(lambda texts, labels: (to_ids(texts), labels), num_parallel_calls=tf.data.AUTOTUNE)
    return distribute.sharded(dataset)


class IdsInPipeline:
    """The part of a `build_model` model that XLA cannot compile, strings to token ids, run in `tf.data`.

    XLA has no kernels for string ops (`TextVectorization`, the regex of `standardize_ptb`) and compiles one
    program per input shape. So under `jit_compile` the strings become ids in the pipeline, each batch padded
    to the next of a few fixed lengths (`lengths`: the bucket boundaries below `max_length`, then
    `max_length`), and `model` (the same layers from the ids on) is what trains; the saved model keeps taking
    strings. Padding is id 0, which the Embedding masks, so the numbers are those of the strings model.

    Args:
        strings_model: a model of `build_model`.

    Attributes:
        model: the model from the token window's output (ids) on, sharing `strings_model`'s layers.
        lengths: the lengths the batches are padded to.
    """

    def __init__(self, strings_model):
        self.vectorizer = strings_model.get_layer("vectorizer")
        self.window = strings_model.get_layer("window")
        self.model = keras.Model(self.window.output, strings_model.output, name=strings_model.name)
        max_length = self.window.max_length
        self.lengths = [length for length in BUCKET_BOUNDARIES if length < max_length] + [max_length]

    def __call__(self, texts):
        ids = self.window(self.vectorizer(texts))
        lengths = tf.constant(self.lengths, dtype="int32")
        length = tf.shape(ids)[1]
        target = tf.gather(lengths, tf.searchsorted(lengths, tf.reshape(length, (1,)))[0])
        return tf.pad(ids, [[0, 0], [0, target - length]])


@defaults_from(Hyperparameters)
def train(
    train_examples,
    dev_examples,
    label_names,
    out,
    *,
    cell,
    units,
    num_layers,
    bidirectional,
    pooling,
    embedding_dim,
    freeze_embeddings,
    extra_vocabulary,
    max_tokens,
    max_length,
    dropout,
    word_dropout,
    learning_rate,
    epochs,
    batch_size,
    patience,
    seed,
    task="file",
    fine_labels=None,
    class_groups=None,
    vectors=None,
    verbose=1,
    strategy=None,
    backup_dir=None,
    force=False,
    jit_compile=False,
    steps_per_execution=1,
):
    """Trains a classifier and saves it as a bundle in `out`.

    Args:
        train_examples: `apps.sentiment.data.Examples`, the training split (the vocabulary is adapted on it).
        dev_examples: `Examples` for early stopping and the reported dev accuracy.
        label_names: one name per class of the saved model.
        out: bundle directory, replaced atomically once training has finished.
        cell ... seed: the hyper-parameters, defaults and meanings in `apps.sentiment.config.Hyperparameters`
            (the model: `apps.sentiment.model.build_model`). `embedding_dim` `None`: that of `vectors`,
            else 64.
            `extra_vocabulary`: with `vectors`, the vocabulary goes on with this many of their most frequent
            words that the training texts lack (`extra_words`), so that words unseen in training are not all
            out of vocabulary at predict time. Training stops after `patience` epochs without a better dev
            accuracy, and the weights of the best epoch are kept (`training.early_stopping`).
        task: the data task, recorded in the config (`sst5`, `sst2` or `file`).
        fine_labels: names of finer classes that `train_examples` are labelled with instead (with
            `class_groups`): the network learns those, and the saved model answers with `label_names` through
            `apps.sentiment.model.GroupClasses`, which is also what `dev_examples` (labelled with
            `label_names`) score. `None`: `train_examples` are labelled with `label_names`.
        class_groups: with `fine_labels`, one list of fine class ids per class of `label_names`.
        vectors: `apps.sentiment.embeddings.WordVectors` that initialise the rows of the vocabulary they
            cover (`embedding_matrix`; their size must be `embedding_dim`), or `None` for random vectors.
        verbose: 0 for silence; else each epoch's progress and metrics on stderr (`training.fit_progress`).
        strategy: the `tf.distribute` strategy to train under (default: the current one); create it with
            `apps.common.distribute.strategy_from_args` before anything touches TensorFlow. The dtype
            policy in force (mixed precision) applies to the model; the saved model computes in float32.
        backup_dir: back up the training state there every epoch, so that rerunning resumes
            (`distribute.backup_callbacks`).
        jit_compile: compile the training steps with XLA: the strings become ids in the `tf.data` pipeline
            and the model trains from the ids on, in a few fixed lengths (`IdsInPipeline`); the saved model
            takes strings as ever. On a CPU it trains no faster (`benchmarks/apps.py`).
        steps_per_execution: batches per compiled call (`model.compile`).

    Returns:
        `(model, config)`: the saved inference model and its config dict.
    """
    if (fine_labels is None) != (class_groups is None):
        raise ValueError("`fine_labels` and `class_groups` go together")
    if embedding_dim is None:
        embedding_dim = DEFAULT_EMBEDDING_DIM if vectors is None else vectors.dim
    if vectors is not None and vectors.dim != embedding_dim:
        raise ValueError(f"`vectors` have {vectors.dim} dimensions, `embedding_dim` is {embedding_dim}")
    if vectors is None and extra_vocabulary:
        raise ValueError("`extra_vocabulary` needs `vectors`")
    set_seed(seed)
    num_classes = len(label_names)
    strategy = strategy or tf.distribute.get_strategy()
    steps_per_epoch = math.ceil(len(train_examples) / batch_size)
    vectorizer = make_vectorizer(train_examples.texts, max_tokens)
    if extra_vocabulary:
        vectorizer = extend_vocabulary(
            vectorizer, extra_words(vectors, vectorizer.get_vocabulary(), extra_vocabulary, keep=is_one_token)
        )
    with strategy.scope():
        model = build_model(
            vectorizer,
            len(fine_labels or label_names),
            cell=cell,
            units=units,
            num_layers=num_layers,
            bidirectional=bidirectional,
            embedding_dim=embedding_dim,
            dropout=dropout,
            word_dropout=word_dropout,
            pooling=pooling,
            max_length=max_length,
            freeze_embeddings=freeze_embeddings,
        )
        pretrained = _load_vectors(model, vectorizer, vectors, seed) if vectors is not None else None
        to_ids = IdsInPipeline(model) if jit_compile else None
        trained = to_ids.model if jit_compile else model
        compile_model(trained, learning_rate, jit_compile=jit_compile, steps_per_execution=steps_per_execution)
        if class_groups is None:
            answering = model
            validation, scorers = make_dataset(dev_examples, 256, to_ids=to_ids), []
        else:
            answering = group_classes(model, class_groups)
            validation, scorers = None, [DevScore(answering, make_dataset(dev_examples, 256))]
    train_data = make_dataset(train_examples, batch_size, shuffle_seed=seed, to_ids=to_ids)
    stopper = early_stopping("val_accuracy", patience, mode="max")
    history = trained.fit(
        train_data,
        steps_per_epoch=steps_per_epoch,
        validation_data=validation,
        epochs=epochs,
        callbacks=scorers + [stopper] + distribute.backup_callbacks(backup_dir) + fit_progress(verbose),
        shuffle=False,
        verbose=0,
    ).history
    # A fresh, uncompiled Model over the same layers saves without the optimizer's slots (3x the weights).
    inference = distribute.to_float32(keras.Model(answering.inputs, answering.outputs, name=model.name))
    best_epoch = int(np.argmax(history["val_accuracy"]))
    config = {
        "app": "sentiment",
        "task": task,
        "labels": list(label_names),
        "num_classes": num_classes,
        **record(Hyperparameters, locals()),
        "vocabulary_size": vectorizer.vocabulary_size(),
        "fine_labels": fine_labels,
        "class_groups": class_groups,
        "embeddings": pretrained,
        "epochs_run": len(history["loss"]),
        "best_epoch": best_epoch + 1,
        "dev_accuracy": float(history["val_accuracy"][best_epoch]),
        "train_data": _describe(train_examples),
        "dev_data": _describe(dev_examples),
    }
    save_trained(out, inference, config, history, title=f"sentiment ({task}, {cell})", force=force)
    return inference, config


def compile_model(model, learning_rate, **options):
    """Compiles a model of `build_model` as `train` does: Adam, cross-entropy and accuracy. `options`: more
    `model.compile` arguments (`jit_compile`, ...)."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        **options,
    )
    return model


class DevScore(keras.callbacks.Callback):
    """Scores the model that answers, when it is not the one trained, on the dev set.

    A model trained on fine classes answers with their groups, while Keras's own validation would score the
    trained model's outputs (the fine classes). So `fit` runs without `validation_data` and this callback,
    listed before `EarlyStopping`, adds `val_loss` and `val_accuracy` of the answering model to each epoch's
    logs.

    Args:
        answering: the model over the trained layers that is saved (`group_classes`).
        dev_data: dataset of (strings, labels) batches, labels in the answering model's classes.

    Create it in the scope of the training strategy, which it compiles `answering` under.
    """

    def __init__(self, answering, dev_data):
        super().__init__()
        self.answering = answering
        self.dev_data = dev_data
        self.answering.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    def on_epoch_end(self, epoch, logs=None):
        scores = self.answering.evaluate(self.dev_data, verbose=0, return_dict=True)
        logs.update({f"val_{name}": scores[name] for name in ("loss", "accuracy")})


def _load_vectors(model, vectorizer, vectors, seed):
    """Sets the Embedding of `model` to `embedding_matrix` of `vectors` over the vocabulary; returns what the
    config records of it, the coverage among it."""
    vocabulary = vectorizer.get_vocabulary()
    matrix, covered = embedding_matrix(vocabulary, vectors, seed=seed)
    model.get_layer("embedding").embeddings.assign(matrix)
    words = len(vocabulary) - 2
    described = {
        "source": os.path.basename(vectors.source),
        "dim": vectors.dim,
        "words": len(vectors.words),
        "vocabulary_words": words,
        "covered": covered,
        "coverage": covered / max(words, 1),
    }
    if os.path.isfile(vectors.source):
        described["sha256"] = files.sha256_of(vectors.source)
    return described


def _describe(examples):
    described = {"source": os.path.basename(examples.source), "unit": examples.unit, "examples": len(examples)}
    if os.path.isfile(examples.source):
        described["sha256"] = files.sha256_of(examples.source)
    return described
