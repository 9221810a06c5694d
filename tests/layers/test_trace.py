"""`LSTM.trace`/`GRU.trace`: every step's gates and states against `layers.reference`, and against the layer."""

import numpy as np
import pytest

from layers import GRU, LSTM, reference

B, T, D, H = 3, 5, 3, 4
MASK = np.arange(T)[None, :] < np.array([[5], [3], [1]])  # a full row and two padded ones

LSTM_CASES = {
    "plain": {},
    "peephole": dict(peephole=True),
    "proj-peephole-forget-bias": dict(proj_size=2, peephole=True, forget_bias=0.7),
    "proj-clips": dict(proj_size=2, proj_clip=0.2, cell_clip=0.3),
    "layer-norm-peephole-clip": dict(layer_norm=True, peephole=True, cell_clip=0.3),
    "layer-norm-proj-forget-bias": dict(layer_norm=True, proj_size=3, proj_clip=0.25, forget_bias=1.0),
}
GRU_CASES = {
    f"{form}{'-layer-norm' if norm else ''}": dict(options, layer_norm=norm)
    for form, options in {
        "course": {},
        "reset-after": dict(reset_after=True),
        "simplified": dict(reset_gate=False),
    }.items()
    for norm in (False, True)
}
# Where each gate sits in the reference's per-step cache (`_lstm_step`, `_gru_step`).
CACHED = {
    "lstm": {"gamma_u": 3, "gamma_f": 4, "c_tilde": 5, "gamma_o": 7},
    "gru": {"gamma_u": 2, "gamma_r": 3, "c_tilde": 5},
}


def reference_trace(kind, x, params, mask, initial_state, options):
    """The reference's gates at every step (from its forward cache) and its states after every step (the final
    states of the sequence up to that step), NaN gates where the mask skips the step."""
    forward = {"lstm": reference.lstm_forward, "gru": reference.gru_forward}[kind]
    _, _, cache = forward(x, params, mask=mask, initial_state=initial_state, **options)
    names = [g for g in CACHED[kind] if g != "gamma_r" or options.get("reset_gate", True)]
    trace = {g: np.stack([step[CACHED[kind][g]] for step in cache["steps"]], axis=1) for g in names}
    for g in names:
        trace[g][~mask] = np.nan
    prefixes = [
        forward(x[:, : t + 1], params, mask=mask[:, : t + 1], initial_state=initial_state, **options)[1]
        for t in range(T)
    ]
    for k, name in enumerate(("a", "c") if kind == "lstm" else ("c",)):
        trace[name] = np.stack([states[k] for states in prefixes], axis=1)
    return trace


def layer_and_reference(kind, options, masked, seed):
    rng = np.random.default_rng(seed)
    params = reference.init_params(kind, D, H, rng, **options)
    x = rng.standard_normal((B, T, D))
    sizes = (options.get("proj_size") or H, H) if kind == "lstm" else (H,)
    initial_state = tuple(rng.standard_normal((B, size)) for size in sizes)
    mask = MASK if masked else np.ones((B, T), bool)
    layer = (LSTM if kind == "lstm" else GRU)(H, return_sequences=True, return_state=True, **options)
    layer.build(x.shape)
    layer.set_weights(list(params.values()))
    expected = reference_trace(kind, x, params, mask, initial_state, options)
    traced = layer.trace(x.astype("float32"), initial_state=list(initial_state), mask=mask if masked else None)
    return layer, traced, expected, (x.astype("float32"), list(initial_state), mask)


def check(kind, options, masked, seed):
    layer, traced, expected, (x, initial_state, mask) = layer_and_reference(kind, options, masked, seed)
    assert sorted(traced) == sorted(expected)
    for name, value in expected.items():
        assert traced[name].shape == value.shape, name
        np.testing.assert_allclose(traced[name], value, atol=1e-5, rtol=0, err_msg=name)
    outputs, *states = layer(x, initial_state=initial_state, mask=mask if masked else None)
    output_name = "a" if kind == "lstm" else "c"
    np.testing.assert_allclose(traced[output_name][:, -1], states[0], atol=1e-6, rtol=0)
    if not masked:
        np.testing.assert_allclose(traced[output_name], outputs, atol=1e-6, rtol=0)


@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "masked"])
@pytest.mark.parametrize("case", LSTM_CASES)
def test_lstm_trace_equals_reference_gates_and_states_and_layer_output(case, masked):
    check("lstm", LSTM_CASES[case], masked, seed=list(LSTM_CASES).index(case))


@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "masked"])
@pytest.mark.parametrize("case", GRU_CASES)
def test_gru_trace_equals_reference_gates_and_states_and_layer_output(case, masked):
    check("gru", GRU_CASES[case], masked, seed=list(GRU_CASES).index(case))


@pytest.mark.parametrize("layer_class", [LSTM, GRU])
def test_go_backwards_trace_is_the_forward_trace_of_the_reversed_sequence_in_input_order(layer_class):
    x = np.random.default_rng(0).standard_normal((B, T, D)).astype("float32")
    forward, backward = layer_class(H), layer_class(H, go_backwards=True)
    forward.build(x.shape)
    backward.build(x.shape)
    backward.set_weights(forward.get_weights())
    reversed_trace = forward.trace(x[:, ::-1])
    for name, value in backward.trace(x).items():
        np.testing.assert_allclose(value, reversed_trace[name][:, ::-1], atol=1e-6, err_msg=name)
    output_name = "a" if layer_class is LSTM else "c"
    np.testing.assert_allclose(backward.trace(x)[output_name][:, 0], backward(x), atol=1e-6)


def test_stateful_layer_is_traced_from_its_states_and_keeps_them():
    x = np.random.default_rng(1).standard_normal((B, T, D)).astype("float32")
    layer = LSTM(H, stateful=True, return_state=True)
    layer(x)
    states = [np.array(s) for s in layer.states]
    traced = layer.trace(x)
    for before, after in zip(states, layer.states):
        np.testing.assert_array_equal(after, before)
    _, a, c = layer(x)
    np.testing.assert_allclose(traced["a"][:, -1], a, atol=1e-6)
    np.testing.assert_allclose(traced["c"][:, -1], c, atol=1e-6)
