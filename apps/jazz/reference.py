"""Generated solos against real ones on the same changes: per-feature histogram overlaps, and their ceiling.

For each real solo the model plays over the solo's own chords for its first `bars` bars; the generated notes
and the real ones are each summarised as histograms of seven features, pooled over all solos, and compared
feature by feature by the *overlap* of the two normalised histograms (the sum of the bin-wise minima: 1 for
identical distributions, 0 for disjoint ones); `mean` is the mean over the features:

| feature | bins |
|---|---|
| `pitch_class` | 12: the pitch class relative to the root of the chord sounding at the onset |
| `tone_type` | 4: chord, scale, approach, other tone of that chord (`apps.jazz.chords`) |
| `interval` | 25: semitones from the previous note, -12..+12, larger leaps clipped |
| `duration` | 10: quarter notes, edges `DURATION_EDGES` (below 0.2, 0.2 to 0.3, ..., 3.2 and above) |
| `onset` | 8: the eighth of the bar the note starts in |
| `notes_per_bar` | 16: notes starting in a bar, in bins of 2 (0-1, 2-3, ..., 30 and more) |
| `articulation` | 7: the share of the time to the next onset the note sounds, edges `ARTICULATION_EDGES` (below 0.3, ..., 0.95 to 1.05 legato, 1.05 and above); a solo's last note, and a note whose next onset is a bar or more away, are not counted |

The ceiling is the same overlaps between the odd-numbered and the even-numbered real solos (1st, 3rd, ...
against 2nd, 4th, ...): how close one half of the real music is to the other. Pools of half the size are a
little noisier, so the ceiling is a slightly conservative one.

In the spirit of MGEval (Yang & Lerch, "On the evaluation of generative models in music", 2018), which also
compares generated and real sets feature by feature through the overlap of two distributions. Where this
differs: MGEval smooths the intra-set and inter-set *distances* between pieces with a kernel density
estimate and measures the overlapping area (and a KL divergence); here the features' histograms are pooled
over the notes of all solos and compared directly, which is simpler, needs no bandwidth, and fits a
comparison on the same chords. The tone types are the grammar's four (the issue's three merge scale tones
with the rest). Real solos are compared on the grammar's grid (`apps.jazz.grammar.quantise`, monophonic),
with each note's own sounding length: the most a model of the grammar's tokens can reproduce.
"""

import itertools
import math

import numpy as np

from apps.common.progress import track
from apps.jazz import grammar

DURATION_EDGES = (0.2, 0.3, 0.4, 0.6, 0.8, 1.1, 1.6, 2.2, 3.2)
ONSET_BINS = 8
NOTES_PER_BAR_BINS = 16
ARTICULATION_EDGES = (0.3, 0.5, 0.7, 0.85, 0.95, 1.05)
FEATURES = {
    "pitch_class": 12,
    "tone_type": 4,
    "interval": 25,
    "duration": len(DURATION_EDGES) + 1,
    "onset": ONSET_BINS,
    "notes_per_bar": NOTES_PER_BAR_BINS,
    "articulation": len(ARTICULATION_EDGES) + 1,
}
_TONE_INDEX = {"C": 0, "S": 1, "A": 2, "X": 3}


