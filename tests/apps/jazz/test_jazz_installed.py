"""The project as a user installs it (`pip install .`): the wheel's layout, and `apps.jazz evaluate` run from the
installed bundle alone, wherever the training data is."""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import time
import zipfile

import pytest

from jazz_scores import CHORDS, MELODY, make_score

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

# Runs `python -m apps.jazz ARGS` and logs every file and folder it opens or lists under CORPUS (an audit hook
# sees each `open`, `os.listdir` and `os.scandir`, music21's and NumPy's included), and which `apps` it ran.
WATCHED_RUN = """
import json, os, runpy, sys
corpus, log = sys.argv[1], sys.argv[2]
touched = []
def hook(event, args):
    if event in ("open", "os.listdir", "os.scandir") and args and isinstance(args[0], (str, bytes, os.PathLike)):
        path = os.path.abspath(os.fsdecode(args[0]))
        if path == corpus or path.startswith(corpus + os.sep):
            touched.append(f"{event} {path}")
sys.addaudithook(hook)
sys.argv = ["apps.jazz", *sys.argv[3:]]
try:
    runpy.run_module("apps.jazz", run_name="__main__", alter_sys=True)
finally:
    with open(log, "w") as handle:
        bundles = str(sys.modules["apps.common.paths"].SAVED_MODELS)
        json.dump({"touched": touched, "apps": sys.modules["apps"].__file__, "bundles": bundles}, handle)
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The project's wheel, built from a copy of its sources (so no ignored `build/` of the checkout leaks in)."""
    tmp_path = tmp_path_factory.mktemp("wheel")
    source = tmp_path / "source"
    for name in ("apps", "layers", "saved_models"):
        shutil.copytree(os.path.join(REPO, name), source / name, ignore=shutil.ignore_patterns("__pycache__"))
    (source / "data").mkdir()
    for name in os.listdir(os.path.join(REPO, "data")):
        if name.endswith(".json"):
            shutil.copy(os.path.join(REPO, "data", name), source / "data")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(os.path.join(REPO, name), source)
    # No build isolation: the venv's setuptools builds it, and nothing is fetched.
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index"]
        + ["--wheel-dir", str(tmp_path), str(source)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (built,) = tmp_path.glob("*.whl")
    return built


def _install(wheel, tmp_path):
    """The wheel installed as `.ci/run` does (`pip install --no-deps --target`)."""
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return site


def _repository_files(pattern, keep=lambda path: True):
    return {
        path.relative_to(REPO).as_posix()
        for path in pathlib.Path(REPO).glob(pattern)
        if path.is_file() and "__pycache__" not in path.parts and keep(path)
    }


@pytest.mark.slow
def test_the_wheel_adds_only_apps_and_layers_and_carries_the_bundles_and_manifests_inside_apps(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    top = {name.split("/")[0] for name in names}
    assert {name for name in top if not name.endswith(".dist-info")} == {"apps", "layers"}
    assert len(top) == 3
    # Every module of the checkout: pyproject.toml lists the packages by name.
    assert _repository_files("apps/**/*.py") | _repository_files("layers/**/*.py") <= names
    shipped = {"config.json", "training_tokens.npz"}
    bundles = _repository_files("saved_models/*/*", lambda path: path.name in shipped or path.name.startswith("model."))
    manifests = _repository_files("data/*.json")
    assert {"saved_models/jazz/training_tokens.npz", "saved_models/jazz/model.tflite"} <= bundles
    assert "data/dinos.json" in manifests
    assert {name for name in names if name.startswith(("apps/saved_models/", "apps/data/"))} == {
        f"apps/{name}" for name in bundles | manifests
    }


def _snapshot(folder):
    return {
        os.path.relpath(os.path.join(root, name), folder): os.stat(os.path.join(root, name)).st_mtime_ns
        for root, _, names in os.walk(folder)
        for name in names
    }


@pytest.mark.slow
def test_evaluate_from_a_wheel_answers_from_the_bundle_reads_no_corpus_and_writes_nothing_into_the_package(
    wheel, tmp_path
):
    site = _install(wheel, tmp_path)
    # The training data at an absolute path that exists, recorded so in the installed bundle's config.
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(3):
        make_score([(o, q, m + i) for o, q, m in MELODY], CHORDS).write("musicxml", fp=str(corpus / f"s{i}.musicxml"))
    config_path = site / "apps" / "saved_models" / "jazz" / "config.json"
    config = json.loads(config_path.read_text())
    config["training"]["paths"] = [str(corpus)]
    config_path.write_text(json.dumps(config))
    work = tmp_path / "work"  # the user's folder: no corpus, one solo
    work.mkdir()
    make_score(MELODY, CHORDS, accompaniment=True).write("midi", fp=str(work / "solo.mid"))
    before = _snapshot(site)
    env = dict(
        os.environ,
        PYTHONPATH=str(site),
        HOME=str(tmp_path / "home"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        XDG_DATA_HOME=str(tmp_path / "share"),
        PYTHONDONTWRITEBYTECODE="1",  # the interpreter's own .pyc files are not the app's writes
    )
    env.pop("JAZZ_CACHE_DIR", None)
    log = tmp_path / "log.json"
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", WATCHED_RUN, str(corpus), str(log), "evaluate", "--midi", "solo.mid", "--json"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    elapsed = time.monotonic() - start
    assert done.returncode == 0, done.stderr[-2000:]
    watched = json.loads(log.read_text())
    assert watched["apps"].startswith(str(site))  # the installed package ran, not the checkout
    assert watched["bundles"] == str(site / "apps" / "saved_models")
    assert watched["touched"] == []
    assert _snapshot(site) == before
    summary = json.loads(done.stdout)["summary"]
    assert summary["longest_copy_tokens_max"] > 0  # the copy check was answered, from the bundle's tokens
    assert elapsed < 30, f"{elapsed:.0f} s"
