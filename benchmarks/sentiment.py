"""Dev accuracy of the shipped sentiment models and prediction throughput of their SavedModel export on CPU.

For each bundle: accuracy and macro-F1 on its task's SST dev split (`stsa.fine.dev` for sst5,
`stsa.binary.dev` for sst2), then the bundle is exported to a temporary SavedModel, loaded back with
`tf.saved_model.load` and its `serving_default` signature timed on the dev sentences at several batch sizes.
Throughput is sentences per wall-clock second and per CPU second (the CPU figure is steadier on a shared
machine), the median over `--repeats` passes after one warm-up pass.

    python benchmarks/sentiment.py --data data/sentiment
    python benchmarks/sentiment.py --data ../shared/data/sentiment/sst --repeats 3 --batch-sizes 1 64
"""

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time

import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from apps.common.bundle import load_bundle  # noqa: E402
from apps.sentiment.data import DEFAULT_DATA_DIR, REPO_ROOT, SST_FILES, read_examples  # noqa: E402
from apps.sentiment.predict import evaluate, export  # noqa: E402

DEFAULT_MODELS = [os.path.join(REPO_ROOT, "saved_models", name) for name in ("sentiment", "sentiment-sst2")]
BATCH_ONE_SENTENCES = 200
"""Batch size 1 is timed on the first 200 sentences only: one call per sentence is slow to repeat."""


def throughput(serve, texts, batch_size, repeats):
    """Median sentences/s (wall, CPU) of `serve` over `repeats` passes through `texts` in batches."""
    batches = [tf.constant(texts[start:start + batch_size]) for start in range(0, len(texts), batch_size)]
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


def bench_model(path, data_dir, batch_sizes, repeats):
    model, config = load_bundle(path)
    dev_path = os.path.join(data_dir, SST_FILES[config["task"]][1])
    dev = read_examples(dev_path, num_classes=config["num_classes"])
    report = evaluate(model, config, dev)
    row = {"model": path, "task": config["task"], "dev_file": dev_path,
           "dev_examples": report["examples"], "dev_accuracy": report["accuracy"],
           "dev_macro_f1": report["macro_f1"], "model_bytes": os.path.getsize(os.path.join(path, "model.keras")),
           "throughput": []}
    with tempfile.TemporaryDirectory() as scratch:
        saved = os.path.join(scratch, "saved_model")
        export(model, config, saved)
        serve = tf.saved_model.load(saved).signatures["serving_default"]
        for batch_size in batch_sizes:
            texts = dev.texts[:BATCH_ONE_SENTENCES] if batch_size == 1 else dev.texts
            wall, cpu = throughput(serve, texts, batch_size, repeats)
            row["throughput"].append({"batch_size": batch_size, "sentences": len(texts),
                                      "sentences_per_s": wall, "sentences_per_cpu_s": cpu})
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=DEFAULT_DATA_DIR, help="directory with the SST dev files")
    parser.add_argument("--models", nargs="+", default=DEFAULT_MODELS, help="bundle directories")
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 32, 256])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=os.path.join(REPO_ROOT, "benchmarks", "results", "sentiment.json"))
    args = parser.parse_args(argv)

    results = {"tensorflow": tf.__version__, "machine": f"{platform.machine()} {os.cpu_count()} cpus",
               "repeats": args.repeats, "models": []}
    for path in args.models:
        if not os.path.isdir(path):
            print(f"skipping {path}: no bundle there")
            continue
        row = bench_model(path, args.data, args.batch_sizes, args.repeats)
        results["models"].append(row)
        print(f"\n{row['model']} ({row['task']}, {row['model_bytes'] / 1e6:.2f} MB): dev accuracy "
              f"{row['dev_accuracy']:.4f}, macro-F1 {row['dev_macro_f1']:.4f} on {row['dev_examples']} sentences")
        print(f"{'batch':>6s} {'sentences/s':>12s} {'sentences/cpu-s':>16s}   SavedModel serving_default, "
              f"median of {args.repeats}")
        for item in row["throughput"]:
            print(f"{item['batch_size']:6d} {item['sentences_per_s']:12.1f} {item['sentences_per_cpu_s']:16.1f}")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=2)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
