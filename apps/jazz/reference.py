"""Generated solos against real ones on the same changes: per-feature histogram overlaps, and their ceiling.

For each real solo the model plays over the solo's own chords for its first `bars` bars; the generated notes
and the real ones are each summarised as histograms of six features, pooled over all solos, and compared
feature by feature by the *overlap* of the two normalised histograms (the sum of the bin-wise minima: 1 for
identical distributions, 0 for disjoint ones):

| feature | bins |
|---|---|
| `pitch_class` | 12: the pitch class relative to the root of the chord sounding at the onset |
| `tone_type` | 4: chord, scale, approach, other tone of that chord (`apps.jazz.chords`) |
| `interval` | 25: semitones from the previous note, -12..+12, larger leaps clipped |
| `duration` | 10: quarter notes, edges `DURATION_EDGES` (below 0.2, 0.2 to 0.3, ..., 3.2 and above) |
| `onset` | 8: the eighth of the bar the note starts in |
| `notes_per_bar` | 16: notes starting in a bar, in bins of 2 (0-1, 2-3, ..., 30 and more) |

The ceiling is the same overlaps between the odd-numbered and the even-numbered real solos (1st, 3rd, ...
against 2nd, 4th, ...): how close one half of the real music is to the other. Pools of half the size are a
little noisier, so the ceiling is a slightly conservative one.

In the spirit of MGEval (Yang & Lerch, "On the evaluation of generative models in music", 2018), which also
compares generated and real sets feature by feature through the overlap of two distributions. Where this
differs: MGEval smooths the intra-set and inter-set *distances* between pieces with a kernel density
estimate and measures the overlapping area (and a KL divergence); here the features' histograms are pooled
over the notes of all solos and compared directly, which is simpler, needs no bandwidth, and fits a
comparison on the same chords. The tone types are the grammar's four (the issue's three merge scale tones
with the rest). Real solos are compared as the grammar sees them, quantised to its grid
(`apps.jazz.grammar.quantise`: articulation gaps joined to their notes), since that is the most a model of
the grammar's tokens can reproduce.
"""

import math

import numpy as np

from apps.jazz import grammar

DURATION_EDGES = (0.2, 0.3, 0.4, 0.6, 0.8, 1.1, 1.6, 2.2, 3.2)
ONSET_BINS = 8
NOTES_PER_BAR_BINS = 16
FEATURES = {
    "pitch_class": 12,
    "tone_type": 4,
    "interval": 25,
    "duration": len(DURATION_EDGES) + 1,
    "onset": ONSET_BINS,
    "notes_per_bar": NOTES_PER_BAR_BINS,
}
_TONE_INDEX = {"C": 0, "S": 1, "A": 2, "X": 3}


def histograms(notes, timeline, bars, bar_quarters=4.0):
    """Counts of each feature over the notes starting in the first `bars` bars.

    Args:
        notes: `(offset, duration, midi)` triples in quarter notes (a note is cut at the end of the last bar).
        timeline: the chords they are played over.
        bars: how many bars from offset 0 count.
        bar_quarters: the bar length in quarter notes.

    Returns:
        A dict feature -> int counts (`FEATURES` gives the number of bins).
    """
    end = bars * bar_quarters
    notes = sorted(
        (offset, min(duration, end - offset), midi) for offset, duration, midi in notes if offset < end - 1e-9
    )
    counts = {name: np.zeros(size, "int64") for name, size in FEATURES.items()}
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
    """A real solo's notes as the grammar sees them: quantised to its grid, monophonic."""
    return [(start / grammar.GRID, length / grammar.GRID, midi) for start, length, midi in grammar.quantise(solo.notes)]


def ceiling(solos, bars=32):
    """Overlaps between the odd-numbered and the even-numbered real solos (their first `bars` bars)."""

    def pooled(part):
        return pool([histograms(real_notes(s), s.timeline, solo_bars(s, bars), s.bar_quarters) for s in part])

    return overlaps(pooled(solos[0::2]), pooled(solos[1::2]))


def compare(generator, solos, bars=32, seed=0, corpus=None):
    """Generates over each real solo's own changes and compares with what was played there.

    Sampling is at temperature 1 without top-k, solo i with seed `seed + i`, so every model compared draws
    from its own unmodified distribution with the same seeds.

    Args:
        generator: an `apps.jazz.generate.SoloSampler`.
        solos: the real `apps.jazz.data.Solo`s.
        bars: the bars of each solo compared (`solo_bars`).
        seed: the first seed.
        corpus: an `apps.jazz.evaluate.CorpusIndex` of the training solos, for the longest span of the
            generated solos copied from it (a model replaying memorised solos would score well here).

    Returns:
        A JSON-serialisable dict: `overlaps` (generated vs real), `ceiling` (real odd vs even), `solos`,
        `bars`, `notes` (generated, real), and with a corpus `longest_copy` (`tokens`, `bars`, `sounding_bars`: the
        maxima over the solos; `apps.jazz.evaluate.statistics`).
    """
    from apps.jazz import evaluate, generate

    generated, real, copies = [], [], []
    for index, solo in enumerate(solos):
        count = solo_bars(solo, bars)
        notes, _ = generate.generate_solo(
            generator, solo.timeline, count, temperature=1.0, seed=seed + index, bar_quarters=solo.bar_quarters, top_k=0
        )
        generated.append(histograms(notes, solo.timeline, count, solo.bar_quarters))
        real.append(histograms(real_notes(solo), solo.timeline, count, solo.bar_quarters))
        if corpus is not None:
            copies.append(evaluate.statistics(notes, solo.timeline, solo.bar_quarters, corpus)["longest_copy"])
    generated_pool, real_pool = pool(generated), pool(real)
    result = {
        "overlaps": overlaps(generated_pool, real_pool),
        "ceiling": ceiling(solos, bars),
        "solos": len(solos),
        "bars": bars,
        "notes": {"generated": int(generated_pool["tone_type"].sum()), "real": int(real_pool["tone_type"].sum())},
    }
    if copies:
        result["longest_copy"] = {key: max(c[key] for c in copies) for key in ("tokens", "bars", "sounding_bars")}
    return result
