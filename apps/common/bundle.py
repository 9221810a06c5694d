"""A bundle: one directory holding a Keras model together with its vocabulary and config.

Layout::

    <dir>/model.keras     the training model, loaded in Keras's safe mode (no pickle, no lambdas)
    <dir>/config.json     everything else an app needs to rebuild inputs and outputs (vocabulary, cell, ...)
    <dir>/model.tflite    the model for the LiteRT runtime (`apps.common.runtime`), with the files a host needs
                          beside it (`model.vocab.txt`, ...); each one's sha256 in config.json under `litert`
    <dir>/*               extras the app adds (history.json, training.png, ...)

Saving is atomic: the bundle is written to a temporary directory and swapped in whole. `read_config` needs no
TensorFlow: a command checks its arguments against the config before the model (and TensorFlow) loads.
"""

import importlib.util
import json
import os
import pathlib
import shutil
import sys

from apps.common import registry
from apps.common.errors import UsageError
from apps.common.files import BUNDLE, CONFIG_FILE, MODEL_FILE, atomic_dir, bundle_app, check_readable, sha256_of
from apps.common.runtime import CONFIG_KEY, LITERT_FILE


def save_bundle(path, model, config, extra_files=(), force=False, litert=False):
    """Writes `model` and `config` (a JSON-serialisable dict) to the directory `path`, atomically.

    Args:
        path: the bundle directory; an existing one is replaced only once the new one is complete.
        model: a Keras model built from registered layers.
        config: JSON-serialisable dict (vocabulary, hyper-parameters, metrics), with the app's name as `app`:
            that is how a later `--out` recognises the directory as a bundle it may replace.
        extra_files: paths of files (plots, histories) copied into the bundle.
        force: replace whatever is at `path`, not only an earlier bundle of the same app.
        litert: also write the model converted to LiteRT (`write_litert`).
    """
    if "app" not in config:
        raise ValueError("a bundle's config needs the app's name as 'app'")
    with atomic_dir(path, app=config["app"], kind=BUNDLE, force=force) as tmp:
        model.save(os.path.join(tmp, MODEL_FILE))
        # Checksums copied from another bundle's config would name files this one does not hold.
        config = {key: value for key, value in config.items() if key != CONFIG_KEY}
        if litert:
            config = write_litert(tmp, model, config)
        pathlib.Path(tmp, CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True), encoding="utf-8")
        for extra in extra_files:
            shutil.copy(extra, os.path.join(tmp, os.path.basename(extra)))


def write_litert(directory, model, config):
    """Writes `model` converted to LiteRT into the bundle directory `directory` with the app's `litert.export`
    (`LITERT_FILE` and the files beside it), and returns `config` with their sha256 under `CONFIG_KEY`.

    An app without a `litert` module gets no file. A model that does not convert leaves the bundle without one,
    with one warning on stderr: its commands then answer on Keras.
    """
    package = registry.PACKAGES.get(config["app"])
    if package is None or importlib.util.find_spec(f"{package}.litert") is None:
        return config
    out = os.path.join(directory, LITERT_FILE)
    try:
        written = registry.module(config["app"], "litert").export(model, config, out)
    except Exception as error:  # noqa: BLE001  any failure to convert leaves a usable Keras bundle
        detail = (str(error).strip().splitlines() or [type(error).__name__])[0]
        print(f"warning: the bundle has no LiteRT model, so its commands run on Keras: {detail}", file=sys.stderr)
        return config
    return {**config, CONFIG_KEY: {os.path.basename(name): sha256_of(name) for name in written}}


def load_bundle(path, app=None, compile=False):
    """Loads `(model, config)` from a bundle directory in Keras's safe mode.

    Args:
        path: the bundle directory.
        app: the app that will use it: another app's bundle is refused before its model is loaded. The app the
            bundle names in its config, if registered (`apps.common.registry`), has its `model` module imported
            first.
        compile: restore the training configuration too.

    Raises:
        UsageError: the directory is missing, incomplete, unreadable, corrupt or another app's (one line, for the
            CLI).
    """
    config = read_config(path, app)
    model_path = os.path.join(path, MODEL_FILE)
    found = bundle_app(config)
    import keras

    import layers  # noqa: F401  (registers our layers, so a fresh process can deserialise them)

    if found in registry.PACKAGES:
        registry.module(found, "model")  # registers the app's custom layers, which safe mode looks up by name
    try:
        model = keras.saving.load_model(model_path, compile=compile, safe_mode=True)
    except Exception as error:  # noqa: BLE001  Keras raises many kinds for a damaged zip; all mean the same to a user.
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UsageError(f"corrupt model {model_path}: {first_line}") from None
    return model, config


def read_config(path, app=None):
    """The config of the bundle directory `path`, read without TensorFlow.

    Args:
        path: the bundle directory.
        app: the app that will use it: another app's bundle is refused.

    Raises:
        UsageError: the directory is missing, incomplete, unreadable, its config corrupt, or another app's (one line).
    """
    model_path = os.path.join(path, MODEL_FILE)
    config_path = os.path.join(path, CONFIG_FILE)
    if not os.path.isdir(path):
        raise UsageError(f"model directory not found: {path}")
    if not (os.path.isfile(model_path) and os.path.isfile(config_path)):
        raise UsageError(f"{path} is not a model bundle (needs {MODEL_FILE} and {CONFIG_FILE})")
    check_readable(config_path, "model config")
    check_readable(model_path, "model")  # Keras calls a file it may not read "not found"
    try:
        config = json.loads(pathlib.Path(config_path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UsageError(f"corrupt {config_path}: {error}") from None
    found = bundle_app(config)
    if app is not None and found != app:
        raise UsageError(
            f"{path} is a {found} model bundle, not a {app} one"
            if found
            else f"{path} is not a {app} model bundle (its config.json names no app)"
        )
    return config
