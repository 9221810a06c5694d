"""Where the apps find their defaults: one rule, relative to the folder that holds the `apps` package.

In a checkout that folder is the repository; after `pip install .` it is `site-packages`, where the shipped
bundles (`saved_models/<name>/model.keras` and `config.json`) and the data manifests (`data/*.json`) are
installed as package data (`[tool.setuptools.package-data]` in pyproject.toml). No default depends on the
current directory, so `python -m apps.jazz generate` works from anywhere.
"""

import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
SAVED_MODELS = ROOT / "saved_models"
DATA = ROOT / "data"


def saved_model(name):
    """The shipped bundle `saved_models/<name>`, as a string (an argparse default, shown by `--help`)."""
    return str(SAVED_MODELS / name)


def data(*parts):
    """A path under `data/` (a manifest `<app>.json`, where `download` puts files, a cache), as a string."""
    return str(DATA.joinpath(*parts))
