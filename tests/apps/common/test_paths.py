"""apps.common.paths: defaults resolved from the package's location, never from the current directory."""

import os
import subprocess
import sys

import pytest

import apps
from apps.common import paths
from apps.dinos import cli as dinos_cli
from apps.dinos import data as dinos_data
from apps.jazz import cli as jazz_cli
from apps.sentiment import cli as sentiment_cli
from apps.sentiment import data as sentiment_data

from clis import REPO


def test_the_root_is_the_folder_holding_the_apps_package():
    assert (paths.ROOT / "apps" / "__init__.py").samefile(apps.__file__)


@pytest.mark.parametrize("default", [dinos_cli.DEFAULT_MODEL, jazz_cli.DEFAULT_MODEL, sentiment_cli.DEFAULT_MODEL])
def test_each_default_model_is_the_shipped_bundle_by_an_absolute_path(default):
    assert os.path.isabs(default)
    assert os.path.isfile(os.path.join(default, "model.keras"))
    assert os.path.isfile(os.path.join(default, "config.json"))


def test_each_default_manifest_is_found_by_an_absolute_path():
    for manifest in (dinos_data.MANIFEST, sentiment_data.MANIFEST):
        assert os.path.isabs(manifest) and os.path.isfile(manifest)


def test_jazz_generate_finds_its_default_model_from_another_directory(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO, os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run(
        [sys.executable, "-m", "apps.jazz", "generate", "--measures", "2", "--out", "solo.mid"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "solo.mid").stat().st_size > 0
