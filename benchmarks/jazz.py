"""apps.jazz: how fast a solo comes out, how likely the model finds unseen solos, and how its solos compare with
real ones.

1. Cold wall time of `python -m apps.jazz generate` (a fresh process each run, imports included); target
   < 10 s on this CPU. Beside it, taking turns, the same command with `--wav` (FluidSynth rendering the
   MIDI to audio): target, the median extra under 5 s.
2. Music statistics (`apps.jazz.evaluate.statistics`) of `--solos` generated solos (seeds 0, 1, ...) over the
   default progression, beside those of the training solos: targets are a chord+scale-tone share within 5
   points of the real solos', and no span longer than 2 bars copied from the training corpus, measured from
   its first note's onset to its last note's end (`apps.jazz.evaluate.longest_sounding_copy`: rests at a
   span's edges match any solo's silence; the span's full length is printed beside it).
3. On the model's validation solos (held out by its training), for `--model` and, given, a `--baseline`
   (the unconditioned model of the same size): whole-solo perplexity (`evaluate`), and the histogram
   overlaps of what each model plays over those solos' own changes (first `--bars` bars; temperature 1, no
   top-k) with what was played there, beside the real-vs-real ceiling (`apps.jazz.reference`): `--draws`
   solos over each real one (default 5; seeds 0, 100, ..., 400 plus the solo's index), their histograms pooled,
   and beside it the mean of each draw's own overlaps. With a baseline, a bootstrap over the validation solos
   gives the 5th-95th percentile of each overlap's difference. Targets (issue 15): perplexity at least 20% below
   the baseline's; every (pooled) overlap at least the baseline's; the mean overlap within 0.03 of the ceiling.
   Issue 34: the articulation overlap within 0.03 of its ceiling, and the perplexity of the tokens' other parts
   (`perplexity_without_articulation`: the probabilities of tokens differing in their articulation alone
   summed; the tokens less their articulation are those of a model without it) beside the baseline's.

    python benchmarks/jazz.py                       # saved_models/jazz, its training data, writes JSON
    python benchmarks/jazz.py --baseline /tmp/jazz-unconditioned    # with the figures of another model
    python benchmarks/jazz.py --runs 1 --solos 5 --model /tmp/m --data ../shared/data/jazz/wjazzd/mxl
    python benchmarks/jazz.py --cold-only --runs 5  # the cold generate timings alone (with and without --wav)
"""

import argparse
import json
import math
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

from apps.jazz import chords, data, evaluate, reference, train  # noqa: E402

SHARE_TOLERANCE = 0.05
MAX_COPIED_BARS = 2.0
GENERATE_TARGET_S = 10.0
WAV_EXTRA_TARGET_S = 5.0
PERPLEXITY_REDUCTION = 0.20
CEILING_TOLERANCE = 0.03


def cold_generate_seconds(model, runs, variants=((),)):
    """Wall and CPU seconds of `runs` fresh `python -m apps.jazz generate` processes (output to a temporary file)
    for each of `variants` (extra arguments), taking turns run by run so that a change in the machine's load
    falls on all of them alike.

    The CPU seconds (user + system of the child and its own children, FluidSynth's included) are the steadier
    figure when other jobs share the machine.

    Returns:
        `(walls, cpus)`: for each variant, a list of `runs` seconds.
    """
    walls, cpus = [[] for _ in variants], [[] for _ in variants]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(runs):
            for index, extra in enumerate(variants):
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                start = time.perf_counter()
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "apps.jazz",
                        "generate",
                        "--model",
                        model,
                        "--seed",
                        str(run),
                        "--out",
                        os.path.join(tmp, f"solo{run}-{index}.mid"),
                        *extra,
                    ],
                    cwd=REPO,
                    env=env,
                    check=True,
                    capture_output=True,
                )
                walls[index].append(time.perf_counter() - start)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpus[index].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return walls, cpus


