"""How a solo sounds in numbers, for generated and real solos alike, and how likely a model finds it.

`negative_log_likelihood` is the model's mean surprise per token of a solo, fed the solo's own tokens
(teacher forcing); exp of it over held-out solos is the held-out perplexity.

`statistics` gives, for one solo: the share of its notes that are chord, scale, approach and other tones of
the chord sounding at their onset (`apps.jazz.chords`), the pitch range, the histogram of intervals between
successive notes, the longest token n-gram that occurs twice in the solo and, given a `CorpusIndex`, the
longest token span also found in the training corpus. Spans are counted on the grammar tokens
(`apps.jazz.grammar`), in tokens and in bars (their total duration over the bar length).

The training corpus travels in the bundle as its grammar tokens (`TRAINING_TOKENS_FILE`, written by `train`), so
the copy check needs neither the corpus nor parsing it.
"""

import functools
import math
import os
import zipfile

import numpy as np

from apps.common.errors import UsageError
from apps.common.progress import track
from apps.jazz import conditioning, grammar

TRAINING_TOKENS_FILE = "training_tokens.npz"
"""In a bundle: the grammar tokens of each training solo (validation solos left out), for the copy check."""

MAX_INTERVAL = 12
_BASE = np.uint64(0x9E3779B97F4A7C15)  # an odd 64-bit constant: n-gram hashes wrap around 2**64


