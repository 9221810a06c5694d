"""`apps.common.config`: each app's hyper-parameters, declared once, are the `train` command's options and
defaults, `train()`'s defaults and what config.json records."""

import argparse
import dataclasses
import importlib
import inspect
import json
import os

import pytest

from apps.common import config

from clis import SHIPPED, assert_usage_error, run_without_tensorflow

APPS = ("dinos", "jazz", "sentiment")


def hyperparameters(app):
    return importlib.import_module(f"apps.{app}.config").Hyperparameters


def train_parser(app):
    """The app's `train` subparser, as its CLI builds it."""
    cli = importlib.import_module(f"apps.{app}.cli")
    parser = cli.build_parser()
    commands = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    return commands.choices["train"]


@pytest.mark.parametrize("app", APPS)
def test_train_takes_every_hyperparameter_keyword_only_with_its_one_default(app):
    signature = inspect.signature(importlib.import_module(f"apps.{app}.train").train)
    for field in dataclasses.fields(hyperparameters(app)):
        parameter = signature.parameters[field.name]
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY, field.name
        assert parameter.default == field.default, field.name


@pytest.mark.parametrize("app", APPS)
def test_the_train_command_offers_every_hyperparameter_with_its_default(app):
    parser = train_parser(app)
    required = {"jazz": ["--midi", "x.mid"]}.get(app, [])
    args = parser.parse_args(required)
    fields = dataclasses.fields(hyperparameters(app))
    assert config.from_args(hyperparameters(app), args) == {field.name: field.default for field in fields}
    for field in fields:
        flag = field.metadata["flag"] or "--" + field.name.replace("_", "-")
        assert flag in parser._option_string_actions, flag


def test_an_option_named_otherwise_reaches_its_field():
    args = train_parser("dinos").parse_args(["--ema", "0.9", "--learning-rate", "0.01"])
    assert config.from_args(hyperparameters("dinos"), args)["ema_momentum"] == 0.9
    args = train_parser("sentiment").parse_args(["--layers", "2", "--no-bidirectional"])
    chosen = config.from_args(hyperparameters("sentiment"), args)
    assert (chosen["num_layers"], chosen["bidirectional"]) == (2, False)


def test_record_files_values_by_section_under_their_config_json_names():
    values = {field.name: index for index, field in enumerate(dataclasses.fields(hyperparameters("jazz")))}
    model = config.record(hyperparameters("jazz"), values, "model")
    assert model["conditioning"] == values["conditioning_mode"] and "conditioning_mode" not in model
    assert "epochs" not in model and "epochs" in config.record(hyperparameters("jazz"), values, "training")
    assert (
        config.record(
            hyperparameters("sentiment"), {field.name: 1 for field in dataclasses.fields(hyperparameters("sentiment"))}
        )["layers"]
        == 1
    )


def test_a_bad_value_is_refused_by_the_declared_type_before_tensorflow(tmp_path):
    cases = [
        ("dinos", ["train", "--units", "0"]),
        ("jazz", ["train", "--midi", "x.mid", "--dropout", "1.5"]),
        ("sentiment", ["train", "--layers", "-1"]),
        ("sentiment", ["train", "--pooling", "sum"]),
    ]
    for code, err in run_without_tensorflow(cases):
        assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


def test_dinos_learns_at_the_rate_its_shipped_bundle_was_trained_with(capsys):
    with open(os.path.join(SHIPPED["dinos"], "config.json"), encoding="utf-8") as handle:
        shipped = json.load(handle)["training"]["learning_rate"]
    assert hyperparameters("dinos").learning_rate == shipped
    assert train_parser("dinos").get_default("learning_rate") == shipped
    assert_usage_error(capsys, "dinos", ["train", "--learning-rate", "0"], "--learning-rate")


@pytest.mark.parametrize("app", APPS)
def test_every_size_a_user_can_set_has_an_upper_bound(app, capsys):
    parser = train_parser(app)
    required = {"jazz": ["--midi", "x.mid"]}.get(app, [])
    sizes = [
        field
        for field in dataclasses.fields(hyperparameters(app))
        if field.type is int and field.name != "seed" and field.metadata["choices"] is None
    ]
    assert sizes
    for field in sizes:
        flag = field.metadata["flag"] or "--" + field.name.replace("_", "-")
        with pytest.raises(SystemExit) as refused:
            parser.parse_args([*required, flag, str(10**9)])
        assert refused.value.code == 2, flag
        assert "from 1 to " in capsys.readouterr().err, flag


def test_a_size_past_its_bound_is_refused_before_tensorflow():
    cases = [
        ("dinos", ["train", "--units", str(config.MAX_UNITS + 1)], f"from 1 to {config.MAX_UNITS:,}"),
        ("dinos", ["train", "--layers", str(config.MAX_LAYERS + 1)], f"from 1 to {config.MAX_LAYERS:,}"),
        ("jazz", ["train", "--midi", "x.mid", "--seq-len", "100000"], "from 1 to 1,000"),
        ("jazz", ["train", "--midi", "x.mid", "--embedding-dim", "100000"], f"from 1 to {config.MAX_EMBEDDING_DIM:,}"),
        ("sentiment", ["train", "--max-tokens", "100000000"], "from 1 to 200,000"),
        ("sentiment", ["train", "--batch-size", str(config.MAX_BATCH_SIZE + 1)], "from 1 to 512"),
        ("sentiment", ["train", "--task", "file", "--num-classes", "1001"], "from 1 to 1,000"),
        ("sentiment", ["train", "--max-length", "1001"], "from 1 to 1,000"),
    ]
    for (app, argv, fragment), (code, err) in zip(cases, run_without_tensorflow([case[:2] for case in cases])):
        assert code == 2 and err.count("\n") == 1 and fragment in err and "Traceback" not in err, (app, argv, err)
