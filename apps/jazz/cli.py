"""`python -m apps.jazz train|generate|evaluate|export`: the command line; the work lives in the other modules.

Heavy imports (TensorFlow, music21) happen inside the commands, after the arguments are checked: a mistake
in the arguments, the chords or the output path is reported at once, as the only line on stderr (importing
TensorFlow prints its own start-up lines there, which a user error should not come with). `generate` samples on
the bundle's LiteRT model when it can (`apps.common.runtime`), and then never imports TensorFlow.
"""

import argparse
import datetime
import functools
import os
import shlex
import sys

from apps.common import config as hyperparameters
from apps.common import files, runtime
from apps.common.bundle import read_config
from apps.common.cli import (
    UsageError,
    add_compile_arguments,
    add_distribute_arguments,
    add_force_argument,
    add_overwrite_argument,
    float_in,
    int_in,
    make_parser,
    print_json,
    printable,
    run,
)
from apps.common.commands import add_export_parser, export_command, load_app_bundle
from apps.common.files import read_text
from apps.common.litert import StepRunner
from apps.common.paths import recorded, saved_model
from apps.common.progress import track
from apps.jazz import audio, chords, data, evaluate, generate, leadsheet, plot, reference, swing
from apps.jazz.config import MAX_SEED, Hyperparameters
from apps.jazz.grammar import REGISTER_NAMES

DEFAULT_MODEL = saved_model("jazz")
MODEL_HELP = "bundle directory (default: %(default)s)"
PROG = "python -m apps.jazz"
MAX_MEASURES = 1_000
"""Bars one `generate` plays (about 33 minutes at 120 bpm); a progression may not be longer either."""
MAX_CHORD_FILE_BYTES = 1 << 20
MAX_TAKES = 100
MAX_DRAWS = 100
seed = int_in(0, MAX_SEED)
TEMPO = float_in(20, 400)
"""Quarter notes a minute: MIDI stores 60e6 / bpm microseconds in 24 bits, so below ~3.6 bpm it wraps."""