def _prefix_hashes(ids):
    hashes = np.zeros(len(ids) + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for index, value in enumerate(ids):
            hashes[index + 1] = hashes[index] * _BASE + np.uint64(value + 1)
    return hashes


CACHED_NGRAMS = 8
"""Up to this length the corpus's n-grams are kept, as sets shared by every solo scored; beyond it a solo's
spans are followed through the few corpus positions that still match them, so that memory stays that of a few
corpus-sized arrays however long a copied span is."""


def _span_hashes(prefix, starts, n):
    with np.errstate(over="ignore"):
        return prefix[starts + n] - prefix[starts] * (_BASE ** np.uint64(n))


class CorpusIndex:
    """The token n-grams of a corpus, to find the longest span of a solo copied from it.

    Args:
        sequences: token sequences (lists of strings), one per training solo.
    """

    def __init__(self, sequences):
        self._ids = {}
        encoded = [self.ids(sequence) for sequence in sequences]
        # The solos end to end: a span starting at position p may run up to the end of p's own solo.
        self._prefix = _prefix_hashes([token for ids in encoded for token in ids])
        sizes = [len(ids) for ids in encoded]
        self._ends = np.repeat(np.cumsum(sizes, dtype=np.int64), sizes)
        self._positions = np.arange(len(self._ends))
        self._sets = {}

    def ids(self, tokens):
        return [self._ids.setdefault(token, len(self._ids)) for token in tokens]

    def _ngrams(self, n):
        if n not in self._sets:
            starts = self._positions[self._positions + n <= self._ends]
            self._sets[n] = np.unique(_span_hashes(self._prefix, starts, n))
        return self._sets[n]

    def longest_copy(self, tokens):
        """Returns `(length, start)` of the longest span of `tokens` that occurs in the corpus (the first one)."""
        return _longest_of(self.copied_lengths(tokens))

    def copied_lengths(self, tokens):
        """For each position of `tokens`, the length of the longest span starting there that occurs in the corpus."""
        prefix = _prefix_hashes(self.ids(tokens))
        lengths = np.zeros(len(tokens), dtype=int)
        starts = np.arange(len(tokens))  # where a span of length n - 1 was found in the corpus
        corpus = self._positions  # beyond CACHED_NGRAMS: where such a span starts in the corpus
        for n in range(1, len(tokens) + 1):
            # A span found in the corpus implies its prefixes are: each start's length grows until it misses.
            starts = starts[starts + n <= len(tokens)]
            hashes = _span_hashes(prefix, starts, n)
            if n <= CACHED_NGRAMS:
                found = self._ngrams(n)
            else:
                corpus = corpus[corpus + n <= self._ends[corpus]]
                found = _span_hashes(self._prefix, corpus, n)
                matching = np.isin(found, hashes)
                corpus, found = corpus[matching], found[matching]
            starts = starts[np.isin(hashes, found)]
            if not starts.size:
                break
            lengths[starts] = n
        return lengths


def save_training_tokens(path, sequences):
    """Writes token sequences (lists of strings) exactly, compactly: each distinct token once, and ids.

    The file (`.npz`, no pickles) holds `tokens` (the distinct tokens), `ids` (every sequence's token ids, one
    after another) and `lengths` (each sequence's length).
    """
    distinct = sorted({token for sequence in sequences for token in sequence})
    index = {token: i for i, token in enumerate(distinct)}
    ids = [index[token] for sequence in sequences for token in sequence]
    np.savez_compressed(
        path,
        tokens=np.array(distinct, dtype=str),
        ids=np.array(ids, dtype=np.uint16 if len(distinct) <= 1 << 16 else np.uint32),
        lengths=np.array([len(sequence) for sequence in sequences], dtype=np.int64),
    )


def load_training_tokens(bundle):
    """The token sequences a bundle carries (`TRAINING_TOKENS_FILE`), or None for a bundle without them.

    Raises:
        UsageError: the file is there but damaged.
    """
    path = os.path.join(bundle, TRAINING_TOKENS_FILE)
    if not os.path.isfile(path):
        return None
    try:
        with np.load(path) as stored:
            distinct, ids, lengths = stored["tokens"].tolist(), stored["ids"], stored["lengths"]
        if ids.ndim != 1 or lengths.ndim != 1 or lengths.min(initial=0) < 0 or lengths.sum() != len(ids):
            raise ValueError("its ids and lengths disagree")
        flat = [distinct[i] for i in ids.tolist()]
    except (OSError, ValueError, KeyError, IndexError, TypeError, zipfile.BadZipFile) as error:
        raise UsageError(f"corrupt {path}: {error}") from None
    ends = np.cumsum(lengths).tolist()
    return [flat[end - length : end] for end, length in zip(ends, lengths.tolist())]


def _longest_of(lengths):
    return (int(lengths.max()), int(lengths.argmax())) if len(lengths) else (0, 0)


def longest_sounding_copy(corpus, tokens, bar_quarters=4.0, lengths=None):
    """The longest stretch of `tokens` from a note's onset to a note's end inside a span copied from `corpus`.

    In bars. Rests at either end of a copied span do not count: silence matches any solo's silence, so a span of
    rests alone is no replayed music (it is 0 here, however long). `lengths`: `corpus.copied_lengths(tokens)`,
    where already known.
    """
    lengths = corpus.copied_lengths(tokens) if lengths is None else lengths
    count = len(tokens)
    if not count:
        return 0.0
    positions = np.arange(count)
    sounding = np.array([not token.startswith("R") for token in tokens])
    # For each position, the first sounding token at or after it and the last at or before it.
    next_sounding = np.minimum.accumulate(np.where(sounding, positions, count)[::-1])[::-1]
    last_sounding = np.maximum.accumulate(np.where(sounding, positions, -1))
    elapsed = np.concatenate([[0], np.cumsum([grammar.duration_steps(token) for token in tokens])])
    copied = lengths > 0
    first = next_sounding[copied]
    last = last_sounding[positions[copied] + lengths[copied] - 1]
    heard = first <= last
    longest = (elapsed[last[heard] + 1] - elapsed[first[heard]]).max(initial=0)
    return float(longest) / grammar.GRID / bar_quarters


def longest_repeat(tokens):
    """Returns `(length, start)` of the longest n-gram of `tokens` that occurs at least twice."""
    prefix = _prefix_hashes(CorpusIndex([]).ids(tokens))

    def found(n):
        hashes = _span_hashes(prefix, np.arange(max(len(prefix) - n, 0)), n)
        _, first, counts = np.unique(hashes, return_index=True, return_counts=True)
        repeated = first[counts > 1]
        return int(repeated.min()) if len(repeated) else None

    return _longest(len(tokens), found)


def _longest(limit, found):
    """Binary search for the largest n with `found(n)` not None (a span of n implies spans of n - 1)."""
    low, high, start = 0, limit, 0
    while low < high:
        middle = (low + high + 1) // 2
        hit = found(middle)
        if hit is None:
            high = middle - 1
        else:
            low, start = middle, hit
    return low, start


def _span_bars(tokens, start, length, bar_quarters):
    return sum(grammar.duration_steps(token) for token in tokens[start : start + length]) / grammar.GRID / bar_quarters


def statistics(notes, timeline, bar_quarters=4.0, corpus=None):
    """Music statistics of a solo.

    Args:
        notes: `(offset, duration, midi)` triples in quarter notes.
        timeline: the `apps.jazz.chords.Timeline` the solo is played over.
        bar_quarters: bar length in quarter notes, to express spans in bars.
        corpus: a `CorpusIndex` of the training solos' grammar tokens, or None.

    Returns:
        A JSON-serialisable dict: `notes`, `chord_tone_share`, `scale_tone_share`, `approach_tone_share`,
        `other_tone_share`, `chord_or_scale_share`, `pitch_range` (`lowest`, `highest`, `semitones`),
        `interval_histogram` (semitones -> count, leaps beyond an octave counted at +-12), `longest_repeat`
        and `longest_copy` (only with a corpus: `tokens` and `bars` of the longest span also in the corpus, and
        `sounding_bars`, `longest_sounding_copy`).
    """
    kinds = [timeline.chord_at(offset).tone_type(midi) for offset, _, midi in notes]
    count = len(kinds)

    def share(*wanted):
        return sum(kind in wanted for kind in kinds) / count if count else 0.0

    pitches = np.array([midi for _, _, midi in notes], dtype=int)
    intervals = np.clip(np.diff(pitches), -MAX_INTERVAL, MAX_INTERVAL)
    values, counts = np.unique(intervals, return_counts=True)
    tokens = grammar.encode(notes, timeline)
    repeat, repeat_start = longest_repeat(tokens)
    stats = {
        "notes": count,
        "chord_tone_share": share("C"),
        "scale_tone_share": share("S"),
        "approach_tone_share": share("A"),
        "other_tone_share": share("X"),
        "chord_or_scale_share": share("C", "S"),
        "pitch_range": {
            "lowest": int(pitches.min()) if count else None,
            "highest": int(pitches.max()) if count else None,
            "semitones": int(pitches.max() - pitches.min()) if count else 0,
        },
        "interval_histogram": {int(value): int(n) for value, n in zip(values, counts)},
        "longest_repeat": {"tokens": repeat, "bars": _span_bars(tokens, repeat_start, repeat, bar_quarters)},
    }
    if corpus is not None:
        lengths = corpus.copied_lengths(tokens)
        copy, copy_start = _longest_of(lengths)
        stats["longest_copy"] = {
            "tokens": copy,
            "bars": _span_bars(tokens, copy_start, copy, bar_quarters),
            "sounding_bars": longest_sounding_copy(corpus, tokens, bar_quarters, lengths),
        }
    return stats


def summarise(all_stats):
    """Means of the numeric statistics over several solos (for tables of generated vs real solos)."""
    keys = ("chord_tone_share", "scale_tone_share", "approach_tone_share", "other_tone_share", "chord_or_scale_share")
    summary = {
        **{key: float(np.mean([s[key] for s in all_stats])) for key in keys},
        "solos": len(all_stats),
        "pitch_range_semitones": float(np.mean([s["pitch_range"]["semitones"] for s in all_stats])),
        "longest_repeat_tokens": float(np.mean([s["longest_repeat"]["tokens"] for s in all_stats])),
    }
    if all("longest_copy" in s for s in all_stats):
        for key in ("tokens", "bars", "sounding_bars"):
            summary[f"longest_copy_{key}_max"] = max(s["longest_copy"][key] for s in all_stats)
    return summary


PAD_TOKENS = 256


HEAD_STEPS = 4 * PAD_TOKENS
"""Steps the head scores at once: its (steps, vocabulary) probabilities for a whole long solo would take
gigabytes (a 6,400-bar solo's 45,000 tokens: 3 GB), the recurrent layers' states a few megabytes."""


@functools.cache
def _forward(model):
    """`model` in inference mode as two `tf.function`s, each tracing an input shape once (kept per model): the
    layers before its `head` layer over a whole sequence, and the head over a slice of their output."""
    import keras
    import tensorflow as tf

    head = model.get_layer("head")
    trunk = keras.Model(model.inputs, head.input)
    return (
        tf.function(lambda inputs: trunk(inputs, training=False)),
        tf.function(lambda hidden: head(hidden, training=False)),
    )


def negative_log_likelihood(model, vocabulary, tokens, conditions=None, articulation=True):
    """Per-token negative log-likelihood (nats) of `tokens` under a jazz training model.

    Args:
        model: the training model (`apps.jazz.model.build_model`), its recurrent layers run once over the whole
            sequence, its head `HEAD_STEPS` at a time.
        vocabulary: its `apps.jazz.grammar.Vocabulary`; unknown tokens count as their nearest known one.
        tokens: the solo's tokens in the model's encoding.
        conditions: for a conditioned model, the features of each token's onset (`(tokens, F)`,
            `apps.jazz.train.token_features`).
        articulation: score each token whole; False: only its other parts, the probabilities of the tokens
            that differ from it in their articulation alone summed (for a vocabulary without articulation, the
            same).

    Returns:
        `(nll, unknown)`: an array with one NLL per token, and how many tokens were not in the vocabulary.
    """
    ids = vocabulary.encode(tokens)
    if articulation:
        groups, members = np.arange(len(vocabulary)), None
    else:
        # Each token id's group: the tokens that are the same but for their articulation.
        groups = np.unique([token.split(";")[0] for token in vocabulary.tokens], return_inverse=True)[1]
        members = np.zeros((len(vocabulary), groups.max() + 1), "float32")
        members[np.arange(len(vocabulary)), groups] = 1
    # Padded at the end to a multiple of PAD_TOKENS (the model is causal: padding changes no earlier output),
    # and run by functions traced once per padded length: few lengths, few traces.
    length = -(-len(ids) // PAD_TOKENS) * PAD_TOKENS
    inputs = np.zeros((1, length), "int32")
    inputs[0, 1 : len(ids)] = ids[:-1]
    if conditions is not None:
        padded = np.zeros((1, length, np.shape(conditions)[-1]), "float32")
        padded[0, : len(ids)] = conditions
        inputs = {"tokens": inputs, "conditions": padded}
    trunk, head = _forward(model)
    hidden = trunk(inputs)
    picked = []
    for start in range(0, len(ids), HEAD_STEPS):
        probabilities = np.asarray(head(hidden[:, start : start + HEAD_STEPS]))[0, : len(ids) - start]
        if members is not None:
            probabilities = probabilities @ members
        picked.append(probabilities[np.arange(len(probabilities)), groups[ids[start : start + HEAD_STEPS]]])
    picked = np.concatenate(picked)
    return -np.log(np.maximum(picked, 1e-30)), sum(token not in vocabulary for token in tokens)


def solo_negative_log_likelihood(model, config, solo, articulation=True):
    """`negative_log_likelihood` of a whole `apps.jazz.data.Solo` under a bundle's model, in the bundle's
    encoding (with articulation if it was trained with it), with the solo's own conditioning features when the
    bundle's model is conditioned; `articulation=False` scores the tokens' other parts alone."""
    tokens = grammar.encode(solo.notes, solo.timeline, config["encoding"], config.get("articulation", False))
    conditioned = config.get("conditioning", "none") == "changes"
    features = (
        conditioning.features(solo.timeline, conditioning.onsets(tokens), solo.bar_quarters) if conditioned else None
    )
    return negative_log_likelihood(model, grammar.Vocabulary(config["vocabulary"]), tokens, features, articulation)


def evaluate_solos(solos, model=None, config=None, corpus=None):
    """The `statistics` of each solo (and with a model its per-token NLL and perplexity), and their summary.

    Args:
        solos: `apps.jazz.data.Solo`s.
        model, config: a loaded bundle, or `None` for the music statistics alone.
        corpus: training solos' token sequences for the longest copied span (`statistics`), or `None`.

    Returns:
        `(results, summary)`: one dict per solo, and `summarise` of them, with the NLL over all tokens.
    """
    results, total, count, unknown = [], 0.0, 0, 0
    for solo in track(solos, "measuring", "solo"):
        result = {"name": solo.name, **statistics(solo.notes, solo.timeline, solo.bar_quarters, corpus)}
        if model is not None:
            nll, missing = solo_negative_log_likelihood(model, config, solo)
            result.update(
                nll=float(nll.mean()), perplexity=float(math.exp(nll.mean())), tokens=len(nll), unknown_tokens=missing
            )
            total, count, unknown = total + float(nll.sum()), count + len(nll), unknown + missing
        results.append(result)
    summary = summarise(results)
    if count:
        summary.update(nll=total / count, perplexity=math.exp(total / count), tokens=count, unknown_tokens=unknown)
    return results, summary
