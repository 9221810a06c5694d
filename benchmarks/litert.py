"""Benchmark of the LiteRT export: file sizes, interpreter latency and accuracy, beside the SavedModel's.

For each shipped bundle (dinos, jazz, sentiment) this exports the SavedModel (`export`) and the `.tflite` file
(`export --format litert`, float32 and `--quantize dynamic`) to a temporary directory, then measures on this CPU:

1. size: the SavedModel directory (all files) and each `.tflite` file;
2. latency, one sequence at a time (batch 1), the median of `--repeats` calls:
   dinos and jazz, per step: a `.tflite` step through the interpreter, and the SavedModel's `sample`
   signature timed over a whole draw and divided by its steps (its loop runs inside TensorFlow);
   sentiment, per sentence (the dev sentences in turn when given): the host's standardisation, look-up and
   the interpreter, against the SavedModel's `serving_default` on one string;
3. accuracy: dinos validation bits per character (end token counted; the bundle's own split of `--dinos-data`)
   and sentiment dev accuracy (`--sentiment-dev`) of the Keras model and of both `.tflite` files, with the
   largest difference of a dev probability from the Keras model's.

Usage:

    python benchmarks/litert.py --dinos-data ../shared/data/dinos/dinos.txt \
        --sentiment-dev ../shared/data/sentiment/sst/stsa.fine.dev [--repeats 300]

Prints a Markdown table and writes benchmarks/results/litert.json.
"""

import argparse
import json
import math
import os
import pathlib
import platform
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from apps.common import litert
from apps.common.bundle import load_bundle
from apps.common.paths import ROOT as REPO_ROOT

MODELS = REPO_ROOT / "saved_models"


def directory_size(path):
    return sum(os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(path) for name in names)


def median_time(call, repeats):
    """Median seconds of `call(i)` over `repeats` calls, after one untimed call."""
    call(0)
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        call(i + 1)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def export_all(app, export_saved_model, export_litert, directory):
    """Loads the shipped bundle of `app` and exports it to `directory`: the SavedModel and one `.tflite` file
    per quantisation. Returns `(model, config, saved_model_dir, {quantize: tflite_path})`."""
    model, config = load_bundle(str(MODELS / app), app=app)
    saved = os.path.join(directory, f"{app}-savedmodel")
    export_saved_model(model, config, saved)
    files = {kind: os.path.join(directory, f"{app}-{kind}.tflite") for kind in litert.QUANTIZATIONS}
    for kind, path in files.items():
        export_litert(model, config, path, quantize=kind)
    return model, config, saved, files


def step_figures(files, vocab_size, repeats, conditions=None):
    """Size, per-step latency and ops of each one-step `.tflite` file (`conditions`: a conditioned model's
    features, one row per step, cycled)."""
    return {
        kind: {
            "bytes": os.path.getsize(path),
            "latency_s": step_latency(path, vocab_size, repeats, conditions),
            "ops": litert.op_names(path),
        }
        for kind, path in files.items()
    }


def step_latency(path, vocab_size, repeats, conditions=None):
    """Median seconds of one interpreter step, fed random tokens, its own states and, for a conditioned model,
    the rows of `conditions` in turn."""
    step = litert.StepRunner(path)
    tokens = np.random.default_rng(0).integers(0, vocab_size, repeats + 1)
    states = [step.initial_states()]

    def call(i):
        features = conditions[i % len(conditions)] if step.conditioned else None
        _, states[0] = step(tokens[i], states[0], features)

    return median_time(call, repeats)


def tflite_bits_per_char(path, names, vocab):
    """Validation bits per character of the `.tflite` one-step model (end token counted)."""
    from apps.dinos import data

    step = litert.StepRunner(path)
    total, count = 0.0, 0
    for name in names:
        states = step.initial_states()
        targets = [token - 1 for token in vocab.encode(name)] + [data.END_CLASS]
        token = data.END_CLASS
        for target in targets:
            probs, states = step(token, states)
            total -= math.log(max(float(probs[target]), 1e-300))
            token = target
        count += len(targets)
    return total / count / math.log(2)


