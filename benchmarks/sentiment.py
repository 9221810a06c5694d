"""Dev accuracy of the shipped sentiment models, their recipe against Kim's CNN and naive Bayes, and SavedModel
throughput on CPU.

For each bundle:

1. Accuracy and macro-F1 on its task's SST dev split (`stsa.fine.dev` for sst5, `stsa.binary.dev` for sst2).
2. With `--baseline-seeds` (default 0 1 2): for each seed, the bundle's own recipe (its `config.json`: the
   same training examples, sentences or the treebank's phrases, the same word vectors; `--epochs`/`--patience`
   as in the README's commands) trained again from scratch, and Kim (2014)'s CNN-rand trained on the same
   examples; dev accuracy of the best epoch of each, their medians and the median of the per-seed
   differences. Beside them, once (it has no seed), a naive Bayes classifier over binarised unigram and
   bigram counts trained on the same examples (the "BiNB" of Socher et al. 2013). Published figures, all
   trained on the treebank's phrases and scored on the test sentences: CNN-rand 45.0 (SST-5) / 82.7 (SST-2),
   BiNB 41.9 / 83.1. It trains 2 x seeds networks per bundle (on phrases, about 2 minutes an epoch each on
   2 CPU cores); `--baseline-seeds` with no value skips it.
3. The bundle exported to a temporary SavedModel, loaded back with `tf.saved_model.load` and its
   `serving_default` signature timed on the dev sentences at several batch sizes. Throughput is sentences per
   wall-clock second and per CPU second (the CPU figure is steadier on a shared machine), the median over
   `--repeats` passes after one warm-up pass.

`--quick` checks that everything runs in minutes instead of hours: one seed, at most 2 epochs on 20,000 of the
training examples, one timing pass at one batch size (its accuracies are not the figures to report).

    python benchmarks/sentiment.py --data data/sentiment
    python benchmarks/sentiment.py --data ../shared/data/sentiment/sst --quick
    python benchmarks/sentiment.py --data ../shared/data/sentiment/sst --repeats 3 --batch-sizes 1 64 \
        --baseline-seeds
"""

import argparse
import itertools
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from apps.common.bundle import load_bundle
from apps.common.paths import ROOT as REPO_ROOT
from apps.common.seeding import set_seed
from apps.sentiment.data import DEFAULT_DATA_DIR, SST_FILES, Examples, load_task, read_examples
from apps.sentiment.embeddings import load_vectors
from apps.sentiment.export import export
from apps.sentiment.model import make_vectorizer
from apps.sentiment.predict import evaluate
from apps.sentiment.train import make_dataset, train

DEFAULT_MODELS = [os.path.join(REPO_ROOT, "saved_models", name) for name in ("sentiment", "sentiment-sst2")]
BATCH_ONE_SENTENCES = 200
"""Batch size 1 is timed on the first 200 sentences only: one call per sentence is slow to repeat."""
PUBLISHED = {
    "sst5": {"kim_cnn_rand": 0.450, "naive_bayes": 0.419},
    "sst2": {"kim_cnn_rand": 0.827, "naive_bayes": 0.831},
}
"""Test accuracies of the baselines as published: Kim (2014) Table 2, CNN-rand; Socher et al. (2013) Table 1,
BiNB (naive Bayes with bigrams). Both trained on every labelled phrase of the training trees."""
NAIVE_BAYES_ALPHAS = (1.0, 0.5, 0.25)
"""Add-alpha smoothing strengths naive Bayes is scored with; 1 (Wang and Manning's) is the baseline's."""
QUICK = {
    "baseline_seeds": [0],
    "epochs": 2,
    "patience": 1,
    "max_train_examples": 20000,
    "repeats": 1,
    "batch_sizes": [256],
}


class ZeroMaskedVectors(keras.layers.Layer):
    """Sets the vectors of padding tokens to zero and drops the mask: Kim's padding word is a fixed zero
    vector, and `Conv1D` takes no mask."""

    def call(self, vectors, mask=None):
        return vectors * keras.ops.expand_dims(keras.ops.cast(mask, vectors.dtype), -1)

    def compute_mask(self, vectors, mask=None):
        return None


