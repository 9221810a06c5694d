"""apps.common.litert: conversion to built-in ops only, and the NumPy sampler's draw rule."""

import numpy as np
import pytest

pytest.importorskip("ai_edge_litert")

from apps.common import litert
from apps.common.errors import UsageError


def test_an_op_outside_the_built_in_set_is_one_line_naming_it():
    import tensorflow as tf

    function = tf.function(
        lambda x: {"y": tf.math.cumprod(x, axis=1)}, input_signature=[tf.TensorSpec([1, 4], tf.float32, name="x")]
    )
    with pytest.raises(UsageError) as error:
        litert.convert(function, [])
    assert "\n" not in str(error.value) and "tf.Cumprod" in str(error.value)


def test_our_lstm_converts_to_a_while_loop_with_its_names_weights_and_free_time_axis():
    import tensorflow as tf

    import layers

    lstm = layers.LSTM(3, peephole=True, return_sequences=True)
    lstm.build((1, None, 2))

    @tf.function(input_signature=[tf.TensorSpec([1, None, 2], tf.float32, name="x")])
    def function(x):
        return {"y": lstm(x)}

    content = litert.convert(function, lstm.variables)
    runner = litert.interpreter(content).get_signature_runner(litert.SIGNATURE)
    for steps in (1, 6):
        x = np.random.default_rng(steps).normal(size=(1, steps, 2)).astype("float32")
        np.testing.assert_allclose(runner(x=x)["y"], lstm(x).numpy(), atol=1e-6)
    # The gates are in the WHILE loop's body, a subgraph of its own, and are listed too.
    assert {"WHILE", "LOGISTIC", "TANH"} <= set(litert.op_names(content))


def test_files_are_written_all_or_none(tmp_path):
    (tmp_path / "b.txt").mkdir()  # the second file cannot take its place
    with pytest.raises(UsageError):
        litert.write_all({str(tmp_path / "a.tflite"): b"\x00", str(tmp_path / "b.txt"): "x"})
    assert sorted(path.name for path in tmp_path.iterdir()) == ["b.txt"]
    written = litert.write_all({str(tmp_path / "a.tflite"): b"\x00", str(tmp_path / "c.txt"): litert.lines(["", "é"])})
    assert (tmp_path / "a.tflite").read_bytes() == b"\x00" and litert.read_lines(written[1]) == ["", "é"]


class _FixedStep:
    """A one-step model whose probabilities do not depend on the input: the draw rule alone is tested."""

    def __init__(self, probs):
        self.probs = np.asarray(probs, "float32")

    def initial_states(self):
        return []

    def __call__(self, token, states, conditions=None):
        return self.probs, states


def test_the_draw_is_the_inverse_cdf_of_one_minus_u_with_temperature_and_top_k():
    step = _FixedStep([0.1, 0.2, 0.3, 0.4])
    # 1 - u = 0.05 lies in the first token's mass, 0.35 in the third's (0.1 + 0.2 < 0.35 <= 0.6).
    assert litert.sample(step, [0], 2, uniforms=[0.95, 0.65])[0] == [0, 2]
    # top_k=2 keeps 0.3 and 0.4 (0.7 in all): (1 - 0.5) * 0.7 = 0.35 passes the 0.3, (1 - 0.6) * 0.7 does not.
    assert litert.sample(step, [0], 1, uniforms=[0.5], top_k=2)[0] == [3]
    assert litert.sample(step, [0], 1, uniforms=[0.6], top_k=2)[0] == [2]
    # A low temperature piles the mass on the likeliest token.
    assert litert.sample(step, [0], 1, uniforms=[0.9], temperature=0.01)[0] == [3]
    tokens, log_probs = litert.sample(step, [0], 5, uniforms=[0.0] * 5, end_token=3)
    assert tokens == [3] and log_probs == pytest.approx([np.log(0.4)])


def test_a_zero_probability_at_a_temperature_is_never_drawn_and_warns_nothing():
    import warnings

    class Zero:
        def initial_states(self):
            return []

        def __call__(self, token, states, conditions=None):
            return np.array([0.0, 0.5, 0.5], "float32"), []

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tokens, _ = litert.sample(Zero(), [0], 50, seed=3, temperature=0.5)
    assert 0 not in tokens and set(tokens) == {1, 2}