def build_parser():
    parser, commands = make_parser(PROG, "Generate jazz solos over any chord progression with an RNN.")

    train = commands.add_parser("train", help="train a model on MIDI/MusicXML solos")
    train.add_argument(
        "--midi", nargs="+", required=True, metavar="PATH", help="MIDI/MusicXML files, directories or glob patterns"
    )
    hyperparameters.add_arguments(train, Hyperparameters)
    train.add_argument("--out", default=DEFAULT_MODEL, help="bundle directory (default: %(default)s)")
    add_compile_arguments(train)
    add_force_argument(train)
    add_distribute_arguments(train)

    generate_cmd = commands.add_parser("generate", help="write a new solo as MIDI")
    generate_cmd.add_argument("--model", default=DEFAULT_MODEL, help=MODEL_HELP)
    progression = generate_cmd.add_mutually_exclusive_group()
    progression.add_argument("--chords", help='e.g. "Dm7 G7 Cmaj7" (a bar each) or "Dm7 G7 | Cmaj7" (bars split by |)')
    progression.add_argument(
        "--chords-from",
        metavar="FILE",
        help="a text file holding a progression, or a lead sheet: MusicXML with chord symbols or "
        "MIDI with an accompaniment (its form's length and tempo are used unless given)",
    )
    generate_cmd.add_argument(
        "--measures",
        type=int_in(1, MAX_MEASURES),
        help=f"bars to play, cycling the progression, at most {MAX_MEASURES:,} "
        "(default: the progression, or the lead sheet's form, once)",
    )
    generate_cmd.add_argument("--tempo", type=TEMPO, help="quarter notes a minute, 20 to 400 (default: the model's)")
    generate_cmd.add_argument(
        "--temperature",
        type=float_in(0.001, 1000),
        default=1.0,
        help="below 1: safer, more predictable notes; above 1: wilder; 0.001 to 1000 (default: %(default)s)",
    )
    generate_cmd.add_argument(
        "--top-k",
        type=int_in(0, 1_000_000),
        default=0,
        help="sample among the k likeliest tokens only (default: 0, all)",
    )
    generate_cmd.add_argument("--seed", type=seed, default=0, help="take i (from 0) is sampled with seed + i")
    generate_cmd.add_argument(
        "--primer",
        metavar='FILE|"NOTES"',
        help='an opening phrase to continue: a MIDI/MusicXML file or notes such as "C5 E5:1/2 '
        f'G5:1/2 R Bb4:2" (quarter notes after the colon, 1 by default), inside '
        f"{'-'.join(REGISTER_NAMES)} and shorter than the solo",
    )
    generate_cmd.add_argument(
        "--keep-primer",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="play the primer before its continuation (default: %(default)s)",
    )
    generate_cmd.add_argument(
        "--num-outputs",
        type=int_in(1, MAX_TAKES),
        default=1,
        metavar="N",
        help=f"takes to write, numbered out-1.mid, out-2.mid, ... (at most {MAX_TAKES})",
    )
    generate_cmd.add_argument("--out", help="MIDI file, .mid or .midi (default: output/jazz-<timestamp>.mid)")
    generate_cmd.add_argument("--musicxml", action="store_true", help="also write MusicXML beside the MIDI")
    generate_cmd.add_argument(
        "--plot",
        action="store_true",
        help="also write a piano-roll PNG beside the MIDI: 8 bars a row, note names, the primer's end marked",
    )
    generate_cmd.add_argument(
        "--wav",
        action="store_true",
        help="also write audio beside the MIDI, rendered by FluidSynth with a General MIDI SoundFont",
    )
    generate_cmd.add_argument(
        "--soundfont", metavar="PATH", help="the SoundFont for --wav (default: the system's GM one)"
    )
    generate_cmd.add_argument(
        "--swing",
        type=swing.SWING,
        metavar="RATIO",
        help="for --wav: where the off-beat eighths fall, as a share of the quarter-note beat: 0.5 straight, "
        f"2/3 triplet feel; {swing.STRAIGHT} to under {swing.MAX}, a decimal or a fraction (default: {swing.DEFAULT}); "
        "the MIDI and MusicXML stay on the grid",
    )
    add_overwrite_argument(generate_cmd)
    generate_cmd.add_argument(
        "--no-comp", dest="comp", action="store_false", help="the solo alone, without the chords and bass"
    )
    runtime.add_argument(generate_cmd)

    evaluate_cmd = commands.add_parser(
        "evaluate",
        help="perplexity and music statistics of solos, or generated solos against real ones on the same changes",
    )
    solos = evaluate_cmd.add_mutually_exclusive_group(required=True)
    solos.add_argument("--midi", nargs="+", metavar="PATH", help="solos to measure (and score with the model)")
    solos.add_argument(
        "--reference",
        nargs="+",
        metavar="PATH",
        help="real solos: the model plays over each one's chords, and the feature histograms of "
        "what it plays are compared with the real ones (overlaps; ceiling: odd vs even solos)",
    )
    evaluate_cmd.add_argument(
        "--bars",
        type=int_in(1, MAX_MEASURES),
        default=32,
        help="with --reference: the first bars of each solo compared (default: %(default)s)",
    )
    evaluate_cmd.add_argument(
        "--seed", type=seed, default=0, help="with --reference: draw d of solo i is generated with seed + 100 d + i"
    )
    evaluate_cmd.add_argument(
        "--draws",
        type=int_in(1, MAX_DRAWS),
        default=1,
        help="with --reference: solos generated over each real one, their histograms pooled (default: %(default)s)",
    )
    evaluate_cmd.add_argument("--model", help=f"model for the per-token NLL (default: {DEFAULT_MODEL} if present)")
    evaluate_cmd.add_argument(
        "--corpus",
        nargs="+",
        metavar="PATH",
        help="training solos for the longest copied span (default: the training solos' tokens in the model's bundle)",
    )
    evaluate_cmd.add_argument("--json", action="store_true", help="print JSON")

    add_export_parser(
        commands,
        DEFAULT_MODEL,
        help="export the token sampler as a SavedModel, or (--format litert) as a .tflite file",
    )
    return parser