def kim_cnn_rand(vectorizer, num_classes):
    """Kim (2014), "Convolutional Neural Networks for Sentence Classification", CNN-rand: random 300-d word
    vectors U(-0.25, 0.25) trained with the model, 100 filters each of widths 3, 4 and 5 (ReLU) over the
    sentence zero-padded by 4 on each side, max over time, dropout 0.5, softmax whose weight vectors are
    kept to an l2 norm of at most 3. Strings in, probabilities out."""
    texts = keras.Input(shape=(), dtype="string")
    vectors = keras.layers.Embedding(
        vectorizer.vocabulary_size(),
        300,
        mask_zero=True,
        embeddings_initializer=keras.initializers.RandomUniform(-0.25, 0.25),
    )(vectorizer(texts))
    vectors = keras.layers.ZeroPadding1D(4)(ZeroMaskedVectors()(vectors))
    features = keras.layers.Concatenate()(
        [
            keras.layers.GlobalMaxPooling1D()(keras.layers.Conv1D(100, width, activation="relu")(vectors))
            for width in (3, 4, 5)
        ]
    )
    features = keras.layers.Dropout(0.5)(features)
    probabilities = keras.layers.Dense(
        num_classes, activation="softmax", kernel_constraint=keras.constraints.MaxNorm(3, axis=0)
    )(features)
    return keras.Model(texts, probabilities)


def train_kim_cnn(train_examples, dev_examples, num_classes, seed, epochs, patience):
    """Best-epoch dev accuracy of `kim_cnn_rand` trained as Kim did: Adadelta (rho 0.95), batches of 50, the
    vocabulary of every training word; early stopping on dev accuracy after `patience` epochs."""
    set_seed(seed)
    model = kim_cnn_rand(make_vectorizer(train_examples.texts, None), num_classes)
    model.compile(
        optimizer=keras.optimizers.Adadelta(1.0, rho=0.95, epsilon=1e-6),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    history = model.fit(
        make_dataset(train_examples, 50, shuffle_seed=seed),
        steps_per_epoch=math.ceil(len(train_examples) / 50),
        validation_data=make_dataset(dev_examples, 256),
        epochs=epochs,
        shuffle=False,
        verbose=0,
        callbacks=[keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=patience)],
    ).history
    return max(history["val_accuracy"])


def training_data(config, data_dir, fine=False, limit=None):
    """`load_task` for the examples the bundle was trained on: sentences, or the treebank's phrases (bundles
    from before the treebank record no unit: sentences); with `limit`, that many of them drawn at random."""
    train_examples, dev_examples, labels = load_task(
        config["task"], data_dir, fine=fine, train_on=config["train_data"].get("unit", "sentences")
    )
    if limit is not None and limit < len(train_examples):
        keep = np.sort(np.random.default_rng(0).permutation(len(train_examples))[:limit])
        train_examples = Examples(
            [train_examples.texts[i] for i in keep],
            [train_examples.labels[i] for i in keep],
            train_examples.source,
            train_examples.unit,
        )
    return train_examples, dev_examples, labels


def retrain_recipe(config, data_dir, seed, epochs, patience, limit=None):
    """Best-epoch dev accuracy of the bundle's recipe (`config`) trained again with `seed`."""
    train_examples, dev_examples, labels = training_data(config, data_dir, config.get("fine_labels") is not None, limit)
    vectors = load_vectors(config["embeddings"]["source"]) if config.get("embeddings") else None
    with tempfile.TemporaryDirectory() as scratch:
        _, trained = train(
            train_examples,
            dev_examples,
            labels,
            os.path.join(scratch, "bundle"),
            task=config["task"],
            cell=config["cell"],
            units=config["units"],
            num_layers=config["layers"],
            bidirectional=config["bidirectional"],
            embedding_dim=config["embedding_dim"],
            max_tokens=config["max_tokens"],
            max_length=config["max_length"],
            dropout=config["dropout"],
            word_dropout=config["word_dropout"],
            pooling=config["pooling"],
            fine_labels=config.get("fine_labels"),
            class_groups=config.get("class_groups"),
            vectors=vectors,
            freeze_embeddings=config.get("freeze_embeddings", False),
            extra_vocabulary=config.get("extra_vocabulary", 0),
            learning_rate=config["learning_rate"],
            epochs=epochs,
            batch_size=config["batch_size"],
            patience=patience,
            seed=seed,
            verbose=0,
        )
    return trained["dev_accuracy"]


def ngrams(text):
    """The distinct unigrams and bigrams of a tokenised text."""
    tokens = text.split(" ")
    return set(tokens) | {f"{first} {second}" for first, second in itertools.pairwise(tokens)}


