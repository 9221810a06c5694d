"""Each app declares its training hyper-parameters once, as a dataclass; the rest is generated from it.

A field made with `option` carries its default, its argparse type (which also validates) and its help. From
the dataclass come the `train` command's options (`add_arguments`), the defaults of the app's `train()`
(`defaults_from`) and the hyper-parameters its bundle's config.json records (`record`). Nothing here imports
TensorFlow, so the command line is checked before it loads.

Example::

    @dataclasses.dataclass
    class Hyperparameters:
        units: int = option(64, "state size", type=positive_int)

    @defaults_from(Hyperparameters)
    def train(data, out, *, units, seed=0): ...
"""

import argparse
import dataclasses

# Upper bounds of the sizes every app's `train` offers, so that a typo (`--units 100000`) is one error line
# instead of an out-of-memory traceback. docs/cli.md lists the peak memory at each, with the other options at
# their defaults (`benchmarks/limits.py`).
MAX_UNITS = 1_024
"""State size of a recurrent layer (per direction)."""
MAX_LAYERS = 8
"""Stacked recurrent layers."""
MAX_EMBEDDING_DIM = 2_048
"""Size of a token's vector (also the most values a line of a pretrained vectors file may hold)."""
MAX_BATCH_SIZE = 512
"""Examples (names, windows, texts) per training step."""
MAX_EPOCHS = 10_000
"""Epochs, and the patience of early stopping: a bound on time, not memory."""


def option(default, help, *, type=None, choices=None, flag=None, metavar=None, section=None, key=None):
    """A hyper-parameter: a dataclass field that also says how the command line offers it.

    Args:
        default: the one default (command line and `train()`).
        help: the option's help; the default is appended unless it is `None`.
        type: an argparse type (`apps.common.cli.positive_int`, ...); `bool` gives `--x/--no-x`.
        choices: the values allowed.
        flag: the option's name when it is not the field's (`--ema` for `ema_momentum`).
        metavar: argparse's metavar.
        section: where `record` files it when an app's config.json groups its hyper-parameters.
        key: its name in config.json when it is not the field's (bundles already shipped use that name).
    """
    return dataclasses.field(
        default=default,
        metadata={
            "help": help,
            "type": type,
            "choices": choices,
            "flag": flag,
            "metavar": metavar,
            "section": section,
            "key": key,
        },
    )


def add_arguments(parser, hyperparameters):
    """Adds one option per field of the dataclass `hyperparameters` to `parser` (dest: the field's name)."""
    for field in dataclasses.fields(hyperparameters):
        meta = field.metadata
        # A default of None means "off" or "derived", which the help itself explains.
        shown = "" if field.default is None else " (default: %(default)s)"
        kwargs = {"dest": field.name, "default": field.default, "help": meta["help"] + shown}
        if meta["type"] is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs.update({key: meta[key] for key in ("type", "choices", "metavar") if meta[key] is not None})
        parser.add_argument(meta["flag"] or "--" + field.name.replace("_", "-"), **kwargs)


def from_args(hyperparameters, args):
    """The values of the dataclass's fields in the parsed `args`, as keyword arguments for `train()`."""
    return {field.name: getattr(args, field.name) for field in dataclasses.fields(hyperparameters)}


def defaults_from(hyperparameters):
    """Decorator: `train()`'s keyword-only parameters named like the fields default to the fields' defaults.

    The function takes every field as a keyword-only parameter written without a default, so that a default
    lives in one place (`tests/apps/common/test_config.py` holds every app's `train()` to that).
    """

    def decorate(function):
        defaults = {field.name: field.default for field in dataclasses.fields(hyperparameters)}
        function.__kwdefaults__ = {**(function.__kwdefaults__ or {}), **defaults}
        return function

    return decorate


def record(hyperparameters, values, section=None):
    """The hyper-parameters for config.json: `{key: values[name]}` for the fields in `section` (all: `None`).

    `values` is any mapping holding them by field name, such as `train()`'s `locals()`.
    """
    return {
        field.metadata["key"] or field.name: values[field.name]
        for field in dataclasses.fields(hyperparameters)
        if section is None or field.metadata["section"] == section
    }