def main(argv=None):
    """Runs the command line `argv` (default: `sys.argv[1:]`) and returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    # Recorded in a bundle's config: an absolute path of this machine is recorded as `paths.recorded` has it.
    command = " ".join([PROG] + [shlex.quote(recorded(arg) if os.path.isabs(arg) else arg) for arg in argv])
    return run(
        build_parser(),
        argv,
        {
            "train": lambda args: _train(args, command),
            "generate": _generate,
            "evaluate": _evaluate,
            "export": _export,
        },
    )


def _train(args, command):
    out = files.check_output_dir(args.out, "jazz", force=args.force)
    files.check_work_dirs(out, backup_dir=args.backup_dir)
    data.expand_paths(args.midi)  # file count and sizes, before TensorFlow loads
    from apps.common import distribute

    # Before any TensorFlow op: the multi-worker strategy can only configure a runtime that has not started.
    strategy = distribute.strategy_from_args(args)
    from apps.jazz.train import train

    config = train(
        args.midi,
        out,
        **hyperparameters.from_args(Hyperparameters, args),
        command=command,
        jit_compile=args.jit_compile,
        steps_per_execution=args.steps_per_execution,
        strategy=None if args.distribute == "none" else strategy,
        backup_dir=args.backup_dir,
        force=args.force,
    )
    metrics = config["metrics"]
    report = (
        f"validation perplexity {metrics['val_perplexity']:.2f}"
        if "val_perplexity" in metrics
        else f"training perplexity {metrics['perplexity']:.2f}"
    )
    print(f"saved {printable(args.out)}: {len(config['vocabulary']) + 1} tokens, {metrics['epochs']} epochs, {report}")


def _progression(args):
    """`(timeline, bars, tempo, bar_quarters)` of the chords asked for; tempo None where none comes with them."""
    if args.chords_from and args.chords_from.lower().endswith(data.MUSIC_EXTENSIONS):
        return leadsheet.read_lead_sheet(args.chords_from, max_bars=MAX_MEASURES)
    if args.chords_from:
        text = read_text(args.chords_from, "chord file", max_bytes=MAX_CHORD_FILE_BYTES)
    else:
        text = args.chords if args.chords is not None else generate.DEFAULT_PROGRESSION
    return (*chords.parse_progression(text, max_bars=MAX_MEASURES), None, 4.0)


def _generate(args):
    out = files.check_output_file(
        args.out or os.path.join("output", f"jazz-{datetime.datetime.now():%Y%m%d-%H%M%S}.mid"),
        suffixes=(".mid", ".midi"),
        force=args.force,
    )
    takes = generate.take_paths(out, args.num_outputs)
    # The files written beside each MIDI are checked now too: none may fail once a MIDI is written.
    for path in takes:
        files.check_output_file(path, force=args.force)
        for flag, suffix in (("--musicxml", ".musicxml"), ("--plot", ".png"), ("--wav", ".wav")):
            if getattr(args, flag[2:]):
                files.check_output_file(os.path.splitext(path)[0] + suffix, what=flag, force=args.force)
    for flag in ("--soundfont", "--swing"):
        if getattr(args, flag[2:]) is not None and not args.wav:
            raise UsageError(f"{flag} is for --wav")
    renderer = audio.find_renderer(args.soundfont) if args.wav else None
    config = read_config(args.model, "jazz")
    timeline, bars, sheet_tempo, bar_quarters = _progression(args)
    measures = args.measures or bars
    primer = None
    if args.primer:
        primer = leadsheet.read_primer(args.primer)
        leadsheet.check_primer(primer, measures * bar_quarters)

    if runtime.choose(args, args.model, config) == "litert":
        generator = generate.LiteRTSoloSampler(StepRunner(os.path.join(args.model, runtime.LITERT_FILE)), config)
    else:
        model, config = load_app_bundle("jazz", args.model)
        generator = generate.SoloSampler(model, config)
    timeline = chords.repeat(timeline, bars, measures, bar_quarters)
    tempo = args.tempo or sheet_tempo or config.get("tempo", 120.0)
    quarters = measures * bar_quarters
    solos = [
        generate.generate_solo(
            generator,
            timeline,
            measures,
            temperature=args.temperature,
            seed=args.seed + take,
            bar_quarters=bar_quarters,
            top_k=args.top_k,
            primer=primer,
            keep_primer=args.keep_primer,
        )[0]  # the notes; not the tokens
        # A take of many bars is sampled in one call, and written in a few: the clock ticks through them.
        for take in track(range(args.num_outputs), "sampling", "take", tick=True)
    ]
    written = []
    for take, (path, notes) in enumerate(track(list(zip(takes, solos)), "writing", "take", tick=True)):
        score = generate.build_score(notes, timeline, quarters, tempo, bar_quarters, comp=args.comp)
        written += generate.write_score(
            score,
            path,
            musicxml=args.musicxml,
            renderer=renderer,
            swing=swing.DEFAULT if args.swing is None else args.swing,
        )
        if args.plot:
            png = plot.piano_roll(
                notes,
                timeline,
                quarters,
                os.path.splitext(path)[0] + ".png",
                bar_quarters,
                title=f"seed {args.seed + take}, temperature {args.temperature:g}",
                primer_end=max(offset + duration for offset, duration, _ in primer) if primer else None,
            )
            if png is None:
                print("warning: matplotlib is not installed: no plot", file=sys.stderr)
            else:
                written.append(png)
    counts = "/".join(str(len(notes)) for notes in solos)
    print(f"wrote {printable(', '.join(written))}: {measures} bars, {counts} notes at {tempo:g} bpm")


def _corpus(args, model_path):
    """The `CorpusIndex` for the longest copied span: of `--corpus`, else of the training solos' tokens the bundle
    carries; or None, having said why on stderr. The data a bundle was trained on is never parsed: it may be
    anywhere, or nowhere."""
    if args.corpus:
        from apps.jazz import train

        solos = data.load_solos(args.corpus, progress=not args.json)
        return evaluate.CorpusIndex(train.token_sequences(solos, "grammar"))
    if not model_path:
        return _no_copy_check("no model and no --corpus")
    sequences = evaluate.load_training_tokens(model_path)
    if sequences is None:
        return _no_copy_check(
            f"{printable(model_path)} holds no {evaluate.TRAINING_TOKENS_FILE} (its training solos' tokens)"
        )
    return evaluate.CorpusIndex(sequences)


def _no_copy_check(why):  # returns None: `_corpus`'s answer where there is no corpus
    print(f"({why}: longest copied span not computed; see --corpus)", file=sys.stderr)


def _evaluate(args):
    for paths in (args.midi or args.reference, args.corpus or ()):
        data.expand_paths(paths)  # file count and sizes, before TensorFlow loads
    model_path = args.model or (DEFAULT_MODEL if os.path.isdir(DEFAULT_MODEL) else None)
    if args.reference:
        read_config(args.model or DEFAULT_MODEL, "jazz")
        return _evaluate_reference(args, args.model or DEFAULT_MODEL)
    if model_path:
        read_config(model_path, "jazz")
    solos = data.load_solos(args.midi, progress=not args.json)
    model, config = load_app_bundle("jazz", model_path) if model_path else (None, None)
    corpus = _corpus(args, model_path)
    results, summary = evaluate.evaluate_solos(solos, model, config, corpus)
    if args.json:
        return print_json({"model": model_path, "solos": results, "summary": summary})
    print(
        f"{'solo':32} {'notes':>5} {'chord':>6} {'scale':>6} {'appr':>6} {'range':>5} {'repeat':>6} "
        f"{'copied':>6} {'ppl':>7}"
    )
    # The last row: notes summed, longest copy the maximum, everything else the mean over solos.
    for r in results + [dict(summary, name="all", notes=sum(r["notes"] for r in results))]:
        copied = r.get("longest_copy", {}).get("tokens", r.get("longest_copy_tokens_max", "-"))
        span = r["pitch_range"]["semitones"] if "pitch_range" in r else r["pitch_range_semitones"]
        repeat = r["longest_repeat"]["tokens"] if "longest_repeat" in r else r["longest_repeat_tokens"]
        ppl = f"{r['perplexity']:.2f}" if "perplexity" in r else "-"
        print(
            f"{printable(r['name'])[:32]:32} {r['notes']:>5} {r['chord_tone_share']:>6.1%} "
            f"{r['scale_tone_share']:>6.1%} "
            f"{r['approach_tone_share']:>6.1%} {span:>5.0f} {repeat:>6.0f} {copied!s:>6} {ppl:>7}"
        )


def _evaluate_reference(args, model_path):
    solos = data.load_solos(args.reference)
    model, config = load_app_bundle("jazz", model_path)
    corpus = _corpus(args, model_path)
    result = reference.compare(
        generate.SoloSampler(model, config),
        solos,
        bars=args.bars,
        seed=args.seed,
        corpus=corpus,
        draws=args.draws,
    )
    result.update(model=model_path, conditioning=config.get("conditioning", "none"))
    if args.json:
        return print_json(result)
    print(
        f"{printable(model_path)} ({result['conditioning']} conditioning) over the changes of {result['solos']} real "
        f"solo(s), first {args.bars} bars, {args.draws} draw(s) from seed {args.seed}, temperature 1, no top-k: "
        "histogram overlaps"
    )
    several = "mean_over_draws" in result
    print(
        f"{'feature':14} {'generated vs real':>18} {'real odd vs even':>17}"
        + (f" {'mean of the draws':>18}" if several else "")
    )
    for name in [*reference.FEATURES, "mean"]:
        print(
            f"{name:14} {result['overlaps'][name]:>18.3f} {result['ceiling'][name]:>17.3f}"
            + (f" {result['mean_over_draws'][name]:>18.3f}" if several else "")
        )
    print(f"notes: {result['notes']['generated']:.0f} generated (per draw), {result['notes']['real']} real")
    if "longest_copy" in result:
        copy = result["longest_copy"]
        print(
            f"longest span copied from the training corpus: {copy['tokens']} tokens = {copy['bars']:.2f} bars; "
            f"from a note's onset to a note's end: {copy['sounding_bars']:.2f} bars"
        )


_export = functools.partial(export_command, app="jazz", signatures="sample, vocabulary")
