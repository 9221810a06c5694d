"""One training run of the five-class phrase recipe, scored on SST-5 and SST-2 dev after every epoch.

The SST-2 bundle is the five-class phrase network with its classes grouped (`--train-labels fine`), so one run
per seed shows both tasks' learning curves: dev accuracy of the weights as trained and of the optimizer's
exponential moving average of them (Keras's `use_ema`; it only watches, the run itself is unchanged), for
recipes that `apps.sentiment.train` does not offer (a decaying step, larger layers, max pooling) before they
are worth an option (also a loss that adds the SST-2 groups' own, `--polarity-weight`). GloVe 6B 50-d, 20,000
ids, word dropout 0.3 and dropout 0.5 as the shipped commands.

    python benchmarks/sentiment_curves.py --seed 1 --out benchmarks/results/sentiment-curves-seed1.json
    python benchmarks/sentiment_curves.py --seed 1 --units 128 --pooling max --decay 0.85 \
        --out benchmarks/results/sentiment-curves-seed1-128-max-decay.json
    python benchmarks/sentiment_curves.py --seed 1 --members 3 --out benchmarks/results/sentiment-curves-seed1-shared3.json
    python benchmarks/sentiment_curves.py --seed 1 --units 128 --polarity-weight 1 \
        --out benchmarks/results/sentiment-curves-seed1-128-polarity.json
"""

import argparse
import json
import math
import os
import sys
import time

import keras
import numpy as np
import tensorflow as tf

# The repository first: this folder's own `apps.py` (the apps' training benchmark) would shadow the package.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from apps.common.cells import recurrent_layer
from apps.common.files import atomic_file
from apps.common.seeding import set_seed
from apps.sentiment.data import FINE_GROUPS, load_task
from apps.sentiment.embeddings import load_vectors
from apps.sentiment.model import TokenWindow, build_model, group_classes, make_vectorizer
from apps.sentiment.train import _load_vectors, make_dataset


def shared_embedding_ensemble(vectorizer, members, units):
    """`members` classifiers of the shipped shape (word dropout, BiLSTM, dropout, softmax) over one Embedding,
    so that the ensemble costs the bundle one embedding; outputs one probability vector per member."""
    texts = keras.Input(shape=(), dtype="string", name="text")
    tokens = TokenWindow(name="window")(vectorizer(texts))
    vectors = keras.layers.Embedding(vectorizer.vocabulary_size(), 50, mask_zero=True, name="embedding")(tokens)
    outputs = []
    for index in range(members):
        x = keras.layers.Dropout(0.3, noise_shape=(None, None, 1))(vectors)
        x = keras.layers.Bidirectional(recurrent_layer("lstm", units, return_sequences=False, dropout=0.5))(x)
        x = keras.layers.Dropout(0.5)(x)
        outputs.append(keras.layers.Dense(5, activation="softmax", name=f"member_{index + 1}_classes")(x))
    return keras.Model(texts, outputs)


