"""Peak memory and wall time of each CLI command run AT its documented input limit (never beyond it).

Every case is one fresh `python -m apps.<app> ...` process, run alone, on synthetic inputs that this script
writes into a temporary directory, with the shipped models of saved_models/<app>. Its peak resident memory
is the `ru_maxrss` that `os.wait4` returns for that child (KiB on Linux; the child's own peak, or that of
the largest process it waited for), its wall seconds run from the spawn to the reap, and its CPU seconds
are the child's user + system time (the steadier figure on a shared machine). The limits are imported from
the apps (`apps.common.files`, `apps.dinos.cli`, `apps.jazz.cli`, `apps.sentiment.cli`), so the inputs
follow them when they change.

Cases (`--cases` picks some by name; `--quick` runs only those that take under ~20 s, at the same limits):

    dinos-sample             sample -n MAX_NAMES --seed 0
    dinos-score              score with MAX_SCORED names of MAX_NAME_CHARS letters, as arguments
    dinos-evaluate           evaluate --data a name list of exactly MAX_NAME_LIST_BYTES (names of
                             MAX_NAME_CHARS letters) -n 1000
    dinos-train              train on that list, 1 epoch, --units 16 --embedding-dim 8 --batch-size 256
    jazz-generate            generate --measures MAX_MEASURES
    jazz-chords-from         generate --chords-from a progression of MAX_MEASURES bars (one chord a bar)
    jazz-chords-dense        generate --chords-from a chord file of MAX_MEASURES bars of 48 chords (the most a 4/4
                             bar holds), the bars `|`-separated over lines of at most MAX_LINE_CHARS
    jazz-sheet-16-4, jazz-evaluate-16-4   generate --chords-from, evaluate a MusicXML score of MAX_MEASURES bars of
                             16/4 (MAX_BAR_QUARTERS), MAX_CHORD_SYMBOLS chord symbols, each over a note
    jazz-train-16-4          train (1 epoch) on that score as a solo
    jazz-evaluate-16-4-full  evaluate that solo in as many parts as fit MAX_MUSIC_FILE_BYTES (its chord symbols in
                             the first part alone)
    jazz-evaluate-long-solo  evaluate --midi one solo of 6,400 bars of eighth notes (51,200 notes), each bar's
                             last note tied to the next bar's first (un-tying a melody takes time by its notes)
    jazz-generate-takes      generate --num-outputs MAX_TAKES (of the default progression's 12 bars)
    jazz-musicxml-train      train (1 epoch) on a MusicXML solo of just under MAX_MUSIC_FILE_BYTES: 111 parts of
                             200 bars of eighth notes, the first the melody with the chord symbols
    jazz-midi-train, jazz-midi-evaluate   train (1 epoch), evaluate on a MIDI solo of just under
                             MAX_MIDI_FILE_BYTES: a melody of 200 bars of eighths and 106 tracks of quarter notes
                             (86,400 notes), whose chords music21 names
    jazz-files-train         train (1 epoch) on MAX_MUSIC_FILES MusicXML solos of 12 bars
    jazz-sheet-musicxml, jazz-sheet-midi     generate --chords-from the MusicXML or the MIDI file above
    jazz-primer-musicxml, jazz-primer-midi   generate --primer the same, --measures 256
    sentiment-predict-long   predict --file MAX_TEXTS lines of ~600 characters (just under MAX_TEXT_FILE_BYTES)
    sentiment-predict-short  predict --file MAX_TEXTS lines of ~60 characters
    sentiment-predict-lines, -lines-keras   predict --file lines of MAX_LINE_CHARS characters, as many as
                             MAX_TEXT_FILE_BYTES holds (the largest file a line limit applies to; dinos' names stop
                             at MAX_NAME_CHARS), on the runtime `auto` picks (LiteRT) and on Keras
    sentiment-predict-arg    predict with one argument of exactly MAX_ARGUMENT_CHARS characters
    sentiment-evaluate       evaluate --data 150,000 `<label> <text>` lines of ~110 characters (~16 MiB) --plot
    sentiment-train          train --task file on that file, 1 epoch, every option at its default
    sentiment-examples-train, sentiment-examples-evaluate   train (1 epoch) and evaluate on MAX_EXAMPLES lines
                             of one word of five letters (16,000,000 bytes): the most examples a file may hold

The bounds of what `train` builds, each alone at its bound with the others at their defaults, on inputs just
large enough to reach it (one epoch; the `*-train-*` cases, and two more):

    dinos-train-units, -layers, -embedding-dim   --units / --layers / --embedding-dim at the bound, 256 names
    dinos-train-batch-size   --batch-size MAX_BATCH_SIZE on a ninth more names, of MAX_NAME_CHARS letters
    dinos-train-characters   a 4 MiB list of names of MAX_NAME_CHARS drawn from MAX_CHARACTERS characters (the
                             small model of dinos-train, so that it takes minutes)
    dinos-sample-characters  sample -n MAX_NAMES from a model of MAX_CHARACTERS characters (trained first, unmeasured)
    jazz-train-units, -embedding-dim             at the bound, one solo of 200 bars of eighth notes
    jazz-train-seq-len       --seq-len MAX_SEQ_LEN, jazz-train-batch-size --batch-size MAX_BATCH_SIZE: 32 solos
                             of 200 bars of eighth notes (51,200 tokens), --validation-split 0
    jazz-train-tokens        --encoding pitch on a solo holding every pitch 0-127 at every duration: the
                             vocabulary's bound, 6,192 tokens
    jazz-evaluate-mxl        evaluate --midi a .mxl whose MusicXML unzips to just under MAX_MUSIC_FILE_BYTES:
                             parts of 200 bars of eighth notes (the melody, one part, is the one un-tied)
    sentiment-train-units, -layers, -embedding-dim   at the bound, 256 lines of 20 words
    sentiment-train-batch-size   --batch-size MAX_BATCH_SIZE on 1,100 lines of 100 words (--max-length's default)
    sentiment-train-max-tokens   --max-tokens MAX_TOKENS on 25,000 lines of 10 words never repeated
    sentiment-train-max-length   --max-length MAX_LENGTH on 64 lines of that many words
    sentiment-train-classes      --num-classes MAX_CLASSES, every label twice
    sentiment-train-extra-vocabulary  --extra-vocabulary MAX_TOKENS from a vectors file of that many more words
    sentiment-train-vectors  --embeddings a file of MAX_VECTOR_VALUES values (447,392 x 300, ~2.0 GB)
    sentiment-train-treebank --train-on phrases: left-branching trees of MAX_TREE_WORDS words up to
                             MAX_PHRASE_WORDS phrase words (--batch-size 256, to keep it minutes)

Usage:

    nice -n 5 python benchmarks/limits.py                      # every case, 30-40 minutes on 2 CPU cores
    python benchmarks/limits.py --quick                        # the short cases only
    python benchmarks/limits.py --cases dinos-train jazz-generate --timeout 900
    nice -n 5 python benchmarks/limits.py --cases '*-train-*' jazz-evaluate-mxl dinos-sample-characters

Prints a Markdown table (case, limit, input size, peak RSS, wall and CPU seconds, exit status) and writes
JSON to benchmarks/results/limits.json. A case that exits non-zero is reported with its stderr's last line.
"""

import argparse
import fnmatch
import functools
import itertools
import json
import os
import platform
import random
import shutil
import signal
import string
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from apps.common import config, files  # noqa: E402
from apps.dinos import cli as dinos_cli  # noqa: E402
from apps.dinos import config as dinos_config  # noqa: E402
from apps.jazz import chords, data, grammar  # noqa: E402
from apps.jazz import cli as jazz_cli  # noqa: E402
from apps.jazz import config as jazz_config  # noqa: E402
from apps.sentiment import cli as sentiment_cli  # noqa: E402
from apps.sentiment import config as sentiment_config  # noqa: E402
from apps.sentiment import data as sentiment_data  # noqa: E402
from apps.sentiment import embeddings  # noqa: E402

