"""Every bad input of the issue: one line on stderr, exit code 2, nothing written."""

import os
import shutil

import pytest

from apps.dinos.cli import main

from dinos_names import TRAIN_ARGS


def assert_usage_error(capsys, argv, *fragments):
    assert main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err and "\n" not in err and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in err


@pytest.mark.parametrize(
    "content, fragment",
    [
        (b"", "no names"),
        (b"\n  \n", "no names"),
        (b"Aard\x00onyx\n", "binary"),
        (b"Aard\xffonyx\n", "UTF-8"),
    ],
)
def test_bad_data_file(tmp_path, capsys, content, fragment):
    data_file, out = tmp_path / "names.txt", tmp_path / "model"
    data_file.write_bytes(content)
    assert_usage_error(capsys, ["train", "--data", str(data_file), *TRAIN_ARGS, "--out", str(out)], fragment)
    assert os.listdir(tmp_path) == ["names.txt"]


def test_missing_data_file_says_how_to_get_it(tmp_path, capsys):
    assert_usage_error(
        capsys,
        ["train", "--data", str(tmp_path / "none.txt"), "--out", str(tmp_path / "m")],
        "python -m apps.dinos download",
    )
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["sample", "--prefix", "Ab9"], "'9'"),
        (["score", "aardonyx", "Tyrannosaurus!"], "'!'"),
        (["sample", "-n", "0"], "-n"),
        (["sample", "-n", "-3"], "-n"),
        (["sample", "--temperature", "0"], "--temperature"),
        (["sample", "--temperature", "-1"], "--temperature"),
        (["sample", "--top-k", "0"], "--top-k"),
        (["evaluate", "-n", "0"], "-n"),
        (["sample", "--prefix", "abcde", "--max-len", "3"], "--max-len"),
    ],
)
def test_bad_sampling_and_scoring_arguments(bundle, capsys, argv, fragment):
    assert_usage_error(capsys, [*argv, "--model", bundle], fragment)


def test_evaluate_file_with_unknown_characters(bundle, tmp_path, capsys):
    data_file = tmp_path / "eval.txt"
    data_file.write_text("Aardonyx\nQuetzalcoatlus\n")
    assert_usage_error(capsys, ["evaluate", "--model", bundle, "--data", str(data_file)], "name 2")


def test_missing_or_corrupt_model(bundle, tmp_path, capsys):
    assert_usage_error(capsys, ["sample", "--model", str(tmp_path / "nowhere")], "not found")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_usage_error(capsys, ["score", "abel", "--model", str(empty)], "not a model bundle")
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    for name in os.listdir(bundle):
        (corrupt / name).write_bytes(open(os.path.join(bundle, name), "rb").read())
    (corrupt / "model.keras").write_bytes(b"PK\x03\x04 truncated")
    # The bundle's LiteRT model still answers `--runtime auto`; Keras reads model.keras.
    assert_usage_error(capsys, ["sample", "--model", str(corrupt), "--runtime", "keras"], "corrupt")
    export_dir = tmp_path / "export"
    assert_usage_error(capsys, ["export", "--model", str(corrupt), "--out", str(export_dir)], "corrupt")
    assert not export_dir.exists()


def test_failed_training_leaves_the_old_bundle_alone(tmp_path, names_file, bundle, capsys):
    out = tmp_path / "model"
    shutil.copytree(bundle, out)
    (out / "keep.txt").write_text("old")
    before = sorted(os.listdir(out))
    # A validation split too large for the list fails after parsing, before any file is written.
    assert_usage_error(capsys, ["train", "--data", names_file, "--val-split", "0.99", "--out", str(out)], "--val-split")
    assert sorted(os.listdir(out)) == before and sorted(os.listdir(tmp_path)) == ["model"]
