"""apps.common.paths: defaults resolved from the package's location, never from the current directory."""

import json
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


def _strings(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


@pytest.mark.parametrize("bundle", sorted(os.listdir(os.path.join(REPO, "saved_models"))))
def test_no_shipped_config_holds_an_absolute_path(bundle):
    with open(os.path.join(REPO, "saved_models", bundle, "config.json"), encoding="utf-8") as handle:
        config = json.load(handle)
    # Every word of every value (a command line's arguments too, `--out=PATH` as PATH).
    words = [word.rpartition("=")[2] for text in _strings(config) for word in text.split()]
    assert [word for word in words if os.path.isabs(word) or word.startswith("~")] == []


def test_a_recorded_path_is_relative_to_the_repository_or_as_given_or_a_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert paths.recorded(os.path.join(paths.ROOT, "data", "dinos.txt")) == os.path.join("data", "dinos.txt")
    assert paths.recorded("solos/./mxl/") == os.path.join("solos", "mxl")
    assert paths.recorded(str(tmp_path / "solos" / "mxl")) == "mxl"
    monkeypatch.chdir(paths.ROOT)
    assert paths.recorded(os.path.join("..", "shared", "mxl")) == os.path.join("..", "shared", "mxl")


def test_downloads_go_to_the_users_data_folder_never_into_the_package():
    for default in (dinos_data.DEFAULT_DATA, sentiment_data.DEFAULT_DATA_DIR):
        assert os.path.commonpath([default, paths.ROOT]) != str(paths.ROOT), default
        assert default.startswith(paths.user_data()), default


def test_the_users_folders_follow_xdg(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_DATA_HOME", "relative/is/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert paths.user_cache("jazz") == str(tmp_path / "cache" / "sequence-models" / "jazz")
    assert paths.user_data("dinos.txt") == str(tmp_path / "home" / ".local" / "share" / "sequence-models" / "dinos.txt")
