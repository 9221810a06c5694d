"""The apps that apps/common serves, each registered by its own package when that is imported.

An app's package calls `register(name, __name__)` in its `__init__`, which imports nothing heavy: `python -m`
checks arguments before TensorFlow loads. `name` is what the app's bundles give as `app` in their config; the
package holds the modules that the common code imports only when it needs them (`module`):

- `model`: importing it registers the app's custom Keras layers, which safe mode looks up by name;
- `export`: `export(model, config, out, force)` writes a SavedModel (`export --format savedmodel`);
- `litert`: `side_paths(out)`, the files written beside a `.tflite` file, and `export(model, config, out,
  quantize)`, which writes them all (`export --format litert`).
"""

import importlib

PACKAGES = {}
"""App name -> the name of the package that registered it."""


def register(app, package):
    """Registers the package named `package` as the app whose bundles name `app`."""
    PACKAGES[app] = package


def module(app, name):
    """The module `name` of `app`'s package, imported now."""
    return importlib.import_module(f"{PACKAGES[app]}.{name}")