def bench_dinos(directory, args):
    import tensorflow as tf

    from apps.dinos import data
    from apps.dinos import litert as dinos_litert
    from apps.dinos.evaluate import bits_per_char
    from apps.dinos.export import export

    model, config, saved, files = export_all("dinos", export, dinos_litert.export, directory)
    vocab = data.Vocabulary.from_config(config["vocabulary"])
    sample = tf.saved_model.load(saved).signatures["sample"]
    lengths = []

    def call(i):
        out = sample(n=tf.constant(1), temperature=tf.constant(1.0), seed=tf.constant(i))
        lengths.append(len(out["names"][0].numpy().decode("utf-8")) + 1)

    saved_per_step = median_time(call, args.repeats // 10) / statistics.median(lengths)
    result = {
        "savedmodel": {"bytes": directory_size(saved), "latency_s": saved_per_step},
        **step_figures(files, vocab.num_classes, args.repeats),
    }
    if args.dinos_data:
        training = config["training"]
        names = data.unique(data.read_names(args.dinos_data, keep_case=vocab.keep_case))
        _, val_names = data.split_names(names, training["val_split"], training["seed"])
        result["savedmodel"]["bits_per_char"] = bits_per_char(model, vocab, val_names)
        for kind, path in files.items():
            result[kind]["bits_per_char"] = tflite_bits_per_char(path, val_names, vocab)
    return result


def bench_jazz(directory, args):
    import tensorflow as tf

    from apps.jazz import conditioning
    from apps.jazz import litert as jazz_litert
    from apps.jazz.chords import parse_progression
    from apps.jazz.export import export as export_sampler
    from apps.jazz.generate import DEFAULT_PROGRESSION

    _, config, saved, files = export_all("jazz", export_sampler, jazz_litert.export, directory)
    sample = tf.saved_model.load(saved).signatures["sample"]
    steps = 32
    arguments = dict(
        prefix=tf.constant([[0]], tf.int32),
        steps=tf.constant(steps),
        temperature=tf.constant(1.0),
        top_k=tf.constant(0),
    )
    table = None
    if config.get("conditioning", "none") == "changes":
        # The default blues, long enough for 32 tokens of any length.
        timeline, _ = parse_progression(DEFAULT_PROGRESSION)
        table = conditioning.step_table(timeline, steps * 4.0)
        arguments["conditions"] = tf.constant(table[None])
    saved_per_step = median_time(lambda i: sample(seed=tf.constant(i), **arguments), args.repeats // 10) / steps
    return {
        "savedmodel": {"bytes": directory_size(saved), "latency_s": saved_per_step},
        **step_figures(files, len(config["vocabulary"]) + 1, args.repeats, table),
    }


def bench_sentiment(directory, args):
    import tensorflow as tf

    from apps.sentiment import litert as sentiment_litert
    from apps.sentiment.data import read_examples
    from apps.sentiment.export import export
    from apps.sentiment.predict import probabilities

    model, _, saved, files = export_all("sentiment", export, sentiment_litert.export, directory)
    examples = read_examples(args.sentiment_dev) if args.sentiment_dev else None
    texts = examples.texts if examples is not None else sentiment_litert.EXAMPLES[:-1]
    serve = tf.saved_model.load(saved).signatures["serving_default"]
    result = {
        "savedmodel": {
            "bytes": directory_size(saved),
            "latency_s": median_time(lambda i: serve(texts=tf.constant([texts[i % len(texts)]])), args.repeats),
        }
    }
    if examples is not None:
        truth = np.asarray(examples.labels)
        expected = probabilities(model, examples.texts)
        result["savedmodel"]["accuracy"] = float((expected.argmax(axis=1) == truth).mean())
    for kind, path in files.items():
        ids = sentiment_litert.read_vocabulary(path)
        runner = litert.interpreter(path).get_signature_runner(litert.SIGNATURE)
        latency = median_time(
            lambda i, runner=runner, ids=ids: runner(token_ids=sentiment_litert.token_ids(texts[i % len(texts)], ids)),
            args.repeats,
        )
        result[kind] = {"bytes": os.path.getsize(path), "latency_s": latency, "ops": litert.op_names(path)}
        if examples is not None:
            predicted = sentiment_litert.predict(path, examples.texts)
            result[kind]["accuracy"] = float((predicted.argmax(axis=1) == truth).mean())
            result[kind]["max_abs_difference"] = float(np.abs(predicted - expected).max())
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dinos-data", help="the dinos training list, for validation bits per character")
    parser.add_argument("--sentiment-dev", help="a labelled dev file (stsa.fine.dev), for accuracy")
    parser.add_argument("--repeats", type=int, default=300, help="timed calls per latency (default 300)")
    parser.add_argument("--out", default=str(REPO_ROOT / "benchmarks" / "results" / "litert.json"))
    args = parser.parse_args(argv)
    results = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "load_average_before": os.getloadavg()}
    }
    with tempfile.TemporaryDirectory() as directory:
        for app, bench in (("dinos", bench_dinos), ("jazz", bench_jazz), ("sentiment", bench_sentiment)):
            results[app] = bench(directory, args)
    results["machine"]["load_average_after"] = os.getloadavg()
    print("| app | format | size | latency (batch 1) | accuracy |")
    print("|---|---|---|---|---|")
    for app, unit in (("dinos", "step"), ("jazz", "step"), ("sentiment", "sentence")):
        for kind, figures in results[app].items():
            metric = (
                ""
                if "bits_per_char" not in figures and "accuracy" not in figures
                else f"{figures['bits_per_char']:.4f} bits/char"
                if "bits_per_char" in figures
                else f"{figures['accuracy']:.2%} dev"
            )
            name = {"savedmodel": "SavedModel", "none": ".tflite float32", "dynamic": ".tflite dynamic int8"}[kind]
            print(
                f"| {app} | {name} | {figures['bytes'] / 1e6:.3f} MB | "
                f"{figures['latency_s'] * 1e3:.3f} ms/{unit} | {metric} |"
            )
    for app in ("dinos", "jazz", "sentiment"):
        print(f"{app} ops: {' '.join(results[app]['none']['ops'])}")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    pathlib.Path(args.out).write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
