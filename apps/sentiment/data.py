"""Labelled sentences: SST files, `<label> <text>` lines and CSV/TSV tables, checked before any training.

Formats:

- `<label> <text>` lines (SST's `stsa.*` files and any file not ending in .csv/.tsv): the label is the first
  space-separated token, an integer in 0..K-1; blank lines are skipped.
- CSV (`.csv`) and TSV (`.tsv`, `.tab`) with a header row: the text and label columns are chosen by name
  (`text_col`, `label_col`).

Every mistake in a file (not UTF-8, a non-numeric or out-of-range label, a missing column, no examples at all)
raises `CLIError` naming the file and line, so the CLI reports it in one line before anything is written.

The SST splits are fetched by `download` from the manifest `data/sentiment.json` (public raw GitHub URLs,
checked against their sha256).
"""

import csv
import dataclasses
import hashlib
import io
import json
import os
import urllib.request

from apps.common.errors import CLIError
from apps.common.files import MAX_LABELLED_BYTES, atomic_file, read_text

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MANIFEST = os.path.join(REPO_ROOT, "data", "sentiment.json")
DEFAULT_DATA_DIR = os.path.join(REPO_ROOT, "data", "sentiment")

TASKS = ("sst5", "sst2", "file")
SST_FILES = {"sst5": ("stsa.fine.train", "stsa.fine.dev"), "sst2": ("stsa.binary.train", "stsa.binary.dev")}
LABEL_NAMES = {
    "sst5": ["very negative", "negative", "neutral", "positive", "very positive"],
    "sst2": ["negative", "positive"],
}
FINE_GROUPS = {"sst2": [[0, 1], [3, 4]]}
"""The SST-5 classes that make up each class of a task: SST-2 is SST-5 without neutral, 0-1 negative, 3-4
positive (`stsa.binary.*` holds the same sentences, less the neutral ones)."""
TABLE_DELIMITERS = {".csv": ",", ".tsv": "\t", ".tab": "\t"}


@dataclasses.dataclass
class Examples:
    """Texts and their integer labels, read from `source`."""

    texts: list
    labels: list
    source: str

    def __len__(self):
        return len(self.texts)


def read_examples(path, *, num_classes=None, text_col="text", label_col="label"):
    """Reads labelled examples from a `<label> <text>` file or a CSV/TSV table (chosen by extension).

    Args:
        path: the file.
        num_classes: labels must lie in 0..num_classes-1; `None` accepts any label >= 0.
        text_col, label_col: header names of the columns in a CSV/TSV table.

    Returns:
        `Examples`.

    Raises:
        CLIError: unreadable or non-UTF-8 file, missing column, bad label, empty text, no examples.
    """
    content = read_text(path, "data file", max_bytes=MAX_LABELLED_BYTES)
    delimiter = TABLE_DELIMITERS.get(os.path.splitext(path)[1].lower())
    rows = _table_rows(content, path, delimiter, text_col, label_col) if delimiter else _line_rows(content)
    texts, labels = [], []
    for line_number, label, text in rows:
        where = f"{path}:{line_number}"
        labels.append(parse_label(label, num_classes, where))
        if not text.strip():
            raise CLIError(f"{where}: no text after the label")
        texts.append(text.strip())
    if not texts:
        raise CLIError(f"{path} holds no labelled examples")
    return Examples(texts, labels, path)


def _line_rows(content):
    for line_number, line in enumerate(content.splitlines(), 1):
        if line.strip():
            label, _, text = line.strip().partition(" ")
            yield line_number, label, text


def _table_rows(content, path, delimiter, text_col, label_col):
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=delimiter)
    header = next(reader, None)
    if header is None:
        raise CLIError(f"{path} holds no labelled examples")
    header = [name.strip() for name in header]
    for option, column in (("--text-col", text_col), ("--label-col", label_col)):
        if column not in header:
            raise CLIError(f"{path} has no column {column!r} ({option}); its columns are {', '.join(header)}")
    text_index, label_index = header.index(text_col), header.index(label_col)
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(text_index, label_index):
            raise CLIError(f"{path}:{reader.line_num}: {len(row)} columns, the header has {len(header)}")
        yield reader.line_num, row[label_index].strip(), row[text_index]


