"""A tiny name list and one tiny model trained through the CLI, shared by the dinos tests."""

import os

import pytest

from apps.dinos.cli import main

from dinos_names import NAMES, TRAIN_ARGS


@pytest.fixture(scope="session")
def names_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "names.txt"
    path.write_text("\n".join(NAMES) + "\n", encoding="utf-8")
    return str(path)


@pytest.fixture(scope="session")
def bundle(tmp_path_factory, names_file):
    """A model trained by `main(["train", ...])` for two epochs; its directory."""
    out = str(tmp_path_factory.mktemp("model") / "dinos")
    assert main(["train", "--data", names_file, *TRAIN_ARGS, "--out", out]) == 0
    assert os.path.isdir(out)
    return out


@pytest.fixture(scope="session")
def loaded(bundle):
    from apps.common.bundle import load_bundle

    return load_bundle(bundle)
