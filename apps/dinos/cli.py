"""`python -m apps.dinos COMMAND`: train, sample, score, evaluate, inspect, export, download.

Every command is a thin wrapper: it parses, calls the functions in `train`, `sample`, `evaluate`,
`export` and `data`, and prints. User mistakes raise `UsageError`: one line on stderr, exit code 2.
"""

import functools
import importlib.util
import math
import os
import secrets

from apps.common import cli as common
from apps.common import config as hyperparameters
from apps.common import files, runtime
from apps.common.bundle import read_config
from apps.common.cli import UsageError, float_in, int_in, positive_int, print_json, printable, seed
from apps.common.commands import add_export_parser, export_command, load_app_bundle
from apps.common.paths import recorded, saved_model
from apps.common.progress import Progress
from apps.dinos import data, evaluate
from apps.dinos import inspect as look
from apps.dinos.config import Hyperparameters

DEFAULT_MODEL = saved_model("dinos")
MODEL_HELP = "bundle directory (default: %(default)s)"


def build_parser():
    """The argparse parser of every command."""
    parser, commands = common.make_parser(
        "python -m apps.dinos", "A character-level language model that invents dinosaur names."
    )

    train = commands.add_parser(
        "train",
        help="train a model on a newline-separated name list",
        description="Train a character-level language model on a name list.",
    )
    train.add_argument("--data", default=data.DEFAULT_DATA, help="name list, one per line (default: %(default)s)")
    hyperparameters.add_arguments(train, Hyperparameters)
    train.add_argument("--keep-case", action="store_true", help="keep upper case instead of lower-casing")
    train.add_argument("--tensorboard", metavar="DIR", help="write TensorBoard logs to DIR")
    common.add_compile_arguments(train)
    train.add_argument("--out", default=DEFAULT_MODEL, help="bundle directory (default: %(default)s)")
    common.add_force_argument(train)
    common.add_distribute_arguments(train)

    def add_sampling(command, n_default):
        command.add_argument(
            "-n",
            type=int_in(1, MAX_NAMES),
            default=n_default,
            help=f"names, at most {MAX_NAMES:,} (default: %(default)s)",
        )
        command.add_argument(
            "--temperature",
            type=TEMPERATURE,
            default=1.0,
            help="below 1: safer names, above 1: wilder; 0.001 to 1000 (default: %(default)s)",
        )
        command.add_argument("--top-k", type=positive_int, default=None, help="sample among the k likeliest characters")
        command.add_argument(
            "--max-len",
            type=int_in(1, files.MAX_NAME_CHARS),
            default=None,
            help="longest name in characters, at most 100 (default: the longest training name + 4)",
        )
        command.add_argument("--seed", type=seed, default=None, help="same seed, same names (default: random)")

    sample = commands.add_parser("sample", help="invent names", description="Sample names from a model.")
    add_sampling(sample, 10)
    sample.add_argument("--prefix", default="", help="every name starts with this")
    sample.add_argument("--novel", action="store_true", help="reject names of the training list")
    sample.add_argument("--model", default=DEFAULT_MODEL, help=MODEL_HELP)
    sample.add_argument("--json", action="store_true", help="print JSON")
    runtime.add_argument(sample)

    score = commands.add_parser(
        "score",
        help="log-probability of names",
        description="Score names: log-probability (nats) and bits per character.",
    )
    score.add_argument("names", nargs="+", metavar="NAME", help=f"at most {MAX_SCORED:,} names")
    score.add_argument("--model", default=DEFAULT_MODEL, help=MODEL_HELP)
    score.add_argument("--json", action="store_true", help="print JSON")
    runtime.add_argument(score)

    evaluate_cmd = commands.add_parser(
        "evaluate",
        help="bits/char on a file, and statistics of a batch of samples",
        description="Bits per character on a name list (end token counted), and for a batch of samples: "
        "novelty rate, duplicate rate, length distribution against the training names.",
    )
    evaluate_cmd.add_argument("--data", help="name list to score (optional)")
    add_sampling(evaluate_cmd, 1000)
    evaluate_cmd.add_argument("--model", default=DEFAULT_MODEL, help=MODEL_HELP)
    evaluate_cmd.add_argument("--json", action="store_true", help="print JSON")

    inspect_cmd = commands.add_parser(
        "inspect",
        help="look inside the model as it reads a name",
        description="Read a name character by character: the likeliest next characters at each step, the units "
        "whose memory cell follows the position in the name or vowels (Pearson r), and with --plot heat maps "
        "of every gate and of c<t> for every unit.",
    )
    inspect_cmd.add_argument("name", metavar="NAME", help=f"a name of 1 to {files.MAX_NAME_CHARS} characters")
    inspect_cmd.add_argument("--plot", metavar="FILE.png", help="write the heat maps to this PNG")
    inspect_cmd.add_argument(
        "--top", type=int_in(1, 10), default=5, help="next characters shown per step, 1 to 10 (default: %(default)s)"
    )
    inspect_cmd.add_argument("--model", default=DEFAULT_MODEL, help=MODEL_HELP)
    common.add_overwrite_argument(inspect_cmd)

    add_export_parser(
        commands,
        DEFAULT_MODEL,
        help="write a SavedModel with sample and score signatures, or a .tflite",
        description="Export a SavedModel usable with TensorFlow alone, or (--format litert) "
        "the one-step model as a .tflite file for the LiteRT runtime.",
    )

    download = commands.add_parser(
        "download",
        help="fetch the name list",
        description="Fetch the name list named in data/dinos.json and check its sha256.",
    )
    download.add_argument("--source", help="URL or local path (default: the manifest's URL)")
    download.add_argument("--sha256", help="expected hash (default: any the manifest accepts)")
    download.add_argument("--out", default=data.DEFAULT_DATA, help="destination (default: %(default)s)")
    common.add_overwrite_argument(download)
    return parser


