"""`apps.common.config`: each app's hyper-parameters, declared once, are the `train` command's options and
defaults, `train()`'s defaults and what config.json records."""

import contextlib
import dataclasses
import importlib
import io
import json
import os

import pytest

from apps.common import config

from clis import SHIPPED, assert_usage_error, run_without_tensorflow

APPS = ("dinos", "jazz", "sentiment")


def hyperparameters(app):
    return importlib.import_module(f"apps.{app}.config").Hyperparameters


def parse_train(app, argv=()):
    """`python -m apps.<app> train *argv` as its command line parses it (jazz's required `--midi` added)."""
    required = ["--midi", "x.mid"] if app == "jazz" else []
    return importlib.import_module(f"apps.{app}.cli").build_parser().parse_args(["train", *required, *argv])


def train_help(app):
    """What `python -m apps.<app> train --help` prints."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), pytest.raises(SystemExit):
        parse_train(app, ["--help"])
    return printed.getvalue()


def flag_of(field):
    return field.metadata["flag"] or "--" + field.name.replace("_", "-")


@pytest.mark.parametrize("app", APPS)
def test_the_train_command_offers_every_hyperparameter_with_its_default(app):
    fields = dataclasses.fields(hyperparameters(app))
    assert config.from_args(hyperparameters(app), parse_train(app)) == {field.name: field.default for field in fields}
    shown = train_help(app)
    for field in fields:
        assert f"  {flag_of(field)}" in shown or f"[{flag_of(field)}" in shown, flag_of(field)


@pytest.mark.slow
@pytest.mark.parametrize("app", ["dinos", "sentiment"])
def test_train_called_from_a_script_takes_the_command_lines_defaults(app, tmp_path):
    """A hyper-parameter a script leaves out of `train()` has the default the command line has: the bundle's
    config.json records it (jazz: tests/apps/jazz/test_jazz_train.py, which trains from a script already)."""
    module = importlib.import_module(f"apps.{app}.train")
    given = {"epochs": 1, "verbose": 0}
    if app == "dinos":
        names = ["ab", "abc", "bca", "cab", "acb", "ba", "ca", "bac", "cba", "abca", "bcab", "caba"]
        module.train(names, str(tmp_path / "bundle"), **given)
    else:
        from apps.sentiment.data import Examples

        examples = Examples(["a good film", "a bad film", "good", "bad"], [1, 0, 1, 0], "four.txt")
        module.train(examples, examples, ["negative", "positive"], str(tmp_path / "bundle"), **given)
    with open(tmp_path / "bundle" / "config.json", encoding="utf-8") as handle:
        written = json.load(handle)
    recorded = {**written, **written.get("model", {}), **written.get("training", {})}
    defaults = config.record(hyperparameters(app), vars(parse_train(app)))
    # None is "derived" (sentiment's embedding size: the vectors', else 64), which the config records resolved.
    expected = {key: value for key, value in {**defaults, "epochs": 1}.items() if value is not None}
    assert {key: recorded[key] for key in expected} == expected


def test_an_option_named_otherwise_reaches_its_field():
    args = parse_train("dinos", ["--ema", "0.9", "--learning-rate", "0.01"])
    assert config.from_args(hyperparameters("dinos"), args)["ema_momentum"] == 0.9
    args = parse_train("sentiment", ["--layers", "2", "--no-bidirectional"])
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
    assert parse_train("dinos").learning_rate == shipped
    assert_usage_error(capsys, "dinos", ["train", "--learning-rate", "0"], "--learning-rate")


@pytest.mark.parametrize("app", APPS)
def test_every_size_a_user_can_set_has_an_upper_bound(app, capsys):
    sizes = [
        field
        for field in dataclasses.fields(hyperparameters(app))
        if field.type is int and field.name != "seed" and field.metadata["choices"] is None
    ]
    assert sizes
    for field in sizes:
        with pytest.raises(SystemExit) as refused:
            parse_train(app, [flag_of(field), str(10**9)])
        assert refused.value.code == 2, flag_of(field)
        assert "from 1 to " in capsys.readouterr().err, flag_of(field)


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
