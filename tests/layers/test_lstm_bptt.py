"""The LSTM's fast path (`layers._lstm_bptt`, hand-written BPTT), unmasked: taken when `use_fused_bptt` asks for
it and it applies, and then the same outputs and gradients as `keras.layers.LSTM` (float32), `layers.reference`
(float64) and our generic loop; everything it does not cover falls back to the generic loop, with a warning.
Masks and recurrent dropout: `test_fused_bptt.py`."""

import warnings

import keras
import numpy as np
import pytest

from layers import LSTM, _lstm_bptt, reference

from layer_helpers import call_fn, count_calls, keras_and_our_lstm, randomize

B, T, D, H = 4, 6, 3, 5


@pytest.fixture
def fast_path_calls(monkeypatch):
    """Counts the calls of the fast path (it still runs: the spy forwards to it)."""
    return count_calls(monkeypatch, _lstm_bptt, "lstm_sequence")


def make_inputs(seed=0, dtype="float32", steps=T):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((B, steps, D)).astype(dtype)


SCENARIOS = {
    "sequences": dict(return_sequences=True),
    "last_output": dict(),
    "go_backwards": dict(return_sequences=True, go_backwards=True),
    "go_backwards_last": dict(go_backwards=True, return_state=True),
    "return_state": dict(return_sequences=True, return_state=True),
    "initial_state": dict(return_sequences=True, return_state=True, initial_state=True),
    "initial_state_backwards": dict(return_state=True, go_backwards=True, initial_state=True),
    "no_bias": dict(return_sequences=True, return_state=True, use_bias=False),
    "zero_peepholes": dict(return_sequences=True, return_state=True, peephole=True),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_fast_path_matches_keras_lstm_outputs_and_gradients(scenario, fast_path_calls, grads, assert_all_close):
    options = dict(SCENARIOS[scenario])
    with_initial_state = options.pop("initial_state", False)
    x = make_inputs()
    theirs, ours = keras_and_our_lstm(x, H, use_fused_bptt=True, **options)
    inputs = [x]
    if with_initial_state:
        rng = np.random.default_rng(7)
        inputs += [rng.standard_normal((B, H)).astype("float32") for _ in range(2)]
    expected = grads(call_fn(theirs), theirs.trainable_variables, inputs)
    actual = grads(call_fn(ours), ours.trainable_variables, inputs)
    assert len(fast_path_calls) == 1
    n_keras = len(theirs.trainable_variables)
    assert_all_close(actual[0], expected[0], atol=1e-5, names=["output", "a", "c"][: len(expected[0])])
    assert_all_close(
        actual[1][:n_keras], expected[1], atol=1e-5, names=["kernel", "recurrent_kernel", "bias"][:n_keras]
    )
    assert_all_close(actual[2], expected[2], atol=1e-5, names=["x", "a0", "c0"][: len(inputs)])
    # The loss reaches every weight and input (peepholes at p = 0 included).
    assert all(np.abs(g).max() > 1e-3 for g in actual[1] + actual[2])


@pytest.mark.parametrize("go_backwards", [False, True], ids=["forwards", "backwards"])
@pytest.mark.parametrize("peephole", [True, False], ids=["peephole", "plain"])
def test_fast_path_forward_and_bptt_equal_numpy_reference(
    peephole, go_backwards, fast_path_calls, float64, grads, assert_all_close
):
    """Nonzero peepholes, given initial states, gradients of every output and final state, in float64."""
    rng = np.random.default_rng(3)
    x = make_inputs(seed=4, dtype="float64")
    params = reference.init_params("lstm", D, H, rng, peephole=peephole)
    names = list(params)
    initial_state = tuple(rng.standard_normal((B, H)) for _ in range(2))
    output_weights = rng.standard_normal((B, T, H))
    state_weights = tuple(rng.standard_normal((B, H)) for _ in range(2))
    # go_backwards processes x from its end and returns the outputs in that order: the reference on the
    # reversed sequence computes the same.
    processed = x[:, ::-1] if go_backwards else x
    _, expected = reference.loss_and_grads(
        "lstm", processed, params, output_weights, state_weights, initial_state=initial_state, peephole=peephole
    )
    ref_outputs, ref_states, _ = reference.lstm_forward(
        processed, params, peephole=peephole, initial_state=initial_state
    )
    expected_dx = expected["x"][:, ::-1] if go_backwards else expected["x"]

    layer = LSTM(
        H,
        peephole=peephole,
        return_sequences=True,
        return_state=True,
        go_backwards=go_backwards,
        dtype="float64",
        use_fused_bptt=True,
    )
    layer.build(x.shape)
    layer.set_weights([params[n] for n in names])
    outputs, var_grads, input_grads = grads(
        call_fn(layer), layer.trainable_variables, [x, *initial_state], cotangents=[output_weights, *state_weights]
    )

    assert len(fast_path_calls) == 1
    assert all(o.dtype == np.float64 for o in outputs)
    assert_all_close(outputs, [ref_outputs, *ref_states], atol=1e-10, names=["outputs", "a", "c"])
    assert_all_close(var_grads, [expected[n] for n in names], atol=1e-10, names=names)
    assert_all_close(input_grads, [expected_dx, *expected["initial_state"]], atol=1e-10, names=["x", "a0", "c0"])


@pytest.mark.parametrize("peephole", [True, False], ids=["peephole", "plain"])
def test_fast_path_with_input_dropout_equals_generic_loop(peephole, fast_path_calls, grads, assert_all_close):
    """Same seed, same dropout mask: the fast path and the generic loop give the same outputs and gradients in
    training."""
    x = make_inputs()
    options = dict(peephole=peephole, dropout=0.5, seed=11, return_sequences=True, return_state=True)
    fast, generic = LSTM(H, use_fused_bptt=True, **options), LSTM(H, **options)
    fast.build(x.shape)
    generic.build(x.shape)
    randomize(fast)
    generic.set_weights(fast.get_weights())
    expected = grads(call_fn(generic, training=True), generic.trainable_variables, [x])
    assert not fast_path_calls
    actual = grads(call_fn(fast, training=True), fast.trainable_variables, [x])
    assert len(fast_path_calls) == 1
    assert_all_close(actual[0], expected[0], atol=1e-5, names=["output", "a", "c"])
    assert_all_close(actual[1], expected[1], atol=1e-5)
    assert_all_close(actual[2], expected[2], atol=1e-5, names=["x"])
    # Dropout really acted: some inputs got no gradient, and the outputs differ from inference.
    assert np.any(actual[2][0] == 0.0)
    assert np.abs(actual[0][0] - np.asarray(fast(x)[0])).max() > 1e-2


def test_fast_path_stateful_equals_keras_lstm(fast_path_calls, grads, assert_all_close):
    x = make_inputs(steps=2 * T)
    theirs, ours = keras_and_our_lstm(x[:, :T], H, use_fused_bptt=True, stateful=True, return_sequences=True)
    theirs.reset_state()
    ours.reset_state()
    np.testing.assert_allclose(ours(x[:, :T]), theirs(x[:, :T]), atol=1e-5)
    expected = grads(call_fn(theirs), theirs.trainable_variables, [x[:, T:]])
    actual = grads(call_fn(ours), ours.trainable_variables, [x[:, T:]])
    assert len(fast_path_calls) == 2
    assert_all_close(actual[0], expected[0], atol=1e-5)
    assert_all_close(actual[1], expected[1], atol=1e-5)
    assert_all_close(actual[2], expected[2], atol=1e-5)


@pytest.mark.parametrize("peephole, padded", [(False, False), (True, True)], ids=["plain", "peephole_padded"])
def test_jit_compiled_training_equals_generic_loop_and_keras_lstm(peephole, padded, fast_path_calls):
    """`fit` as the apps compile it (XLA, several steps per execution), with input dropout: the same weights
    after training as our generic loop and, without peepholes, as `keras.layers.LSTM`. Padded: zero steps
    masked by a Masking layer (holes and an empty row), with recurrent dropout too, as apps.dinos trains."""
    rng = np.random.default_rng(5)
    x = np.concatenate([make_inputs(steps=8), make_inputs(seed=1, steps=8)])
    if padded:
        x[:, 5:] = 0.0
        x[1, 2] = x[2] = 0.0
    y = rng.standard_normal((2 * B, 1)).astype("float32")
    dropout = dict(dropout=0.3, seed=2, recurrent_dropout=0.3 if padded else 0.0)

    def model(layer):
        inputs = keras.Input((8, D))
        sequences = keras.layers.Masking(0.0)(inputs) if padded else inputs
        return keras.Model(inputs, keras.layers.Dense(1)(layer(sequences)))

    fast = model(LSTM(H, peephole=peephole, use_fused_bptt=True, **dropout))
    generic = model(LSTM(H, peephole=peephole, **dropout))
    theirs = model(keras.layers.LSTM(H, **dropout))
    randomize(fast)
    generic.set_weights(fast.get_weights())
    initial = fast.get_weights()
    models = [fast, generic]
    if not peephole:
        theirs.set_weights(fast.get_weights())
        models.append(theirs)
    for m in models:
        m.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", jit_compile=True, steps_per_execution=2)
        m.fit(x, y, batch_size=B, epochs=3, shuffle=False, verbose=0)
    assert fast_path_calls
    trained = fast.get_weights()
    assert all(np.abs(w - w0).max() > 1e-4 for w, w0 in zip(trained, initial))  # every weight trained
    for other in models[1:]:
        for actual, expected in zip(trained, other.get_weights()):
            np.testing.assert_allclose(actual, expected, atol=1e-5)


# --- when the fast path is taken ------------------------------------------------------------------------


def test_by_default_the_fast_path_is_not_taken(fast_path_calls):
    """It pays only when the model is compiled with XLA, which Keras leaves off on a CPU."""
    LSTM(H)(make_inputs())
    assert not fast_path_calls


# --- what the fast path does not cover falls back to the generic loop, with a warning ----------------------


@pytest.fixture
def mixed_bfloat16():
    keras.config.set_dtype_policy("mixed_bfloat16")  # restored by conftest's autouse fixture


FALLBACKS = {
    "unroll": (dict(unroll=True), "unroll=True"),
    "activation": (dict(activation="relu"), "'relu'"),
    "recurrent_activation": (dict(recurrent_activation="hard_sigmoid"), "'hard_sigmoid'"),
}


@pytest.mark.parametrize("case", FALLBACKS)
def test_falls_back_to_the_generic_loop_and_says_so_once(case, fast_path_calls):
    layer_options, reason = FALLBACKS[case]
    x = make_inputs()
    layer = LSTM(H, peephole=True, return_sequences=True, use_fused_bptt=True, **layer_options)
    with pytest.warns(UserWarning, match=f"use_fused_bptt=True.*generic loop.*{reason}") as caught:  # noqa: PT031
        assert layer(x).shape == (B, T, H)
        layer(x, mask=np.ones((B, T), bool))
    assert len(caught) == 1
    assert not fast_path_calls


def test_no_warning_where_the_fused_path_was_not_asked_for_or_is_taken(fast_path_calls):
    x = make_inputs()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LSTM(H, activation="relu", unroll=True)(x)  # the default: the generic loop, nothing declined
        LSTM(H, use_fused_bptt=True, recurrent_dropout=0.5)(x, mask=np.ones((B, T), bool), training=True)
    assert len(fast_path_calls) == 1


def test_recurrent_dropout_at_inference_takes_the_fast_path(fast_path_calls):
    x = make_inputs()
    plain = LSTM(H, peephole=True, use_fused_bptt=True)
    dropped = LSTM(H, peephole=True, recurrent_dropout=0.5, use_fused_bptt=True)
    plain.build(x.shape)
    dropped.build(x.shape)
    randomize(plain)
    dropped.set_weights(plain.get_weights())
    np.testing.assert_array_equal(np.asarray(dropped(x, training=False)), np.asarray(plain(x)))
    assert len(fast_path_calls) == 2


def test_mixed_bfloat16_falls_back_to_the_generic_loop(mixed_bfloat16, fast_path_calls):
    layer = LSTM(H, peephole=True, return_state=True, use_fused_bptt=True)
    with pytest.warns(UserWarning, match="'mixed_bfloat16' policy computes in bfloat16"):
        outputs, _a, c = layer(make_inputs())
    assert outputs.dtype == "bfloat16" and c.dtype == "bfloat16"
    assert not fast_path_calls
