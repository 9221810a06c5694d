"""apps.jazz: how fast a solo comes out, and how its statistics compare with the solos the model learnt from.

1. Cold wall time of `python -m apps.jazz generate` (a fresh process each run, imports included); target
   < 10 s on this CPU.
2. Music statistics (`apps.jazz.evaluate.statistics`) of `--solos` generated solos (seeds 0, 1, ...) over the
   default progression, beside those of the training solos: targets are a chord+scale-tone share within 5
   points of the real solos', and no span longer than 2 bars copied from the training corpus.

    python benchmarks/jazz.py                       # saved_models/jazz, its training data, writes JSON
    python benchmarks/jazz.py --runs 1 --solos 5 --model /tmp/m --data ../shared/data/jazz/wjazzd/mxl
"""

import argparse
import json
import os
import platform
import resource
import statistics as stats
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from apps.jazz import chords, data, evaluate, train  # noqa: E402

SHARE_TOLERANCE = 0.05
MAX_COPIED_BARS = 2.0
GENERATE_TARGET_S = 10.0


def cold_generate_seconds(model, runs):
    """Wall and CPU seconds of `runs` fresh `python -m apps.jazz generate` processes (output to a temporary file).

    The CPU seconds (user + system of the child) are the steadier figure when other jobs share the machine.
    """
    walls, cpus = [], []
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "apps.jazz", "generate", "--model", model, "--seed", str(run),
                            "--out", os.path.join(tmp, f"solo{run}.mid")], cwd=REPO, env=env, check=True,
                           capture_output=True)
            walls.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return walls, cpus


def generated_statistics(model_dir, count, measures, temperature, corpus):
    """Statistics of `count` solos generated in-process over the default progression."""
    import layers  # noqa: F401  (registers the recurrent layers for loading)
    from apps.common.bundle import load_bundle
    from apps.jazz import generate

    model, config = load_bundle(model_dir)
    generator = generate.Generator(model, config)
    timeline, bars = chords.parse_progression(generate.DEFAULT_PROGRESSION)
    timeline = chords.repeat(timeline, bars, measures)
    results = []
    for seed in range(count):
        notes, _ = generate.generate_solo(generator, timeline, measures, temperature=temperature, seed=seed)
        results.append(evaluate.statistics(notes, timeline, corpus=corpus))
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=os.path.join(REPO, "saved_models", "jazz"))
    parser.add_argument("--data", nargs="+", help="training solos (default: those the model records)")
    parser.add_argument("--runs", type=int, default=3, help="cold generate runs")
    parser.add_argument("--solos", type=int, default=20, help="generated solos for the statistics")
    parser.add_argument("--measures", type=int, default=24, help="bars a generated solo (two blues choruses)")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--json", default=os.path.join(REPO, "benchmarks", "results", "jazz.json"))
    args = parser.parse_args(argv)

    with open(os.path.join(args.model, "config.json"), encoding="utf-8") as handle:
        config = json.load(handle)
    paths = args.data or config["training"]["paths"]

    times, cpu_times = cold_generate_seconds(args.model, args.runs) if args.runs else ([], [])
    solos = data.load_solos(paths)
    corpus = evaluate.CorpusIndex(train.token_sequences(solos, "grammar"))
    real = evaluate.summarise([evaluate.statistics(s.notes, s.timeline, s.bar_quarters) for s in solos])
    generated = evaluate.summarise(generated_statistics(args.model, args.solos, args.measures, args.temperature,
                                                        corpus))
    gap = abs(generated["chord_or_scale_share"] - real["chord_or_scale_share"])
    result = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "model": os.path.relpath(args.model, REPO),
        "cold_generate_s": times,
        "cold_generate_median_s": stats.median(times) if times else None,
        "cold_generate_cpu_s": cpu_times,
        "load_average": os.getloadavg(),
        "real": real,
        "generated": generated,
        "settings": {"solos": args.solos, "measures": args.measures, "temperature": args.temperature},
        "targets": {
            "cold_generate_under_10_s": bool(times) and stats.median(times) < GENERATE_TARGET_S,
            "chord_or_scale_share_gap": gap,
            "chord_or_scale_share_within_5_points": gap <= SHARE_TOLERANCE,
            "no_copy_longer_than_2_bars": generated["longest_copy_bars_max"] <= MAX_COPIED_BARS,
        },
    }
    if times:
        print(f"cold `python -m apps.jazz generate`: median {stats.median(times):.2f} s wall "
              f"({', '.join(f'{t:.2f}' for t in times)}; target < {GENERATE_TARGET_S:.0f} s), "
              f"{stats.median(cpu_times):.2f} s CPU; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'':28} {'real':>8} {'generated':>10}")
    for key in ("chord_tone_share", "scale_tone_share", "approach_tone_share", "other_tone_share",
                "chord_or_scale_share", "pitch_range_semitones", "longest_repeat_tokens"):
        print(f"{key:28} {real[key]:>8.3f} {generated[key]:>10.3f}")
    print(f"chord+scale share gap {gap:.3f} (target <= {SHARE_TOLERANCE}); longest copy from the corpus "
          f"{generated['longest_copy_tokens_max']} tokens = {generated['longest_copy_bars_max']:.2f} bars "
          f"(target <= {MAX_COPIED_BARS:g})")
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=2)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
