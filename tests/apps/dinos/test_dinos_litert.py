"""`export --format litert`: the one-step model in a .tflite file answers as the Keras model, and the NumPy
sampler fed the compiled sampler's draws picks its names."""

import os

import keras
import numpy as np
import pytest

pytest.importorskip("ai_edge_litert")

from apps.common import files, litert
from apps.dinos import data
from apps.dinos import litert as dinos_litert
from apps.dinos.cli import main
from apps.dinos.model import build_model, step_model

from dinos_names import NAMES

VOCAB = data.Vocabulary.from_names([name.lower() for name in NAMES])


def tiny_model(cell="peephole", units=8, seed=0):
    keras.utils.set_random_seed(seed)
    return build_model(len(VOCAB), cell=cell, units=units, layers=2 if cell == "gru" else 1, embedding_dim=4)


def save(model, directory):
    from apps.common.bundle import save_bundle

    path = str(directory / "bundle")
    save_bundle(path, model, {"app": "dinos", "vocabulary": VOCAB.get_config(), "max_len": 20})
    return path


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    model = tiny_model()
    out = str(tmp_path_factory.mktemp("litert") / "dinos.tflite")
    assert (
        main(["export", "--format", "litert", "--model", save(model, tmp_path_factory.mktemp("b")), "--out", out]) == 0
    )
    return model, out


@pytest.mark.parametrize("cell", ["peephole", "gru"])
@pytest.mark.parametrize("length", [2, 9])
def test_the_tflite_steps_give_the_keras_models_probabilities(tmp_path, cell, length, exported):
    if cell == "peephole":
        model, out = exported
    else:  # two stacked GRU layers: a state per layer, in order
        model, out = tiny_model(cell), str(tmp_path / "gru.tflite")
        dinos_litert.export(model, {"vocabulary": VOCAB.get_config()}, out)
    classes = np.random.default_rng(length).integers(1, VOCAB.num_classes, length)
    tokens = np.concatenate([[data.END_ID], classes + 1])[None].astype("int32")  # start, then name characters
    expected = model.predict_on_batch(tokens)[0]
    step = litert.StepRunner(out)
    states = step.initial_states()
    for t, token in enumerate(np.concatenate([[data.END_CLASS], classes])):
        probs, states = step(token, states)
        np.testing.assert_allclose(probs, expected[t], atol=1e-5)


@pytest.mark.parametrize("temperature, top_k", [(1.0, 0), (0.7, 4)])
def test_fed_the_compiled_samplers_draws_the_numpy_sampler_picks_the_same_names(exported, temperature, top_k):
    import tensorflow as tf

    from apps.common.sampling import Sampler

    model, out = exported
    sampler = Sampler(step_model(model), end_token=data.END_CLASS)
    steps = 21
    for seed in range(4):
        compiled = sampler(tf.fill([1, 1], data.END_CLASS), steps, temperature, top_k, seed)
        expected = compiled["tokens"][0].numpy()
        # The compiled sampler's draw at step t: one stateless uniform per batch row, seeded by (seed, t); the
        # NumPy sampler computes the same ones from the seed.
        draws = [tf.random.stateless_uniform([1], seed=[seed, t])[0].numpy() for t in range(steps)]
        np.testing.assert_array_equal(litert.draws(seed, steps)[0], draws)
        tokens, log_probs = litert.sample(
            litert.StepRunner(out),
            [data.END_CLASS],
            steps,
            seed=seed,
            temperature=temperature,
            top_k=top_k,
            end_token=data.END_CLASS,
        )
        assert tokens == expected[: len(tokens)].tolist()
        assert log_probs.sum() == pytest.approx(compiled["log_probs"][0].numpy(), abs=1e-4)
        assert len(tokens) == steps or tokens[-1] == data.END_CLASS


def test_sample_names_decodes_with_the_class_file_and_scores_like_keras(exported):
    model, out = exported
    assert dinos_litert.read_classes(out) == ["", *VOCAB.characters]
    names = dinos_litert.sample_names(out, n=3, max_len=12, seed=5)
    assert len(names) == 3 and all(set(name) <= set(VOCAB.characters) and len(name) <= 12 for name, _, _ in names)
    # Each name's log-probability is the Keras model's for that name (end token included when it ended).
    for name, log_prob, ended in names:
        tokens = np.array([[data.END_ID, *VOCAB.encode(name)]], "int32")
        probs = model.predict_on_batch(tokens)[0]
        targets = [*np.array(VOCAB.encode(name)) - 1] + ([data.END_CLASS] if ended else [])
        expected = sum(np.log(probs[t, c]) for t, c in enumerate(targets))
        assert log_prob == pytest.approx(expected, abs=1e-4)


def test_dynamic_quantisation_shrinks_the_file_and_stays_within_its_tolerance(tmp_path):
    model = tiny_model("lstm", units=64)
    plain, small = str(tmp_path / "plain.tflite"), str(tmp_path / "small.tflite")
    dinos_litert.export(model, {"vocabulary": VOCAB.get_config()}, plain)
    dinos_litert.export(model, {"vocabulary": VOCAB.get_config()}, small, quantize="dynamic")
    assert os.path.getsize(small) < 0.45 * os.path.getsize(plain)
    assert "DEQUANTIZE" in litert.op_names(small) or "FULLY_CONNECTED" in litert.op_names(small)
    runners = litert.StepRunner(plain), litert.StepRunner(small)
    states = [runner.initial_states() for runner in runners]
    for token in [data.END_CLASS, 3, 5, 2, 7]:
        (p, states[0]), (q, states[1]) = (runner(token, s) for runner, s in zip(runners, states))
        # Stated tolerance: 8-bit weights move no probability by more than 0.01.
        assert np.abs(p - q).max() < 1e-2
        assert not np.array_equal(p, q)


