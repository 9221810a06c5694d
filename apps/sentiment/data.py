"""Labelled sentences: SST files, `<label> <text>` lines and CSV/TSV tables, checked before any training.

Formats:

- `<label> <text>` lines (SST's `stsa.*` files and any file not ending in .csv/.tsv): the label is the first
  space-separated token, an integer in 0..K-1; blank lines are skipped.
- CSV (`.csv`) and TSV (`.tsv`, `.tab`) with a header row: the text and label columns are chosen by name
  (`text_col`, `label_col`).

Every mistake in a file (not UTF-8, a non-numeric or out-of-range label, a missing column, no examples at all)
raises `UsageError` naming the file and line, so the CLI reports it in one line before anything is written.

- The treebank's PTB trees (`trees/train.txt`, `trees/dev.txt`): one binarised parse tree a line,
  `(label left right)` with a label 0..4 on every node, leaves `(label word)`; `read_trees` gives every node's
  phrase and label, `phrase_examples` the distinct labelled phrases a model trains on.

The SST splits are fetched by `download` from the manifest `data/sentiment.json` (public raw GitHub URLs,
checked against their sha256).
"""

import collections
import csv
import dataclasses
import io
import os
import re

from apps.common import files, paths
from apps.common.errors import UsageError
from apps.common.files import MAX_LABELLED_BYTES, read_text
from apps.sentiment.config import MAX_CLASSES

MANIFEST = paths.data("sentiment.json")
DEFAULT_DATA_DIR = paths.user_data("sentiment")

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
TREES_DIR = "trees"
TREE_FILES = ("train.txt", "dev.txt")
TREE_CLASSES = 5
"""Every node of a treebank tree carries one of SST-5's five labels, whatever the task."""
TRAIN_ON = ("phrases", "sentences")
MAX_TREE_WORDS = 100
"""Words (leaves) of one treebank tree; SST's longest sentence has 52. A tree of n words has 2n - 1 phrases
holding up to n(n + 1)/2 words in all (a chain of nested phrases), so a long tree costs memory by its square."""
MAX_EXAMPLES = 2_000_000
"""Labelled examples of one file or treebank (its lines, trees or distinct phrases): training keeps each in
`tf.data`'s shuffle buffer, a few hundred bytes apiece however short, and 16 MiB of one-word lines are
4 million examples."""
MAX_PHRASE_WORDS = 5_000_000
"""Words of all the phrases of a treebank file, each occurrence counted: what its phrases cost to keep and train
on. SST's training trees hold 1,312,339."""
# A tree is brackets and atoms (labels, words). Only ASCII blanks separate atoms: three training leaves hold a
# no-break space (`8\xa01\\/2`), one token in SST's own sentence files, which Python's `\s` would split.
_TREE_TOKENS = re.compile(r"[()]|[^() \t\r\n]+")


@dataclasses.dataclass
class Examples:
    """Texts and their integer labels, read from `source`; `unit` says what a text is (`sentences`, or the
    `phrases` of a treebank)."""

    texts: list
    labels: list
    source: str
    unit: str = "sentences"

    def __len__(self):
        return len(self.texts)


def read_examples(path, *, num_classes=None, text_col="text", label_col="label"):
    """Reads labelled examples from a `<label> <text>` file or a CSV/TSV table (chosen by extension).

    Args:
        path: the file.
        num_classes: labels must lie in 0..num_classes-1; `None` accepts any of the `MAX_CLASSES` first.
        text_col, label_col: header names of the columns in a CSV/TSV table.

    Returns:
        `Examples`.

    Raises:
        UsageError: unreadable or non-UTF-8 file, missing column, bad label, empty text, no examples, more
            than `MAX_EXAMPLES`.
    """
    content = read_text(path, "data file", max_bytes=MAX_LABELLED_BYTES)
    delimiter = TABLE_DELIMITERS.get(os.path.splitext(path)[1].lower())
    rows = _table_rows(content, path, delimiter, text_col, label_col) if delimiter else _line_rows(content)
    texts, labels = [], []
    for line_number, label, text in rows:
        where = f"{path}:{line_number}"
        if len(texts) == MAX_EXAMPLES:
            raise UsageError(f"{where}: more than {MAX_EXAMPLES:,} examples; the limit is {MAX_EXAMPLES:,}")
        labels.append(parse_label(label, num_classes, where))
        if not text.strip():
            raise UsageError(f"{where}: no text after the label")
        texts.append(text.strip())
    if not texts:
        raise UsageError(f"{path} holds no labelled examples")
    return Examples(texts, labels, path)


