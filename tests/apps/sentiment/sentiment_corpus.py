"""A tiny learnable corpus (one "good" or "bad" word among neutral ones) and CLI helpers for the sentiment tests."""

import random

from apps.sentiment.cli import main

POSITIVE = ["good", "great", "wonderful", "excellent", "lovely", "superb"]
NEGATIVE = ["bad", "awful", "terrible", "boring", "dreadful", "dull"]
FILLER = ["the", "movie", "film", "was", "is", "plot", "acting", "really", "quite", "story", "and", "a"]


def make_corpus(count, seed):
    """`count` (label, text) pairs: label 1 if the one sentiment word is positive, else 0."""
    rng = random.Random(seed)
    corpus = []
    for index in range(count):
        label = index % 2
        words = rng.choices(FILLER, k=rng.randint(2, 7))
        words.insert(rng.randint(0, len(words)), rng.choice(POSITIVE if label else NEGATIVE))
        corpus.append((label, " ".join(words)))
    return corpus


def write_lines(path, corpus):
    path.write_text("".join(f"{label} {text}\n" for label, text in corpus), encoding="utf-8")
    return str(path)


def run_cli(capsys, *argv):
    """Runs `python -m apps.sentiment *argv` in-process; returns (exit code, stdout, stderr)."""
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err
