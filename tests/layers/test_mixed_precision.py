"""Under a 16-bit mixed policy our cells keep c⟨t⟩ and the gate arithmetic in float32."""

import keras
import numpy as np
import pytest

from layers import GRU, LSTM

STEPS = 400
# Γu = σ(-4) ≈ 0.018 and c̃ = tanh(1): each step adds ≈ 0.0137 to c, with Γf = σ(20) ≈ 1 keeping it. Past
# c = 2 a bfloat16 c has a spacing of 2^-6 ≈ 0.0156, so a 16-bit state stops growing; a float32 one doesn't.
LSTM_BIAS = np.array([-4.0, 20.0, 1.0, 0.0], "float32")
EXPECTED_C = STEPS * (1 / (1 + np.exp(4.0))) * np.tanh(1.0)


@pytest.fixture
def mixed_bfloat16():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    yield
    keras.config.set_dtype_policy(previous)


def _integrating_lstm(layer):
    inputs = np.ones((1, STEPS, 1), "float32")
    layer(inputs)
    weights = [np.zeros_like(w) for w in layer.get_weights()]
    weights[2] = LSTM_BIAS
    layer.set_weights(weights)
    return layer(inputs)


@pytest.mark.parametrize("peephole", [False, True])
def test_lstm_cell_state_integrates_small_updates_under_bfloat16(mixed_bfloat16, peephole):
    outputs, a, c = _integrating_lstm(LSTM(1, peephole=peephole, return_state=True))
    assert outputs.dtype == "bfloat16" and c.dtype == "bfloat16"
    # Only the final cast to bfloat16 rounds: 8 significant bits.
    np.testing.assert_allclose(float(c[0, 0]), EXPECTED_C, rtol=2**-7)


def test_keras_lstm_loses_the_same_updates_in_bfloat16(mixed_bfloat16):
    """The failure our layers avoid, shown on keras.layers.LSTM with the same weights."""
    _, _, c = _integrating_lstm(keras.layers.LSTM(1, return_state=True))
    assert float(c[0, 0]) < 0.8 * EXPECTED_C


@pytest.mark.parametrize("reset_after", [False, True])
def test_gru_state_integrates_small_updates_under_bfloat16(mixed_bfloat16, reset_after):
    # Γu = σ(-4) mixes in c̃ = tanh(3) slowly: c⟨t⟩ = c̃ (1 - (1 - Γu)^t). Once Γu (c̃ - c) falls under half
    # the bfloat16 spacing below 1 (2^-9), a 16-bit state stalls near 0.89; a float32 one goes on to 0.995.
    layer = GRU(1, reset_after=reset_after, return_state=True)
    inputs = np.ones((1, STEPS, 1), "float32")
    layer(inputs)
    weights = [np.zeros_like(w) for w in layer.get_weights()]
    bias = np.array([-4.0, 0.0, 3.0], "float32")
    weights[2] = np.stack([bias, np.zeros(3, "float32")]) if reset_after else bias
    layer.set_weights(weights)
    _, c = layer(inputs)
    gamma_u = 1 / (1 + np.exp(4.0))
    expected = np.tanh(3.0) * (1 - (1 - gamma_u) ** STEPS)
    assert c.dtype == "bfloat16"
    np.testing.assert_allclose(float(c[0, 0]), expected, rtol=2**-7)