def naive_bayes(train_examples, num_classes, alpha=1.0):
    """Multinomial naive Bayes over binarised unigram and bigram counts with add-`alpha` smoothing (Wang and
    Manning 2012's MNB; Socher et al. 2013's BiNB). Returns a function from texts to predicted labels."""
    index, rows, columns = {}, [], []
    for row, text in enumerate(train_examples.texts):
        for gram in ngrams(text):
            rows.append(row)
            columns.append(index.setdefault(gram, len(index)))
    labels = np.asarray(train_examples.labels)
    counts = np.zeros((num_classes, len(index)))
    np.add.at(counts, (labels[rows], columns), 1)
    log_prior = np.log(np.bincount(labels, minlength=num_classes) / len(labels))
    log_likelihood = np.log(counts + alpha) - np.log((counts + alpha).sum(axis=1, keepdims=True))

    def predict(texts):
        return np.array(
            [
                np.argmax(log_prior + log_likelihood[:, [index[g] for g in ngrams(text) if g in index]].sum(axis=1))
                for text in texts
            ]
        )

    return predict


def compare_with_baselines(config, data_dir, seeds, epochs, patience, limit=None, kim_seeds=None, kim_epochs=None):
    """Per seed, dev accuracy of the bundle's recipe and of Kim's CNN-rand on the same examples (`limit` of
    them, if given); naive Bayes's once (add-1 smoothing, and beside it the accuracy with other smoothing
    strengths, to show how much of a gap to the published figure that choice alone makes); medians.
    `kim_seeds`/`kim_epochs`: the CNN's own seeds and most epochs (default: `seeds`, `epochs`), as it costs
    twice our model's time per epoch here."""
    kim_seeds = seeds if kim_seeds is None else kim_seeds
    train_examples, dev_examples, labels = training_data(config, data_dir, limit=limit)
    truth = np.asarray(dev_examples.labels)
    smoothing = {
        alpha: float(np.mean(naive_bayes(train_examples, len(labels), alpha)(dev_examples.texts) == truth))
        for alpha in NAIVE_BAYES_ALPHAS
    }
    bayes = smoothing[1.0]
    print(
        f"  {len(train_examples):,} training {train_examples.unit}; naive Bayes (uni+bigrams) {bayes:.4f} "
        "(with add-alpha smoothing: " + ", ".join(f"{a:g} {v:.4f}" for a, v in smoothing.items()) + ")",
        flush=True,
    )
    runs = []
    for seed in sorted(set(seeds) | set(kim_seeds)):
        run = {"seed": seed}
        if seed in seeds:
            run["ours"] = retrain_recipe(config, data_dir, seed, epochs, patience, limit)
        if seed in kim_seeds:
            run["kim_cnn_rand"] = train_kim_cnn(
                train_examples, dev_examples, len(labels), seed, kim_epochs or epochs, patience
            )
        runs.append(run)
        print(
            f"  seed {seed}: " + ", ".join(f"{name} {value:.4f}" for name, value in run.items() if name != "seed"),
            flush=True,
        )
    ours = [run["ours"] for run in runs if "ours" in run]
    kim = [run["kim_cnn_rand"] for run in runs if "kim_cnn_rand" in run]
    return {
        "runs": runs,
        "epochs": epochs,
        "kim_epochs": kim_epochs or epochs,
        "patience": patience,
        "train_unit": train_examples.unit,
        "train_examples": len(train_examples),
        "naive_bayes": bayes,
        "naive_bayes_by_alpha": {str(a): v for a, v in smoothing.items()},
        "published": PUBLISHED[config["task"]],
        "ours_median": _median(ours),
        "kim_cnn_rand_median": _median(kim),
        "ours_minus_kim_medians": _median(ours) - _median(kim) if ours and kim else float("nan"),
    }


def _median(values):
    """The median, or NaN for no runs (`--kim-seeds` with no value: the CNN is not trained)."""
    return statistics.median(values) if values else float("nan")


def throughput(serve, texts, batch_size, repeats):
    """Median sentences/s (wall, CPU) of `serve` over `repeats` passes through `texts` in batches."""
    batches = [tf.constant(texts[start : start + batch_size]) for start in range(0, len(texts), batch_size)]
    for batch in batches:  # warm-up: traces every batch shape once
        serve(texts=batch)
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        for batch in batches:
            serve(texts=batch)["probabilities"].numpy()
        walls.append(len(texts) / (time.perf_counter() - wall))
        cpus.append(len(texts) / (time.process_time() - cpu))
    return statistics.median(walls), statistics.median(cpus)


