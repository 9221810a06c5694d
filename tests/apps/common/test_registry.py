"""An app that apps/common has never heard of (`toyapp`, outside `apps/`) registers itself and is served as the
shipped apps are: its bundle saves, loads in safe mode (in a fresh process too) and exports, and a bundle of
another app is refused either way."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import toyapp  # noqa: F401  registers the app "toy"
from toyapp.model import build_model

from apps.common import cli, commands
from apps.common.bundle import load_bundle, save_bundle
from apps.common.errors import UsageError

from clis import REPO, SHIPPED

X = np.arange(6, dtype="float32").reshape(2, 3)


@pytest.fixture
def bundle(tmp_path):
    model = build_model()
    save_bundle(str(tmp_path / "toy"), model, {"app": "toy"})
    return str(tmp_path / "toy"), model(X).numpy()


def export(model, out):
    parser, subcommands = cli.make_parser("toy", "a test-only app")
    commands.add_export_parser(subcommands, model=model)
    commands.export_command(parser.parse_args(["export", "--model", model, "--out", out]), "toy", "serving_default")


def test_a_registered_app_saves_loads_and_exports_its_bundle(bundle, tmp_path):
    path, expected = bundle
    model, config = load_bundle(path, app="toy")
    assert config == {"app": "toy"}
    np.testing.assert_array_equal(model(X).numpy(), expected)
    export(path, str(tmp_path / "exported"))
    served = tf.saved_model.load(str(tmp_path / "exported")).signatures["serving_default"]
    np.testing.assert_array_equal(served(x=tf.constant(X))["outputs"].numpy(), expected)


@pytest.mark.slow
def test_a_fresh_process_imports_the_registered_apps_layers_to_load_its_bundle(bundle):
    code = (
        "import toyapp; from apps.common.bundle import load_bundle; print(type(load_bundle(%r)[0].layers[1]).__name__)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code % bundle[0]],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "PYTHONPATH": os.pathsep.join([REPO, os.path.dirname(__file__)]),
        },
    )
    assert result.stdout.strip() == "Scale", result.stderr[-2000:]


def test_each_app_refuses_the_others_bundle(bundle, tmp_path):
    with pytest.raises(UsageError, match="is a dinos model bundle, not a toy one"):
        load_bundle(SHIPPED["dinos"], app="toy")
    with pytest.raises(UsageError, match="is a dinos model bundle, not a toy one"):
        export(SHIPPED["dinos"], str(tmp_path / "exported"))
    with pytest.raises(UsageError, match="is a toy model bundle, not a dinos one"):
        commands.load_app_bundle("dinos", bundle[0])
    assert not os.path.exists(tmp_path / "exported")
