"""The commands end to end on a tiny model trained by `main(["train", ...])` (see conftest.py)."""

import importlib.util
import json
import math
import os
import shutil

import numpy as np
import pytest

from apps.common.paths import saved_model
from apps.dinos import data
from apps.dinos.cli import main
from apps.dinos.evaluate import sample_statistics, score_names
from apps.dinos.sample import NameSampler

from clis import BUNDLE_FILES
from dinos_names import NAMES, TRAIN_ARGS


def run_json(capsys, argv):
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_train_writes_a_complete_bundle(bundle):
    assert sorted(os.listdir(bundle)) == BUNDLE_FILES
    config = json.load(open(os.path.join(bundle, "config.json")))
    assert config["vocabulary"]["characters"] == sorted(set("".join(NAMES).lower()))
    assert config["training"]["epochs_run"] == 2 and config["training"]["val_names"] == 3
    assert math.isfinite(config["metrics"]["val_bits_per_char"])
    assert not any(name.lower() in json.dumps(config) for name in NAMES)  # digests only, no data
    history = json.load(open(os.path.join(bundle, "history.json")))
    assert len(history["loss"]) == len(history["val_loss"]) == 2


def test_sampling_is_reproducible(bundle, capsys):
    argv = ["sample", "--model", bundle, "-n", "8", "--seed", "5"]
    first, again = run_json(capsys, argv), run_json(capsys, argv)
    other = run_json(capsys, [*argv[:-1], "6"])
    assert first == again
    assert first["names"] != other["names"]
    assert len(first["names"]) == 8 and all(row["name"] for row in first["names"])


def test_sample_respects_prefix_and_max_len(bundle, capsys):
    rows = run_json(
        capsys, ["sample", "--model", bundle, "-n", "20", "--seed", "1", "--prefix", "Ste", "--max-len", "6"]
    )["names"]
    assert all(row["name"].startswith("ste") and len(row["name"]) <= 6 for row in rows)
    assert len({row["name"] for row in rows}) > 1


def test_sample_novel_rejects_training_names(loaded):
    model, config = loaded
    assert set(config["seen_digests"]) == {data.name_digest(name.lower()) for name in NAMES}
    sampler = NameSampler(model, config)
    plain = [name for name, _ in sampler.sample(10, prefix="a", max_len=3, seed=0)]
    sampler.seen = {data.name_digest(name) for name in plain}  # as if these had been the training names
    novel = [name for name, _ in sampler.sample(10, prefix="a", max_len=3, seed=0, novel=True)]
    assert len(novel) == 10 and not set(novel) & set(plain)


def test_sample_statistics_by_hand():
    stats = sample_statistics(["ab", "ab", "abc", "x"], [data.name_digest("ab")], {"2": 1, "3": 1})
    assert stats["novelty_rate"] == 0.5  # "abc" and "x" are new
    assert stats["duplicate_rate"] == 0.25  # the second "ab"
    assert stats["lengths"]["samples"]["mean"] == 2.0
    assert stats["length_tv_distance"] == pytest.approx(0.25)  # (1/4, 2/4, 1/4) against (0, 1/2, 1/2)


def test_sampled_log_probs_are_the_scores(loaded):
    model, config = loaded
    sampler = NameSampler(model, config)
    names = sampler.sample(16, seed=2, prefix="a")
    vocab = data.Vocabulary.from_config(config["vocabulary"])
    np.testing.assert_allclose([lp for _, lp in names], score_names(model, vocab, [n for n, _ in names]), rtol=1e-4)


def test_scores_agree_with_the_softmax(bundle, loaded, capsys):
    model, config = loaded
    vocab = data.Vocabulary.from_config(config["vocabulary"])
    rows = run_json(capsys, ["score", "--model", bundle, "Aardonyx", "ceratops"])["names"]
    assert [row["name"] for row in rows] == ["aardonyx", "ceratops"]
    for row in rows:
        ids = vocab.encode(row["name"])
        probs = model.predict(np.array([[data.END_ID, *ids]]), verbose=0)[0]
        expected = sum(math.log(probs[t, c]) for t, c in enumerate([i - 1 for i in ids] + [data.END_CLASS]))
        assert row["log_prob"] == pytest.approx(expected, rel=1e-5)
        assert row["bits_per_char"] == pytest.approx(-expected / math.log(2) / (len(ids) + 1), rel=1e-5)
    assert main(["score", "--model", bundle, "Aardonyx"]) == 0
    assert "aardonyx" in capsys.readouterr().out


