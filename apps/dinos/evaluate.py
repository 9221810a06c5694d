"""Scoring names and judging samples: log-probabilities, bits per character, novelty, duplicates, lengths."""

import collections
import math

import numpy as np

from apps.common.progress import track
from apps.dinos import data

CHUNK = 4096
"""Names scored per `model.predict` call: the full probability array of 40,000 long names would take 1 GB."""
CHUNK_PROBABILITIES = 1 << 24
"""At most this many probabilities (64 MiB) per call: fewer names a chunk when the vocabulary is large."""


def token_log_probs(model, vocab, names, batch_size=256):
    """Natural-log probability of every character of `names` and of each end token, under the model.

    Returns:
        `(log_probs, mask)`, both (n, longest + 1): position t of row i holds log P(token t | name[:t]),
        the last real position of a row being its end token; `mask` marks the real positions.
    """
    width = max((len(name) for name in names), default=0) + 1
    log_probs = np.zeros((len(names), width))
    mask = np.zeros((len(names), width), bool)
    chunk = min(CHUNK, max(1, CHUNK_PROBABILITIES // (width * vocab.num_classes)))
    for start in track(range(0, len(names), chunk), "scoring", f"batch of {chunk:,} names"):
        x, y = data.make_arrays(names[start : start + chunk], vocab)
        probs = model.predict(x, batch_size=batch_size, verbose=0)
        chosen = np.take_along_axis(probs, y[..., None], axis=-1)[..., 0].astype("float64")
        rows = slice(start, start + len(x))
        mask[rows, : x.shape[1]] = x != data.PAD_ID
        log_probs[rows, : x.shape[1]] = np.where(mask[rows, : x.shape[1]], np.log(np.maximum(chosen, 1e-300)), 0.0)
    return log_probs, mask


def score_names(model, vocab, names):
    """log P(name) in nats for each of `names`, end token included (float64 array)."""
    if not names:
        return np.zeros(0)
    log_probs, _ = token_log_probs(model, vocab, names)
    return log_probs.sum(axis=1)


def bits_per_char(model, vocab, names):
    """Cross-entropy of `names` in bits per character, every name's end token counted as a character."""
    log_probs, mask = token_log_probs(model, vocab, names)
    return float(-log_probs.sum() / mask.sum() / math.log(2))


def length_summary(histogram):
    """Mean, standard deviation, min, median and max of a {length: count} histogram."""
    lengths = np.repeat([int(k) for k in histogram], [histogram[k] for k in histogram])
    if lengths.size == 0:
        return {"count": 0}
    return {
        "count": int(lengths.size),
        "mean": float(lengths.mean()),
        "std": float(lengths.std()),
        "min": int(lengths.min()),
        "median": float(np.median(lengths)),
        "max": int(lengths.max()),
    }


def sample_statistics(names, seen_digests, training_lengths):
    """How a batch of sampled `names` compares with the training names.

    Args:
        names: the sampled names (finished ones).
        seen_digests: `data.name_digest` of every training name.
        training_lengths: {length (str or int): count} of the training names.

    Returns:
        A dict: `novelty_rate` (share of samples that are not training names), `duplicate_rate` (share of
        samples repeating an earlier sample), `lengths` (summaries of samples and training names) and
        `length_tv_distance` (total variation distance between the two length distributions, 0 = same).
    """
    seen = set(seen_digests)
    n = len(names)
    sampled = collections.Counter(len(name) for name in names)
    training = collections.Counter({int(k): v for k, v in training_lengths.items()})
    support = sorted(set(sampled) | set(training))
    p = np.array([sampled[k] for k in support], float) / max(n, 1)
    q = np.array([training[k] for k in support], float) / max(sum(training.values()), 1)
    return {
        "samples": n,
        "novelty_rate": sum(data.name_digest(name) not in seen for name in names) / n if n else None,
        "duplicate_rate": (n - len(set(names))) / n if n else None,
        "lengths": {"samples": length_summary(sampled), "training": length_summary(training)},
        "length_tv_distance": float(0.5 * np.abs(p - q).sum()) if n else None,
    }
