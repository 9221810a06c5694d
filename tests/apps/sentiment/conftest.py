"""Tiny learnable corpora made here (one sentiment word among neutral ones) and models trained on them once per
session through the real CLI."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from apps.sentiment.cli import main

from sentiment_corpus import EXPLAINED, FINE, TEXTS, make_corpus, to_binary, write_lines


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
def ensemble_bundle(trained_bundle, tmp_path_factory):
    """A bundle laid out as `train --ensemble 2` saved one: two networks, each with its own embedding (layers
    named `member_<i>_...`), over one vocabulary, answering with the `Average` of their probabilities, and
    `"members": 2` in its config.json, and no LiteRT model. Both are the good/bad bundle's network, the second
    with its softmax weights halved (less sure), so the mean is neither network's answer."""
    import keras

    from apps.common.bundle import load_bundle, save_bundle

    model, config = load_bundle(trained_bundle)
    window = model.get_layer("window")
    network = model.layers[model.layers.index(window) + 1 :]  # embedding ... classes, one after the other
    answers = []
    for index, scale in ((1, 1.0), (2, 0.5)):
        x = window.output
        for layer in network:
            member = type(layer).from_config({**layer.get_config(), "name": f"member_{index}_{layer.name}"})
            x = member(x)
            member.set_weights([weight * (scale if layer is network[-1] else 1.0) for weight in layer.get_weights()])
        answers.append(x)
    ensemble = keras.Model(model.inputs, keras.layers.Average(dtype="float32", name="average")(answers))
    out = os.path.join(tmp_path_factory.mktemp("model"), "bundle")
    # Such a bundle predates the LiteRT files: the trained bundle's are not its own.
    config = {key: value for key, value in config.items() if key != "litert"}
    save_bundle(out, ensemble, {**config, "members": 2})
    return out


# Each call: bundle fixture -> {signature: texts}. One interpreter serves them all (a TensorFlow start-up each
# costs seconds), and `explain` of the good/bad bundle only (each signature is traced at export either way).
SERVED_CALLS = {
    "trained_bundle": {"serving_default": TEXTS, "explain": EXPLAINED},
    "fine_trained_bundle": {"serving_default": TEXTS},
    "ensemble_bundle": {"serving_default": TEXTS},
}

SERVE_SCRIPT = textwrap.dedent("""
    import json, sys
    for blocked in ("apps", "layers", "keras"):
        sys.modules[blocked] = None
    import tensorflow as tf
    answers = {}
    for name, (directory, calls) in json.loads(sys.stdin.read()).items():
        signatures = tf.saved_model.load(directory).signatures
        answers[name] = {}
        for signature, texts in calls.items():
            out = signatures[signature](texts=tf.constant(texts))
            answers[name][signature] = {key: value.numpy().tolist() for key, value in out.items()}
    print(json.dumps(answers, default=bytes.decode))
""")


@pytest.fixture(scope="session")
def served(request, tmp_path_factory):
    """Each bundle of `SERVED_CALLS` exported by `python -m apps.sentiment export`, its signatures then called
    in a fresh interpreter in which importing this package (or Keras) fails, a server's: bundle fixture ->
    signature -> output name -> nested lists (strings decoded)."""
    directory = tmp_path_factory.mktemp("exported")
    requests = {}
    for name, calls in SERVED_CALLS.items():
        out = str(directory / name)
        assert main(["export", "--model", request.getfixturevalue(name), "--out", out]) == 0
        requests[name] = (out, calls)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", SERVE_SCRIPT],
        input=json.dumps(requests),
        capture_output=True,
        text=True,
        cwd=directory,
        env=env,
        timeout=360,  # three SavedModels; generous because CI machines are shared
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.splitlines()[-1])