def test_evaluate_reports_bits_novelty_duplicates_lengths(bundle, names_file, loaded, capsys):
    model, config = loaded
    report = run_json(capsys, ["evaluate", "--model", bundle, "--data", names_file, "-n", "50", "--seed", "0"])
    names = data.read_names(names_file)
    vocab = data.Vocabulary.from_config(config["vocabulary"])
    expected_bits = -score_names(model, vocab, names).sum() / math.log(2) / sum(len(n) + 1 for n in names)
    assert report["data"]["bits_per_char"] == pytest.approx(expected_bits, rel=1e-6)
    samples = report["samples"]
    for rate in ("novelty_rate", "duplicate_rate", "length_tv_distance", "unfinished_rate"):
        assert 0 <= samples[rate] <= 1
    assert samples["lengths"]["training"]["count"] == config["training"]["train_names"]
    assert main(["evaluate", "--model", bundle, "-n", "10", "--seed", "0"]) == 0
    assert "novel" in capsys.readouterr().out


def test_help_everywhere(capsys):
    for command in ([], ["train"], ["sample"], ["score"], ["evaluate"], ["export"], ["download"]):
        assert main([*command, "--help"]) == 0
    assert "--novel" in capsys.readouterr().out


def test_keep_case(names_file, tmp_path, capsys):
    out = str(tmp_path / "cased")
    assert main(["train", "--data", names_file, *TRAIN_ARGS, "--epochs", "1", "--keep-case", "--out", out]) == 0
    capsys.readouterr()
    config = json.load(open(os.path.join(out, "config.json")))
    assert {"A", "S", "a", "s"} <= set(config["vocabulary"]["characters"])
    rows = run_json(capsys, ["sample", "--model", out, "-n", "3", "--seed", "0", "--prefix", "St"])["names"]
    assert all(row["name"].startswith("St") for row in rows)
    assert main(["score", "--model", out, "stegosaurus"]) == 0  # lower-case s is in the list too
    assert main(["score", "--model", out, "Xenotarsosaurus"]) == 2  # no upper-case X in the list


def test_tensorboard_logs(names_file, tmp_path, capsys):
    logs = tmp_path / "logs"
    argv = [
        "train",
        "--data",
        names_file,
        *TRAIN_ARGS,
        "--epochs",
        "1",
        "--tensorboard",
        str(logs),
        "--out",
        str(tmp_path / "model"),
    ]
    if importlib.util.find_spec("tensorboard") is None:
        assert main(argv) == 2
        assert "pip install tensorboard" in capsys.readouterr().err
        assert not (tmp_path / "model").exists()
    else:
        assert main(argv) == 0
        assert any(files for _, _, files in os.walk(logs))


def test_names_are_printed_with_their_control_characters_escaped(tmp_path, capsys):
    # The shipped model with ESC, "[", "3" and "1" in place of four letters: as if trained on names holding them.
    bundle = tmp_path / "dinos"
    shutil.copytree(saved_model("dinos"), bundle)
    config = json.loads((bundle / "config.json").read_text())
    config["vocabulary"]["characters"][-4:] = ["\x1b", "[", "3", "1"]
    (bundle / "config.json").write_text(json.dumps(config))
    red = "\x1b[31m"
    assert main(["score", "--model", str(bundle), f"{red}raptor"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and out.splitlines()[1].startswith("\\x1b[31mraptor ")
    assert run_json(capsys, ["score", "--model", str(bundle), f"{red}raptor"])["names"][0]["name"] == f"{red}raptor"
    assert main(["sample", "--model", str(bundle), "-n", "3", "--seed", "0", "--prefix", red, "--max-len", "9"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and [line[:8] for line in out.splitlines()] == ["\\x1b[31m"] * 3
