"""Where the apps find their defaults: one rule, relative to the `apps` package itself.

The shipped bundles (`saved_models/<name>`: `model.keras`, `config.json`, a generative app's `training_tokens.npz`)
and the download manifests (`data/*.json`) are the `apps` package's data, in `SHIPPED`: the `apps` folder itself
when it holds them, as an install does (pyproject.toml maps the repository's `saved_models/` and `data/` into
`apps`, so that site-packages gains no top-level names but `apps` and `layers`), else the folder that holds `apps`
(a checkout or an editable install: the repository, where those folders stay). No default depends on the current
directory, so `python -m apps.<app>` works from anywhere.

What the apps write on their own (caches, downloads) goes to the user's folders (`user_cache`, `user_data`),
never beside the package: an installed one is rarely writable, and another install would not find it.
"""

import os
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parents[1]
ROOT = PACKAGE.parent  # the repository, in a checkout
SHIPPED = PACKAGE if (PACKAGE / "saved_models").is_dir() else ROOT
SAVED_MODELS = SHIPPED / "saved_models"
DATA = SHIPPED / "data"
PROJECT = "sequence-models"


def saved_model(name):
    """The shipped bundle `saved_models/<name>`, as a string (an argparse default, shown by `--help`)."""
    return str(SAVED_MODELS / name)


def data(*parts):
    """A path under the package's `data/` (a manifest `<app>.json`), as a string."""
    return str(DATA.joinpath(*parts))


def _xdg(variable, fallback, parts):
    # The XDG base-directory spec: a relative value is invalid and ignored.
    base = os.environ.get(variable, "")
    if not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), fallback)
    return os.path.join(base, PROJECT, *parts)


def user_cache(*parts):
    """A path under the user's cache folder: `$XDG_CACHE_HOME/sequence-models`, else `~/.cache/sequence-models`."""
    return _xdg("XDG_CACHE_HOME", ".cache", parts)


def user_data(*parts):
    """A path under the user's data folder (downloads): `$XDG_DATA_HOME/sequence-models`, else
    `~/.local/share/sequence-models`."""
    return _xdg("XDG_DATA_HOME", os.path.join(".local", "share"), parts)


def recorded(path):
    """How a bundle's config records a data path: never by an absolute path of the machine that trained it.

    A path inside the repository (`ROOT`) is recorded relative to it, another path given relative as it was
    given, and an absolute one elsewhere by its name (the data is identified by its checksum anyway).
    """
    absolute = os.path.abspath(path)
    if absolute == str(ROOT) or absolute.startswith(os.path.join(str(ROOT), "")):
        return os.path.relpath(absolute, ROOT)
    if not os.path.isabs(path):
        return os.path.normpath(path)
    return os.path.basename(os.path.normpath(path))
