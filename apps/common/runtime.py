"""Which runtime answers a command: the bundle's LiteRT model (no TensorFlow import) or Keras.

A bundle written by `train` carries, beside `model.keras`, its model converted to LiteRT (`LITERT_FILE`) and the
files a host needs with it, each with its sha256 under `"litert"` in `config.json`. The commands that only run
the model forward (sampling, scoring, predicting) answer on that file when they can: the LiteRT interpreter
loads in a fraction of the time TensorFlow takes to import. `--runtime` chooses:

- `auto` (default): LiteRT when the bundle has the file and the command's options are ones LiteRT serves,
  else Keras;
- `litert`: LiteRT, or one line and exit 2 when the bundle has no such file or an option needs Keras;
- `keras`: Keras, as the commands always could.

This module imports neither TensorFlow nor Keras.
"""

import os
import sys

from apps.common.cli import printable
from apps.common.errors import UsageError
from apps.common.files import sha256_of

RUNTIMES = ("auto", "litert", "keras")
LITERT_FILE = "model.tflite"
CONFIG_KEY = "litert"
"""The `config.json` key mapping each LiteRT file of the bundle (a name in the bundle directory) to its sha256."""


def add_argument(parser):
    """Adds `--runtime` and `--verbose` to a command that can answer on either runtime."""
    parser.add_argument(
        "--runtime",
        choices=RUNTIMES,
        default="auto",
        help="litert: the bundle's .tflite model, without importing TensorFlow; keras: the Keras model; "
        "auto: LiteRT when the bundle has it and the options allow (default: %(default)s)",
    )
    parser.add_argument("--verbose", action="store_true", help="say on stderr which runtime answered")


def litert_files(bundle, config):
    """The bundle's LiteRT files, `{name: path}`, checked against their sha256 in `config`; `{}` when it has none.

    Raises:
        UsageError: a file is missing or differs from the one its `config.json` was written with (e.g. copied
            in from another training run).
    """
    recorded = config.get(CONFIG_KEY) or {}
    if not isinstance(recorded, dict) or LITERT_FILE not in recorded:
        return {}
    files = {}
    for name, digest in sorted(recorded.items()):
        path = os.path.join(bundle, os.path.basename(str(name)))
        if not os.path.isfile(path):
            raise UsageError(f"{printable(bundle)}: {printable(name)} is missing, but its config.json lists it")
        if sha256_of(path) != digest:
            raise UsageError(
                f"{printable(path)} does not match the config.json beside it (another training run's file?); "
                "retrain, or use --runtime keras"
            )
        files[name] = path
    return files


def choose(args, bundle, config, needs_keras=None):
    """The runtime that answers: `"litert"` or `"keras"`, after `args.runtime`.

    Args:
        args: parsed arguments with `runtime` (and `verbose`).
        bundle: the bundle directory.
        config: its config (`apps.common.bundle.read_config`).
        needs_keras: why these options need Keras (e.g. `"--explain"`), or None when LiteRT serves them.

    Raises:
        UsageError: `--runtime litert` with a bundle without a LiteRT model or with options it does not serve;
            a LiteRT file that does not match its config (any runtime but `keras`).
    """
    runtime = args.runtime
    if runtime != "keras":
        files = litert_files(bundle, config)
        if runtime == "litert" and not files:
            raise UsageError(
                f"--runtime litert: {printable(bundle)} has no LiteRT model ({LITERT_FILE}); retrain it, "
                "or use --runtime keras"
            )
        if runtime == "litert" and needs_keras:
            raise UsageError(f"--runtime litert does not serve {needs_keras}: use --runtime keras or auto")
        runtime = "litert" if files and not needs_keras else "keras"
    if getattr(args, "verbose", False):
        print(f"runtime: {runtime}", file=sys.stderr)
    return runtime
