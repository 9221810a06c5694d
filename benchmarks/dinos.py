"""Benchmark of apps.dinos: sampling speed, and the pretrained model against a character n-gram model.

1. Names per second of our compiled `Sampler` (every step of the batch in one `tf.function`) against a loop
   calling `model.predict` on the same one-step model once per step (median of several runs each), for each
   batch size given (`python -m apps.dinos sample -n N` samples N names in batches like these).
2. Validation bits per character (end token counted) of the model beside interpolated absolute-discounting
   character n-gram models of orders 1..--max-order, fitted on the same training split.

Usage:

    python benchmarks/dinos.py [--model saved_models/dinos] [--data PATH] [-n 1000 10000] [--repeats 5]

Prints the figures and the path of the JSON written to benchmarks/results/.
"""

import argparse
import collections
import json
import math
import os
import platform
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from apps.common import files
from apps.common.bundle import load_bundle
from apps.common.paths import ROOT as REPO_ROOT
from apps.dinos import data
from apps.dinos.cli import DEFAULT_MODEL
from apps.dinos.evaluate import bits_per_char
from apps.dinos.model import step_model
from apps.dinos.sample import NameSampler


class AbsoluteDiscountingLM:
    """Interpolated absolute-discounting character n-gram model (Ney, Essen & Kneser 1994).

    P(w | h) = max(c(h w) - D, 0) / c(h) + D · N1+(h •) / c(h) · P(w | h less its oldest symbol), recursing
    down to the uniform distribution over the symbols; an unseen context defers to the shorter one. The
    discount of each order is D = n1 / (n1 + 2 n2) from its counts of counts. Names are scored like the
    network's: the context starts as end tokens, and the end token is predicted and counted.

    Args:
        names: training names.
        order: n, the longest n-gram (1: unigram interpolated with uniform).
        end: the end (and start) symbol.
    """

    def __init__(self, names, order, end=data.END):
        self.order, self.end = order, end
        self.symbols = sorted(set("".join(names)) | {end})
        self.counts = [collections.defaultdict(collections.Counter) for _ in range(order)]
        for name in names:
            padded = end * (order - 1) + name + end
            for t in range(order - 1, len(padded)):
                for n in range(order):
                    self.counts[n][padded[t - n : t]][padded[t]] += 1
        self.totals = [{h: sum(row.values()) for h, row in table.items()} for table in self.counts]
        self.discounts = []
        for table in self.counts:
            count_of_counts = collections.Counter(c for row in table.values() for c in row.values())
            n1, n2 = count_of_counts[1], count_of_counts[2]
            self.discounts.append(n1 / (n1 + 2 * n2) if n1 else 0.5)

    def prob(self, history, symbol):
        """P(symbol | the last order - 1 symbols of history)."""
        p = 1.0 / len(self.symbols)
        for n in range(self.order):
            h = history[len(history) - n :] if n else ""
            row = self.counts[n].get(h)
            if row:
                total, d = self.totals[n][h], self.discounts[n]
                p = max(row[symbol] - d, 0) / total + d * len(row) / total * p
        return p

    def bits_per_char(self, names):
        """Cross-entropy of `names` in bits per character, end tokens counted."""
        bits, chars = 0.0, 0
        for name in names:
            padded = self.end * (self.order - 1) + name + self.end
            bits -= sum(math.log2(self.prob(padded[:t], padded[t])) for t in range(self.order - 1, len(padded)))
            chars += len(name) + 1
        return bits / chars


def predict_loop(step, n, steps, seed):
    """The slow way: `model.predict` once per step, sampling in NumPy; stops once every name has ended."""
    rng = np.random.default_rng(seed)
    token = np.full(n, data.END_CLASS, "int32")
    states = [np.zeros((n, size), "float32") for size in step.state_sizes]
    done = np.zeros(n, bool)
    for _ in range(steps):
        probs, *states = step.predict([token, *states], batch_size=n, verbose=0)
        probs = probs.astype("float64")
        probs /= probs.sum(axis=1, keepdims=True)
        token = (probs.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1).astype("int32")
        token[done] = data.END_CLASS
        done |= token == data.END_CLASS
        if done.all():
            break


def timed(fn, repeats):
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(DEFAULT_MODEL))
    parser.add_argument("--data", help="the training name list (default: the path in the bundle's config)")
    parser.add_argument("-n", type=int, nargs="+", default=[1000, 10000], help="names per batch, one or more")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--baseline-repeats", type=int, default=3)
    parser.add_argument("--max-order", type=int, default=6)
    parser.add_argument("--out", default=str(REPO_ROOT / "benchmarks" / "results" / "dinos.json"))
    args = parser.parse_args(argv)

    model, config = load_bundle(args.model)
    sampler = NameSampler(model, config)
    steps = config["max_len"] + 1
    step = step_model(model)
    load_before = os.getloadavg()
    sampling = []
    for n in args.n:
        sampler.sample_batch(n, seed=0)  # the first call traces
        fast, fast_times = timed(lambda i, n=n: sampler.sample_batch(n, seed=i + 1), args.repeats)
        predict_loop(step, n, 2, seed=0)  # build predict's function once
        slow, slow_times = timed(lambda i, n=n: predict_loop(step, n, steps, seed=i), args.baseline_repeats)
        print(
            f"sampling {n} names (up to {steps} steps): Sampler {fast * 1e3:.1f} ms median "
            f"({n / fast:,.0f} names/s); predict once per step {slow * 1e3:.0f} ms "
            f"({n / slow:,.0f} names/s); ratio {slow / fast:.1f}x; load average {os.getloadavg()[0]:.2f}"
        )
        sampling.append(
            {
                "n": n,
                "steps": steps,
                "sampler_median_s": fast,
                "sampler_times_s": fast_times,
                "predict_loop_median_s": slow,
                "predict_loop_times_s": slow_times,
                "sampler_names_per_s": n / fast,
                "predict_loop_names_per_s": n / slow,
                "ratio": slow / fast,
                "load_average_after": os.getloadavg(),
            }
        )

    training = config["training"]
    path = args.data or training["data"]
    if training.get("data_sha256") and files.sha256_of(path) != training["data_sha256"]:
        sys.exit(f"{path} is not the list the model was trained on (sha256 differs)")
    vocab = data.Vocabulary.from_config(config["vocabulary"])
    names = data.unique(data.read_names(path, keep_case=vocab.keep_case))
    train_names, val_names = data.split_names(names, training["val_split"], training["seed"])
    network = bits_per_char(model, vocab, val_names)
    ngrams = {
        order: AbsoluteDiscountingLM(train_names, order).bits_per_char(val_names)
        for order in range(1, args.max_order + 1)
    }
    best = min(ngrams, key=ngrams.get)
    print("validation bits/char: " + ", ".join(f"{o}-gram {b:.4f}" for o, b in ngrams.items()))
    print(
        f"model ({config['model']['cell']} {config['model']['units']}x{config['model']['layers']}) "
        f"{network:.4f} vs best n-gram (order {best}) {ngrams[best]:.4f}: "
        f"{(1 - network / ngrams[best]):.1%} fewer bits"
    )

    results = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
        },
        "model": args.model,
        "model_config": config["model"],
        "sampling": sampling,
        "bits_per_char": {
            "data": path,
            "val_names": len(val_names),
            "train_names": len(train_names),
            "model": network,
            "ngram": {str(o): b for o, b in ngrams.items()},
            "best_ngram_order": best,
            "relative_gain": 1 - network / ngrams[best],
        },
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=2)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