MAX_NAMES = 100_000
"""Names one `sample` or `evaluate` draws (a batch of them is sampled at once)."""
MAX_SCORED = 10_000
TEMPERATURE = float_in(0.001, 1000)
LITERT_MAX_STEPS = 300_000
"""`--runtime auto` answers on Keras when a command would run more LiteRT steps (one character each) than this.

Where it lies, with the shipped model, cold processes, on a shared 2-core AMD EPYC virtual machine (CPU seconds):
LiteRT `sample` 0.2 s to start and 0.30 ms a name (13 steps: 23 us a step), Keras 6.1 s to start (TensorFlow's
import, the bundle, the sampler's tracing) and 0.04 ms a name, even at 22,000 names (290,000 steps); `score`
15 us a step on LiteRT against 5.7 s on Keras, even at 370,000 steps."""


def main(argv=None):
    """Runs one command; returns the exit code (0 success, 2 bad input)."""
    handlers = {
        "train": _train,
        "sample": _sample,
        "score": _score,
        "evaluate": _evaluate,
        "inspect": _inspect,
        "export": _export,
        "download": _download,
    }
    return common.run(build_parser(), argv, handlers)


def _train(args):
    # No TensorFlow until the strategy below: everything before it is checked first.
    if not os.path.exists(args.data):
        raise UsageError(f"name list not found: {args.data} (fetch it with `python -m apps.dinos download`)")
    if args.tensorboard and importlib.util.find_spec("tensorboard") is None:
        raise UsageError("--tensorboard needs the tensorboard package: pip install tensorboard")
    if args.ema_momentum is not None and args.val_split == 0:
        raise UsageError("--ema needs validation names: --val-split above 0")
    out = files.check_output_dir(args.out, "dinos", force=args.force)
    files.check_work_dirs(out, backup_dir=args.backup_dir, tensorboard=args.tensorboard)
    names = data.read_names(args.data, keep_case=args.keep_case)
    # Before any TensorFlow op: the multi-worker strategy can only configure a runtime that has not started.
    from apps.common import distribute
    from apps.dinos.train import train

    strategy = distribute.strategy_from_args(args)
    config = train(
        names,
        args.out,
        **hyperparameters.from_args(Hyperparameters, args),
        keep_case=args.keep_case,
        tensorboard=args.tensorboard,
        jit_compile=args.jit_compile,
        steps_per_execution=args.steps_per_execution,
        data_path=recorded(args.data),
        data_sha256=files.sha256_of(args.data),
        strategy=None if args.distribute == "none" else strategy,
        backup_dir=args.backup_dir,
        force=args.force,
    )
    metrics = config["metrics"]
    val = metrics["val_bits_per_char"]
    print(
        f"saved {printable(args.out)}: train {metrics['train_bits_per_char']:.3f} bits/char"
        + (f", validation {val:.3f} bits/char" if val is not None else "")
        + f" (best epoch {config['training']['best_epoch']} of {config['training']['epochs_run']})"
    )