def _line_rows(content):
    for line_number, line in enumerate(content.splitlines(), 1):
        if line.strip():
            label, _, text = line.strip().partition(" ")
            yield line_number, label, text


def _table_rows(content, path, delimiter, text_col, label_col):
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=delimiter)
    try:
        header = next(reader, None)
        if header is None:
            raise UsageError(f"{path} holds no labelled examples")
        header = [name.strip() for name in header]
        for option, column in (("--text-col", text_col), ("--label-col", label_col)):
            if column not in header:
                columns = ", ".join(repr(name) for name in header)  # a quoted name may hold a line break
                raise UsageError(f"{path} has no column {column!r} ({option}); its columns are {columns}")
        text_index, label_index = header.index(text_col), header.index(label_col)
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) <= max(text_index, label_index):
                raise UsageError(f"{path}:{reader.line_num}: {len(row)} columns, the header has {len(header)}")
            yield reader.line_num, row[label_index].strip(), row[text_index]
    except csv.Error as error:  # a quoted field over csv.field_size_limit() characters, across lines
        raise UsageError(f"{path}:{reader.line_num}: cannot read the table: {error}") from None


def parse_label(token, num_classes, where):
    """Returns `token` as a class id in 0..num_classes-1 (0..`MAX_CLASSES`-1 if `num_classes` is None)."""
    try:
        label = int(token)
    except ValueError:
        raise UsageError(f"{where}: label {token!r} is not an integer class id") from None
    if label < 0 or label >= (num_classes or MAX_CLASSES):
        bound = (
            f"0..{num_classes - 1}" if num_classes else f"0..{MAX_CLASSES - 1}: the limit is {MAX_CLASSES:,} classes"
        )
        raise UsageError(f"{where}: label {label} is out of range (expected {bound})")
    return label


def parse_tree(line, where):
    """Every node of one PTB tree, `(label left right)` with leaves `(label word)`, as `(label, phrase)`.

    The phrase of a node is its leaves' words joined by single spaces, lower-cased: SST's own sentence files
    are exactly the trees' leaves lower-cased (`-LRB-` -> `-lrb-`, `\\/`, ``` `` ``` kept), and that is the
    form `apps.sentiment.model.standardize_ptb` leaves unchanged, so the phrases meet the same vocabulary as
    the sentences and raw text. A leaf is everything between its label and `)` but ASCII blanks, so a word
    holding a no-break space stays one token, as in the sentence files.

    Args:
        line: one tree.
        where: `path:line`, the prefix of every error.

    Returns:
        A list of `(label, phrase)`, one per node, children before their parent: the root comes last.

    Raises:
        UsageError: unbalanced parentheses, a label that is not an integer in 0..4, a node with no word or
            with both a word and subtrees, anything after the tree, more than `MAX_TREE_WORDS` words.
    """
    nodes = []
    leaves = 0
    open_nodes = []  # [label, words, holds_a_word] of each node not yet closed, outermost first
    tokens = _TREE_TOKENS.finditer(line)
    for match in tokens:
        token, column = match.group(), match.start() + 1
        if token == "(":
            if nodes and not open_nodes:
                raise UsageError(f"{where}: unbalanced parentheses: a second tree starts at column {column}")
            label = next(tokens, None)
            if label is None or label.group() in "()":
                raise UsageError(f"{where}: expected a label after the '(' at column {column}")
            if open_nodes and open_nodes[-1][2]:
                raise UsageError(f"{where}: a node holds a word and a subtree (column {column})")
            open_nodes.append([parse_label(label.group(), TREE_CLASSES, where), [], False])
        elif token == ")":
            if not open_nodes:
                raise UsageError(f"{where}: unbalanced parentheses: the ')' at column {column} closes nothing")
            label, words, _ = open_nodes.pop()
            if not words:
                raise UsageError(f"{where}: the node closed at column {column} has no word")
            nodes.append((label, " ".join(words)))
            if open_nodes:
                open_nodes[-1][1].extend(words)
        else:
            if not open_nodes:
                raise UsageError(f"{where}: {token!r} at column {column} is outside the tree")
            if open_nodes[-1][1]:
                rule = "a leaf holds one word" if open_nodes[-1][2] else "a node holds subtrees or a word, not both"
                raise UsageError(f"{where}: {rule}; {token!r} at column {column} is one too many")
            leaves += 1
            if leaves > MAX_TREE_WORDS:
                raise UsageError(f"{where}: a tree of more than {MAX_TREE_WORDS} words; the limit is {MAX_TREE_WORDS}")
            open_nodes[-1][1].append(token.lower())
            open_nodes[-1][2] = True
    if open_nodes:
        raise UsageError(f"{where}: unbalanced parentheses: {len(open_nodes)} '(' not closed")
    return nodes


