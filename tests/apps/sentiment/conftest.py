"""A tiny learnable corpus made here (one "good" or "bad" word among neutral ones) and one model trained on it
once per session through the real CLI."""

import os
import random

import pytest

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


@pytest.fixture(scope="session")
def corpus_files(tmp_path_factory):
    """Paths of a training and a dev file of the good/bad corpus in `<label> <text>` lines."""
    directory = tmp_path_factory.mktemp("corpus")
    return (write_lines(directory / "train.txt", make_corpus(240, seed=1)),
            write_lines(directory / "dev.txt", make_corpus(60, seed=2)))


@pytest.fixture(scope="session")
def trained_bundle(corpus_files, tmp_path_factory):
    """A bundle trained by `python -m apps.sentiment train --task file` on the good/bad corpus."""
    train_path, dev_path = corpus_files
    out = os.path.join(tmp_path_factory.mktemp("model"), "bundle")
    code = main(["train", "--task", "file", "--data", train_path, "--dev", dev_path, "--out", out,
                 "--units", "8", "--embedding-dim", "8", "--max-tokens", "50", "--dropout", "0.1",
                 "--word-dropout", "0",
                 "--epochs", "4", "--batch-size", "16", "--learning-rate", "0.01", "--patience", "4",
                 "--quiet"])
    assert code == 0
    return out