DINOS_MODEL = os.path.join(REPO, "saved_models", "dinos")
JAZZ_MODEL = os.path.join(REPO, "saved_models", "jazz")
SENTIMENT_MODEL = os.path.join(REPO, "saved_models", "sentiment")

LONG_TEXT_CHARS = 600
SHORT_TEXT_CHARS = 60
EVALUATE_LINES = 150_000
EVALUATE_TEXT_CHARS = 111  # with the label, the space and the newline: ~16 MiB in all
EVALUATE_SAMPLES = 1_000
LETTERS = string.ascii_lowercase

WORDS = """the a an and but or of to in on at for with from by about as is was are were be been being have has
had do does did not no very really quite too so just only even still also more most less least much many
film movie story plot script scene scenes actor actors actress cast director performance performances
character characters ending beginning moment moments music score camera picture drama comedy thriller
good great fine best better bad worse worst awful terrible wonderful brilliant beautiful boring dull funny
clever smart charming moving touching sweet warm cold flat tired fresh original predictable stupid silly
slow fast long short pretty ugly strong weak rich thin deep shallow honest clumsy gentle cruel sad happy
it its this that these those he she they his her their we our you your i me my one two three first last
time year life world man woman people family friend love heart mind eyes hands face voice way end work
makes made make feels felt feel looks looked look seems seemed seem tries tried try works worked gets got
never always often sometimes rarely almost nearly enough rather perhaps maybe simply truly hardly
audience viewers critics fans children adults summer night day city town house road war peace""".split()


def letters(rng, n):
    return "".join(rng.choices(LETTERS, k=n))


def words_line(rng, chars):
    """Ordinary English words joined by spaces: at most `chars` characters and within a word of it."""
    line = []
    length = -1
    while True:
        word = rng.choice(WORDS)
        if length + 1 + len(word) > chars:
            return " ".join(line)
        line.append(word)
        length += 1 + len(word)


def write(path, text):
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
    return os.path.getsize(path)


def name_list(path, rng):
    """A name list of exactly MAX_NAME_LIST_BYTES: names of MAX_NAME_CHARS letters, the last one shorter."""
    line = files.MAX_NAME_CHARS + 1
    full, rest = divmod(files.MAX_NAME_LIST_BYTES, line)
    names = [letters(rng, files.MAX_NAME_CHARS) for _ in range(full)]
    if rest > 1:
        names.append(letters(rng, rest - 1))
    size = write(path, "".join(name + "\n" for name in names))
    assert size == files.MAX_NAME_LIST_BYTES - (rest == 1), size
    return size, len(names)


