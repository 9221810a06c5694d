"""The command line end to end, on a model trained for three epochs on three tiny solos built here."""

import filecmp
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from music21 import converter, harmony, tempo

from apps.common import files
from apps.jazz import chords, conditioning, data, evaluate, grammar
from apps.jazz.cli import main

from jazz_scores import MELODY, SHEET_CHORDS, SHEET_MELODY, lead_sheet_xml, make_score

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


@pytest.fixture(scope="module")
def trained(solos_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "jazz"
    assert (
        main(["train", "--midi", str(solos_dir), "--seq-len", "8", "--epochs", "3", "--units", "8", "--out", str(out)])
        == 0
    )
    return out


def test_train_saves_a_bundle(trained, solos_dir):
    assert {"model.keras", "config.json", "history.json", "training.png", "training_tokens.npz"} <= set(
        os.listdir(trained)
    )
    config = json.loads((trained / "config.json").read_text())
    assert config["encoding"] == "grammar" and config["cell"] == "lstm" and config["units"] == 8
    assert config["training"]["validation_solos"] == 1 and config["metrics"]["epochs"] == 3
    assert np.isfinite(config["metrics"]["val_perplexity"])
    assert "C,1/2,<*>" in config["vocabulary"]
    # The data by checksum and by the name it was given by (an absolute path elsewhere), never by that path.
    assert config["training"]["paths"] == [solos_dir.name] and len(config["training"]["corpus_sha256"]) == 64
    (held_out,) = config["training"]["validation_files"]
    training_solos = [data.read_solo(str(path)) for path in sorted(solos_dir.iterdir()) if path.name != held_out]
    expected = [grammar.encode(solo.notes, solo.timeline) for solo in training_solos]
    assert evaluate.load_training_tokens(str(trained)) == expected


def test_evaluate_with_a_bundle_without_training_tokens_says_so_and_parses_nothing(
    trained, solos_dir, tmp_path, capsys
):
    bundle = tmp_path / "old-bundle"
    shutil.copytree(trained, bundle)
    (bundle / "training_tokens.npz").unlink(missing_ok=True)
    config = json.loads((bundle / "config.json").read_text())
    config["training"]["paths"] = [str(solos_dir)]  # as older bundles recorded their data: absolute, existing
    (bundle / "config.json").write_text(json.dumps(config))
    parsed = []
    real_load = data.load_solos
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(data, "load_solos", lambda paths, **kw: parsed.append(paths) or real_load(paths, **kw))
        arguments = ["evaluate", "--midi", str(solos_dir / "solo1.musicxml"), "--model", str(bundle), "--json"]
        assert main(arguments) == 0
    captured = capsys.readouterr()
    assert parsed == [[str(solos_dir / "solo1.musicxml")]]  # the solo measured; not the recorded data
    assert "longest_copy" not in json.loads(captured.out)["solos"][0]
    assert "holds no training_tokens.npz" in captured.err and "not computed" in captured.err


def test_train_with_the_pitch_encoding_and_a_gru(solos_dir, tmp_path):
    out = tmp_path / "pitch"
    assert (
        main(
            [
                "train",
                "--midi",
                str(solos_dir / "solo0.musicxml"),
                "--encoding",
                "pitch",
                "--cell",
                "gru",
                "--seq-len",
                "8",
                "--epochs",
                "1",
                "--units",
                "4",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    config = json.loads((out / "config.json").read_text())
    assert config["encoding"] == "pitch" and "62,1/2" in config["vocabulary"]
    assert main(["generate", "--model", str(out), "--measures", "2", "--out", str(tmp_path / "p.mid")]) == 0


def generate(trained, out, *extra):
    return main(
        [
            "generate",
            "--model",
            str(trained),
            "--chords",
            "Dm7 G7 | Cmaj7 | Bbmaj7",
            "--measures",
            "6",
            "--tempo",
            "90",
            "--seed",
            "3",
            "--out",
            str(out),
            *extra,
        ]
    )


def test_generate_writes_what_was_asked(trained, tmp_path):
    out = tmp_path / "solo.mid"
    assert generate(trained, out, "--musicxml", "--plot") == 0
    assert {"solo.mid", "solo.musicxml", "solo.png"} == set(os.listdir(tmp_path))
    score = converter.parse(str(out))
    assert len(score.parts[0].getElementsByClass("Measure")) == 6
    assert score.highestTime == 24
    assert score.flatten().getElementsByClass(tempo.MetronomeMark)[0].number == pytest.approx(90, abs=0.5)
    # The accompaniment track sounds the requested chords (read back by naming what it plays).
    heard = data.read_solo(str(out)).timeline
    wanted, _ = chords.parse_progression("Dm7 G7 | Cmaj7 | Bbmaj7 | Dm7 G7 | Cmaj7 | Bbmaj7")
    for offset in (0, 2, 4, 8, 12, 14, 16, 20):
        assert heard.chord_at(offset).pitch_classes == wanted.chord_at(offset).pitch_classes
        assert heard.chord_at(offset).root == wanted.chord_at(offset).root
    symbols = converter.parse(str(tmp_path / "solo.musicxml")).flatten().getElementsByClass(harmony.ChordSymbol)
    assert [s.figure for s in symbols][:4] == ["Dm7", "G7", "Cmaj7", "B-maj7"]


def test_generate_replaces_its_own_files_and_no_one_elses(trained, tmp_path, capsys):
    out = tmp_path / "solo.mid"
    assert generate(trained, out, "--musicxml", "--plot") == 0
    written = [tmp_path / name for name in ("solo.mid", "solo.musicxml", "solo.png")]
    assert all(files.is_ours(str(path)) for path in written)
    assert converter.parse(str(tmp_path / "solo.musicxml")).highestTime == 24  # the marked files still read
    before = out.read_bytes()
    assert generate(trained, out, "--musicxml", "--plot", "--seed", "4") == 0  # over its own files
    assert out.read_bytes() != before
    (tmp_path / "solo.png").write_bytes(b"my drawing")
    capsys.readouterr()
    assert generate(trained, out, "--plot", "--seed", "5") == 2
    assert "--force" in capsys.readouterr().err
    assert (tmp_path / "solo.png").read_bytes() == b"my drawing"
    assert generate(trained, out, "--plot", "--force") == 0
    assert files.is_ours(str(tmp_path / "solo.png"))


def test_generate_is_reproducible_for_a_seed(trained, tmp_path):
    assert generate(trained, tmp_path / "a.mid") == 0
    assert generate(trained, tmp_path / "b.mid") == 0
    assert filecmp.cmp(tmp_path / "a.mid", tmp_path / "b.mid", shallow=False)


def test_generate_with_defaults_plays_the_default_progression(trained, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["generate", "--model", str(trained)]) == 0
    (written,) = os.listdir(tmp_path / "output")
    assert written.startswith("jazz-") and written.endswith(".mid")
    assert converter.parse(str(tmp_path / "output" / written)).highestTime == 12 * 4


def test_chords_from_a_file(trained, tmp_path):
    (tmp_path / "tune.txt").write_text("Am7 D7 | Gmaj7\n")
    assert (
        main(
            [
                "generate",
                "--model",
                str(trained),
                "--chords-from",
                str(tmp_path / "tune.txt"),
                "--out",
                str(tmp_path / "tune.mid"),
            ]
        )
        == 0
    )
    assert converter.parse(str(tmp_path / "tune.mid")).highestTime == 8


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--chords", "Dm7 Xyz7 Cmaj7"], "Xyz7"),
        (["--measures", "0"], "--measures"),
        (["--measures", "-3"], "--measures"),
        (["--tempo", "0"], "--tempo"),
        (["--tempo", "-120"], "--tempo"),
        (["--temperature", "0"], "--temperature"),
        (["--seed", "99999999999"], "--seed"),
        (["--chords-from", "no-such-file.txt"], "no-such-file.txt"),
        (["--out", "{tmp}/a-file/solo.mid"], "cannot write"),
        (["--model", "{tmp}/no-model"], "no-model"),
    ],
)
def test_bad_generate_input_is_one_line_and_exit_2(trained, tmp_path, capsys, arguments, message):
    (tmp_path / "a-file").write_text("a file where a directory is needed")
    arguments = [argument.replace("{tmp}", str(tmp_path)) for argument in arguments]
    if "--model" not in arguments:
        arguments += ["--model", str(trained)]
    if "--out" not in arguments:
        arguments += ["--out", str(tmp_path / "out" / "solo.mid")]
    assert main(["generate", *arguments]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and "Traceback" not in err
    assert not os.path.exists(tmp_path / "out")  # nothing half-written
    assert os.listdir(tmp_path) == ["a-file"]


@pytest.mark.parametrize("content, message", [(b"", "no usable"), (b"not music at all", "no usable")])
def test_bad_training_data_is_one_line_and_exit_2(tmp_path, capsys, content, message):
    (tmp_path / "bad.mid").write_bytes(content)
    assert main(["train", "--midi", str(tmp_path), "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1] and any("warning: skipping" in line and "bad.mid" in line for line in err)
    assert not os.path.exists(tmp_path / "m")


def test_a_score_without_melody_is_one_line_and_exit_2(tmp_path, capsys):
    score = make_score([(0, 4, 60)], [(0, "C7")])
    for element in list(score.recurse().notes):
        if not isinstance(element, harmony.ChordSymbol):
            element.activeSite.remove(element)
    score.write("musicxml", fp=str(tmp_path / "chords-only.musicxml"))
    assert main(["evaluate", "--midi", str(tmp_path / "chords-only.musicxml")]) == 2
    assert "no melody" in capsys.readouterr().err


def test_evaluate_reports_perplexity_and_statistics(trained, solos_dir, capsys):
    assert main(["evaluate", "--midi", str(solos_dir / "solo1.musicxml"), "--model", str(trained), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    (solo,) = report["solos"]
    assert solo["notes"] == 2 * len(MELODY)
    assert solo["perplexity"] == pytest.approx(np.exp(solo["nll"]))
    assert 1 < solo["perplexity"] < len(json.loads((trained / "config.json").read_text())["vocabulary"]) + 1
    assert report["summary"]["perplexity"] == pytest.approx(solo["perplexity"])
    # The corpus is the model's training solos: a training solo is copied whole, the validation solo is not.
    config = json.loads((trained / "config.json").read_text())
    (held_out,) = config["training"]["validation_files"]
    assert main(["evaluate", "--midi", str(solos_dir), "--model", str(trained), "--json"]) == 0
    solos = json.loads(capsys.readouterr().out)["solos"]
    copied = {s["name"]: s["longest_copy"]["tokens"] == s["tokens"] for s in solos}
    assert copied == {name: name != held_out for name in ("solo0.musicxml", "solo1.musicxml", "solo2.musicxml")}


def test_export_writes_a_savedmodel_that_samples(trained, tmp_path):
    import tensorflow as tf

    assert main(["export", "--model", str(trained), "--out", str(tmp_path / "sampler")]) == 0
    loaded = tf.saved_model.load(str(tmp_path / "sampler"))
    # The default model is conditioned: the signature takes the features of every grid step of the changes.
    timeline, _ = chords.parse_progression("Dm7 G7 | Cmaj7")
    conditions = tf.constant(np.stack([conditioning.step_table(timeline, 8.0)] * 2))
    out = loaded.signatures["sample"](
        prefix=tf.zeros([2, 1], tf.int32),
        conditions=conditions,
        steps=tf.constant(5),
        temperature=tf.constant(1.0),
        top_k=tf.constant(0),
        seed=tf.constant(1),
    )
    assert out["tokens"].shape == (2, 5)
    vocabulary = loaded.signatures["vocabulary"]()["tokens"].numpy()
    assert vocabulary[0] == b"<start>"
    assert int(tf.reduce_max(out["tokens"])) < len(vocabulary)


@pytest.mark.parametrize(
    "arguments, line",
    [
        (["--chords", "Cmaj7 Q7"], "python -m apps.jazz generate: error: unknown chord symbol 'Q7'"),
        (
            ["--measures", "0"],
            ("python -m apps.jazz generate: error: argument --measures: must be an integer from 1 to 1,000, got 0"),
        ),
        (["--model", "no/such/model"], "python -m apps.jazz generate: error: model directory not found: no/such/model"),
    ],
)
def test_module_entry_point_reports_bad_input_as_its_only_line(arguments, line):
    # Checked before TensorFlow is imported, so its start-up messages do not come along.
    result = subprocess.run(
        [sys.executable, "-m", "apps.jazz", "generate", *arguments], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [line]


def test_module_entry_point_generates_in_a_fresh_process(trained, tmp_path):
    out = tmp_path / "fresh.mid"
    result = subprocess.run(
        [sys.executable, "-m", "apps.jazz", "generate", "--model", str(trained), "--measures", "3", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert converter.parse(str(out)).highestTime == 12


def test_the_default_model_is_conditioned_on_the_changes(trained):
    from apps.common.bundle import load_bundle
    from apps.jazz.model import is_conditioned

    model, config = load_bundle(str(trained))
    assert config["conditioning"] == "changes" and is_conditioned(model)


def test_an_unconditioned_bundle_without_the_conditioning_key_still_generates(solos_dir, tmp_path):
    # A bundle from before conditioning existed: token-only model, no `conditioning` in its config.
    out = tmp_path / "old"
    assert (
        main(
            [
                "train",
                "--midi",
                str(solos_dir),
                "--conditioning",
                "none",
                "--seq-len",
                "8",
                "--epochs",
                "1",
                "--units",
                "4",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    config = json.loads((out / "config.json").read_text())
    assert config.pop("conditioning") == "none"
    (out / "config.json").write_text(json.dumps(config))
    assert (
        main(
            [
                "generate",
                "--model",
                str(out),
                "--measures",
                "2",
                "--primer",
                "C5 D5",
                "--out",
                str(tmp_path / "old.mid"),
            ]
        )
        == 0
    )
    assert converter.parse(str(tmp_path / "old.mid")).highestTime == 8
    assert [(o, m) for o, _, m in data.read_solo(str(tmp_path / "old.mid")).notes[:2]] == [(0, 72), (1, 74)]
    assert main(["evaluate", "--midi", str(solos_dir / "solo0.musicxml"), "--model", str(out)]) == 0
    import tensorflow as tf

    assert main(["export", "--model", str(out), "--out", str(tmp_path / "sampler")]) == 0
    sample = tf.saved_model.load(str(tmp_path / "sampler")).signatures["sample"]
    assert "conditions" not in sample.structured_input_signature[1]
    drawn = sample(
        prefix=tf.zeros([2, 1], tf.int32),
        steps=tf.constant(5),
        temperature=tf.constant(1.0),
        top_k=tf.constant(0),
        seed=tf.constant(1),
    )
    assert drawn["tokens"].shape == (2, 5)


def test_evaluate_against_reference_solos_on_their_own_changes(trained, solos_dir, capsys):
    arguments = ["evaluate", "--reference", str(solos_dir), "--model", str(trained), "--bars", "8", "--json"]
    assert main(arguments) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["solos"] == 3 and report["bars"] == 8 and report["conditioning"] == "changes"
    for key in ("overlaps", "ceiling"):
        assert set(report[key]) == {
            "pitch_class",
            "tone_type",
            "interval",
            "duration",
            "onset",
            "notes_per_bar",
            "articulation",
            "mean",
        }
        assert all(0.0 <= value <= 1.0 + 1e-9 for value in report[key].values())
    # Each solo is 6 bars long (two phrases 13 quarters apart): all its notes are compared.
    assert report["notes"]["real"] == 3 * 2 * len(MELODY) and report["notes"]["generated"] > 0
    assert "longest_copy" in report  # the corpus-copy check comes along
    assert main(arguments) == 0
    assert json.loads(capsys.readouterr().out) == report  # fixed seeds
    assert main(arguments[:-1]) == 0
    assert "real odd vs even" in capsys.readouterr().out
    assert main([*arguments, "--draws", "2"]) == 0
    pooled = json.loads(capsys.readouterr().out)
    assert pooled["draws"] == 2 and pooled["by_draw"][0] == report["overlaps"]  # draw 0 is the run above
    assert main([*arguments[:-1], "--draws", "2"]) == 0
    assert "mean of the draws" in capsys.readouterr().out


def test_evaluate_needs_midi_or_reference_not_both(solos_dir, capsys):
    assert main(["evaluate", "--midi", str(solos_dir), "--reference", str(solos_dir)]) == 2
    assert "not allowed with" in capsys.readouterr().err
    assert main(["evaluate"]) == 2
    assert "--midi" in capsys.readouterr().err


def test_generate_over_a_lead_sheet_plays_its_chords_for_its_length_at_its_tempo(trained, tmp_path):
    sheet = tmp_path / "tune.musicxml"
    make_score(SHEET_MELODY, SHEET_CHORDS, bpm=150).write("musicxml", fp=str(sheet))
    wanted = chords.Timeline(
        [(offset + 12 * chorus, chords.parse_chord(figure)) for chorus in (0, 1) for offset, figure in SHEET_CHORDS]
    )
    for extra, quarters, bpm in (([], 12, 150), (["--measures", "5", "--tempo", "90"], 20, 90)):
        out = tmp_path / f"over-{bpm}.mid"
        assert main(["generate", "--model", str(trained), "--chords-from", str(sheet), "--out", str(out), *extra]) == 0
        score = converter.parse(str(out))
        assert score.highestTime == quarters
        assert score.flatten().getElementsByClass(tempo.MetronomeMark)[0].number == pytest.approx(bpm, abs=0.5)
        heard = data.read_solo(str(out)).timeline  # named from what the band plays, as training reads MIDI
        for offset in [offset for offset, _ in wanted if offset < quarters]:
            assert heard.chord_at(offset).root == wanted.chord_at(offset).root
            assert heard.chord_at(offset).pitch_classes == wanted.chord_at(offset).pitch_classes


def test_takes_continue_the_primer_each_with_its_own_seed(trained, tmp_path):
    primer = ["--primer", "D5 F5:1/2 A5:1/2"]
    wav = ["--wav"] if shutil.which("fluidsynth") else []
    assert generate(trained, tmp_path / "take.mid", "--num-outputs", "2", "--top-k", "4", *primer, *wav) == 0
    assert set(os.listdir(tmp_path)) == {f"take-{i}.{kind}" for i in (1, 2) for kind in ["mid"] + [w[2:] for w in wav]}
    assert not filecmp.cmp(tmp_path / "take-1.mid", tmp_path / "take-2.mid", shallow=False)
    # Take 2 is what one take with the next seed plays.
    assert generate(trained, tmp_path / "seed4.mid", "--seed", "4", "--top-k", "4", *primer) == 0
    assert filecmp.cmp(tmp_path / "take-2.mid", tmp_path / "seed4.mid", shallow=False)
    kept = data.read_solo(str(tmp_path / "take-1.mid")).notes
    assert [(offset, midi) for offset, _, midi in kept[:3]] == [(0, 74), (1, 77), (1.5, 81)]
    assert generate(trained, tmp_path / "unkept.mid", "--top-k", "4", *primer, "--no-keep-primer") == 0
    unkept = data.read_solo(str(tmp_path / "unkept.mid")).notes
    assert unkept and unkept == [note for note in kept if note[0] >= 2]  # the same continuation, in its place


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--chords-from", "{in}/head.musicxml"], "no chord symbols"),
        (["--chords-from", "{in}/empty.mid"], "empty file"),
        (["--chords-from", "{in}/broken.musicxml"], "not a readable MIDI/MusicXML file"),
        (["--primer", "{in}/empty.mid"], "empty file"),
        (["--primer", "C5 E2"], "outside the model's register F3-D6"),
        (["--primer", "C5:20 D5:5"], "lasts 25 quarter notes; the solo lasts 24"),
        (["--primer", "C5 do"], "cannot read 'do' as a note"),
        (["--primer", "C5:1/0"], "'C5:1/0' divides by zero"),
        (["--primer", "C5 E#-5"], "cannot read 'E#-5' as a note"),
        (["--primer", "C5:1/1000"], "the shortest note or rest is 1/12"),
        (["--chords-from", "{in}/1-64.musicxml"], "a bar of 1/64 lasts 1/16 quarter notes"),
        (["--wav", "--soundfont", "{in}/no-such.sf2"], "no-such.sf2: file not found"),
        (["--soundfont", "{in}/head.musicxml"], "--soundfont is for --wav"),
        (["--num-outputs", "0"], "--num-outputs: must be an integer from 1 to 100"),
        (["--num-outputs", "101"], "--num-outputs: must be an integer from 1 to 100"),
        (["--top-k", "-1"], "--top-k"),
    ],
)
def test_bad_lead_sheets_primers_soundfonts_and_takes_are_one_line_and_exit_2(
    trained, tmp_path, capsys, arguments, message
):
    inputs = tmp_path / "in"
    inputs.mkdir()
    make_score(MELODY, []).write("musicxml", fp=str(inputs / "head.musicxml"))
    (inputs / "empty.mid").write_bytes(b"")
    (inputs / "broken.musicxml").write_text("<score-partwise>")
    (inputs / "1-64.musicxml").write_text(lead_sheet_xml(1, 64))
    arguments = [argument.replace("{in}", str(inputs)) for argument in arguments]
    if "--wav" in arguments and not shutil.which("fluidsynth"):
        pytest.skip("FluidSynth is not installed: --wav stops at that")
    out = tmp_path / "out" / "solo.mid"
    assert main(["generate", "--model", str(trained), "--measures", "6", "--out", str(out), *arguments]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and "Traceback" not in err
    assert sorted(os.listdir(tmp_path)) == ["in"]  # nothing written, not even the output directory


def test_paths_and_solo_names_are_printed_with_their_control_characters_escaped(trained, solos_dir, tmp_path, capsys):
    red = "\x1b[31m"
    assert generate(trained, tmp_path / f"solo{red}.mid") == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and out.startswith(f"wrote {tmp_path}/solo\\x1b[31m.mid: 6 bars")
    shutil.copy(solos_dir / "solo1.musicxml", tmp_path / f"take{red}.musicxml")
    assert main(["evaluate", "--midi", str(tmp_path / f"take{red}.musicxml"), "--model", str(trained)]) == 0
    captured = capsys.readouterr()
    assert "\x1b" not in captured.out + captured.err
    assert any(line.startswith("take\\x1b[31m.musicxml ") for line in captured.out.splitlines()), captured.out