def cold_figures(model, runs):
    """The cold `generate` timings without and with `--wav` (when FluidSynth is installed), printed and as a dict."""
    import shutil

    variants = ((), ("--wav",)) if shutil.which("fluidsynth") else ((),)
    walls, cpus = cold_generate_seconds(model, runs, variants)
    result = {
        "cold_generate_s": walls[0],
        "cold_generate_median_s": stats.median(walls[0]),
        "cold_generate_cpu_s": cpus[0],
    }
    print(
        f"cold `python -m apps.jazz generate`: median {stats.median(walls[0]):.2f} s wall "
        f"({', '.join(f'{t:.2f}' for t in walls[0])}; target < {GENERATE_TARGET_S:.0f} s), "
        f"{stats.median(cpus[0]):.2f} s CPU; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    if len(variants) == 1:
        print("(FluidSynth is not installed: --wav not timed)")
        return result
    extra = [wav - plain for plain, wav in zip(walls[0], walls[1])]
    result.update(
        cold_generate_wav_s=walls[1],
        cold_generate_wav_cpu_s=cpus[1],
        wav_extra_median_s=stats.median(extra),
        wav_extra_cpu_median_s=stats.median(b - a for a, b in zip(cpus[0], cpus[1])),
    )
    print(
        f"with --wav: median {stats.median(walls[1]):.2f} s wall ({', '.join(f'{t:.2f}' for t in walls[1])}), "
        f"{stats.median(cpus[1]):.2f} s CPU; --wav adds a median {result['wav_extra_median_s']:.2f} s wall, "
        f"{result['wav_extra_cpu_median_s']:.2f} s CPU (target < {WAV_EXTRA_TARGET_S:.0f} s)"
    )
    return result


def generated_statistics(model_dir, count, measures, temperature, corpus):
    """Statistics of `count` solos generated in-process over the default progression."""
    import layers  # noqa: F401  (registers the recurrent layers for loading)
    from apps.common.bundle import load_bundle
    from apps.jazz import generate

    model, config = load_bundle(model_dir)
    generator = generate.SoloSampler(model, config)
    timeline, bars = chords.parse_progression(generate.DEFAULT_PROGRESSION)
    timeline = chords.repeat(timeline, bars, measures)
    results = []
    for seed in range(count):
        notes, _ = generate.generate_solo(generator, timeline, measures, temperature=temperature, seed=seed)
        results.append(evaluate.statistics(notes, timeline, corpus=corpus))
    return results


def held_out_figures(model_dir, validation, bars, corpus, draws=5):
    """Whole-solo perplexity of the validation solos and the overlaps over their changes, for one bundle.

    The overlaps pool `draws` solos over each validation solo (`apps.jazz.reference.compare`): one set of 40
    draws moves a single overlap by up to 0.09, more than the models differ by. Each draw's own figures are under
    `by_draw`, their mean under `mean_over_draws`; the per-solo histograms (for the bootstrap) under `per_solo`.
    """
    import layers  # noqa: F401  (registers the recurrent layers for loading)
    from apps.common.bundle import load_bundle
    from apps.jazz import generate

    model, config = load_bundle(model_dir)
    total, count, other_parts = 0.0, 0, 0.0
    for solo in validation:
        nll, _ = evaluate.solo_negative_log_likelihood(model, config, solo)
        total, count = total + float(nll.sum()), count + len(nll)
        other_parts += float(evaluate.solo_negative_log_likelihood(model, config, solo, articulation=False)[0].sum())
    start = time.perf_counter()
    sampler = generate.SoloSampler(model, config)
    compared = reference.compare(sampler, validation, bars=bars, corpus=corpus, draws=draws, per_solo=True)
    return {
        "model": os.path.relpath(model_dir, REPO),
        "conditioning": config.get("conditioning", "none"),
        "perplexity": math.exp(total / count),
        "perplexity_without_articulation": math.exp(other_parts / count),
        "tokens": count,
        **compared,
        "compare_s": time.perf_counter() - start,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=os.path.join(REPO, "saved_models", "jazz"))
    parser.add_argument("--data", nargs="+", help="training solos (default: those the model records)")
    parser.add_argument("--runs", type=int, default=3, help="cold generate runs")
    parser.add_argument("--solos", type=int, default=20, help="generated solos for the statistics")
    parser.add_argument("--measures", type=int, default=24, help="bars a generated solo (two blues choruses)")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--baseline", help="a second bundle (the unconditioned model) for the held-out figures")
    parser.add_argument("--bars", type=int, default=32, help="bars of each validation solo compared")
    parser.add_argument(
        "--draws", type=int, default=5, help="solos generated over each validation solo, their histograms pooled"
    )
    parser.add_argument("--json", default=os.path.join(REPO, "benchmarks", "results", "jazz.json"))
    parser.add_argument(
        "--cold-only",
        action="store_true",
        help="only the cold generate timings (with and without --wav), printed and not written",
    )
    args = parser.parse_args(argv)
    if args.cold_only:
        cold_figures(args.model, args.runs)
        return

    with open(os.path.join(args.model, "config.json"), encoding="utf-8") as handle:
        config = json.load(handle)
    # A bundle records its data relative to the repository (`apps.common.paths.recorded`).
    paths = args.data or [os.path.join(REPO, path) for path in config["training"]["paths"]]

    cold = cold_figures(args.model, args.runs) if args.runs else {"cold_generate_s": []}
    times = cold["cold_generate_s"]
    solos = data.load_solos(paths)
    corpus = evaluate.CorpusIndex(train.token_sequences(solos, "grammar"))
    real = evaluate.summarise([evaluate.statistics(s.notes, s.timeline, s.bar_quarters) for s in solos])
    generated = evaluate.summarise(
        generated_statistics(args.model, args.solos, args.measures, args.temperature, corpus)
    )
    gap = abs(generated["chord_or_scale_share"] - real["chord_or_scale_share"])
    # The held-out solos by the names the model records; the baseline must have been trained on the same split.
    held_out = set(config["training"]["validation_files"])
    validation = [solo for solo in solos if solo.name in held_out]
    training_corpus = evaluate.CorpusIndex(
        train.token_sequences([s for s in solos if s.name not in held_out], "grammar")
    )
    figures = [held_out_figures(args.model, validation, args.bars, training_corpus, args.draws)]
    if args.baseline:
        figures.append(held_out_figures(args.baseline, validation, args.bars, training_corpus, args.draws))
    per_solo = [figure.pop("per_solo") for figure in figures]
    result = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "model": os.path.relpath(args.model, REPO),
        **cold,
        "load_average": os.getloadavg(),
        "real": real,
        "generated": generated,
        "settings": {"solos": args.solos, "measures": args.measures, "temperature": args.temperature},
        "targets": {
            "cold_generate_under_10_s": bool(times) and stats.median(times) < GENERATE_TARGET_S,
            "wav_adds_under_5_s": cold.get("wav_extra_median_s", float("inf")) < WAV_EXTRA_TARGET_S,
            "chord_or_scale_share_gap": gap,
            "chord_or_scale_share_within_5_points": gap <= SHARE_TOLERANCE,
            "no_copy_longer_than_2_bars": generated["longest_copy_sounding_bars_max"] <= MAX_COPIED_BARS,
        },
        "held_out": figures,
    }
    model_figures = figures[0]
    names = [*reference.FEATURES, "mean"]
    targets = result["targets"]
    targets["held_out_mean_overlap_within_0.03_of_ceiling"] = (
        model_figures["overlaps"]["mean"] >= model_figures["ceiling"]["mean"] - CEILING_TOLERANCE
    )
    targets["held_out_articulation_overlap_within_0.03_of_ceiling"] = (
        model_figures["overlaps"]["articulation"] >= model_figures["ceiling"]["articulation"] - CEILING_TOLERANCE
    )
    targets["held_out_no_copy_longer_than_2_bars"] = model_figures["longest_copy"]["sounding_bars"] <= MAX_COPIED_BARS
    if args.baseline:
        baseline = figures[1]
        targets["perplexity_reduction"] = 1 - model_figures["perplexity"] / baseline["perplexity"]
        targets["perplexity_at_least_20_percent_below_baseline"] = (
            targets["perplexity_reduction"] >= PERPLEXITY_REDUCTION
        )
        targets["perplexity_without_articulation_change"] = (
            model_figures["perplexity_without_articulation"] / baseline["perplexity_without_articulation"] - 1
        )
        targets["every_overlap_at_least_the_baselines"] = all(
            model_figures["overlaps"][name] >= baseline["overlaps"][name] for name in reference.FEATURES
        )
        result["bootstrap_difference"] = reference.bootstrap_difference(
            per_solo[0]["generated"], per_solo[1]["generated"], per_solo[0]["real"]
        )
    print(f"{'':28} {'real':>8} {'generated':>10}")
    for key in (
        "chord_tone_share",
        "scale_tone_share",
        "approach_tone_share",
        "other_tone_share",
        "chord_or_scale_share",
        "pitch_range_semitones",
        "longest_repeat_tokens",
    ):
        print(f"{key:28} {real[key]:>8.3f} {generated[key]:>10.3f}")
    print(
        f"chord+scale share gap {gap:.3f} (target <= {SHARE_TOLERANCE}); longest copy from the corpus "
        f"{generated['longest_copy_tokens_max']} tokens = {generated['longest_copy_bars_max']:.2f} bars, "
        f"{generated['longest_copy_sounding_bars_max']:.2f} bars from a note's onset to a note's end "
        f"(target <= {MAX_COPIED_BARS:g})"
    )
    print(
        f"\n{len(validation)} validation solos: whole-solo perplexity; overlaps with the real solos over their "
        f"own changes (first {args.bars} bars, temperature 1, no top-k; {args.draws} draws over each solo, "
        "pooled; in brackets the mean of each draw's own overlaps)"
    )
    print(
        f"{'':16}"
        + "".join(f"{os.path.basename(os.path.normpath(f['model']))[:22]:>24}" for f in figures)
        + f"{'real odd vs even':>18}"
    )
    print(f"{'perplexity':16}" + "".join(f"{f['perplexity']:>24.1f}" for f in figures) + f"{'':>18}")
    print(
        f"{'  articulation out':16}"
        + "".join(f"{f['perplexity_without_articulation']:>24.2f}" for f in figures)
        + f"{'':>18}"
    )
    for name in names:
        print(
            f"{name:16}"
            + "".join(
                f"{f['overlaps'][name]:>16.3f} ({f.get('mean_over_draws', f['overlaps'])[name]:.3f})" for f in figures
            )
            + f"{model_figures['ceiling'][name]:>18.3f}"
        )
    if "bootstrap_difference" in result:
        print("model minus baseline, resampling the validation solos: 5th..95th percentile, share of resamples >= 0")
        for name, spread in result["bootstrap_difference"].items():
            print(f"  {name:14} {spread['low']:+.3f}..{spread['high']:+.3f}  {spread['share_at_least']:.0%}")
    print(f"{'longest copy':16}" + "".join(f"{f['longest_copy']['bars']:>19.2f} bars" for f in figures))
    print(f"{'  of it sounding':16}" + "".join(f"{f['longest_copy']['sounding_bars']:>19.2f} bars" for f in figures))
    print(
        "targets: "
        + ", ".join(
            f"{key} {value:.3f}" if isinstance(value, float) else f"{key} {value}" for key, value in targets.items()
        )
    )
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=2)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