def polarity_loss(groups, weight):
    """Cross-entropy of the five classes plus `weight` x that of their SST-2 groups (-log of the summed
    probabilities of the right group) for the phrases in a group: the five-class network pressed harder on the
    boundary the SST-2 bundle answers with, neutral phrases still teaching it. The group's own mass, not
    `GroupClasses`'s renormalised answer: it also draws probability away from the neutral class."""
    membership = np.zeros((5, len(groups)), "float32")
    group_of = np.full(5, -1, "int32")
    for index, labels in enumerate(groups):
        membership[labels, index] = 1.0
        group_of[labels] = index

    def loss(y_true, y_pred):
        labels = keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "int32")
        fine = keras.losses.sparse_categorical_crossentropy(labels, y_pred)
        group = keras.ops.take(group_of, labels)
        grouped = keras.ops.matmul(y_pred, membership)
        picked = keras.ops.take_along_axis(grouped, keras.ops.expand_dims(keras.ops.maximum(group, 0), -1), -1)
        polar = -keras.ops.log(keras.ops.clip(picked[:, 0], 1e-7, 1.0))
        return fine + weight * keras.ops.where(group >= 0, polar, 0.0)

    return loss


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/sentiment/sst", help="directory holding trees/")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--ema", type=float, default=0.999, help="momentum of the watched average (0: none)")
    parser.add_argument("--pooling", default="last", choices=("last", "mean", "max"))
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--decay", type=float, default=1.0, help="step size multiplier per epoch")
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--members", type=int, default=1, help="networks over one shared embedding, answering with their mean"
    )
    parser.add_argument(
        "--polarity-weight", type=float, default=0.0, help="weight of the SST-2 groups' loss (`polarity_loss`)"
    )
    parser.add_argument("--out", required=True, help="JSON file, rewritten after every epoch")
    args = parser.parse_args(argv)

    train, dev5, _ = load_task("sst5", args.data)
    _, dev2, _ = load_task("sst2", args.data, fine=True)
    vectors = load_vectors("glove-6b-50d")
    set_seed(args.seed)
    vectorizer = make_vectorizer(train.texts, 20000)
    if args.members == 1:
        model = build_model(
            vectorizer, 5, units=args.units, embedding_dim=50, dropout=0.5, word_dropout=0.3, pooling=args.pooling
        )
    else:
        model = shared_embedding_ensemble(vectorizer, args.members, args.units)
    _load_vectors(model, vectorizer, vectors, args.seed)
    steps = math.ceil(len(train) / args.batch_size)
    step_size = args.learning_rate
    if args.decay != 1.0:
        step_size = keras.optimizers.schedules.ExponentialDecay(args.learning_rate, steps, args.decay)
    optimizer = keras.optimizers.Adam(step_size, use_ema=args.ema > 0, ema_momentum=args.ema or 0.99)
    # Each member learns from its own loss; weighted 1/members, their sum stays a single model's scale.
    losses = {
        "loss": ["sparse_categorical_crossentropy"] * args.members,
        "loss_weights": [1 / args.members] * args.members,
    }
    if args.members == 1:
        losses = {"loss": "sparse_categorical_crossentropy"}
        if args.polarity_weight:
            losses = {"loss": polarity_loss(FINE_GROUPS["sst2"], args.polarity_weight)}
    model.compile(optimizer=optimizer, **losses)
    train_data = make_dataset(train, args.batch_size, shuffle_seed=args.seed)
    if args.members > 1:
        train_data = train_data.map(lambda texts, labels: (texts, (labels,) * args.members))
    texts5, labels5 = tf.constant(dev5.texts), np.asarray(dev5.labels)
    texts2, labels2 = tf.constant(dev2.texts), np.asarray(dev2.labels)

    # The answering models share the trained layers: the members' mean, and its SST-2 classes as the bundle groups them.
    answering = model if args.members == 1 else keras.Model(model.inputs, keras.layers.Average()(model.outputs))
    binary = group_classes(answering, FINE_GROUPS["sst2"])

    def score(tag):
        p5 = answering.predict(texts5, batch_size=256, verbose=0)
        p2 = binary.predict(texts2, batch_size=256, verbose=0)
        return {
            f"{tag}5": float(np.mean(p5.argmax(-1) == labels5)),
            f"{tag}2": float(np.mean(p2.argmax(-1) == labels2)),
        }

    rows = []

    class Score(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.time()

        def on_epoch_end(self, epoch, logs=None):
            row = {"epoch": epoch + 1, "s": round(time.time() - self.start), "loss": logs["loss"], **score("raw")}
            if args.ema > 0:
                trained = [variable.numpy() for variable in model.trainable_variables]
                optimizer.finalize_variable_values(model.trainable_variables)
                row.update(score("ema"))
                for variable, value in zip(model.trainable_variables, trained):
                    variable.assign(value)
            rows.append(row)
            print(json.dumps(row), flush=True)
            with atomic_file(args.out, encoding="utf-8") as handle:
                json.dump({"args": vars(args), "rows": rows}, handle, indent=1)

    model.fit(
        train_data,
        steps_per_epoch=steps,
        epochs=args.epochs,
        callbacks=[Score()],
        verbose=0,
    )
    best = {key: max(row[key] for row in rows) for key in rows[0] if key[-1] in "52"}
    print("best epoch: " + ", ".join(f"{key} {value:.4f}" for key, value in best.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