def parse_label(token, num_classes, where):
    """Returns `token` as a class id in 0..num_classes-1 (any id >= 0 if `num_classes` is None)."""
    try:
        label = int(token)
    except ValueError:
        raise CLIError(f"{where}: label {token!r} is not an integer class id") from None
    if label < 0 or (num_classes is not None and label >= num_classes):
        bound = f"0..{num_classes - 1}" if num_classes is not None else ">= 0"
        raise CLIError(f"{where}: label {label} is out of range (expected {bound})")
    return label


def load_task(task, data, *, fine=False, dev=None, num_classes=None, text_col="text", label_col="label"):
    """Returns `(train, dev_or_None, label_names)` for a training task.

    Args:
        task: `sst5` or `sst2` (`data` is the directory holding `stsa.{fine,binary}.{train,dev}`), or `file`
            (`data` is a training file, `dev` an optional validation file).
        data: directory or file, as above.
        fine: for a task of `FINE_GROUPS`, the training split is `stsa.fine.train` with its SST-5 labels
            (the dev split and `label_names` stay the task's).
        dev: for `file`, the validation file (`None`: the caller holds out part of the training data).
        num_classes: for `file`, the number of classes; `None` infers it as the largest label + 1.
        text_col, label_col: for `file`, the CSV/TSV columns.
    """
    if fine and task not in FINE_GROUPS:
        raise CLIError(f"--train-labels fine is for --task {', '.join(FINE_GROUPS)}, not --task {task}")
    if task in SST_FILES:
        if not os.path.isdir(data):
            raise CLIError(f"--task {task} needs the directory holding {' and '.join(SST_FILES[task])}, "
                           f"got {data} (fetch it with `python -m apps.sentiment download`)")
        train_task = "sst5" if fine else task
        train_path = os.path.join(data, SST_FILES[train_task][0])
        dev_path = os.path.join(data, SST_FILES[task][1])
        names = LABEL_NAMES[task]
        return (read_examples(train_path, num_classes=len(LABEL_NAMES[train_task])),
                read_examples(dev_path, num_classes=len(names)), names)
    if task != "file":
        raise CLIError(f"--task must be one of {', '.join(TASKS)}, got {task!r}")
    if os.path.isdir(data):
        raise CLIError(f"--task file needs a training file, got the directory {data}")
    train = read_examples(data, num_classes=num_classes, text_col=text_col, label_col=label_col)
    if num_classes is None:
        num_classes = max(max(train.labels) + 1, 2)
    validation = None
    if dev is not None:
        validation = read_examples(dev, num_classes=num_classes, text_col=text_col, label_col=label_col)
    return train, validation, [str(label) for label in range(num_classes)]


def file_sha256(path):
    """Hex sha256 of a file's bytes."""
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def read_manifest(path=MANIFEST):
    """Returns the manifest dict: `files` is a list of `{name, url, sha256, bytes}`."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, json.JSONDecodeError) as error:
        raise CLIError(f"cannot read the manifest {path}: {error}") from None


def download(out_dir=DEFAULT_DATA_DIR, manifest_path=MANIFEST):
    """Fetches every file of the manifest into `out_dir`, checking its sha256; files already there and
    intact are kept. Returns the paths. A file whose checksum does not match is not written."""
    paths = []
    for entry in read_manifest(manifest_path)["files"]:
        target = os.path.join(out_dir, entry["name"])
        paths.append(target)
        if os.path.isfile(target) and file_sha256(target) == entry["sha256"]:
            continue
        try:
            with urllib.request.urlopen(entry["url"], timeout=60) as response:
                payload = response.read()
        except OSError as error:
            raise CLIError(f"cannot download {entry['url']}: {error}") from None
        digest = hashlib.sha256(payload).hexdigest()
        if digest != entry["sha256"]:
            raise CLIError(f"{entry['url']} has sha256 {digest}, the manifest expects {entry['sha256']}")
        with atomic_file(target, "wb") as handle:
            handle.write(payload)
    return paths
