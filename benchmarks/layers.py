"""Training throughput of our LSTM (peephole off and on) and GRU against `keras.layers.LSTM`/`GRU`.

Every variant trains the same model (recurrent layer -> Dense) on the same data; the variants take turns
round after round, so a noisy shared machine slows them alike. Throughputs are medians over rounds; ratios are
the median over rounds of each round's ratio (a variant against the baseline timed just before it), against
Keras's layer with its defaults (`jit_compile="auto"`, which is off on a CPU), both per wall-clock second and
per CPU second of this process (steadier when other jobs share the machine). Each round is one `fit` call of
`--steps` steps: `fit` costs tens of milliseconds per call, so too few steps measure that instead.

    python benchmarks/layers.py                  # both shapes of issue 2, prints a table, writes JSON
    python benchmarks/layers.py --rounds 3 --steps 20 --shapes 30,90,64,64
    python benchmarks/layers.py --padded ...     # sequences of 1 to T steps behind a Masking layer
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

import keras
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import layers

# How the apps compile their recurrent models: XLA on, several steps per call to cut `fit`'s per-step
# overhead; our LSTMs then take their hand-written backpropagation through time (`use_fused_bptt=True`).
APP_COMPILE = {"jit_compile": True, "steps_per_execution": 10}

# name -> (layer factory, compile arguments)
VARIANTS = {
    "keras.LSTM": (lambda h: keras.layers.LSTM(h), {}),
    "keras.LSTM jit": (lambda h: keras.layers.LSTM(h), {"jit_compile": True}),
    "keras.LSTM apps config": (lambda h: keras.layers.LSTM(h), APP_COMPILE),
    "ours LSTM": (lambda h: layers.LSTM(h), {}),
    "ours LSTM jit": (lambda h: layers.LSTM(h, use_fused_bptt=True), {"jit_compile": True}),
    "ours LSTM apps config": (lambda h: layers.LSTM(h, use_fused_bptt=True), APP_COMPILE),
    "ours peephole apps config": (lambda h: layers.LSTM(h, peephole=True, use_fused_bptt=True), APP_COMPILE),
    "keras.GRU": (lambda h: keras.layers.GRU(h), {}),
    "keras.GRU apps config": (lambda h: keras.layers.GRU(h), APP_COMPILE),
    "ours GRU apps config": (lambda h: layers.GRU(h, reset_after=True), APP_COMPILE),
    "ours GRU course form apps": (lambda h: layers.GRU(h, reset_after=False), APP_COMPILE),
    "ours GRU fused apps config": (lambda h: layers.GRU(h, reset_after=True, use_fused_bptt=True), APP_COMPILE),
    "ours GRU course form fused apps": (lambda h: layers.GRU(h, reset_after=False, use_fused_bptt=True), APP_COMPILE),
    "ours simplified GRU fused apps": (lambda h: layers.GRU(h, reset_gate=False, use_fused_bptt=True), APP_COMPILE),
}
BASELINES = {"LSTM": "keras.LSTM", "GRU": "keras.GRU"}


def build(name, timesteps, features, units, padded=False):
    make_layer, compile_args = VARIANTS[name]
    inputs = keras.Input((timesteps, features))
    sequences = keras.layers.Masking(0.0)(inputs) if padded else inputs
    outputs = keras.layers.Dense(1)(make_layer(units)(sequences))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="mse", **compile_args)
    return model


def steps_per_second(model, x, y, batch, steps):
    """Returns (steps per wall second, steps per CPU second of this process).

    CPU time counts only this process's work, so on a machine other jobs share it is the steadier figure.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    model.fit(x[: steps * batch], y[: steps * batch], batch_size=batch, epochs=1, verbose=0, shuffle=False)
    return steps / (time.perf_counter() - wall), steps / (time.process_time() - cpu)


def run_shape(timesteps, features, units, batch, rounds, steps, names, padded=False):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(steps * batch, timesteps, features)).astype("float32")
    if padded:  # right padding behind a Masking layer: each sequence 1 to T steps long, as sentences are
        lengths = rng.integers(1, timesteps + 1, size=len(x))
        x[np.arange(timesteps)[None, :] >= lengths[:, None]] = 0.0
    y = rng.normal(size=(steps * batch, 1)).astype("float32")
    models = {name: build(name, timesteps, features, units, padded) for name in names}
    for model in models.values():  # compile and warm up outside the timed rounds
        steps_per_second(model, x, y, batch, steps)
    samples = {name: [] for name in names}
    for _ in range(rounds):
        for name, model in models.items():
            samples[name].append(steps_per_second(model, x, y, batch, steps))
    rows = []
    for name in names:
        baseline = BASELINES["GRU" if "GRU" in name else "LSTM"]
        rows.append(
            {
                "variant": name,
                "steps_per_s": statistics.median(wall for wall, _ in samples[name]),
                "steps_per_cpu_s": statistics.median(cpu for _, cpu in samples[name]),
                "ratio_vs_keras_default": _paired_ratio(samples, name, baseline, 0),
                "cpu_ratio_vs_keras_default": _paired_ratio(samples, name, baseline, 1),
                "samples_wall_cpu": samples[name],
            }
        )
    return rows


def _paired_ratio(samples, name, baseline, column):
    if baseline not in samples:
        return None
    return statistics.median(ours[column] / theirs[column] for ours, theirs in zip(samples[name], samples[baseline]))


def _ratio(value):
    return f"{value:5.2f}x" if value is not None else "     -"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shapes",
        nargs="+",
        default=["30,90,64,64", "100,64,256,64"],
        help="T,D,H,B tuples (timesteps, features, units, batch)",
    )
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=60, help="training steps timed per round (one fit call)")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument(
        "--padded",
        action="store_true",
        help="right-padded sequences (1 to T steps) behind a Masking layer: the masked loops",
    )
    parser.add_argument("--out", default="benchmarks/results/layers.json")
    args = parser.parse_args(argv)

    results = {
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
        "machine": f"{platform.machine()} {os.cpu_count()} cpus",
        "shapes": [],
    }
    for shape in args.shapes:
        timesteps, features, units, batch = (int(v) for v in shape.split(","))
        rows = run_shape(timesteps, features, units, batch, args.rounds, args.steps, args.variants, args.padded)
        results["shapes"].append(
            {"T": timesteps, "D": features, "H": units, "B": batch, "padded": args.padded, "rows": rows}
        )
        print(
            f"\nT={timesteps} D={features} H={units} B={batch}{' padded' if args.padded else ''}  "
            f"(median of {args.rounds} rounds "
            f"x {args.steps} steps)"
        )
        print(f"{'variant':32s} {'steps/s':>8s} {'ratio':>6s} {'steps/cpu-s':>12s} {'ratio':>6s}")
        for row in rows:
            print(
                f"{row['variant']:32s} {row['steps_per_s']:8.2f} {_ratio(row['ratio_vs_keras_default'])} "
                f"{row['steps_per_cpu_s']:12.2f} {_ratio(row['cpu_ratio_vs_keras_default'])}"
            )
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as handle:
        json.dump(results, handle, indent=2)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