def test_export_replaces_its_own_files_beside_it(tmp_path):
    bundle = save(tiny_model(), tmp_path)
    out = str(tmp_path / "dinos.tflite")
    for _ in range(2):  # the second export replaces the first one's .tflite and vocabulary
        assert main(["export", "--format", "litert", "--model", bundle, "--out", out]) == 0
    assert files.is_ours(out)
    assert litert.read_lines(litert.beside(out, litert.VOCABULARY)) == ["", *VOCAB.tokens[2:]]


def test_the_ops_are_built_in(exported):
    ops = litert.op_names(exported[1])
    assert {"FULLY_CONNECTED", "LOGISTIC", "TANH", "SOFTMAX"} <= set(ops) and "CUSTOM" not in ops


@keras.saving.register_keras_serializable(package="test_dinos_litert")
class CumprodHead(keras.layers.Dense):
    """A head through an op LiteRT has no built-in kernel for (`Cumprod`)."""

    def call(self, inputs):
        return keras.ops.cumprod(super().call(inputs), axis=-1)


@pytest.mark.parametrize("problem", ["suffix", "directory", "missing model", "savedmodel quantize", "cannot convert"])
def test_bad_requests_are_one_line_and_exit_2_writing_nothing(tmp_path, capsys, exported, problem):
    out = str(tmp_path / "out.tflite")
    bundle = os.path.dirname(exported[1])  # any existing directory that is not a bundle
    args = {
        "suffix": ["--out", str(tmp_path / "out.tfl")],
        "directory": ["--out", str(tmp_path)],
        "missing model": ["--model", str(tmp_path / "nope")],
        "savedmodel quantize": ["--format", "savedmodel", "--quantize", "dynamic"],
    }.get(problem, [])
    if problem == "cannot convert":
        tokens = keras.Input((None,), dtype="int32")
        x = keras.layers.Embedding(len(VOCAB), 4, name="embedding")(tokens)
        x = keras.layers.LSTM(4, return_sequences=True, name="recurrent_1")(x)
        model = keras.Model(tokens, CumprodHead(VOCAB.num_classes, name="head")(x))
        bundle = save(model, tmp_path)
    argv = ["export", "--format", "litert", "--model", bundle, "--out", out, *args]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert not os.path.exists(out) and not os.path.exists(str(tmp_path / "out.vocab.txt"))
    if problem == "cannot convert":
        assert "tf.Cumprod" in err


def test_train_writes_the_litert_model_into_the_bundle_with_its_checksums(bundle):
    from apps.common import runtime
    from apps.common.bundle import read_config

    config = read_config(bundle, "dinos")
    assert set(config["litert"]) == {"model.tflite", "model.vocab.txt"}
    found = runtime.litert_files(bundle, config)
    assert set(found) == {"model.tflite", "model.vocab.txt"}
    assert all(files.sha256_of(path) == config["litert"][name] for name, path in found.items())
    assert open(found["model.tflite"], "rb").read().find(files.MARKER.encode()) >= 0


def test_a_bundle_whose_model_does_not_convert_is_saved_without_litert_and_one_warning(tmp_path, capsys, monkeypatch):
    from apps.common.bundle import read_config, save_bundle

    def fail(*args, **kwargs):
        raise ValueError("no conversion here\nsecond line")

    monkeypatch.setattr(dinos_litert, "export", fail)
    path = str(tmp_path / "bundle")
    save_bundle(path, tiny_model(), {"app": "dinos", "vocabulary": VOCAB.get_config(), "max_len": 20}, litert=True)
    assert "litert" not in read_config(path, "dinos") and not os.path.exists(os.path.join(path, "model.tflite"))
    assert capsys.readouterr().err == (
        "warning: the bundle has no LiteRT model, so its commands run on Keras: no conversion here\n"
    )


def test_a_retrain_replaces_the_litert_files_and_an_altered_one_is_refused(tmp_path):
    from apps.common import runtime
    from apps.common.bundle import read_config, save_bundle
    from apps.common.errors import UsageError

    path = str(tmp_path / "bundle")
    config = {"app": "dinos", "vocabulary": VOCAB.get_config(), "max_len": 20}
    save_bundle(path, tiny_model(seed=0), config, litert=True)
    first = read_config(path)["litert"]["model.tflite"]
    save_bundle(path, tiny_model(seed=1), config, litert=True)
    config = read_config(path)
    assert config["litert"]["model.tflite"] != first
    assert files.sha256_of(os.path.join(path, "model.tflite")) == config["litert"]["model.tflite"]
    with open(os.path.join(path, "model.tflite"), "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(UsageError, match="does not match the config.json beside it"):
        runtime.litert_files(path, config)


def test_a_bundle_saved_again_without_litert_drops_the_checksums_it_was_given(tmp_path):
    from apps.common import runtime
    from apps.common.bundle import load_bundle, read_config, save_bundle

    first, second = str(tmp_path / "first"), str(tmp_path / "second")
    save_bundle(first, tiny_model(), {"app": "dinos", "vocabulary": VOCAB.get_config(), "max_len": 20}, litert=True)
    model, config = load_bundle(first)
    save_bundle(second, model, config)
    assert "litert" not in read_config(second) and runtime.litert_files(second, read_config(second)) == {}
