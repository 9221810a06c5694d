"""`train --input-dropout --recurrent-dropout`: they reach every recurrent layer and the bundle's config, and
no dropout inside the recurrent layers stays the default."""

import json
import math
import os

import pytest

from apps.common.bundle import load_bundle
from apps.dinos.cli import main
from apps.dinos.model import build_model, recurrent_layers

from dinos_names import NAMES, TRAIN_ARGS


@pytest.fixture
def names_path(tmp_path):
    path = tmp_path / "names.txt"
    path.write_text("\n".join(NAMES) + "\n", encoding="utf-8")
    return str(path)


def test_options_reach_every_recurrent_layer_and_the_config(tmp_path, names_path):
    out = str(tmp_path / "model")
    argv = [
        "train",
        "--data",
        names_path,
        *TRAIN_ARGS,
        "--layers",
        "2",
        "--input-dropout",
        "0.25",
        "--recurrent-dropout",
        "0.3",
        "--out",
        out,
    ]
    assert main(argv) == 0

    model, config = load_bundle(out)
    layers = recurrent_layers(model)
    assert len(layers) == 2
    for layer in layers:
        assert (layer.dropout, layer.recurrent_dropout) == (0.25, 0.3)
    assert config["model"]["input_dropout"] == 0.25 and config["model"]["recurrent_dropout"] == 0.3
    assert config["training"]["epochs_run"] == 2
    assert math.isfinite(config["metrics"]["val_bits_per_char"])
    history = json.load(open(os.path.join(out, "history.json")))
    assert all(math.isfinite(loss) for loss in history["loss"])


def test_default_recurrent_layers_have_no_dropout():
    (layer,) = recurrent_layers(build_model(10, units=4, embedding_dim=3))
    assert (layer.dropout, layer.recurrent_dropout) == (0.0, 0.0)


@pytest.mark.parametrize(
    "option, value", [("--input-dropout", "1"), ("--input-dropout", "nan"), ("--recurrent-dropout", "-0.1")]
)
def test_bad_rates_are_usage_errors(tmp_path, names_path, capsys, option, value):
    out = tmp_path / "model"
    assert main(["train", "--data", names_path, *TRAIN_ARGS, option, value, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert option in err and "\n" not in err and "Traceback" not in err
    assert not out.exists()
