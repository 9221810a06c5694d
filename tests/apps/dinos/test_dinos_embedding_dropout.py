"""`train --embedding-dropout RATE`: in training a name loses whole characters (every occurrence of a dropped
character embeds to zeros, the rest are scaled up), at inference nothing changes, and the bundle reloads."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from apps.common.bundle import load_bundle
from apps.dinos.cli import main
from apps.dinos.model import CharacterDropoutEmbedding, build_model

from dinos_names import TRAIN_ARGS


def test_a_name_drops_every_occurrence_of_a_dropped_character():
    keras.utils.set_random_seed(0)
    embedding = build_model(9, units=4, embedding_dim=3, embedding_dropout=0.5, seed=2).get_layer("embedding")
    tokens = np.random.default_rng(0).integers(1, 9, (64, 12))
    plain = keras.ops.convert_to_numpy(embedding(tokens))
    dropped = keras.ops.convert_to_numpy(embedding(tokens, training=True))

    assert np.array_equal(keras.ops.convert_to_numpy(embedding(tokens, training=False)), plain)
    zero = np.all(dropped == 0, axis=-1)
    assert np.allclose(dropped[~zero], 2 * plain[~zero])
    for row, row_zero in zip(tokens, zero):
        for token in np.unique(row):
            assert len(set(row_zero[row == token])) == 1
    assert 0.4 < zero.mean() < 0.6
    by_name = [frozenset(row[row_zero]) for row, row_zero in zip(tokens, zero)]
    assert len(set(by_name)) > 1


def test_default_is_a_plain_embedding():
    embedding = build_model(9, units=4, embedding_dim=3).get_layer("embedding")
    assert not isinstance(embedding, CharacterDropoutEmbedding)


def test_the_option_reaches_the_bundle_which_samples_scores_and_exports(tmp_path, names_file, capsys):
    out = str(tmp_path / "model")
    assert (
        main(
            [
                "train",
                "--data",
                names_file,
                *TRAIN_ARGS,
                "--embedding-dropout",
                "0.2",
                "--input-dropout",
                "0.2",
                "--recurrent-dropout",
                "0.2",
                "--out",
                out,
            ]
        )
        == 0
    )
    model, config = load_bundle(out)
    embedding = model.get_layer("embedding")
    assert isinstance(embedding, CharacterDropoutEmbedding) and embedding.rate == 0.2
    assert config["model"]["embedding_dropout"] == 0.2
    capsys.readouterr()

    assert main(["sample", "--model", out, "-n", "3", "--seed", "0", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["names"]) == 3
    assert main(["score", "--model", out, "rex", "--json"]) == 0
    log_prob = json.loads(capsys.readouterr().out)["names"][0]["log_prob"]
    assert log_prob < 0
    exported = str(tmp_path / "saved")
    assert main(["export", "--model", out, "--out", exported]) == 0
    restored = tf.saved_model.load(exported)
    score = restored.signatures["score"](names=tf.constant(["rex"]))["log_probs"].numpy()
    np.testing.assert_allclose(score, [log_prob], rtol=1e-5)


@pytest.mark.parametrize("value", ["1", "-0.1", "nan"])
def test_bad_rates_are_usage_errors(tmp_path, names_file, capsys, value):
    out = tmp_path / "model"
    assert main(["train", "--data", names_file, *TRAIN_ARGS, "--embedding-dropout", value, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "--embedding-dropout" in err and "\n" not in err and "Traceback" not in err
    assert not out.exists()
