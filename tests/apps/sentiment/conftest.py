"""A tiny learnable corpus made here (one "good" or "bad" word among neutral ones) and one model trained on it
once per session through the real CLI."""

import os

import pytest

from apps.sentiment.cli import main
from sentiment_corpus import make_corpus, write_lines


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
