"""Tiny learnable corpora made here (one sentiment word among neutral ones) and models trained on them once per
session through the real CLI."""

import os

import pytest

from apps.sentiment.cli import main

from sentiment_corpus import FINE, make_corpus, to_binary, write_lines


@pytest.fixture(scope="session")
def corpus_files(tmp_path_factory):
    """Paths of a training and a dev file of the good/bad corpus in `<label> <text>` lines."""
    directory = tmp_path_factory.mktemp("corpus")
    return (
        write_lines(directory / "train.txt", make_corpus(240, seed=1)),
        write_lines(directory / "dev.txt", make_corpus(60, seed=2)),
    )


TINY = ["--dropout", "0.1", "--word-dropout", "0", "--batch-size", "16", "--learning-rate", "0.01", "--quiet"]
"""Settings every session model shares: little regularisation and big steps, for a few seconds' training."""


def train_tiny(tmp_path_factory, *argv):
    """Runs `python -m apps.sentiment train *argv` with `TINY` settings; returns the bundle's path."""
    out = os.path.join(tmp_path_factory.mktemp("model"), "bundle")
    assert main(["train", *map(str, argv), *TINY, "--out", out]) == 0
    return out


@pytest.fixture(scope="session")
def trained_bundle(corpus_files, tmp_path_factory):
    """A bundle trained by `python -m apps.sentiment train --task file` on the good/bad corpus."""
    train_path, dev_path = corpus_files
    return train_tiny(
        tmp_path_factory,
        "--task",
        "file",
        "--data",
        train_path,
        "--dev",
        dev_path,
        "--units",
        8,
        "--embedding-dim",
        8,
        "--max-tokens",
        50,
        "--epochs",
        4,
        "--patience",
        4,
    )


@pytest.fixture(scope="session")
def fine_sst_dir(tmp_path_factory):
    """An SST directory holding a five-class `stsa.fine.train` and the matching `stsa.binary.dev`, only."""
    directory = tmp_path_factory.mktemp("sst")
    write_lines(directory / "stsa.fine.train", make_corpus(300, seed=4, classes=FINE))
    write_lines(directory / "stsa.binary.dev", to_binary(make_corpus(75, seed=5, classes=FINE)))
    return directory


@pytest.fixture(scope="session")
def fine_trained_bundle(fine_sst_dir, tmp_path_factory):
    """A binary bundle trained by `train --task sst2 --train-labels fine` on the five-class corpus."""
    return train_tiny(
        tmp_path_factory,
        "--task",
        "sst2",
        "--train-labels",
        "fine",
        "--data",
        fine_sst_dir,
        "--units",
        8,
        "--embedding-dim",
        8,
        "--max-tokens",
        60,
        "--epochs",
        5,
        "--patience",
        5,
    )


@pytest.fixture(scope="session")
def ensemble_bundle(corpus_files, tmp_path_factory):
    """A bundle of two networks trained side by side by `train --ensemble 2` on the good/bad corpus."""
    train_path, dev_path = corpus_files
    return train_tiny(
        tmp_path_factory,
        "--task",
        "file",
        "--data",
        train_path,
        "--dev",
        dev_path,
        "--ensemble",
        2,
        "--units",
        4,
        "--embedding-dim",
        4,
        "--max-tokens",
        50,
        "--epochs",
        3,
        "--patience",
        3,
    )
