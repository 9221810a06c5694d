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
        # The compiled sampler's draw at step t: one stateless uniform per batch row, seeded by (seed, t).
        draws = [tf.random.stateless_uniform([1], seed=[seed, t])[0].numpy() for t in range(steps)]
        tokens, log_probs = litert.sample(
            litert.StepRunner(out),
            [data.END_CLASS],
            steps,
            uniforms=draws,
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
