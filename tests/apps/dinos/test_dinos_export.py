"""export -> tf.saved_model.load -> sample/score with plain tensors, against the Keras model."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from apps.dinos import data
from apps.dinos.cli import main
from apps.dinos.evaluate import score_names
from apps.dinos.sample import NameSampler


@pytest.fixture(scope="module")
def exported(bundle, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("export") / "saved")
    assert main(["export", "--model", bundle, "--out", out]) == 0
    return out


def test_exported_signatures_match_the_keras_model(exported, loaded):
    model, config = loaded
    vocab = data.Vocabulary.from_config(config["vocabulary"])
    restored = tf.saved_model.load(exported)
    assert set(restored.signatures) == {"sample", "score"}

    out = restored.signatures["sample"](n=tf.constant(12), temperature=tf.constant(1.0), seed=tf.constant(4))
    names, log_probs, ended = NameSampler(model, config).sample_batch(12, temperature=1.0, seed=4)
    assert [s.decode() for s in out["names"].numpy()] == names
    np.testing.assert_array_equal(out["ended"].numpy(), ended)
    np.testing.assert_allclose(out["log_probs"].numpy(), log_probs, rtol=1e-5)

    queries = ["Aardonyx", " ceratops ", "", "b", "aard?nyx"]
    scores = restored.signatures["score"](names=tf.constant(queries))["log_probs"].numpy()
    expected = score_names(model, vocab, ["aardonyx", "ceratops", "", "b"])
    np.testing.assert_allclose(scores[:4], expected, rtol=1e-5)
    assert scores[4] == -np.inf


@pytest.mark.slow
def test_exported_model_loads_without_this_package(exported, loaded):
    """A fresh interpreter that cannot import `apps` or `layers` still samples and scores."""
    model, config = loaded
    expected = score_names(model, data.Vocabulary.from_config(config["vocabulary"]), ["abel"])[0]
    script = textwrap.dedent(f"""
        import sys
        sys.modules["apps"] = sys.modules["layers"] = None  # any import of them now fails
        import tensorflow as tf
        m = tf.saved_model.load({exported!r})
        print(m.signatures["score"](names=tf.constant(["abel"]))["log_probs"].numpy()[0])
        print(m.signatures["sample"](n=tf.constant(3), temperature=tf.constant(0.5), seed=tf.constant(1))
              ["names"].shape[0])
    """)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        cwd=os.path.dirname(exported),
        check=True,
    )
    score, count = result.stdout.split()
    assert float(score) == pytest.approx(expected, rel=1e-5) and count == "3"