def read_trees(path):
    """Reads a treebank file, one tree a line (blank lines skipped): a list of `parse_tree` results.

    Raises:
        UsageError: an unreadable or non-UTF-8 file, a malformed tree (naming the file and line), phrases of
            more than `MAX_PHRASE_WORDS` words in all, no tree.
    """
    text = read_text(path, "treebank file", max_bytes=MAX_LABELLED_BYTES)
    trees, words = [], 0
    for line_number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        trees.append(parse_tree(line, f"{path}:{line_number}"))
        words += sum(phrase.count(" ") + 1 for _, phrase in trees[-1])
        if words > MAX_PHRASE_WORDS:
            raise UsageError(
                f"{path}:{line_number}: the phrases of the trees up to here hold {words:,} words in all; "
                f"the limit is {MAX_PHRASE_WORDS:,}"
            )
    if not trees:
        raise UsageError(f"{path} holds no trees")
    return trees


def merge_labels(counts):
    """The one label of a phrase that occurs with several: the label most of its occurrences carry, and on a
    tie the one nearer neutral (2), then the lower.

    SST labelled each distinct phrase once, with its case, so after lower-casing 583 of the 156,817 training
    phrases carry two labels (`not` 1 in 542 trees and `Not` 2 in 55; `fun` 4 and `Fun` 3). The majority is the
    label a model trained on every occurrence would mostly see. The two labels of a tie are nearly always
    neighbours (2-3, 1-2, 3-4): the annotators agree on the direction and differ on the strength, and the
    milder label claims less than either of them saw.

    Args:
        counts: `collections.Counter` of label -> occurrences.
    """
    neutral = TREE_CLASSES // 2
    return min(counts, key=lambda label: (-counts[label], abs(label - neutral), label))


def tree_examples(path, unit, groups=None):
    """Labelled texts of a treebank file.

    Args:
        path: the file (`read_trees`).
        unit: `"sentences"`, each tree's root with its label (duplicates kept, as in SST's sentence files), or
            `"phrases"`, every distinct phrase of every node with the label `merge_labels` picks.
        groups: `None` for the five SST-5 labels, or one list of SST-5 labels per class of the task
            (`FINE_GROUPS`): a text whose label is in no group is left out (SST-2 drops the neutral ones).

    Raises:
        UsageError: as `read_trees`, and more than `MAX_EXAMPLES` texts.
    """
    if unit not in TRAIN_ON:
        raise ValueError(f"Invalid `unit`: expected one of {TRAIN_ON}, got {unit!r}")
    trees = read_trees(path)
    if unit == "sentences":
        pairs = [tree[-1] for tree in trees]
    else:
        counts = collections.defaultdict(collections.Counter)
        for tree in trees:
            for label, phrase in tree:
                counts[phrase][label] += 1
        pairs = [(merge_labels(labels), phrase) for phrase, labels in counts.items()]
    if groups is not None:
        task_label = {label: index for index, group in enumerate(groups) for label in group}
        pairs = [(task_label[label], text) for label, text in pairs if label in task_label]
    if len(pairs) > MAX_EXAMPLES:
        what = "trees" if unit == "sentences" else "distinct phrases"
        raise UsageError(f"{path}: {len(pairs):,} {what}; the limit is {MAX_EXAMPLES:,} examples")
    return Examples([text for _, text in pairs], [label for label, _ in pairs], path, unit)