def _sample(args):
    if len(args.prefix) > files.MAX_NAME_CHARS:
        raise UsageError(f"--prefix is {len(args.prefix):,} characters; the limit is {files.MAX_NAME_CHARS}")
    config = read_config(args.model, "dinos")
    max_len = args.max_len or config["max_len"]
    prefix, _ = data.Vocabulary.from_config(config["vocabulary"]).encode_prefix(args.prefix, max_len)
    answer = _runtime(args, config, args.n * _name_steps(config, len(prefix), max_len))
    if answer == "litert":
        from apps.dinos.litert import NameSampler

        sampler = NameSampler(os.path.join(args.model, runtime.LITERT_FILE), config)
    else:
        from apps.dinos.sample import NameSampler

        sampler = NameSampler(*load_app_bundle("dinos", args.model))
    seed = secrets.randbelow(2**31 - 1) if args.seed is None else args.seed
    names = sampler.sample(
        args.n,
        prefix=args.prefix,
        max_len=args.max_len,
        temperature=args.temperature,
        top_k=args.top_k or 0,
        seed=seed,
        novel=args.novel,
    )
    if args.json:
        print_json(
            {
                "seed": seed,
                "temperature": args.temperature,
                "top_k": args.top_k,
                "runtime": answer,
                "names": [{"name": name, "log_prob": log_prob} for name, log_prob in names],
            }
        )
    else:
        for name, _ in names:
            print(printable(name))


def _score(args):
    if len(args.names) > MAX_SCORED:
        raise UsageError(f"{len(args.names):,} names to score; the limit is {MAX_SCORED:,}")
    for name in args.names:
        if len(name.strip()) > files.MAX_NAME_CHARS:
            raise UsageError(
                f"name {name[:40]!r}... is {len(name.strip()):,} characters; the limit is {files.MAX_NAME_CHARS}"
            )
    config = read_config(args.model, "dinos")
    vocab = data.Vocabulary.from_config(config["vocabulary"])
    names = [data.normalise(name, vocab.keep_case) for name in args.names]
    for name in names:
        vocab.encode(name)  # unknown characters are refused before TensorFlow loads
    answer = _runtime(args, config, sum(len(name) + 1 for name in names))
    if answer == "litert":
        from apps.dinos import litert

        log_probs = litert.score_names(os.path.join(args.model, runtime.LITERT_FILE), vocab, names)
    else:
        log_probs = evaluate.score_names(load_app_bundle("dinos", args.model)[0], vocab, names)
    rows = [
        {"name": name, "log_prob": float(lp), "bits_per_char": float(-lp / math.log(2) / (len(name) + 1))}
        for name, lp in zip(names, log_probs)
    ]
    if args.json:
        return print_json({"runtime": answer, "names": rows})
    shown = [printable(row["name"]) for row in rows]
    width = max(len("name"), *map(len, shown))
    print(f"{'name':<{width}}  {'log P (nats)':>12}  {'bits/char':>9}")
    for name, row in zip(shown, rows):
        print(f"{name:<{width}}  {row['log_prob']:>12.3f}  {row['bits_per_char']:>9.3f}")


def _inspect(args):
    plot_path = args.plot and files.check_output_file(args.plot, suffixes=(".png",), what="--plot", force=args.force)
    config = read_config(args.model, "dinos")
    vocab = data.Vocabulary.from_config(config["vocabulary"])
    name = look.check_name(args.name, vocab, files.MAX_NAME_CHARS)
    report = look.inspect_name(load_app_bundle("dinos", args.model)[0], vocab, name, top=args.top)
    print(f"{'read':<5} {'next':<5} {'P(next)':>7}  likeliest next")
    for read, target, p_next, top in zip(report["inputs"], report["targets"], report["p_next"], report["top"]):
        likeliest = "  ".join(f"{look.shown(char)} {p:.3f}" for char, p in top)
        print(f"{look.shown(read):<5} {look.shown(target):<5} {p_next:>7.3f}  {likeliest}")
    print(f"units whose c<t> follows the text (Pearson r over the {len(report['inputs'])} steps of {name!r}):")
    for number, feature, units in look.units(report):
        listed = ", ".join(f"unit {unit} r={r:+.2f}" for unit, r in units) or "none varies"
        print(f"  layer {number}, {feature}: {listed}")
    if plot_path:
        look.plot(report, plot_path, look.TITLE.format(name=name))
        print(f"heat maps: {plot_path}")


