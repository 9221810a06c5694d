"""Proves `layers.reference` right: gradients against central finite differences, forward passes against
hand-derived numbers, masking against running the unmasked steps alone."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from layers import reference as ref

# name -> (kind, options): every variant the reference supports.
VARIANTS = {
    "rnn": ("rnn", {}),
    "lstm": ("lstm", {"peephole": False}),
    "peephole": ("lstm", {"peephole": True}),
    "gru": ("gru", {"reset_after": False}),
    "gru-reset-after": ("gru", {"reset_after": True}),
    "gru-simple": ("gru", {"reset_gate": False}),
}
N_STATES = {"rnn": 1, "lstm": 2, "gru": 1}
FORWARD = {"rnn": ref.rnn_forward, "lstm": ref.lstm_forward, "gru": ref.gru_forward}
BACKWARD = {"rnn": ref.rnn_backward, "lstm": ref.lstm_backward, "gru": ref.gru_backward}
B, T, D, H = 2, 4, 3, 2
# Sample 0 skips a middle step, sample 1 its first and last: the carried-over state and the final state of a
# sequence that ends masked both get exercised.
MASK = np.array([[True, False, True, True], [False, True, True, False]])
LN2, LN3 = np.log(2.0), np.log(3.0)  # σ(±ln 3) = 3/4, 1/4 and tanh(ln 2) = 3/5 keep hand arithmetic exact


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def linear_loss(kind, options, x, params, R, S, mask, initial_state):
    """L = Σ outputs*R + Σ_k final_state_k*S_k straight from the forward pass (independent of loss_and_grads)."""
    outputs, states, _ = FORWARD[kind](x, params, mask=mask, initial_state=initial_state, **options)
    return np.sum(outputs * R) + sum(np.sum(s * w) for s, w in zip(states, S))


def numeric_grad(f, value, eps=1e-5):
    """Central differences of the scalar f w.r.t. every entry of the array `value`."""
    grad = np.zeros_like(value)
    for i in np.ndindex(value.shape):
        plus, minus = value.copy(), value.copy()
        plus[i] += eps
        minus[i] -= eps
        grad[i] = (f(plus) - f(minus)) / (2 * eps)
    return grad


def one_step(kind, options, params, x, initial_state):
    """Runs one step on a batch of one; returns the new states and the gradients of L = a<1> (c<1> for a GRU)."""
    x = np.asarray(x, float).reshape(1, 1, -1)
    initial_state = tuple(np.asarray(s, float).reshape(1, -1) for s in initial_state)
    _, states, cache = FORWARD[kind](x, params, initial_state=initial_state, **options)
    d_states = (np.ones((1, states[0].shape[-1])),) + (None,) * (len(states) - 1)
    return states, BACKWARD[kind](None, d_states, cache)


@pytest.mark.parametrize("with_initial_state", [False, True], ids=["zero-state", "given-state"])
@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "masked"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_gradients_match_finite_differences(variant, masked, with_initial_state):
    kind, options = VARIANTS[variant]
    rng = np.random.default_rng([list(VARIANTS).index(variant), masked, with_initial_state])
    params = ref.init_params(kind, D, H, rng, **options)
    x = rng.normal(size=(B, T, D))
    R = rng.normal(size=(B, T, H))
    S = tuple(rng.normal(size=(B, H)) for _ in range(N_STATES[kind]))
    mask = MASK if masked else None
    initial = tuple(rng.normal(size=(B, H)) for _ in S) if with_initial_state else None

    _, grads = ref.loss_and_grads(kind, x, params, R, S, mask=mask, initial_state=initial, **options)

    assert set(grads) == set(params) | {"x", "initial_state"}
    for name, value in params.items():

        def loss(v, name=name):
            return linear_loss(kind, options, x, {**params, name: v}, R, S, mask, initial)

        np.testing.assert_allclose(grads[name], numeric_grad(loss, value), rtol=1e-6, atol=1e-8, err_msg=name)

    def loss(v):
        return linear_loss(kind, options, v, params, R, S, mask, initial)

    np.testing.assert_allclose(grads["x"], numeric_grad(loss, x), rtol=1e-6, atol=1e-8, err_msg="x")
    # Zero initial states still have a gradient: take it at zeros.
    initial = initial or tuple(np.zeros((B, H)) for _ in S)
    assert len(grads["initial_state"]) == len(initial)
    for k, state in enumerate(initial):

        def loss(v, k=k):
            return linear_loss(kind, options, x, params, R, S, mask, initial[:k] + (v,) + initial[k + 1 :])

        np.testing.assert_allclose(
            grads["initial_state"][k], numeric_grad(loss, state), rtol=1e-6, atol=1e-8, err_msg=f"initial_state[{k}]"
        )


@pytest.mark.parametrize("variant", VARIANTS)
def test_loss_and_grads_loss_is_the_documented_linear_loss(variant):
    kind, options = VARIANTS[variant]
    rng = np.random.default_rng(7)
    params = ref.init_params(kind, D, H, rng, **options)
    x, R = rng.normal(size=(B, T, D)), rng.normal(size=(B, T, H))
    S = tuple(rng.normal(size=(B, H)) for _ in range(N_STATES[kind]))
    outputs, states, _ = FORWARD[kind](x, params, mask=MASK, **options)

    loss, _ = ref.loss_and_grads(kind, x, params, R, S, mask=MASK, **options)
    loss_without_states, grads = ref.loss_and_grads(kind, x, params, R, mask=MASK, **options)

    assert loss == pytest.approx(np.sum(outputs * R) + sum(np.sum(s * w) for s, w in zip(states, S)), rel=1e-12)
    assert loss_without_states == pytest.approx(np.sum(outputs * R), rel=1e-12)
    np.testing.assert_array_equal(
        grads["x"], BACKWARD[kind](R, None, FORWARD[kind](x, params, mask=MASK, **options)[2])["x"]
    )


def test_rnn_one_step_by_hand():
    params = {"kernel": np.array([[0.5]]), "recurrent_kernel": np.array([[-1.0]]), "bias": np.array([0.1])}
    (a,), grads = one_step("rnn", {}, params, x=[2.0], initial_state=[[0.3]])
    # z = x W + a<0> U + b = 2*0.5 + 0.3*(-1) + 0.1 = 0.8; a<1> = tanh(0.8).
    # L = a<1>: dL/dz = 1 - tanh(0.8)^2; dW = dz*x, dU = dz*a<0>, db = dz, dx = dz*W, da<0> = dz*U.
    dz = 1.0 - np.tanh(0.8) ** 2
    assert a[0, 0] == pytest.approx(np.tanh(0.8), rel=1e-12)
    assert grads["kernel"][0, 0] == pytest.approx(2.0 * dz)
    assert grads["recurrent_kernel"][0, 0] == pytest.approx(0.3 * dz)
    assert grads["bias"][0] == pytest.approx(dz)
    assert grads["x"][0, 0, 0] == pytest.approx(0.5 * dz)
    assert grads["initial_state"][0][0, 0] == pytest.approx(-dz)


def test_lstm_gate_blocks_are_u_f_c_o_by_hand():
    # Zero weights; the bias alone sets each gate to a different value, so any block mix-up changes the answer.
    params = {"kernel": np.zeros((1, 4)), "recurrent_kernel": np.zeros((1, 4)), "bias": np.array([0.0, LN3, LN2, -LN3])}
    (a, c), grads = one_step("lstm", {}, params, x=[5.0], initial_state=([[9.0]], [[0.4]]))
    # Γu = σ(0) = 1/2, Γf = σ(ln 3) = 3/4, c̃ = tanh(ln 2) = 3/5, Γo = σ(-ln 3) = 1/4.
    # c<1> = 1/2*3/5 + 3/4*0.4 = 0.3 + 0.3 = 0.6; a<1> = 1/4*tanh(0.6).
    assert c[0, 0] == pytest.approx(0.6, rel=1e-12)
    assert a[0, 0] == pytest.approx(0.25 * np.tanh(0.6), rel=1e-12)
    # L = a<1>: dc<1> = Γo*(1 - tanh(0.6)^2); dc<0> = dc<1>*Γf.
    # dz_u = dc*c̃*Γu(1-Γu), dz_f = dc*c<0>*Γf(1-Γf), dz_c = dc*Γu*(1-c̃^2), dz_o = tanh(0.6)*Γo(1-Γo).
    dc = 0.25 * (1.0 - np.tanh(0.6) ** 2)
    np.testing.assert_allclose(
        grads["bias"], [dc * 0.6 * 0.25, dc * 0.4 * 3 / 16, dc * 0.5 * 0.64, np.tanh(0.6) * 3 / 16], rtol=1e-12
    )
    assert grads["initial_state"][1][0, 0] == pytest.approx(0.75 * dc, rel=1e-12)
    assert grads["initial_state"][0][0, 0] == 0.0  # U = 0: a<0> does not matter


def test_lstm_zero_weights_halve_the_cell_each_step():
    params = {name: np.zeros(shape) for name, shape in ref.param_shapes("lstm", D, H).items()}
    x = np.random.default_rng(0).normal(size=(1, 3, D))
    outputs, (a, c), _ = ref.lstm_forward(x, params, initial_state=(np.full((1, H), 7.0), np.full((1, H), 2.0)))
    # Every gate is σ(0) = 1/2 and c̃ = tanh(0) = 0, so c<t> = c<t-1>/2: 1, 1/2, 1/4; a<t> = tanh(c<t>)/2.
    cells = np.array([1.0, 0.5, 0.25])
    np.testing.assert_allclose(outputs[0], np.repeat(0.5 * np.tanh(cells)[:, None], H, axis=1), rtol=1e-12)
    np.testing.assert_allclose(c, 0.25, rtol=1e-12)
    np.testing.assert_allclose(a, outputs[:, -1], rtol=1e-12)


def test_lstm_peepholes_by_hand():
    # p_u, p_f see c<t-1>; p_o sees c<t>. Distinct values, so swapping peepholes or the cell Γo sees shows.
    params = {
        "kernel": np.zeros((1, 4)),
        "recurrent_kernel": np.zeros((1, 4)),
        "bias": np.array([0.0, 0.0, LN2, 0.0]),
        "peephole_u": np.array([1.0]),
        "peephole_f": np.array([-1.0]),
        "peephole_o": np.array([2.0]),
    }
    (a, c), grads = one_step("lstm", {"peephole": True}, params, x=[0.0], initial_state=([[0.0]], [[LN3]]))
    # Γu = σ(1*ln 3) = 3/4, Γf = σ(-ln 3) = 1/4, c̃ = 3/5: c<1> = 3/4*3/5 + 1/4*ln 3 = 0.45 + ln(3)/4.
    # Γo = σ(2*c<1>) (with c<0> it would be σ(2 ln 3) = 9/10); a<1> = Γo*tanh(c<1>).
    c1 = 0.45 + LN3 / 4
    g_o = sigmoid(2 * c1)
    assert c[0, 0] == pytest.approx(c1, rel=1e-12)
    assert a[0, 0] == pytest.approx(g_o * np.tanh(c1), rel=1e-12)
    # L = a<1>: dz_o = tanh(c<1>)*Γo(1-Γo) and dp_o = dz_o*c<1>.
    assert grads["peephole_o"][0] == pytest.approx(np.tanh(c1) * g_o * (1 - g_o) * c1, rel=1e-12)


def test_gru_reset_before_by_hand():
    params = {
        "kernel": np.zeros((1, 3)),
        "recurrent_kernel": np.array([[0.0, 0.0, 2.0]]),
        "bias": np.array([LN3, -LN3, 0.0]),
    }
    (c,), _ = one_step("gru", {}, params, x=[1.0], initial_state=[[0.5]])
    # Γu = σ(ln 3) = 3/4, Γr = σ(-ln 3) = 1/4, c̃ = tanh((Γr*c<0>) U_c) = tanh(1/4*0.5*2) = tanh(0.25).
    # c<1> = Γu*c̃ + (1-Γu)*c<0> = 3/4*tanh(0.25) + 1/4*0.5 (Keras' GRUCell, Γu on c<0>, would differ).
    assert c[0, 0] == pytest.approx(0.75 * np.tanh(0.25) + 0.125, rel=1e-12)


def test_gru_reset_after_by_hand():
    # Γu's bias sits in the input row, Γr's in the recurrent row, so both rows must reach the gates.
    params = {
        "kernel": np.zeros((1, 3)),
        "recurrent_kernel": np.array([[0.0, 0.0, 2.0]]),
        "bias": np.array([[LN3, 0.0, 0.1], [0.0, -LN3, 0.4]]),
    }
    (c,), grads = one_step("gru", {"reset_after": True}, params, x=[1.0], initial_state=[[0.5]])
    # Γu = 3/4, Γr = 1/4; c̃ = tanh(b_i_c + Γr*(c<0> U_c + b_h_c)) = tanh(0.1 + 1/4*(1 + 0.4)) = tanh(0.45).
    # c<1> = 3/4*tanh(0.45) + 1/4*0.5.
    assert c[0, 0] == pytest.approx(0.75 * np.tanh(0.45) + 0.125, rel=1e-12)
    # L = c<1>: dz_c = Γu*(1 - c̃^2); db_i_c = dz_c while db_h_c = Γr*dz_c.
    dz_c = 0.75 * (1 - np.tanh(0.45) ** 2)
    assert grads["bias"][0, 2] == pytest.approx(dz_c, rel=1e-12)
    assert grads["bias"][1, 2] == pytest.approx(0.25 * dz_c, rel=1e-12)


def test_gru_without_reset_gate_by_hand():
    params = {
        "kernel": np.array([[0.0, 1.0]]),
        "recurrent_kernel": np.array([[0.0, 1.0]]),
        "bias": np.array([-LN3, 0.0]),
    }
    (c,), grads = one_step("gru", {"reset_gate": False}, params, x=[0.2], initial_state=[[0.5]])
    # Γu = σ(-ln 3) = 1/4, c̃ = tanh(x W_c + c<0> U_c) = tanh(0.2 + 0.5) = tanh(0.7).
    # c<1> = 1/4*tanh(0.7) + 3/4*0.5.
    assert c[0, 0] == pytest.approx(0.25 * np.tanh(0.7) + 0.375, rel=1e-12)
    # L = c<1>: dc<0> = (1 - Γu) + Γu*(1 - c̃^2)*U_c (U_u = 0, so Γu does not depend on c<0>).
    assert grads["initial_state"][0][0, 0] == pytest.approx(0.75 + 0.25 * (1 - np.tanh(0.7) ** 2), rel=1e-12)


@pytest.mark.parametrize("variant", VARIANTS)
def test_fully_masked_sequence_passes_state_and_gradient_through(variant):
    kind, options = VARIANTS[variant]
    rng = np.random.default_rng(3)
    params = ref.init_params(kind, D, H, rng, **options)
    x = rng.normal(size=(B, T, D))
    initial = tuple(rng.normal(size=(B, H)) for _ in range(N_STATES[kind]))
    d_final = tuple(rng.normal(size=(B, H)) for _ in initial)

    outputs, states, cache = FORWARD[kind](x, params, mask=np.zeros((B, T), bool), initial_state=initial, **options)
    grads = BACKWARD[kind](rng.normal(size=(B, T, H)), d_final, cache)

    np.testing.assert_array_equal(outputs, 0.0)
    for state, start, d_start, d_end in zip(states, initial, grads["initial_state"], d_final):
        np.testing.assert_array_equal(state, start)
        np.testing.assert_array_equal(d_start, d_end)
    for name in params:
        np.testing.assert_array_equal(grads[name], 0.0)
    np.testing.assert_array_equal(grads["x"], 0.0)


@settings(max_examples=30, deadline=None)
@given(
    variant=st.sampled_from(sorted(VARIANTS)),
    mask=st.lists(st.booleans(), min_size=T, max_size=T),
    seed=st.integers(0, 2**16),
)
def test_masked_run_equals_running_only_the_kept_steps(variant, mask, seed):
    kind, options = VARIANTS[variant]
    rng = np.random.default_rng(seed)
    params = ref.init_params(kind, D, H, rng, **options)
    x, R = rng.normal(size=(1, T, D)), rng.normal(size=(1, T, H))
    S = tuple(rng.normal(size=(1, H)) for _ in range(N_STATES[kind]))
    initial = tuple(rng.normal(size=(1, H)) for _ in S)
    keep = np.array(mask)

    outputs, states, _ = FORWARD[kind](x, params, mask=keep[None], initial_state=initial, **options)
    _, grads = ref.loss_and_grads(kind, x, params, R, S, mask=keep[None], initial_state=initial, **options)
    kept_outputs, kept_states, _ = FORWARD[kind](x[:, keep], params, initial_state=initial, **options)
    _, kept_grads = ref.loss_and_grads(kind, x[:, keep], params, R[:, keep], S, initial_state=initial, **options)

    np.testing.assert_allclose(outputs[:, keep], kept_outputs, rtol=1e-12)
    np.testing.assert_array_equal(outputs[:, ~keep], 0.0)
    for state, kept_state in zip(states, kept_states):
        np.testing.assert_allclose(state, kept_state, rtol=1e-12)
    for name in params:
        np.testing.assert_allclose(grads[name], kept_grads[name], rtol=1e-10, atol=1e-14, err_msg=name)
    np.testing.assert_allclose(grads["x"][:, keep], kept_grads["x"], rtol=1e-10, atol=1e-14)
    np.testing.assert_array_equal(grads["x"][:, ~keep], 0.0)
    for d, kept_d in zip(grads["initial_state"], kept_grads["initial_state"]):
        np.testing.assert_allclose(d, kept_d, rtol=1e-10, atol=1e-14)


def test_gru_without_reset_gate_rejects_reset_after():
    with pytest.raises(ValueError, match="reset_after"):
        ref.param_shapes("gru", D, H, reset_gate=False, reset_after=True)
    params = ref.init_params("gru", D, H, np.random.default_rng(0), reset_gate=False)
    with pytest.raises(ValueError, match="reset_after"):
        ref.gru_forward(np.zeros((B, T, D)), params, reset_gate=False, reset_after=True)


def test_params_must_match_the_variant():
    rng = np.random.default_rng(0)
    x = np.zeros((B, T, D))
    peephole_params = ref.init_params("lstm", D, H, rng, peephole=True)
    with pytest.raises(ValueError, match="peephole_u"):
        ref.lstm_forward(x, peephole_params)  # peephole entries but peephole=False: refuse to ignore them
    with pytest.raises(ValueError, match="peephole_u"):
        ref.lstm_forward(x, ref.init_params("lstm", D, H, rng), peephole=True)
    with pytest.raises(ValueError, match="bias"):
        ref.gru_forward(x, ref.init_params("gru", D, H, rng), reset_after=True)  # (3H,) bias, (2, 3H) needed
    with pytest.raises(TypeError, match="peephole"):
        ref.param_shapes("gru", D, H, peephole=True)
    _, _, cache = ref.gru_forward(x, ref.init_params("gru", D, H, rng))
    with pytest.raises(ValueError, match="cache"):
        ref.lstm_backward(None, None, cache)


# --- the options: projection, clipping, forget bias, layer normalisation ------------------------------------

# name -> (kind, options), pairs and triples of options; HO units and a projection to PO (!= HO) catch layouts.
OPTION_VARIANTS = {
    "lstm-proj-peephole-forget-bias": ("lstm", {"proj_size": 2, "peephole": True, "forget_bias": 0.7}),
    "lstm-proj-clips": ("lstm", {"proj_size": 2, "proj_clip": 0.2, "cell_clip": 0.3}),
    "lstm-layer-norm-peephole-clip": ("lstm", {"layer_norm": True, "peephole": True, "cell_clip": 0.3}),
    "lstm-layer-norm-proj-forget-bias": ("lstm", {"layer_norm": True, "proj_size": 2, "forget_bias": 1.0}),
    "gru-layer-norm": ("gru", {"layer_norm": True}),
    "gru-layer-norm-reset-after": ("gru", {"layer_norm": True, "reset_after": True}),
    "gru-layer-norm-simple": ("gru", {"layer_norm": True, "reset_gate": False}),
}
HO = 3


def option_sizes(kind, options):
    """The state sizes (the output's first) of a variant with HO units."""
    return (options.get("proj_size") or HO, HO) if kind == "lstm" else (HO,)


@pytest.mark.parametrize("variant", OPTION_VARIANTS)
def test_options_gradients_match_finite_differences(variant):
    kind, options = OPTION_VARIANTS[variant]
    rng = np.random.default_rng(list(OPTION_VARIANTS).index(variant))
    params = ref.init_params(kind, D, HO, rng, **options)
    sizes = option_sizes(kind, options)
    x, R = rng.normal(size=(B, T, D)), rng.normal(size=(B, T, sizes[0]))
    S = tuple(rng.normal(size=(B, size)) for size in sizes)
    initial = tuple(rng.normal(size=(B, size)) for size in sizes)

    outputs, states, _ = FORWARD[kind](x, params, mask=MASK, initial_state=initial, **options)
    _, grads = ref.loss_and_grads(kind, x, params, R, S, mask=MASK, initial_state=initial, **options)

    assert outputs.shape == (B, T, sizes[0]) and [s.shape[-1] for s in states] == list(sizes)
    for clip in ("cell_clip", "proj_clip"):
        if clip in options:  # the clip is reached, so its gradient (zero outside) is exercised
            unclipped, _, _ = FORWARD[kind](x, params, mask=MASK, initial_state=initial, **{**options, clip: None})
            assert np.abs(unclipped - outputs).max() > 1e-3, clip
    for name, value in params.items():

        def loss(v, name=name):
            return linear_loss(kind, options, x, {**params, name: v}, R, S, MASK, initial)

        np.testing.assert_allclose(grads[name], numeric_grad(loss, value), rtol=1e-6, atol=1e-8, err_msg=name)

    def loss(v):
        return linear_loss(kind, options, v, params, R, S, MASK, initial)

    np.testing.assert_allclose(grads["x"], numeric_grad(loss, x), rtol=1e-6, atol=1e-8, err_msg="x")
    for k, state in enumerate(initial):

        def loss(v, k=k):
            return linear_loss(kind, options, x, params, R, S, MASK, initial[:k] + (v,) + initial[k + 1 :])

        np.testing.assert_allclose(
            grads["initial_state"][k], numeric_grad(loss, state), rtol=1e-6, atol=1e-8, err_msg=f"initial_state[{k}]"
        )


def test_lstm_options_one_step_by_hand():
    # D = 1, H = 2, P = 1; x = 1, a<0> = 0, c<0> = (1, -1), b = 0. x W = (-3, -1, 1, 3, 0, 0, 0, 0): mean 0,
    # variance 20/8 = 2.5, so LN_x gives x W/√(2.5 + ε); LN_a of the zero a U is its offset β = 0.
    kernel = np.array([[-3.0, -1.0, 1.0, 3.0, 0.0, 0.0, 0.0, 0.0]])
    params = {
        "kernel": kernel,
        "recurrent_kernel": np.zeros((1, 8)),
        "bias": np.zeros(8),
        "projection": np.array([[2.0], [-1.0]]),
        "kernel_norm_gamma": np.ones(8),
        "kernel_norm_beta": np.zeros(8),
        "recurrent_norm_gamma": np.ones(8),
        "recurrent_norm_beta": np.zeros(8),
        "cell_norm_gamma": np.array([1.0, 2.0]),
        "cell_norm_beta": np.array([0.5, 0.0]),
    }
    options = dict(proj_size=1, forget_bias=1.0, cell_clip=0.9, layer_norm=True, layer_norm_epsilon=1e-3)
    _, (a, c), _ = ref.lstm_forward(
        np.ones((1, 1, 1)), params, initial_state=(np.zeros((1, 1)), np.array([[1.0, -1.0]])), **options
    )

    z_u, z_f, z_c, z_o = np.split(kernel[0] / np.sqrt(2.5 + 1e-3), 4)
    cell = np.clip(sigmoid(z_u) * np.tanh(z_c) + sigmoid(z_f + 1.0) * np.array([1.0, -1.0]), -0.9, 0.9)
    # LN over the two units: (c - mean)/√(var + ε) is ±d/√(d² + ε) with d half their difference.
    d = (cell[0] - cell[1]) / 2
    normed = np.array([d, -d]) / np.sqrt(d**2 + 1e-3) * np.array([1.0, 2.0]) + np.array([0.5, 0.0])
    np.testing.assert_allclose(c[0], normed, rtol=1e-12)
    m = sigmoid(z_o) * np.tanh(normed)
    np.testing.assert_allclose(a[0], [2 * m[0] - m[1]], rtol=1e-12)


def test_lstm_forget_bias_is_a_constant_on_the_forget_block():
    rng = np.random.default_rng(5)
    params = ref.init_params("lstm", D, H, rng, peephole=True)
    x = rng.normal(size=(B, T, D))
    shifted = {**params, "bias": params["bias"] + np.repeat([0.0, 0.7, 0.0, 0.0], H)}

    outputs, states, _ = ref.lstm_forward(x, params, peephole=True, forget_bias=0.7)
    expected, expected_states, _ = ref.lstm_forward(x, shifted, peephole=True)

    np.testing.assert_allclose(outputs, expected, rtol=1e-12)
    np.testing.assert_allclose(states[1], expected_states[1], rtol=1e-12)


def test_proj_clip_needs_proj_size():
    with pytest.raises(ValueError, match="proj_clip"):
        ref.param_shapes("lstm", D, H, proj_clip=1.0)