def bench_model(path, data_dir, batch_sizes, repeats, baseline):
    """`baseline`: `(seeds, epochs, patience, limit)` for `compare_with_baselines`, or `None` to skip it."""
    model, config = load_bundle(path)
    dev_path = os.path.join(data_dir, SST_FILES[config["task"]][1])
    dev = read_examples(dev_path, num_classes=config["num_classes"])
    report = evaluate(model, config, dev)
    row = {
        "model": path,
        "task": config["task"],
        "dev_file": dev_path,
        "dev_examples": report["examples"],
        "dev_accuracy": report["accuracy"],
        "dev_macro_f1": report["macro_f1"],
        "model_bytes": os.path.getsize(os.path.join(path, "model.keras")),
        "throughput": [],
    }
    print(
        f"\n{path} ({row['task']}, {row['model_bytes'] / 1e6:.2f} MB): dev accuracy {row['dev_accuracy']:.4f}, "
        f"macro-F1 {row['dev_macro_f1']:.4f} on {row['dev_examples']} sentences",
        flush=True,
    )
    if baseline and baseline[0]:
        print(
            f"{config['task']}: the bundle's recipe trained again vs Kim (2014) CNN-rand and naive Bayes, same "
            "examples:"
        )
        row["baseline"] = found = compare_with_baselines(config, data_dir, *baseline)
        print(
            f"  median dev accuracy: ours {found['ours_median']:.4f}, Kim CNN-rand "
            f"{found['kim_cnn_rand_median']:.4f} ({100 * found['ours_minus_kim_medians']:+.1f} points); naive "
            f"Bayes {found['naive_bayes']:.4f}; "
            f"published (test): CNN-rand {found['published']['kim_cnn_rand']:.3f}, BiNB "
            f"{found['published']['naive_bayes']:.3f}"
        )
    with tempfile.TemporaryDirectory() as scratch:
        saved = os.path.join(scratch, "saved_model")
        export(model, config, saved)
        serve = tf.saved_model.load(saved).signatures["serving_default"]
        for batch_size in batch_sizes:
            texts = dev.texts[:BATCH_ONE_SENTENCES] if batch_size == 1 else dev.texts
            wall, cpu = throughput(serve, texts, batch_size, repeats)
            row["throughput"].append(
                {"batch_size": batch_size, "sentences": len(texts), "sentences_per_s": wall, "sentences_per_cpu_s": cpu}
            )
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=DEFAULT_DATA_DIR, help="directory with the SST dev files")
    parser.add_argument("--models", nargs="+", default=DEFAULT_MODELS, help="bundle directories")
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 32, 256])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--baseline-seeds",
        nargs="*",
        type=int,
        default=[0, 1, 2],
        help="seeds of the recipe-vs-Kim comparison (none: skip it)",
    )
    parser.add_argument("--epochs", type=int, default=20, help="comparison: most epochs (README: 20)")
    parser.add_argument(
        "--kim-seeds", nargs="*", type=int, help="comparison: seeds of Kim's CNN-rand (default: --baseline-seeds)"
    )
    parser.add_argument("--kim-epochs", type=int, help="comparison: most epochs of the CNN (default: --epochs)")
    parser.add_argument("--patience", type=int, default=4, help="comparison: early-stopping patience (README: 4)")
    parser.add_argument(
        "--max-train-examples",
        type=int,
        help="comparison: train on this many of the examples, drawn at random (default: all)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a check that everything runs: " + ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in QUICK.items()),
    )
    parser.add_argument("--out", default=os.path.join(REPO_ROOT, "benchmarks", "results", "sentiment.json"))
    args = parser.parse_args(argv)
    if args.quick:
        for name, value in QUICK.items():
            setattr(args, name, value)

    results = {
        "tensorflow": tf.__version__,
        "machine": f"{platform.machine()} {os.cpu_count()} cpus",
        "repeats": args.repeats,
        "quick": args.quick,
        "models": [],
    }
    for path in args.models:
        if not os.path.isdir(path):
            print(f"skipping {path}: no bundle there")
            continue
        row = bench_model(
            path,
            args.data,
            args.batch_sizes,
            args.repeats,
            (args.baseline_seeds, args.epochs, args.patience, args.max_train_examples, args.kim_seeds, args.kim_epochs),
        )
        results["models"].append(row)
        print(
            f"{'batch':>6s} {'sentences/s':>12s} {'sentences/cpu-s':>16s}   SavedModel serving_default, "
            f"median of {args.repeats}"
        )
        for item in row["throughput"]:
            print(f"{item['batch_size']:6d} {item['sentences_per_s']:12.1f} {item['sentences_per_cpu_s']:16.1f}")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=2)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