def histograms(notes, timeline, bars, bar_quarters=4.0):
    """Counts of each feature over the notes starting in the first `bars` bars.

    Args:
        notes: `(offset, duration, midi)` triples in quarter notes (a note is cut at the end of the last bar;
            its articulation runs to the next note's onset, even one beyond the bars).
        timeline: the chords they are played over.
        bars: how many bars from offset 0 count.
        bar_quarters: the bar length in quarter notes.

    Returns:
        A dict feature -> int counts (`FEATURES` gives the number of bins).
    """
    end = bars * bar_quarters
    counts = {name: np.zeros(size, "int64") for name, size in FEATURES.items()}
    for (offset, duration, _), (following, _, _) in itertools.pairwise(sorted(notes)):
        if offset >= end - 1e-9:
            break
        if 0 < following - offset < bar_quarters - 1e-9:
            counts["articulation"][np.digitize(duration / (following - offset) + 1e-9, ARTICULATION_EDGES)] += 1
    notes = sorted(
        (offset, min(duration, end - offset), midi) for offset, duration, midi in notes if offset < end - 1e-9
    )
    per_bar = np.zeros(bars, "int64")
    previous = None
    for offset, duration, midi in notes:
        chord = timeline.chord_at(offset)
        counts["pitch_class"][(midi - chord.root) % 12] += 1
        counts["tone_type"][_TONE_INDEX[chord.tone_type(midi)]] += 1
        if previous is not None:
            counts["interval"][int(np.clip(midi - previous, -12, 12)) + 12] += 1
        previous = midi
        counts["duration"][np.digitize(duration + 1e-9, DURATION_EDGES)] += 1
        position = math.fmod(offset, bar_quarters) / bar_quarters
        counts["onset"][min(int(position * ONSET_BINS + 1e-9), ONSET_BINS - 1)] += 1
        per_bar[min(int(offset / bar_quarters + 1e-9), bars - 1)] += 1
    np.add.at(counts["notes_per_bar"], np.minimum(per_bar // 2, NOTES_PER_BAR_BINS - 1), 1)
    return counts


def pool(all_counts):
    """Sums histograms (dicts from `histograms`) feature by feature."""
    return {
        name: sum((counts[name] for counts in all_counts), np.zeros(size, "int64")) for name, size in FEATURES.items()
    }


def overlap(a, b):
    """The overlap of two histograms once each is normalised to sum 1: the sum of the bin-wise minima.

    1.0 for two empty histograms (nothing differs), 0.0 when only one is empty.
    """
    a, b = np.asarray(a, "float64"), np.asarray(b, "float64")
    if not a.sum() or not b.sum():
        return float(not a.sum() and not b.sum())
    return float(np.minimum(a / a.sum(), b / b.sum()).sum())


def overlaps(first, second):
    """Per-feature overlaps of two pooled histograms, and their mean under `mean`."""
    result = {name: overlap(first[name], second[name]) for name in FEATURES}
    result["mean"] = float(np.mean([result[name] for name in FEATURES]))
    return result


def solo_bars(solo, bars):
    """The bars of `solo` compared: its first `bars`, or fewer if it is shorter (at least one)."""
    return max(1, min(bars, int(solo.length / solo.bar_quarters + 1e-9)))


def real_notes(solo):
    """A real solo's notes on the grammar's grid, monophonic, each sounding as long as it was played (no gap
    joined to the note before)."""
    return [
        (start / grammar.GRID, length / grammar.GRID, midi)
        for start, length, midi in grammar.quantise(solo.notes, join_steps=0)
    ]


def ceiling(solos, bars=32):
    """Overlaps between the odd-numbered and the even-numbered real solos (their first `bars` bars)."""

    def pooled(part):
        return pool([histograms(real_notes(s), s.timeline, solo_bars(s, bars), s.bar_quarters) for s in part])

    return overlaps(pooled(solos[0::2]), pooled(solos[1::2]))


DRAW_SEED_STRIDE = 100
"""Draw d of solo i is sampled with seed `seed + DRAW_SEED_STRIDE * d + i`."""


def compare(generator, solos, bars=32, seed=0, corpus=None, draws=1, per_solo=False):
    """Generates over each real solo's own changes and compares with what was played there.

    Sampling is at temperature 1 without top-k, draw d of solo i with seed `seed + DRAW_SEED_STRIDE * d + i`,
    so every model compared draws from its own unmodified distribution with the same seeds.

    With several draws per solo the generated histograms are pooled over all of them before the overlaps are
    taken: the estimate of how far the model's distribution lies from the real one. The mean of each draw's own
    overlaps (`mean_over_draws`) is lower, and more so for a model whose solos vary more: a set of 40 solos that
    happens to hold several in double time moves the duration histogram by up to 0.08, and on average such
    noise can only lower an overlap with a fixed histogram (the overlap is concave).

    Args:
        generator: an `apps.jazz.generate.SoloSampler`.
        solos: the real `apps.jazz.data.Solo`s.
        bars: the bars of each solo compared (`solo_bars`).
        seed: the first seed.
        corpus: an `apps.jazz.evaluate.CorpusIndex` of the training solos, for the longest span of the
            generated solos copied from it (a model replaying memorised solos would score well here).
        draws: solos generated over each real one.
        per_solo: also return each solo's histograms (`per_solo`: generated, summed over the draws, and
            real), for `bootstrap_difference`.

    Returns:
        A JSON-serialisable dict: `overlaps` (generated, pooled over the draws, vs real), `ceiling` (real odd
        vs even), `solos`, `bars`, `draws`, `notes` (generated per draw, real), with several draws `by_draw`
        (each draw's overlaps) and `mean_over_draws`, and with a corpus `longest_copy` (`tokens`, `bars`,
        `sounding_bars`: the maxima over all solos generated; `apps.jazz.evaluate.statistics`).
    """
    from apps.jazz import evaluate, generate

    generated = [[] for _ in solos]
    copies = []
    runs = [(draw, index, solo) for draw in range(draws) for index, solo in enumerate(solos)]
    for draw, index, solo in track(runs, "generating", "solo"):
        count = solo_bars(solo, bars)
        notes, _ = generate.generate_solo(
            generator,
            solo.timeline,
            count,
            temperature=1.0,
            seed=seed + DRAW_SEED_STRIDE * draw + index,
            bar_quarters=solo.bar_quarters,
            top_k=0,
        )
        generated[index].append(histograms(notes, solo.timeline, count, solo.bar_quarters))
        if corpus is not None:
            copies.append(evaluate.statistics(notes, solo.timeline, solo.bar_quarters, corpus)["longest_copy"])
    real = [histograms(real_notes(s), s.timeline, solo_bars(s, bars), s.bar_quarters) for s in solos]
    per_solo_generated = [pool(draws_of_solo) for draws_of_solo in generated]
    generated_pool, real_pool = pool(per_solo_generated), pool(real)
    result = {
        "overlaps": overlaps(generated_pool, real_pool),
        "ceiling": ceiling(solos, bars),
        "solos": len(solos),
        "bars": bars,
        "draws": draws,
        "notes": {
            "generated": int(generated_pool["tone_type"].sum()) / draws,
            "real": int(real_pool["tone_type"].sum()),
        },
    }
    if draws > 1:
        result["by_draw"] = [overlaps(pool([g[draw] for g in generated]), real_pool) for draw in range(draws)]
        result["mean_over_draws"] = {
            name: float(np.mean([run[name] for run in result["by_draw"]])) for name in result["overlaps"]
        }
    if copies:
        result["longest_copy"] = {key: max(c[key] for c in copies) for key in ("tokens", "bars", "sounding_bars")}
    if per_solo:
        result["per_solo"] = {
            "generated": [{name: h[name].tolist() for name in FEATURES} for h in per_solo_generated],
            "real": [{name: h[name].tolist() for name in FEATURES} for h in real],
        }
    return result


def bootstrap_difference(model, baseline, real, rounds=2000, seed=0):
    """How sure the overlaps of one model beat another's: the solos resampled with replacement.

    Each round draws the solos anew (the same ones for both models and the real pool), pools their
    histograms and takes each model's overlaps with the real pool.

    Args:
        model, baseline: per-solo histograms of what each model generated over the same solos, in the same
            order (`compare(..., per_solo=True)["per_solo"]["generated"]`).
        real: the per-solo histograms of the real solos.
        rounds: resamples.
        seed: of the resampling.

    Returns:
        Per feature and for `mean`: `low` and `high` (the 5th and 95th percentiles of model minus baseline)
        and `share_at_least` (the share of resamples where the model's overlap is at least the baseline's).
    """
    if not (len(model) == len(baseline) == len(real)) or not real:
        raise ValueError("model, baseline and real need histograms of the same solos")
    weights = np.random.default_rng(seed).multinomial(len(real), np.full(len(real), 1 / len(real)), size=rounds)

    def resampled_overlaps(generated, target, name):
        pooled_generated = weights @ np.asarray([h[name] for h in generated], "float64")
        pooled_target = weights @ np.asarray([h[name] for h in target], "float64")
        return np.array([overlap(a, b) for a, b in zip(pooled_generated, pooled_target)])

    differences = {
        name: resampled_overlaps(model, real, name) - resampled_overlaps(baseline, real, name) for name in FEATURES
    }
    differences["mean"] = np.mean([differences[name] for name in FEATURES], axis=0)
    return {
        name: {
            "low": float(np.percentile(d, 5)),
            "high": float(np.percentile(d, 95)),
            "share_at_least": float(np.mean(d >= 0)),
        }
        for name, d in differences.items()
    }
