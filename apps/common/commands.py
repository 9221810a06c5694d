"""What every app's command line does alike: load a bundle, and the `export` command.

An app is named as its bundles name it; its modules are those it registered (`apps.common.registry`). Nothing
is imported here at module level beyond the TensorFlow-free plumbing: arguments and paths are checked before
TensorFlow loads.
"""

from apps.common import files, litert, registry
from apps.common.bundle import load_bundle, read_config
from apps.common.cli import add_force_argument, printable


def load_app_bundle(app, path):
    """`(model, config)` of the `app` bundle at `path`, in safe mode (`apps.common.bundle.load_bundle`)."""
    return load_bundle(path, app=app)


def add_export_parser(
    commands,
    model,
    model_help="bundle directory (default: %(default)s)",
    out_help="SavedModel directory, or .tflite file (--format litert)",
    **kwargs,
):
    """Adds an app's `export` command (which `export_command` runs) to the subparsers action `commands`.

    Args:
        commands: the app's subparsers action (`apps.common.cli.make_parser`).
        model: the default of `--model`, the app's shipped bundle.
        model_help, out_help: the help of `--model` and of `--out`.
        **kwargs: for `commands.add_parser` (`help`, `description`).
    """
    parser = commands.add_parser("export", **kwargs)
    parser.add_argument("--model", default=model, help=model_help)
    parser.add_argument("--out", required=True, help=out_help)
    add_force_argument(parser)
    litert.add_format_arguments(parser)


def export_command(args, app, signatures):
    """An app's `export` command: a SavedModel through its `export` module, or with `--format litert` a `.tflite`
    file through its `litert` module (`apps.common.litert.export_command`).

    Args:
        args: the parsed arguments (`model`, `out`, `force` and `litert.add_format_arguments`'s).
        app: the app's name, as registered (`apps.common.registry`).
        signatures: the SavedModel's signatures, for the report.
    """
    read_config(args.model, app)  # a missing or another app's bundle is refused before TensorFlow loads
    if litert.requested(args):
        return litert.export_command(args, app)
    out = files.check_output_dir(args.out, app, files.SAVED_MODEL, force=args.force)
    model, config = load_app_bundle(app, args.model)
    registry.module(app, "export").export(model, config, out, force=args.force)
    print(f"exported {printable(args.model)} to {printable(args.out)} (signatures: {signatures})")