def remove(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    else:
        os.remove(path)


def mib(n):
    return n / files.MIB


# Each case: name, the limit it sits at, and `prepare(tmp, rng)` returning (argv after `python -m`, input).
def case_dinos_sample(tmp, rng):
    n = dinos_cli.MAX_NAMES
    return (
        ["apps.dinos", "sample", "--model", DINOS_MODEL, "-n", str(n), "--seed", "0"],
        {"names": n, "description": f"-n {n:,}"},
    )


def case_dinos_score(tmp, rng):
    names = [letters(rng, files.MAX_NAME_CHARS) for _ in range(dinos_cli.MAX_SCORED)]
    size = sum(len(name) + 1 for name in names)
    return (
        ["apps.dinos", "score", "--model", DINOS_MODEL, *names],
        {
            "names": len(names),
            "name_chars": files.MAX_NAME_CHARS,
            "argv_bytes": size,
            "description": f"{len(names):,} names x {files.MAX_NAME_CHARS} chars ({mib(size):.2f} MiB of argv)",
        },
    )


def _shared_name_list(tmp, rng):
    """The name list of the dinos cases, written once; returns its path, size and a description."""
    path = os.path.join(tmp, "names.txt")
    if not os.path.exists(path):
        name_list(path, rng)
    with open(path, encoding="utf-8") as handle:
        lengths = [len(line.rstrip("\n")) for line in handle]
    full = sum(length == files.MAX_NAME_CHARS for length in lengths)
    shorter = sorted(length for length in lengths if length != files.MAX_NAME_CHARS)
    size = os.path.getsize(path)
    return (
        path,
        size,
        len(lengths),
        (
            f"{size:,} B: {full:,} names x {files.MAX_NAME_CHARS} chars"
            + (f" + {len(shorter)} of {shorter[0]}" if shorter else "")
        ),
    )


def case_dinos_evaluate(tmp, rng):
    path, size, count, listed = _shared_name_list(tmp, rng)
    return (
        ["apps.dinos", "evaluate", "--model", DINOS_MODEL, "--data", path, "-n", str(EVALUATE_SAMPLES), "--seed", "0"],
        {
            "bytes": size,
            "names": count,
            "samples": EVALUATE_SAMPLES,
            "description": f"{listed}; -n {EVALUATE_SAMPLES:,}",
        },
    )


def case_dinos_train(tmp, rng):
    path, size, count, listed = _shared_name_list(tmp, rng)
    return (
        [
            "apps.dinos",
            "train",
            "--data",
            path,
            "--epochs",
            "1",
            "--units",
            "16",
            "--embedding-dim",
            "8",
            "--batch-size",
            "256",
            "--val-split",
            "0.1",
            "--out",
            os.path.join(tmp, "dinos-model"),
        ],
        {"bytes": size, "names": count, "description": f"{listed}; 1 epoch"},
    )


def case_jazz_generate(tmp, rng):
    n = jazz_cli.MAX_MEASURES
    return (
        [
            "apps.jazz",
            "generate",
            "--model",
            JAZZ_MODEL,
            "--measures",
            str(n),
            "--out",
            os.path.join(tmp, "generate.mid"),
        ],
        {"measures": n, "description": f"--measures {n:,}"},
    )


def case_jazz_chords_from(tmp, rng):
    text = " ".join(CHORD_CYCLE[i % len(CHORD_CYCLE)] for i in range(jazz_cli.MAX_MEASURES)) + "\n"
    path = os.path.join(tmp, "progression.txt")
    size = write(path, text)
    assert size <= jazz_cli.MAX_CHORD_FILE_BYTES and len(text) - 1 <= files.MAX_LINE_CHARS
    return (
        [
            "apps.jazz",
            "generate",
            "--model",
            JAZZ_MODEL,
            "--chords-from",
            path,
            "--out",
            os.path.join(tmp, "chords.mid"),
        ],
        {
            "bars": jazz_cli.MAX_MEASURES,
            "bytes": size,
            "description": f"{jazz_cli.MAX_MEASURES:,} bars, one line, {size:,} B",
        },
    )


CHORD_CYCLE = ["C7", "F7", "Dm7", "G7", "Cmaj7", "Am7", "Bb7", "Ebmaj7"]


def case_jazz_chords_dense(tmp, rng):
    most = chords.max_chords_per_bar()
    bars = [" ".join(rng.choice(CHORD_CYCLE) for _ in range(most)) + " |" for _ in range(jazz_cli.MAX_MEASURES)]
    per_line = files.MAX_LINE_CHARS // (max(map(len, bars)) + 1)
    text = "".join(" ".join(bars[i : i + per_line]) + "\n" for i in range(0, len(bars), per_line))
    path = os.path.join(tmp, "progression-dense.txt")
    size = write(path, text)
    assert size <= jazz_cli.MAX_CHORD_FILE_BYTES and max(map(len, text.splitlines())) <= files.MAX_LINE_CHARS
    return (
        _generate(tmp, "--chords-from", path),
        {
            "bars": len(bars),
            "chords": most * len(bars),
            "bytes": size,
            "description": f"{len(bars):,} bars of {most} chords ({most * len(bars):,}), {size:,} B",
        },
    )


def _predict_file(tmp, rng, name, chars):
    lines = [words_line(rng, chars) for _ in range(sentiment_cli.MAX_TEXTS)]
    path = os.path.join(tmp, name)
    size = write(path, "".join(line + "\n" for line in lines))
    assert size <= files.MAX_TEXT_FILE_BYTES and max(map(len, lines)) <= files.MAX_LINE_CHARS
    mean = sum(map(len, lines)) / len(lines)
    return (
        ["apps.sentiment", "predict", "--model", SENTIMENT_MODEL, "--file", path],
        {
            "texts": len(lines),
            "bytes": size,
            "mean_chars": mean,
            "description": f"{len(lines):,} lines of ~{mean:.0f} chars, {mib(size):.1f} MiB",
        },
    )


def case_sentiment_predict_long(tmp, rng):
    return _predict_file(tmp, rng, "long.txt", LONG_TEXT_CHARS)


def case_sentiment_predict_short(tmp, rng):
    return _predict_file(tmp, rng, "short.txt", SHORT_TEXT_CHARS)


def case_sentiment_predict_arg(tmp, rng):
    n = files.MAX_ARGUMENT_CHARS
    text = words_line(rng, n)
    text += letters(rng, n - len(text))  # the last word stretched to make exactly n characters
    assert len(text) == n
    return (
        ["apps.sentiment", "predict", "--model", SENTIMENT_MODEL, text],
        {"chars": len(text), "description": f"1 argument of {len(text):,} chars"},
    )


def _predict_lines(tmp, rng, runtime):
    """predict --file of lines of exactly MAX_LINE_CHARS characters, as many as MAX_TEXT_FILE_BYTES holds (written
    once), on `runtime`."""
    n = files.MAX_LINE_CHARS
    count = min(sentiment_cli.MAX_TEXTS, files.MAX_TEXT_FILE_BYTES // (n + 1))
    path = os.path.join(tmp, "lines.txt")
    if not os.path.exists(path):
        with open(path, "w", encoding="utf-8", newline="\n") as handle:
            for _ in range(count):
                text = words_line(rng, n)
                handle.write(text + letters(rng, n - len(text)) + "\n")  # the last word stretched to n characters
    size = os.path.getsize(path)
    assert size == count * (n + 1) <= files.MAX_TEXT_FILE_BYTES
    described = f"{count:,} lines of {n:,} chars, {mib(size):.1f} MiB, --runtime {runtime}"
    return (
        ["apps.sentiment", "predict", "--model", SENTIMENT_MODEL, "--runtime", runtime, "--file", path],
        {"texts": count, "bytes": size, "description": described},
    )


def case_sentiment_predict_lines(tmp, rng):
    return _predict_lines(tmp, rng, "auto")


def case_sentiment_predict_lines_keras(tmp, rng):
    return _predict_lines(tmp, rng, "keras")


def _labelled_at_limit(tmp, rng):
    """EVALUATE_LINES `<label> <text>` lines of five classes in just under MAX_LABELLED_BYTES, written once:
    its path and what the case reports of it."""
    path = os.path.join(tmp, "labelled.txt")
    if not os.path.exists(path):
        texts = [words_line(rng, EVALUATE_TEXT_CHARS) for _ in range(EVALUATE_LINES)]
        write(path, "".join(f"{rng.randrange(5)} {text}\n" for text in texts))
    size = os.path.getsize(path)
    assert size <= files.MAX_LABELLED_BYTES
    with open(path, encoding="utf-8") as handle:
        lengths = [len(line) - 1 - line.index(" ") - 1 for line in handle]
    mean = sum(lengths) / len(lengths)
    described = f"{len(lengths):,} lines, texts of ~{mean:.0f} chars, {mib(size):.1f} MiB"
    return path, {"examples": len(lengths), "bytes": size, "description": described}


def case_sentiment_evaluate(tmp, rng):
    path, described = _labelled_at_limit(tmp, rng)
    return (
        [
            "apps.sentiment",
            "evaluate",
            "--model",
            SENTIMENT_MODEL,
            "--data",
            path,
            "--plot",
            os.path.join(tmp, "confusion.png"),
        ],
        described,
    )


def case_sentiment_train_file(tmp, rng):
    path, described = _labelled_at_limit(tmp, rng)
    argv, _ = _train_case("sentiment", ["--task", "file", "--data", path], [], "", tmp)
    return argv, {**described, "description": described["description"] + "; 1 epoch"}


def _one_word_lines(tmp, rng):
    """MAX_EXAMPLES `<label> <word>` lines, written once: words of five random letters, as many as fit the file
    (nearly all distinct, so the vocabulary's counting sees about as many words). Its path and description."""
    path = os.path.join(tmp, "labelled-examples.txt")
    count = sentiment_data.MAX_EXAMPLES
    width = min(5, (files.MAX_LABELLED_BYTES // count) - 3)
    if not os.path.exists(path):
        write(path, "".join(f"{rng.randrange(5)} {letters(rng, width)}\n" for _ in range(count)))
    size = os.path.getsize(path)
    assert size <= files.MAX_LABELLED_BYTES
    described = f"{count:,} lines of one word of {width} letters, {mib(size):.1f} MiB"
    return path, {"examples": count, "bytes": size, "description": described}


def case_sentiment_train_examples(tmp, rng):
    path, described = _one_word_lines(tmp, rng)
    argv, _ = _train_case("sentiment", ["--task", "file", "--data", path], [], "", tmp)
    return argv, {**described, "description": described["description"] + "; 1 epoch"}


def case_sentiment_evaluate_examples(tmp, rng):
    path, described = _one_word_lines(tmp, rng)
    return ["apps.sentiment", "evaluate", "--model", SENTIMENT_MODEL, "--data", path], described


def _train_case(app, data_args, options, described, tmp):
    """`python -m apps.<app> train` for one epoch with `options`, into a bundle under `tmp`."""
    argv = [f"apps.{app}", "train", *data_args, "--epochs", "1", *options, "--out", os.path.join(tmp, f"{app}-model")]
    return argv, {"description": described}


def _name_list(tmp, rng, name, count, chars, alphabet=LETTERS):
    path = os.path.join(tmp, name)
    if not os.path.exists(path):
        write(path, "".join("".join(rng.choices(alphabet, k=chars)) + "\n" for _ in range(count)))
    return path


def case_dinos_train_batch_size(tmp, rng):
    n = config.MAX_BATCH_SIZE
    path = _name_list(tmp, rng, "names-long.txt", n + n // 9 + 1, files.MAX_NAME_CHARS)
    described = f"--batch-size {n:,}, {n + n // 9 + 1:,} names of {files.MAX_NAME_CHARS} letters"
    return _train_case("dinos", ["--data", path], ["--batch-size", str(n)], described, tmp)


def _wide_name_list(tmp, rng, name, size, chars=files.MAX_NAME_CHARS):
    """Names of `chars` characters drawn from MAX_CHARACTERS distinct ones, all of them used, in about `size`
    bytes of UTF-8."""
    alphabet = [chr(0x4E00 + index) for index in range(dinos_config.MAX_CHARACTERS)]
    count = size // (3 * chars + 1) - 3
    path = _name_list(tmp, rng, name, count, chars, alphabet)
    with open(path, "a", encoding="utf-8") as handle:  # every character, whatever the draw left out
        handle.write("".join("".join(alphabet[start : start + 100]) + "\n" for start in range(0, len(alphabet), 100)))
    return path, count + 3


def case_dinos_train_characters(tmp, rng):
    path, count = _wide_name_list(tmp, rng, "names-wide.txt", files.MAX_NAME_LIST_BYTES)
    described = f"{dinos_config.MAX_CHARACTERS} characters, {count:,} names of {files.MAX_NAME_CHARS} ({mib(os.path.getsize(path)):.2f} MiB)"
    options = ["--units", "16", "--embedding-dim", "8", "--batch-size", "256"]  # as dinos-train: minutes, not hours
    return _train_case("dinos", ["--data", path], options, described + "; as dinos-train", tmp)


def case_dinos_sample_characters(tmp, rng):
    path, _ = _wide_name_list(tmp, rng, "names-wide-short.txt", 64 << 10, chars=8)  # names that end
    model = os.path.join(tmp, "wide-bundle")
    if not os.path.isdir(model):  # not measured: a model whose softmax has MAX_CHARACTERS + 1 classes
        subprocess.run(
            [sys.executable, "-m", "apps.dinos", "train", "--data", path, "--epochs", "1", "--out", model],
            cwd=REPO,
            check=True,
            capture_output=True,
        )
    n = dinos_cli.MAX_NAMES
    described = f"-n {n:,} from a model of {dinos_config.MAX_CHARACTERS} characters"
    return ["apps.dinos", "sample", "--model", model, "-n", str(n), "--seed", "0"], {"description": described}


def _harmony(root):
    return f"<harmony><root><root-step>{root}</root-step></root><kind>dominant</kind></harmony>"


PITCH_NAMES = ["C", "C", "D", "D", "E", "F", "F", "G", "G", "A", "A", "B"]


def musicxml(bars, chord_every=16, parts=1, chords_in_every_part=True, beats=4):
    """A MusicXML score of `parts` parts (the first named Solo) that each play `bars`: bars of `beats`/4, each a
    list of `(midi, steps)` notes (`midi` None: a rest) in twelfths of a quarter note, or `(midi, steps, tie)`
    with `tie` "start" or "stop", or a root's letter (a dominant seventh's symbol where it stands), and a C7
    chord symbol every `chord_every` bars (None: none; music21 takes a while over each): chord symbols in every
    part or in the first alone."""
    listed = "".join(
        f'<score-part id="P{part}"><part-name>{"Solo" if part == 1 else f"Part {part}"}</part-name></score-part>'
        for part in range(1, parts + 1)
    )

    def body(chords):
        measures = []
        for number, notes in enumerate(bars, 1):
            measures.append(f'<measure number="{number}">')
            if number == 1:
                measures.append(
                    f"<attributes><divisions>12</divisions><time><beats>{beats}</beats><beat-type>4</beat-type>"
                    "</time></attributes>"
                )
            if chords and chord_every and (number - 1) % chord_every == 0:
                measures.append(_harmony("C"))
            for item in notes:
                if isinstance(item, str):
                    measures.extend([_harmony(item)] if chords else [])
                    continue
                midi, steps, *tied = item
                if midi is None:
                    measures.append(f"<note><rest/><duration>{steps}</duration></note>")
                    continue
                octave, pc = divmod(midi, 12)
                alter = "<alter>1</alter>" if PITCH_NAMES[pc] == PITCH_NAMES[pc - 1] and pc else ""
                ties = "".join(f'<tie type="{kind}"/>' for kind in tied)
                measures.append(
                    f"<note><pitch><step>{PITCH_NAMES[pc]}</step>{alter}<octave>{octave - 1}</octave></pitch>"
                    f"<duration>{steps}</duration>{ties}</note>"
                )
            measures.append("</measure>")
        return "\n".join(measures)

    first, rest = body(True), body(chords_in_every_part)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<score-partwise version="3.1"><part-list>{listed}</part-list>\n'
        + "".join(f'<part id="P{part}">\n{first if part == 1 else rest}\n</part>\n' for part in range(1, parts + 1))
        + "</score-partwise>\n"
    )


def musicxml_at_limit(rng, chords_in_every_part=True):
    """A MusicXML score of just under MAX_MUSIC_FILE_BYTES: as many parts of 200 bars of eighth notes as fit
    (the first, the melody, is what music21 un-ties). Its text (bytes) and parts."""
    bars = eighths(rng, 200)
    one = len(musicxml(bars, chords_in_every_part=chords_in_every_part))
    part = len(musicxml(bars, parts=2, chords_in_every_part=chords_in_every_part)) - one
    parts = (files.MAX_MUSIC_FILE_BYTES - one) // part + 1
    text = musicxml(bars, parts=parts, chords_in_every_part=chords_in_every_part).encode()
    assert len(text) <= files.MAX_MUSIC_FILE_BYTES
    return text, parts


def eighths(rng, bars):
    return [[(rng.randrange(60, 80), 6) for _ in range(8)] for _ in range(bars)]


def _midi_track(notes, name, channel):
    """One MTrk chunk: its name, then `(midi, steps)` notes one after another (`grammar.GRID` steps a quarter
    note), each a note-on and a note-on of velocity 0 in running status, as MIDI writers store them: 6 bytes
    a note."""

    def varlen(value):
        out = [value & 0x7F]
        while value > 0x7F:
            value >>= 7
            out.append(0x80 | (value & 0x7F))
        return bytes(reversed(out))

    body = b"\x00\xff\x03" + varlen(len(name)) + name.encode() + bytes([0, 0x90 | channel])
    # Each note ends with the delta time, 0, of the next event: the next note-on, or the end of the track.
    body += b"".join(bytes([midi, 80]) + varlen(steps) + bytes([midi, 0, 0]) for midi, steps in notes)
    body += b"\xff\x2f\x00"
    return b"MTrk" + struct.pack(">I", len(body)) + body


def midi_file(bars, tracks, length):
    """A type-1 MIDI file: a track named Solo playing `bars` (as `musicxml` takes them, no rests) and `tracks`
    accompaniment tracks of `length` quarter notes, every four of them a dominant seventh whose root rises a
    semitone every half bar (music21 names a MIDI file's chords from them, each half bar)."""
    chunks = [_midi_track([note for notes in bars for note in notes], "Solo", 0)]
    for track in range(tracks):
        pitch = 36 + (0, 4, 7, 10)[track % 4] + 12 * (track // 4 % 3)
        line = [(pitch + (quarter // 2) % 12, grammar.GRID) for quarter in range(length)]
        chunks.append(_midi_track(line, f"Piano {track + 1}", 1))
    return b"MThd" + struct.pack(">IHHH", 6, 1, len(chunks), grammar.GRID) + b"".join(chunks)


JAZZ_SOLOS = 32
"""Solos of 200 bars in the jazz corpus at --seq-len's and --batch-size's bounds (51,200 notes in all)."""
LONG_SOLO_BARS = JAZZ_SOLOS * 200
"""The bars of jazz-evaluate-long-solo: as many notes in one solo as the corpus above holds in all."""


def _solos(tmp, rng, count, bars):
    """A directory of `count` solos of `bars` bars of eighth notes, written once: its path."""
    directory = os.path.join(tmp, f"solos-{count}x{bars}")
    if not os.path.isdir(directory):
        os.makedirs(directory)
        for index in range(count):
            write(os.path.join(directory, f"solo{index:02d}.musicxml"), musicxml(eighths(rng, bars)))
    return directory


def case_jazz_evaluate_long_solo(tmp, rng):
    bars = eighths(rng, LONG_SOLO_BARS)
    for before, after in itertools.pairwise(bars):  # a bar's last note held into the next bar
        after[0] = (before[-1][0], before[-1][1], "stop")
        before[-1] = (*before[-1], "start")
    path = os.path.join(tmp, "long-solo.musicxml")
    size = write(path, musicxml(bars))
    notes = sum(map(len, bars))
    described = f"one solo of {len(bars):,} bars, {notes:,} eighth notes ({notes - len(bars) + 1:,} once un-tied), "
    described += f"{size / 1e6:.1f} MB"
    return ["apps.jazz", "evaluate", "--model", JAZZ_MODEL, "--midi", path], {"description": described}


def case_jazz_train_tokens(tmp, rng):
    steps = grammar.MAX_STEPS
    bars = [[(pitch, steps)] for pitch in range(128)]
    bars += [[(pitch, d), (pitch, steps - d)] for pitch in range(128) for d in range(1, steps // 2 + 1)]
    bars += [[(60, d), (None, steps - d)] for d in range(1, steps)] + [[(None, steps)]] * 2
    path = os.path.join(tmp, "every-token.musicxml")
    write(path, musicxml(bars))
    described = f"--encoding pitch, {len(bars):,} bars: every pitch at every duration, and rests"
    return _train_case("jazz", ["--midi", path], ["--encoding", "pitch"], described, tmp)


def case_jazz_evaluate_mxl(tmp, rng):
    text, parts = musicxml_at_limit(rng)
    path = os.path.join(tmp, "big.mxl")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("solo.xml", text)
    described = f".mxl of {os.path.getsize(path):,} B unzipping to {len(text):,} B: {parts} parts of 200 bars"
    return ["apps.jazz", "evaluate", "--model", JAZZ_MODEL, "--midi", path], {"description": described}


def _sheet_at_limit(tmp, rng):
    """A MusicXML lead sheet and solo of just under MAX_MUSIC_FILE_BYTES (`musicxml_at_limit`, chord symbols in
    its first part alone: a bar holds one), written once. Its path and description."""
    path = os.path.join(tmp, "sheet-at-limit.musicxml")
    if not os.path.exists(path):
        text, _ = musicxml_at_limit(rng, chords_in_every_part=False)
        with open(path, "wb") as handle:
            handle.write(text)
    with open(path, encoding="utf-8") as handle:
        parts = handle.read().count("<score-part ")
    return path, f"MusicXML of {os.path.getsize(path):,} B: {parts} parts of 200 bars of eighths"


def _midi_at_limit(tmp, rng):
    """A MIDI file of just under MAX_MIDI_FILE_BYTES, written once: `midi_file` of a solo of 200 bars of eighths
    and as many accompaniment tracks of as many quarter notes as fit (music21's chordify takes time by the product
    of a track's notes and all the notes: many short tracks, not a few long ones). Its path and description."""
    path = os.path.join(tmp, "solo-at-limit.midi")  # not .mid: each case's outputs ending in .mid are removed
    bars = eighths(rng, 200)
    quarters = 4 * len(bars)
    empty = len(midi_file(bars, 0, quarters))
    tracks = (files.MAX_MIDI_FILE_BYTES - empty) // (len(midi_file(bars, 1, quarters)) - empty)
    if not os.path.exists(path):
        content = midi_file(bars, tracks, quarters)
        assert len(content) <= files.MAX_MIDI_FILE_BYTES
        with open(path, "wb") as handle:
            handle.write(content)
    notes = 8 * len(bars) + tracks * quarters
    described = (
        f"MIDI of {os.path.getsize(path):,} B, {notes:,} notes: a solo and {tracks} tracks of quarters, 200 bars"
    )
    return path, described


def chord_bars(rng, count, per_bar, beats=data.MAX_BAR_QUARTERS):
    """`count` bars of `beats`/4 for `musicxml`, each `per_bar` chord symbols (random roots) spread evenly, each
    over a note lasting to the next one."""
    steps = beats * grammar.GRID
    each = steps // per_bar
    return [
        [
            item
            for index in range(per_bar)
            for item in (
                rng.choice("CDEFGAB"),
                (rng.randrange(60, 80), each + (steps - each * per_bar) * (index == per_bar - 1)),
            )
        ]
        for _ in range(count)
    ]


SHEET_CHORDS_A_BAR = data.MAX_CHORD_SYMBOLS // jazz_cli.MAX_MEASURES
"""Chords in each 16/4 bar of jazz-sheet-16-4: MAX_CHORD_SYMBOLS over MAX_MEASURES bars."""


def _sheet_16_4(tmp, rng):
    """A lead sheet and solo of MAX_MEASURES bars in 16/4, SHEET_CHORDS_A_BAR chord symbols a bar, each under a
    note, written once. Its path and description."""
    path = os.path.join(tmp, "sheet-16-4.musicxml")
    if not os.path.exists(path):
        bars = chord_bars(rng, jazz_cli.MAX_MEASURES, SHEET_CHORDS_A_BAR)
        write(path, musicxml(bars, chord_every=None, beats=data.MAX_BAR_QUARTERS))
    count = jazz_cli.MAX_MEASURES * SHEET_CHORDS_A_BAR
    size = os.path.getsize(path)
    assert size <= files.MAX_MUSIC_FILE_BYTES
    described = f"{jazz_cli.MAX_MEASURES:,} bars of {data.MAX_BAR_QUARTERS}/4, {count:,} chords, {count:,} notes"
    return path, f"{described}, {size / 1e6:.1f} MB"


def case_jazz_sheet_16_4(tmp, rng):
    path, described = _sheet_16_4(tmp, rng)
    return _generate(tmp, "--chords-from", path), {"description": described}


def case_jazz_evaluate_16_4(tmp, rng):
    path, described = _sheet_16_4(tmp, rng)
    return ["apps.jazz", "evaluate", "--model", JAZZ_MODEL, "--midi", path], {"description": described}


BAR_LIMIT = f"MAX_BAR_QUARTERS {data.MAX_BAR_QUARTERS} (16/4), MAX_MEASURES bars"


def case_jazz_train_16_4(tmp, rng):
    path, described = _sheet_16_4(tmp, rng)
    return _train_case("jazz", ["--midi", path], [], described, tmp)


def case_jazz_evaluate_16_4_full(tmp, rng):
    """evaluate the solo of `_sheet_16_4` (its chord symbols in the first part) in as many parts as fit
    MAX_MUSIC_FILE_BYTES: the chord symbols' limit and the file's together."""
    bars = chord_bars(rng, jazz_cli.MAX_MEASURES, SHEET_CHORDS_A_BAR)
    score = functools.partial(musicxml, bars, chord_every=None, chords_in_every_part=False, beats=16)
    one = len(score())
    parts = (files.MAX_MUSIC_FILE_BYTES - one) // (len(score(parts=2)) - one) + 1
    path = os.path.join(tmp, "solo-16-4-full.musicxml")
    size = write(path, score(parts=parts))
    assert size <= files.MAX_MUSIC_FILE_BYTES
    count = jazz_cli.MAX_MEASURES * SHEET_CHORDS_A_BAR
    described = f"{jazz_cli.MAX_MEASURES:,} bars of 16/4 in {parts} parts, {count:,} chord symbols, "
    described += f"{count * parts:,} notes, {size / 1e6:.1f} MB"
    return ["apps.jazz", "evaluate", "--model", JAZZ_MODEL, "--midi", path], {"description": described}


def case_jazz_train_musicxml(tmp, rng):
    path, described = _sheet_at_limit(tmp, rng)
    return _train_case("jazz", ["--midi", path], [], described, tmp)


def case_jazz_train_midi(tmp, rng):
    path, described = _midi_at_limit(tmp, rng)
    return _train_case("jazz", ["--midi", path], [], described, tmp)


def case_jazz_evaluate_midi(tmp, rng):
    path, described = _midi_at_limit(tmp, rng)
    return ["apps.jazz", "evaluate", "--model", JAZZ_MODEL, "--midi", path], {"description": described}


MANY_SOLO_BARS = 12
"""Bars of each solo of jazz-train-files: 96 tokens, more than --seq-len's default."""


def case_jazz_train_files(tmp, rng):
    directory = os.path.join(tmp, "solos-many")
    count = files.MAX_MUSIC_FILES
    if not os.path.isdir(directory):
        os.makedirs(directory)
        for index in range(count):
            solo = musicxml(eighths(rng, MANY_SOLO_BARS), chord_every=4)
            write(os.path.join(directory, f"solo{index:05d}.musicxml"), solo)
    size = sum(entry.stat().st_size for entry in os.scandir(directory))
    described = f"{count:,} MusicXML solos of {MANY_SOLO_BARS} bars of eighths, {mib(size):.1f} MiB in all"
    return _train_case("jazz", ["--midi", directory], [], described, tmp)


def _generate(tmp, *options):
    return ["apps.jazz", "generate", "--model", JAZZ_MODEL, *options, "--out", os.path.join(tmp, "take.mid")]


def case_jazz_generate_takes(tmp, rng):
    n = jazz_cli.MAX_TAKES
    return _generate(tmp, "--num-outputs", str(n)), {"takes": n, "description": f"--num-outputs {n}, 12 bars each"}


PRIMED_MEASURES = 256
"""Bars of a solo that goes on from a primer of 200."""


def case_jazz_primer_musicxml(tmp, rng):
    path, described = _sheet_at_limit(tmp, rng)
    options = ["--primer", path, "--measures", str(PRIMED_MEASURES)]
    return _generate(tmp, *options), {"description": f"{described}; --measures {PRIMED_MEASURES}"}


def case_jazz_primer_midi(tmp, rng):
    path, described = _midi_at_limit(tmp, rng)
    options = ["--primer", path, "--measures", str(PRIMED_MEASURES)]
    return _generate(tmp, *options), {"description": f"{described}; --measures {PRIMED_MEASURES}"}


def case_jazz_sheet_musicxml(tmp, rng):
    path, described = _sheet_at_limit(tmp, rng)
    return _generate(tmp, "--chords-from", path), {"description": described}


def case_jazz_sheet_midi(tmp, rng):
    path, described = _midi_at_limit(tmp, rng)
    return _generate(tmp, "--chords-from", path), {"description": described}


def _labelled(tmp, rng, name, lines, words, classes=5):
    path = os.path.join(tmp, name)
    if not os.path.exists(path):
        write(path, "".join(f"{index % classes} {words_line(rng, words * 6)}\n" for index in range(lines)))
    return path


def case_sentiment_train_batch_size(tmp, rng):
    n = config.MAX_BATCH_SIZE
    path = _labelled(tmp, rng, "labelled-long.txt", 1_100, 100)
    described = f"--batch-size {n:,}, 1,100 lines of ~100 words"
    return _train_case("sentiment", ["--task", "file", "--data", path], ["--batch-size", str(n)], described, tmp)


def _unique_words(rng, count, chars=8):
    words = set()
    while len(words) < count:
        words.add(letters(rng, chars))
    return sorted(words)


def case_sentiment_train_max_tokens(tmp, rng):
    n = sentiment_config.MAX_TOKENS
    words = _unique_words(rng, 250_000)
    path = os.path.join(tmp, "labelled-vocabulary.txt")
    write(path, "".join(f"{row % 5} {' '.join(words[row * 10 : row * 10 + 10])}\n" for row in range(25_000)))
    described = f"--max-tokens {n:,}, 25,000 lines of 10 words never repeated"
    return _train_case("sentiment", ["--task", "file", "--data", path], ["--max-tokens", str(n)], described, tmp)


def case_sentiment_train_max_length(tmp, rng):
    n = sentiment_config.MAX_LENGTH
    path = _labelled(tmp, rng, "labelled-max-length.txt", 64, n)
    described = f"--max-length {n:,}, 64 lines of ~{n:,} words"
    return _train_case("sentiment", ["--task", "file", "--data", path], ["--max-length", str(n)], described, tmp)


def case_sentiment_train_classes(tmp, rng):
    n = sentiment_config.MAX_CLASSES
    path = _labelled(tmp, rng, "labelled-classes.txt", 2 * n, 10, classes=n)
    described = f"--num-classes {n:,}, {2 * n:,} lines"
    return _train_case("sentiment", ["--task", "file", "--data", path], ["--num-classes", str(n)], described, tmp)


def _vectors_file(path, words, dim, value_chars, rng):
    """`words` vectors of `dim` values of `value_chars` characters each, drawn from 1,000 prepared rows."""
    rows = [
        " ".join(f"{rng.random():.{value_chars - 2}f}" for _ in range(dim)) + "\n"
        for _ in range(min(1_000, len(words)))
    ]
    with open(path, "w", encoding="utf-8") as handle:
        handle.writelines(f"{word} {rows[index % len(rows)]}" for index, word in enumerate(words))
    return os.path.getsize(path)


def case_sentiment_train_extra_vocabulary(tmp, rng):
    n = sentiment_config.MAX_TOKENS
    path = _labelled(tmp, rng, "labelled-256.txt", 256, 20)
    vectors = os.path.join(tmp, "vectors-extra.txt")
    _vectors_file(vectors, WORDS + _unique_words(rng, n), 64, 8, rng)
    described = f"--extra-vocabulary {n:,}, vectors of {n + len(WORDS):,} words x 64"
    options = ["--embeddings", vectors, "--extra-vocabulary", str(n)]
    return _train_case("sentiment", ["--task", "file", "--data", path], options, described, tmp)


def case_sentiment_train_vectors(tmp, rng):
    dim = 300
    rows = embeddings.MAX_VECTOR_VALUES // dim
    path = _labelled(tmp, rng, "labelled-256.txt", 256, 20)
    vectors = os.path.join(tmp, "vectors-large.txt")
    size = _vectors_file(vectors, WORDS + [f"w{index:07d}" for index in range(rows - len(WORDS))], dim, 14, rng)
    assert size <= embeddings.MAX_VECTORS_FILE_BYTES
    described = f"{rows:,} vectors x {dim} ({rows * dim:,} values), {size / 1e9:.2f} GB"
    return _train_case("sentiment", ["--task", "file", "--data", path], ["--embeddings", vectors], described, tmp)


def case_sentiment_train_treebank(tmp, rng):
    n = sentiment_data.MAX_TREE_WORDS
    phrase_words = n + n * (n + 1) // 2 - 1  # every leaf, then every nested phrase of 2 .. n words
    trees = []
    for _ in range(sentiment_data.MAX_PHRASE_WORDS // phrase_words):
        tree = f"({rng.randrange(5)} {letters(rng, 5)})"
        for _ in range(n - 1):
            tree = f"({rng.randrange(5)} {tree} ({rng.randrange(5)} {letters(rng, 5)}))"
        trees.append(tree + "\n")
    directory = os.path.join(tmp, "treebank")
    os.makedirs(os.path.join(directory, "trees"), exist_ok=True)
    size = write(os.path.join(directory, "trees", "train.txt"), "".join(trees))
    write(os.path.join(directory, "trees", "dev.txt"), "".join(trees[:20]))
    described = f"{len(trees):,} trees of {n} words, {len(trees) * phrase_words:,} phrase words, {size / 1e6:.1f} MB"
    options = ["--train-on", "phrases", "--batch-size", "256"]
    return _train_case("sentiment", ["--task", "sst5", "--data", directory], options, described, tmp)


def train_at(app, option, value, solos=1, extra=()):
    """A case: `train` with `option` at `value`, on a small corpus (`solos` solos, for jazz)."""

    def prepare(tmp, rng):
        if app == "dinos":
            data, what = ["--data", _name_list(tmp, rng, "names-256.txt", 256, 10)], "256 names"
        elif app == "jazz":
            data, what = ["--midi", _solos(tmp, rng, solos, 200)], f"{solos} solo(s) of 200 bars of eighths"
        else:
            data, what = ["--task", "file", "--data", _labelled(tmp, rng, "labelled-256.txt", 256, 20)], "256 lines"
        return _train_case(app, data, [option, str(value), *extra], f"{option} {value:,}, {what}", tmp)

    return prepare


BOUNDED = [  # an option of `train`, the constant bounding it, its value, the apps offering it
    ("--units", "MAX_UNITS", config.MAX_UNITS, ("dinos", "jazz", "sentiment")),
    ("--layers", "MAX_LAYERS", config.MAX_LAYERS, ("dinos", "sentiment")),
    ("--embedding-dim", "MAX_EMBEDDING_DIM", config.MAX_EMBEDDING_DIM, ("dinos", "jazz", "sentiment")),
]

MUSIC_LIMIT = f"MAX_MUSIC_FILE_BYTES {mib(files.MAX_MUSIC_FILE_BYTES):g} MiB"
MIDI_LIMIT = f"MAX_MIDI_FILE_BYTES {mib(files.MAX_MIDI_FILE_BYTES):g} MiB"
CASES = [  # name, limit, prepare, quick (under ~20 s on 2 shared CPU cores)
    ("dinos-sample", f"MAX_NAMES {dinos_cli.MAX_NAMES:,}", case_dinos_sample, True),
    (
        "dinos-score",
        f"MAX_SCORED {dinos_cli.MAX_SCORED:,} x MAX_NAME_CHARS {files.MAX_NAME_CHARS}",
        case_dinos_score,
        True,
    ),
    ("dinos-evaluate", f"MAX_NAME_LIST_BYTES {mib(files.MAX_NAME_LIST_BYTES):g} MiB", case_dinos_evaluate, False),
    ("dinos-train", f"MAX_NAME_LIST_BYTES {mib(files.MAX_NAME_LIST_BYTES):g} MiB", case_dinos_train, False),
    ("jazz-generate", f"MAX_MEASURES {jazz_cli.MAX_MEASURES:,}", case_jazz_generate, False),
    (
        "jazz-chords-from",
        f"MAX_MEASURES {jazz_cli.MAX_MEASURES:,} bars, file <= MAX_CHORD_FILE_BYTES "
        + f"{mib(jazz_cli.MAX_CHORD_FILE_BYTES):g} MiB",
        case_jazz_chords_from,
        False,
    ),
    (
        "sentiment-predict-long",
        f"MAX_TEXTS {sentiment_cli.MAX_TEXTS:,}, file < MAX_TEXT_FILE_BYTES "
        + f"{mib(files.MAX_TEXT_FILE_BYTES):g} MiB",
        case_sentiment_predict_long,
        False,
    ),
    (
        "jazz-chords-dense",
        f"MAX_MEASURES {jazz_cli.MAX_MEASURES:,} bars x {chords.max_chords_per_bar()} chords (4/4)",
        case_jazz_chords_dense,
        False,
    ),
    (
        "sentiment-predict-lines",
        f"MAX_LINE_CHARS {files.MAX_LINE_CHARS:,}, file <= MAX_TEXT_FILE_BYTES {mib(files.MAX_TEXT_FILE_BYTES):g} MiB",
        case_sentiment_predict_lines,
        False,
    ),
    (
        "sentiment-predict-lines-keras",
        f"MAX_LINE_CHARS {files.MAX_LINE_CHARS:,}, file <= MAX_TEXT_FILE_BYTES {mib(files.MAX_TEXT_FILE_BYTES):g} MiB",
        case_sentiment_predict_lines_keras,
        False,
    ),
    ("sentiment-predict-short", f"MAX_TEXTS {sentiment_cli.MAX_TEXTS:,}", case_sentiment_predict_short, True),
    ("sentiment-predict-arg", f"MAX_ARGUMENT_CHARS {files.MAX_ARGUMENT_CHARS:,}", case_sentiment_predict_arg, True),
    (
        "sentiment-evaluate",
        f"16 MiB chosen (MAX_TEXT_FILE_BYTES is {mib(files.MAX_TEXT_FILE_BYTES):g} MiB)",
        case_sentiment_evaluate,
        False,
    ),
    (
        "sentiment-train",
        f"MAX_LABELLED_BYTES {mib(files.MAX_LABELLED_BYTES):g} MiB",
        case_sentiment_train_file,
        False,
    ),
    (
        "sentiment-examples-train",
        f"MAX_EXAMPLES {sentiment_data.MAX_EXAMPLES:,}",
        case_sentiment_train_examples,
        False,
    ),
    (
        "sentiment-examples-evaluate",
        f"MAX_EXAMPLES {sentiment_data.MAX_EXAMPLES:,}",
        case_sentiment_evaluate_examples,
        False,
    ),
    ("dinos-train-batch-size", f"MAX_BATCH_SIZE {config.MAX_BATCH_SIZE:,}", case_dinos_train_batch_size, False),
    ("dinos-train-characters", f"MAX_CHARACTERS {dinos_config.MAX_CHARACTERS}", case_dinos_train_characters, False),
    (
        "dinos-sample-characters",
        f"MAX_CHARACTERS {dinos_config.MAX_CHARACTERS}, MAX_NAMES {dinos_cli.MAX_NAMES:,}",
        case_dinos_sample_characters,
        False,
    ),
    (
        "jazz-train-seq-len",
        f"MAX_SEQ_LEN {jazz_config.MAX_SEQ_LEN:,}",
        train_at("jazz", "--seq-len", jazz_config.MAX_SEQ_LEN, JAZZ_SOLOS, ["--validation-split", "0"]),
        False,
    ),
    (
        "jazz-train-batch-size",
        f"MAX_BATCH_SIZE {config.MAX_BATCH_SIZE:,}",
        train_at("jazz", "--batch-size", config.MAX_BATCH_SIZE, JAZZ_SOLOS, ["--validation-split", "0"]),
        False,
    ),
    ("jazz-train-tokens", "6,192 tokens (MIDI pitches x durations)", case_jazz_train_tokens, False),
    ("jazz-musicxml-train", MUSIC_LIMIT, case_jazz_train_musicxml, False),
    ("jazz-midi-train", MIDI_LIMIT, case_jazz_train_midi, False),
    ("jazz-midi-evaluate", MIDI_LIMIT, case_jazz_evaluate_midi, False),
    ("jazz-files-train", f"MAX_MUSIC_FILES {files.MAX_MUSIC_FILES:,}", case_jazz_train_files, False),
    ("jazz-generate-takes", f"MAX_TAKES {jazz_cli.MAX_TAKES}", case_jazz_generate_takes, False),
    ("jazz-sheet-16-4", BAR_LIMIT, case_jazz_sheet_16_4, False),
    ("jazz-evaluate-16-4", BAR_LIMIT, case_jazz_evaluate_16_4, False),
    ("jazz-train-16-4", BAR_LIMIT, case_jazz_train_16_4, False),
    (
        "jazz-evaluate-16-4-full",
        f"MAX_CHORD_SYMBOLS {data.MAX_CHORD_SYMBOLS:,}, {MUSIC_LIMIT}",
        case_jazz_evaluate_16_4_full,
        False,
    ),
    ("jazz-primer-musicxml", MUSIC_LIMIT, case_jazz_primer_musicxml, False),
    ("jazz-primer-midi", MIDI_LIMIT, case_jazz_primer_midi, False),
    ("jazz-sheet-musicxml", MUSIC_LIMIT, case_jazz_sheet_musicxml, False),
    ("jazz-sheet-midi", MIDI_LIMIT, case_jazz_sheet_midi, False),
    (
        "jazz-evaluate-long-solo",
        f"one solo of {LONG_SOLO_BARS:,} bars (MAX_MUSIC_FILE_BYTES {mib(files.MAX_MUSIC_FILE_BYTES):g} MiB)",
        case_jazz_evaluate_long_solo,
        False,
    ),
    (
        "jazz-evaluate-mxl",
        f"MAX_MUSIC_FILE_BYTES {mib(files.MAX_MUSIC_FILE_BYTES):g} MiB unzipped",
        case_jazz_evaluate_mxl,
        False,
    ),
    ("sentiment-train-batch-size", f"MAX_BATCH_SIZE {config.MAX_BATCH_SIZE:,}", case_sentiment_train_batch_size, False),
    (
        "sentiment-train-max-tokens",
        f"MAX_TOKENS {sentiment_config.MAX_TOKENS:,}",
        case_sentiment_train_max_tokens,
        False,
    ),
    (
        "sentiment-train-max-length",
        f"MAX_LENGTH {sentiment_config.MAX_LENGTH:,}",
        case_sentiment_train_max_length,
        False,
    ),
    ("sentiment-train-classes", f"MAX_CLASSES {sentiment_config.MAX_CLASSES:,}", case_sentiment_train_classes, False),
    (
        "sentiment-train-extra-vocabulary",
        f"MAX_TOKENS {sentiment_config.MAX_TOKENS:,} extra words",
        case_sentiment_train_extra_vocabulary,
        False,
    ),
    (
        "sentiment-train-vectors",
        f"MAX_VECTOR_VALUES {embeddings.MAX_VECTOR_VALUES:,}, file <= MAX_VECTORS_FILE_BYTES",
        case_sentiment_train_vectors,
        False,
    ),
    (
        "sentiment-train-treebank",
        f"MAX_TREE_WORDS {sentiment_data.MAX_TREE_WORDS}, MAX_PHRASE_WORDS {sentiment_data.MAX_PHRASE_WORDS:,}",
        case_sentiment_train_treebank,
        False,
    ),
]
CASES += [
    (f"{app}-train-{option[2:]}", f"{name} {value:,}", train_at(app, option, value), False)
    for option, name, value, apps in BOUNDED
    for app in apps
]
CASE_NAMES = [case[0] for case in CASES]


def shown(argv, limit=160):
    """The command as a shell line, long arguments and argument lists cut short (the score case's is 1 MB)."""
    parts = []
    for arg in argv:
        parts.append(arg if len(arg) <= 40 else f"<{len(arg):,} chars>")
    if len(parts) > 16:
        parts = parts[:12] + [f"... <{len(parts) - 12:,} more arguments>"]
    line = " ".join(parts)
    return line if len(line) <= limit else line[: limit - 1] + "…"


def measure(argv, timeout, stderr_path):
    """Runs `python -m argv...` alone; returns its exit status, peak RSS (KiB), wall and CPU seconds."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    with open(stderr_path, "wb") as stderr, open(os.devnull, "wb") as devnull:
        start = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-m", *argv], cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=devnull, stderr=stderr
        )
        timed_out = threading.Event()

        def stop():  # SIGTERM lets the app remove its temporary files; SIGKILL if it does not go
            timed_out.set()
            try:
                child.send_signal(signal.SIGTERM)
                time.sleep(30)
                child.kill()
            except (ProcessLookupError, OSError):
                pass

        timer = threading.Timer(timeout, stop)
        timer.daemon = True
        timer.start()
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        timer.cancel()
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
    return {
        "returncode": child.returncode,
        "timed_out": timed_out.is_set(),
        "maxrss_kib": usage.ru_maxrss,
        "peak_rss_mib": usage.ru_maxrss / 1024,
        "wall_s": wall,
        "user_s": usage.ru_utime,
        "sys_s": usage.ru_stime,
        "cpu_s": usage.ru_utime + usage.ru_stime,
    }


def stderr_tail(path, lines=5):
    with open(path, "rb") as handle:
        handle.seek(max(0, os.path.getsize(path) - 16384))
        text = handle.read().decode("utf-8", "replace")
    kept = [line for line in text.splitlines() if line.strip()]
    return kept[-lines:]


def table(results):
    rows = ["| case | limit | input | peak RSS (MiB) | wall (s) | CPU (s) | exit |", "|---|---|---|---:|---:|---:|---|"]
    for r in results:
        exit_ = str(r["returncode"]) + (" (timed out)" if r["timed_out"] else "")
        rows.append(
            f"| {r['case']} | {r['limit']} | {r['input']['description']} | {r['peak_rss_mib']:,.0f} | "
            f"{r['wall_s']:.1f} | {r['cpu_s']:.1f} | {exit_} |"
        )
    return "\n".join(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cases",
        nargs="+",
        metavar="CASE",
        help=f"cases to run, by name or shell pattern ('*-train-*'), of: {' '.join(CASE_NAMES)} (default: all)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="only the cases under ~20 s (15 s of CPU or less; the inputs stay at the limits)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=1800,
        help="seconds before a case is stopped and reported as timed out (default %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=0, help="of the synthetic inputs (default %(default)s)")
    parser.add_argument("--out", default=os.path.join(REPO, "benchmarks", "results", "limits.json"))
    args = parser.parse_args(argv)

    unknown = [pattern for pattern in args.cases or () if not fnmatch.filter(CASE_NAMES, pattern)]
    if unknown:
        parser.error(f"no case matches {' '.join(unknown)}")
    selected = [
        case
        for case in CASES
        if (not args.cases or any(fnmatch.fnmatchcase(case[0], pattern) for pattern in args.cases))
        and (not args.quick or case[3])
    ]
    if not selected:
        parser.error("no case selected")
    load_before = os.getloadavg()
    results = []
    with tempfile.TemporaryDirectory(prefix="limits-") as tmp:
        for name, limit, prepare, _ in selected:
            rng = random.Random(f"{args.seed}-{name}")
            command, described = prepare(tmp, rng)
            stderr_path = os.path.join(tmp, f"{name}.stderr")
            # Each case parses its solos afresh, as a first run does, not from an earlier case's or run's cache.
            os.environ["JAZZ_CACHE_DIR"] = os.path.join(tmp, f"{name}-jazz-cache")
            load = os.getloadavg()
            print(f"{name}: python -m {shown(command)}", flush=True)
            result = measure(command, args.timeout, stderr_path)
            tail = stderr_tail(stderr_path)
            results.append(
                {
                    "case": name,
                    "limit": limit,
                    "input": described,
                    "command": "python -m " + shown(command, limit=10_000),
                    **result,
                    "stderr_tail": tail,
                    "load_average_before": load,
                    "load_average_after": os.getloadavg(),
                }
            )
            failed = result["returncode"] != 0
            print(
                f"  exit {result['returncode']}{' (timed out)' if result['timed_out'] else ''}, "
                f"peak RSS {result['peak_rss_mib']:,.0f} MiB, {result['wall_s']:.1f} s wall, "
                f"{result['cpu_s']:.1f} s CPU, load average {load[0]:.2f}"
                + (f"\n  stderr: {tail[-1] if tail else '(empty)'}" if failed else ""),
                flush=True,
            )
            for path in os.listdir(tmp):  # outputs go; the shared inputs stay for the next cases
                if path.endswith((".mid", ".png", "-model")) or path.startswith("vectors-"):
                    remove(os.path.join(tmp, path))

    print()
    print(table(results))
    report = {
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
        },
        "command": " ".join([os.path.relpath(sys.argv[0], REPO), *(sys.argv[1:] if argv is None else argv)]),
        "limits": {
            "MAX_NAME_LIST_BYTES": files.MAX_NAME_LIST_BYTES,
            "MAX_NAME_CHARS": files.MAX_NAME_CHARS,
            "MAX_LINE_CHARS": files.MAX_LINE_CHARS,
            "MAX_TEXT_FILE_BYTES": files.MAX_TEXT_FILE_BYTES,
            "MAX_MUSIC_FILE_BYTES": files.MAX_MUSIC_FILE_BYTES,
            "MAX_MIDI_FILE_BYTES": files.MAX_MIDI_FILE_BYTES,
            "MAX_MUSIC_FILES": files.MAX_MUSIC_FILES,
            "jazz.MAX_TAKES": jazz_cli.MAX_TAKES,
            "MAX_ARGUMENT_CHARS": files.MAX_ARGUMENT_CHARS,
            "dinos.MAX_NAMES": dinos_cli.MAX_NAMES,
            "dinos.MAX_SCORED": dinos_cli.MAX_SCORED,
            "jazz.MAX_MEASURES": jazz_cli.MAX_MEASURES,
            "jazz.MAX_CHORD_FILE_BYTES": jazz_cli.MAX_CHORD_FILE_BYTES,
            "jazz.MAX_CHORD_SYMBOLS": data.MAX_CHORD_SYMBOLS,
            "jazz.MAX_BAR_QUARTERS": data.MAX_BAR_QUARTERS,
            "sentiment.MAX_TEXTS": sentiment_cli.MAX_TEXTS,
            "MAX_UNITS": config.MAX_UNITS,
            "MAX_LAYERS": config.MAX_LAYERS,
            "MAX_EMBEDDING_DIM": config.MAX_EMBEDDING_DIM,
            "MAX_BATCH_SIZE": config.MAX_BATCH_SIZE,
            "dinos.MAX_CHARACTERS": dinos_config.MAX_CHARACTERS,
            "jazz.MAX_SEQ_LEN": jazz_config.MAX_SEQ_LEN,
            "sentiment.MAX_TOKENS": sentiment_config.MAX_TOKENS,
            "sentiment.MAX_LENGTH": sentiment_config.MAX_LENGTH,
            "sentiment.MAX_CLASSES": sentiment_config.MAX_CLASSES,
            "sentiment.MAX_EXAMPLES": sentiment_data.MAX_EXAMPLES,
            "sentiment.MAX_TREE_WORDS": sentiment_data.MAX_TREE_WORDS,
            "sentiment.MAX_PHRASE_WORDS": sentiment_data.MAX_PHRASE_WORDS,
            "embeddings.MAX_VECTOR_VALUES": embeddings.MAX_VECTOR_VALUES,
            "embeddings.MAX_VECTORS_FILE_BYTES": embeddings.MAX_VECTORS_FILE_BYTES,
        },
        "cases": results,
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=2)
    print(f"\nwrote {args.out}")
    return 1 if any(r["returncode"] != 0 for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
