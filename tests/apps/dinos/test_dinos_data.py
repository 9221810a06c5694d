"""Names -> ids: vocabulary layout, padding without truncation, the split, the manifest-checked download."""

import hashlib
import json
import os
import time

import numpy as np
import pytest

from apps.common.errors import UsageError
from apps.common.files import read_manifest, sha256_of
from apps.dinos import data
from apps.dinos.cli import main
from apps.dinos.config import MAX_CHARACTERS
from apps.dinos.data import MANIFEST

SHARED_LIST = os.path.join(os.path.dirname(__file__), *[".."] * 4, "shared", "data", "dinos", "dinos.txt")


def test_vocabulary_layout():
    vocab = data.Vocabulary.from_names(["ab", "ca"])
    assert vocab.tokens == ["", "\n", "a", "b", "c"]
    assert vocab.encode("Cab") == [4, 2, 3]  # lower-cased by default
    assert vocab.num_classes == 4
    assert vocab.decode_classes([3, 1, 0, 2]) == ("ca", True)
    assert vocab.decode_classes([1, 2]) == ("ab", False)
    with pytest.raises(UsageError, match="'z'"):
        vocab.encode("az")


def test_keep_case():
    vocab = data.Vocabulary.from_names(data.parse_names("Ab\nab\n", keep_case=True), keep_case=True)
    assert vocab.characters == ["A", "a", "b"]
    assert data.Vocabulary.from_config(vocab.get_config()).encode("Ab") == vocab.encode("Ab")


def test_arrays_are_padded_masked_and_never_truncated():
    vocab = data.Vocabulary.from_names(["a", "abcabcabc"])
    x, y = data.make_arrays(["a", "abcabcabc"], vocab)
    assert x.shape == y.shape == (2, 10)
    np.testing.assert_array_equal(x[0], [1, 2] + [0] * 8)  # start token, 'a', padding
    np.testing.assert_array_equal(y[0, :2], [1, 0])  # class of 'a', end class
    np.testing.assert_array_equal(x[1, 1:] - 1, y[1, :-1])  # y is x shifted by one, in class space
    assert y[1, -1] == data.END_CLASS


def test_split_is_reproducible_and_disjoint():
    names = [f"n{i}" for i in range(20)]
    train, val = data.split_names(names, 0.25, seed=3)
    assert (train, val) == data.split_names(names, 0.25, seed=3)
    assert len(val) == 5 and not set(train) & set(val) and sorted(train + val) == sorted(names)
    with pytest.raises(UsageError):
        data.split_names(["a", "b"], 0.1, seed=0)


def test_manifest_names_url_hash_and_licence():
    manifest = read_manifest(MANIFEST)
    [entry] = manifest["files"]
    assert entry["url"].startswith("https://raw.githubusercontent.com/Kulbear/deep-learning-coursera/5c59f99e")
    assert len(entry["sha256"]) == 64 and manifest["licence"]


def test_download_from_local_path(tmp_path, capsys):
    source = tmp_path / "list.txt"
    source.write_bytes(b"Aardonyx\nBrachiosaurus\n")
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    out = tmp_path / "data" / "dinos.txt"
    assert main(["download", "--source", str(source), "--sha256", digest, "--out", str(out)]) == 0
    assert out.read_bytes() == source.read_bytes()

    other = tmp_path / "other.txt"
    assert main(["download", "--source", str(source), "--sha256", "0" * 64, "--out", str(other)]) == 2
    assert "sha256" in capsys.readouterr().err
    assert not other.exists() and os.listdir(tmp_path / "data") == ["dinos.txt"]


def test_download_refuses_a_manifest_of_two_files_before_fetching(tmp_path):
    source = tmp_path / "list.txt"
    source.write_bytes(b"Aardonyx\n")
    entry = {"name": "dinos.txt", "url": source.as_uri(), "sha256": hashlib.sha256(source.read_bytes()).hexdigest()}
    manifest = tmp_path / "two.json"
    manifest.write_text(json.dumps({"files": [entry, dict(entry, name="more.txt")]}))
    out = tmp_path / "data" / "dinos.txt"
    with pytest.raises(UsageError, match=f"the manifest {manifest} lists 2 files to fetch; the name list is one file"):
        data.download(str(out), manifest=str(manifest))
    assert not out.parent.exists()


@pytest.mark.skipif(not os.path.isfile(SHARED_LIST), reason="the project's shared data folder is absent")
def test_download_accepts_the_shared_copy_by_the_manifest(tmp_path):
    out = tmp_path / "dinos.txt"
    assert main(["download", "--source", SHARED_LIST, "--out", str(out)]) == 0
    assert sha256_of(out) in read_manifest(MANIFEST)["files"][0]["also_accepted"]


def test_a_vocabulary_of_twenty_thousand_characters_encodes_each_name_in_its_length():
    characters = [chr(0x4E00 + i) for i in range(20_000)]
    names = ["".join(characters[(7 * i + k) % len(characters)] for k in range(8)) for i in range(40_000)]
    vocab = data.Vocabulary.from_names(names)
    started = time.monotonic()
    encoded = [vocab.encode(name) for name in names]
    assert time.monotonic() - started < 5  # each name checked against the whole vocabulary: a minute
    assert len(vocab) == 20_002 and encoded[1] == [vocab.tokens.index(char) for char in names[1]]
    with pytest.raises(UsageError, match="outside the model's vocabulary: 'z'"):
        vocab.encode(names[0] + "z")


def test_a_name_list_of_more_characters_than_a_vocabulary_may_hold_is_refused(tmp_path):
    names = tmp_path / "names.txt"
    alphabet = [chr(0x4E00 + index) for index in range(MAX_CHARACTERS)]
    names.write_text("".join(f"{alphabet[i]}{alphabet[i + 1]}\n" for i in range(0, MAX_CHARACTERS, 2)))
    assert len(data.read_names(str(names))) == MAX_CHARACTERS // 2
    with open(names, "a", encoding="utf-8") as handle:
        handle.write("z\n")
    with pytest.raises(UsageError, match=f"{MAX_CHARACTERS + 1} distinct characters; the limit is {MAX_CHARACTERS}"):
        data.read_names(str(names))