def _name_steps(config, prefix_len, max_len):
    """The steps sampling one name takes, as far as the training names tell: their mean length after the prefix
    and the end token, at most `max_len - prefix_len + 1`."""
    lengths = {int(length): count for length, count in config.get("training_lengths", {}).items()}
    total = sum(lengths.values())
    mean = sum(length * count for length, count in lengths.items()) / total if total else max_len
    return min(max(mean - prefix_len, 0), max_len - prefix_len) + 1


def _runtime(args, config, steps):
    """The runtime that answers a command of `steps` LiteRT steps (`runtime.choose`): with `auto`, Keras beyond
    `LITERT_MAX_STEPS`, where importing TensorFlow costs less than the steps one at a time."""
    big = args.runtime == "auto" and steps > LITERT_MAX_STEPS
    return runtime.choose(args, args.model, config, needs_keras=f"{steps:,} steps" if big else None)


def _evaluate(args):
    # Read and checked against the vocabulary before TensorFlow loads: a bad file is refused at once.
    vocab = data.Vocabulary.from_config(read_config(args.model, "dinos")["vocabulary"])
    names = data.read_names(args.data, keep_case=vocab.keep_case) if args.data else None
    for line, name in enumerate(names or (), 1):
        try:
            vocab.encode(name)
        except UsageError as error:
            raise UsageError(f"{args.data}, name {line}: {error}") from None
    from apps.dinos.sample import NameSampler

    model, config = load_app_bundle("dinos", args.model)
    report = {}
    if args.data:
        report["data"] = {
            "path": args.data,
            "names": len(names),
            "characters": sum(len(name) + 1 for name in names),
            "bits_per_char": evaluate.bits_per_char(model, vocab, names),
        }
    seed = secrets.randbelow(2**31 - 1) if args.seed is None else args.seed
    with Progress(None, f"sampling {args.n:,} names", tick=True):  # one call, as long as the batch is large
        drawn, _, ended = NameSampler(model, config).sample_batch(
            args.n, max_len=args.max_len, temperature=args.temperature, top_k=args.top_k or 0, seed=seed
        )
    finished = [name for name, done in zip(drawn, ended) if done]
    stats = evaluate.sample_statistics(finished, config.get("seen_digests", ()), config["training_lengths"])
    report["samples"] = {
        "drawn": args.n,
        "seed": seed,
        "temperature": args.temperature,
        "top_k": args.top_k,
        "unfinished_rate": 1 - len(finished) / args.n,
        **stats,
    }
    if args.json:
        return print_json(report)
    if "data" in report:
        d = report["data"]
        print(
            f"{printable(d['path'])}: {d['names']} names, {d['characters']} characters (end tokens included), "
            f"{d['bits_per_char']:.4f} bits/char"
        )
    s = report["samples"]
    print(
        f"{args.n} samples (seed {seed}, temperature {args.temperature}): "
        f"unfinished {s['unfinished_rate']:.1%}, novel {_percent(s['novelty_rate'])}, "
        f"duplicates {_percent(s['duplicate_rate'])}"
    )
    print(f"{'length':<9}{'mean':>7}{'std':>7}{'min':>5}{'median':>8}{'max':>5}")
    for label, summary in s["lengths"].items():
        if summary["count"]:
            print(
                f"{label:<9}{summary['mean']:>7.2f}{summary['std']:>7.2f}{summary['min']:>5}"
                f"{summary['median']:>8.1f}{summary['max']:>5}"
            )
    if s["length_tv_distance"] is not None:
        print(f"total variation distance between the length distributions: {s['length_tv_distance']:.3f}")


def _percent(value):
    return "n/a" if value is None else f"{value:.1%}"


def _download(args):
    out = files.check_output_file(args.out, force=True)  # whether the file there may go: `download` decides
    path, digest = data.download(out, source=args.source, sha256=args.sha256, force=args.force)
    print(f"{printable(path)} (sha256 {digest})")


_export = functools.partial(export_command, app="dinos", signatures="sample, score")