def load_task(task, data, *, fine=False, train_on=None, dev=None, num_classes=None, text_col="text", label_col="label"):
    """Returns `(train, dev_or_None, label_names)` for a training task.

    Args:
        task: `sst5` or `sst2` (`data` is the directory holding `stsa.{fine,binary}.{train,dev}`, and the
            treebank's `trees/{train,dev}.txt` to train on phrases), or `file` (`data` is a training file,
            `dev` an optional validation file).
        data: directory or file, as above.
        fine: for a task of `FINE_GROUPS`, the training examples keep their SST-5 labels, neutral ones
            included (the dev split and `label_names` stay the task's).
        train_on: for `sst5`/`sst2`, `"phrases"`: every distinct labelled phrase of `trees/train.txt`
            (`tree_examples`), with the dev sentences the roots of `trees/dev.txt` (the same sentences and
            labels as `stsa.*.dev`, so dev figures stay comparable); `"sentences"`: the `stsa.*` files;
            `None`: phrases if `data` holds `trees/`, else sentences.
        dev: for `file`, the validation file (`None`: the caller holds out part of the training data).
        num_classes: for `file`, the number of classes; `None` infers it as the largest label + 1.
        text_col, label_col: for `file`, the CSV/TSV columns.
    """
    if fine and task not in FINE_GROUPS:
        raise UsageError(f"--train-labels fine is for --task {', '.join(FINE_GROUPS)}, not --task {task}")
    if task in SST_FILES:
        if not os.path.isdir(data):
            raise UsageError(
                f"--task {task} needs the directory holding {' and '.join(SST_FILES[task])}, "
                f"got {data} (fetch it with `python -m apps.sentiment download`)"
            )
        trees = os.path.join(data, TREES_DIR)
        if train_on is None:
            train_on = "phrases" if os.path.isdir(trees) else "sentences"
        if train_on == "phrases":
            if not os.path.isdir(trees):
                raise UsageError(
                    f"--train-on phrases needs the treebank's {' and '.join(TREE_FILES)} in {trees} "
                    f"(fetch it with `python -m apps.sentiment download`)"
                )
            train_path, dev_path = (os.path.join(trees, name) for name in TREE_FILES)
            groups = FINE_GROUPS.get(task)
            return (
                tree_examples(train_path, "phrases", None if fine else groups),
                tree_examples(dev_path, "sentences", groups),
                LABEL_NAMES[task],
            )
        if train_on != "sentences":
            raise UsageError(f"--train-on must be one of {', '.join(TRAIN_ON)}, got {train_on!r}")
        train_task = "sst5" if fine else task
        train_path = os.path.join(data, SST_FILES[train_task][0])
        dev_path = os.path.join(data, SST_FILES[task][1])
        names = LABEL_NAMES[task]
        return (
            read_examples(train_path, num_classes=len(LABEL_NAMES[train_task])),
            read_examples(dev_path, num_classes=len(names)),
            names,
        )
    if task != "file":
        raise UsageError(f"--task must be one of {', '.join(TASKS)}, got {task!r}")
    if train_on == "phrases":
        raise UsageError("--train-on phrases is for --task sst5 and sst2 (a treebank in --data)")
    if os.path.isdir(data):
        raise UsageError(f"--task file needs a training file, got the directory {data}")
    train = read_examples(data, num_classes=num_classes, text_col=text_col, label_col=label_col)
    if num_classes is None:
        num_classes = max(max(train.labels) + 1, 2)
    validation = (
        read_examples(dev, num_classes=num_classes, text_col=text_col, label_col=label_col) if dev is not None else None
    )
    return train, validation, [str(label) for label in range(num_classes)]


def read_manifest(path=MANIFEST):
    """Returns the manifest `data/sentiment.json` (see `apps.common.files.read_manifest`)."""
    return files.read_manifest(path)


def download(out_dir=DEFAULT_DATA_DIR, manifest_path=MANIFEST, force=False):
    """Fetches every file of the manifest into `out_dir`, checking its sha256; files already there and
    intact are kept. Returns the paths. A file whose checksum does not match is not written, and a file in the
    way that is not the manifest's is refused unless `force`.

    An entry with `members` is a zip archive (the treebank's official `trainDevTestTrees_PTB.zip`): the
    members it lists are checked against their own sha256 and written under their `name`s, the rest of the
    archive (the held-back test trees) is not; nothing is written unless every listed member matches.
    """
    entries = files.fetched(read_manifest(manifest_path))
    outs = [out_dir if "members" in entry else os.path.join(out_dir, entry["name"]) for entry in entries]
    return [path for entry, out in zip(entries, outs) for path, _ in files.download(entry, out, force=force)]
