"""NumPy float64 reference of the forward pass and backpropagation through time (BPTT) of our recurrent cells.

This module is the test oracle for the Keras layers: it is deliberately written step by step, in the notation of
the Coursera Sequence Models course, with nothing but NumPy, so that it can be read against the equations.

Notation: x<t> input, a<t> hidden state (the output), c<t> memory cell, Γu update gate, Γf forget gate,
Γo output gate, Γr reset (relevance) gate, c̃<t> candidate cell, σ the logistic sigmoid, `*` elementwise product
and juxtaposition (`x W`) a matrix product. Arrays are batch-major: x is (B, T, D), states are (B, H).

Weights use the layouts of `keras.layers.SimpleRNNCell`, `LSTMCell` and `GRUCell`: `kernel` (D, k·H),
`recurrent_kernel` (H, k·H) and `bias`, with the k gate blocks side by side, each H columns wide.

Masking follows Keras with `zero_output_for_mask=True`: where `mask[b, t]` is False the step is skipped for
sample b: its states carry over unchanged and its output at t is zero.

Example:

>>> rng = np.random.default_rng(0)
>>> params = init_params("lstm", 3, 2, rng, peephole=True)
>>> x = rng.normal(size=(4, 5, 3))
>>> outputs, (a, c), cache = lstm_forward(x, params, peephole=True)
>>> grads = lstm_backward(np.ones_like(outputs), None, cache)
>>> grads["peephole_o"].shape
(2,)
"""

import numpy as np

KINDS = ("rnn", "lstm", "gru")

# Each kind's options and their defaults; any other keyword is a mistake worth an error.
_OPTIONS = {
    "rnn": {},
    "lstm": {
        "peephole": False,
        "proj_size": None,
        "proj_clip": None,
        "cell_clip": None,
        "forget_bias": 0.0,
        "layer_norm": False,
        "layer_norm_epsilon": 1e-3,
    },
    "gru": {"reset_gate": True, "reset_after": False, "layer_norm": False, "layer_norm_epsilon": 1e-3},
}


def sigmoid(z):
    """Logistic sigmoid σ(z) = 1 / (1 + exp(-z)), without overflow for large |z|.

    Args:
        z: array.

    Returns:
        σ(z), same shape as `z`.

    Example:

    >>> float(sigmoid(np.log(3.0)))
    0.75
    """
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _resolve(kind, options):
    if kind not in _OPTIONS:
        raise ValueError(f"kind must be one of {KINDS}; got {kind!r}")
    unknown = set(options) - set(_OPTIONS[kind])
    if unknown:
        raise TypeError(f"{kind!r} takes no option(s) {sorted(unknown)}; it takes {sorted(_OPTIONS[kind])}")
    opts = {**_OPTIONS[kind], **options}
    if kind == "gru" and opts["reset_after"] and not opts["reset_gate"]:
        raise ValueError("reset_after=True needs a reset gate; it is meaningless with reset_gate=False")
    if kind == "lstm" and opts["proj_clip"] is not None and not opts["proj_size"]:
        raise ValueError("proj_clip needs proj_size")
    return opts


def param_shapes(kind, input_dim, units, **options):
    """Shapes of the parameters of one cell.

    Args:
        kind: `"rnn"`, `"lstm"` or `"gru"`.
        input_dim: D, size of x<t>.
        units: H, size of a<t>.
        **options: the options of `lstm_forward` (lstm) or `gru_forward` (gru).

    Returns:
        Dict name -> shape, in the order of the Keras layer's weights: `kernel` (D, k·H), `recurrent_kernel`
        (H, k·H), `bias` ((k·H,), or (2, 3H) for a GRU with `reset_after=True`); for a peephole LSTM
        `peephole_u`, `peephole_f`, `peephole_o` (H,); with `proj_size=P` the recurrent kernel is (P, 4H) and
        `projection` (H, P) follows; with `layer_norm` the gains and offsets `kernel_norm_gamma`,
        `kernel_norm_beta`, `recurrent_norm_gamma`, `recurrent_norm_beta` (k·H,), and for the LSTM
        `cell_norm_gamma`, `cell_norm_beta` (H,). k is 1 (rnn), 4 (lstm: u, f, c, o), 3 (gru: u, r, c) or 2
        (gru with `reset_gate=False`: u, c).

    Example:

    >>> param_shapes("gru", 3, 2, reset_after=True)["bias"]
    (2, 6)
    """
    opts = _resolve(kind, options)
    blocks = {"rnn": 1, "lstm": 4, "gru": 3 if opts.get("reset_gate") else 2}[kind]
    shapes = {
        "kernel": (input_dim, blocks * units),
        "recurrent_kernel": (opts.get("proj_size") or units, blocks * units),
        "bias": (2, blocks * units) if opts.get("reset_after") else (blocks * units,),
    }
    if opts.get("peephole"):
        shapes.update({f"peephole_{g}": (units,) for g in "ufo"})
    if opts.get("proj_size"):
        shapes["projection"] = (units, opts["proj_size"])
    if opts.get("layer_norm"):
        for name in ("kernel", "recurrent") + (("cell",) if kind == "lstm" else ()):
            width = units if name == "cell" else blocks * units
            shapes.update({f"{name}_norm_gamma": (width,), f"{name}_norm_beta": (width,)})
    return shapes


def init_params(kind, input_dim, units, rng, scale=0.5, **options):
    """Random parameters, every entry (biases and peepholes included) drawn from N(0, scale²).

    Nonzero biases and peepholes are on purpose: a zero parameter hides layout mistakes in tests.

    Args:
        kind: `"rnn"`, `"lstm"` or `"gru"`.
        input_dim: D.
        units: H.
        rng: a `numpy.random.Generator`.
        scale: standard deviation of the entries.
        **options: as in `param_shapes`.

    Returns:
        Dict name -> float64 array with the shapes of `param_shapes`.

    Example:

    >>> p = init_params("rnn", 3, 2, np.random.default_rng(0))
    >>> {k: v.shape for k, v in p.items()}
    {'kernel': (3, 2), 'recurrent_kernel': (2, 2), 'bias': (2,)}
    """
    return {
        name: scale * rng.standard_normal(shape)
        for name, shape in param_shapes(kind, input_dim, units, **options).items()
    }


# --- one time step, forward and backward ------------------------------------------------------------------
# A step function maps (x<t>, states<t-1>) to (states<t>, step cache); its backward maps the gradient of the
# loss w.r.t. states<t> to the gradients w.r.t. states<t-1> and x<t>, adding the parameter gradients to `grads`.


def _rnn_step(x_t, states, params, opts):
    (a_prev,) = states
    a = np.tanh(x_t @ params["kernel"] + a_prev @ params["recurrent_kernel"] + params["bias"])
    return (a,), (x_t, a_prev, a)


def _rnn_step_backward(d_states, step_cache, params, opts, grads):
    (da,) = d_states
    x_t, a_prev, a = step_cache
    dz = da * (1.0 - a**2)
    grads["kernel"] += x_t.T @ dz
    grads["recurrent_kernel"] += a_prev.T @ dz
    grads["bias"] += dz.sum(axis=0)
    return (dz @ params["recurrent_kernel"].T,), dz @ params["kernel"].T


def _peepholes(params, opts, units):
    if opts["peephole"]:
        return params["peephole_u"], params["peephole_f"], params["peephole_o"]
    return (np.zeros(units),) * 3


def _layer_norm(v, gamma, beta, eps, blocks=1):
    """LN(v) = (v - μ)/√(σ² + ε)*γ + β over the last axis, or over each of its `blocks` equal parts."""
    parts = v.reshape(v.shape[:-1] + (blocks, -1))
    mean = parts.mean(axis=-1, keepdims=True)
    inv_std = 1.0 / np.sqrt(parts.var(axis=-1, keepdims=True) + eps)
    v_hat = ((parts - mean) * inv_std).reshape(v.shape)
    return v_hat * gamma + beta, (v_hat, inv_std, blocks)


def _layer_norm_backward(dy, norm_cache, gamma, grads, prefix, columns):
    v_hat, inv_std, blocks = norm_cache
    grads[f"{prefix}_gamma"][columns] += (dy * v_hat).sum(axis=0)
    grads[f"{prefix}_beta"][columns] += dy.sum(axis=0)
    split = lambda a: a.reshape(a.shape[:-1] + (blocks, -1))  # noqa: E731
    d_hat, hat = split(dy * gamma), split(v_hat)
    n = hat.shape[-1]
    dv = inv_std / n * (n * d_hat - d_hat.sum(axis=-1, keepdims=True) - hat * (d_hat * hat).sum(axis=-1, keepdims=True))
    return dv.reshape(dy.shape)


def _normed(v, params, opts, prefix, blocks=1, columns=slice(None)):
    """`v` layer-normalised with the `prefix` gain and offset (their `columns`) when `layer_norm` is on;
    returns (value, cache or None)."""
    if not opts["layer_norm"]:
        return v, None
    gamma, beta = params[f"{prefix}_gamma"][columns], params[f"{prefix}_beta"][columns]
    value, norm_cache = _layer_norm(v, gamma, beta, opts["layer_norm_epsilon"], blocks)
    return value, (norm_cache, prefix, columns)


def _normed_backward(dy, cache, params, grads):
    """dL/dv from dL/d(`_normed`(v)), adding the gain and offset gradients to `grads`."""
    if cache is None:
        return dy
    norm_cache, prefix, columns = cache
    return _layer_norm_backward(dy, norm_cache, params[f"{prefix}_gamma"][columns], grads, prefix, columns)


def _clip(v, limit):
    """v clipped to [-limit, limit] and where it was inside (where the gradient passes); no limit: v, None."""
    if limit is None:
        return v, None
    return np.clip(v, -limit, limit), np.abs(v) < limit


def _lstm_step(x_t, states, params, opts):
    a_prev, c_prev = states
    units = c_prev.shape[-1]
    zx, norm_x = _normed(x_t @ params["kernel"], params, opts, "kernel_norm")
    zh, norm_h = _normed(a_prev @ params["recurrent_kernel"], params, opts, "recurrent_norm")
    z_u, z_f, z_c, z_o = np.split(zx + zh + params["bias"], 4, axis=-1)
    p_u, p_f, p_o = _peepholes(params, opts, units)
    g_u = sigmoid(z_u + p_u * c_prev)
    g_f = sigmoid(z_f + opts["forget_bias"] + p_f * c_prev)
    c_tilde = np.tanh(z_c)
    c, inside_c = _clip(g_u * c_tilde + g_f * c_prev, opts["cell_clip"])
    c, norm_c = _normed(c, params, opts, "cell_norm")
    g_o = sigmoid(z_o + p_o * c)
    tanh_c = np.tanh(c)
    m = g_o * tanh_c
    a, inside_a = m, None
    if opts["proj_size"]:
        a, inside_a = _clip(m @ params["projection"], opts["proj_clip"])
    return (a, c), (
        x_t,
        a_prev,
        c_prev,
        g_u,
        g_f,
        c_tilde,
        c,
        g_o,
        tanh_c,
        m,
        inside_a,
        inside_c,
        norm_x,
        norm_h,
        norm_c,
    )


def _lstm_step_backward(d_states, step_cache, params, opts, grads):
    da, dc = d_states
    (x_t, a_prev, c_prev, g_u, g_f, c_tilde, c, g_o, tanh_c, m, inside_a, inside_c, norm_x, norm_h, norm_c) = step_cache
    p_u, p_f, p_o = _peepholes(params, opts, c.shape[-1])
    dm = da
    if opts["proj_size"]:
        if inside_a is not None:
            da = da * inside_a
        grads["projection"] += m.T @ da
        dm = da @ params["projection"].T
    dz_o = dm * tanh_c * g_o * (1.0 - g_o)
    # c<t> reaches the loss through the next step (dc), through a<t> = Γo*tanh(c<t>) and through Γo's peephole.
    dc = dc + dm * g_o * (1.0 - tanh_c**2) + dz_o * p_o
    dc = _normed_backward(dc, norm_c, params, grads)
    if inside_c is not None:
        dc = dc * inside_c
    dz_u = dc * c_tilde * g_u * (1.0 - g_u)
    dz_f = dc * c_prev * g_f * (1.0 - g_f)
    dz_c = dc * g_u * (1.0 - c_tilde**2)
    dc_prev = dc * g_f + dz_u * p_u + dz_f * p_f
    dz = np.concatenate([dz_u, dz_f, dz_c, dz_o], axis=-1)
    grads["bias"] += dz.sum(axis=0)
    dzx = _normed_backward(dz, norm_x, params, grads)
    dzh = _normed_backward(dz, norm_h, params, grads)
    grads["kernel"] += x_t.T @ dzx
    grads["recurrent_kernel"] += a_prev.T @ dzh
    if opts["peephole"]:
        grads["peephole_u"] += (dz_u * c_prev).sum(axis=0)
        grads["peephole_f"] += (dz_f * c_prev).sum(axis=0)
        grads["peephole_o"] += (dz_o * c).sum(axis=0)
    return (dzh @ params["recurrent_kernel"].T, dc_prev), dzx @ params["kernel"].T


def _gru_step(x_t, states, params, opts):
    (c_prev,) = states
    kernel, recurrent, bias = params["kernel"], params["recurrent_kernel"], params["bias"]
    units = c_prev.shape[-1]
    blocks = 3 if opts["reset_gate"] else 2
    xw, norm_x = _normed(x_t @ kernel, params, opts, "kernel_norm", blocks)
    g_r = h_c = norm_hc = None
    if not opts["reset_gate"]:
        ch, norm_h = _normed(c_prev @ recurrent, params, opts, "recurrent_norm", 2)
        z_u, z_c = np.split(xw + ch + bias, 2, axis=-1)
    elif opts["reset_after"]:
        x_u, x_r, x_c = np.split(xw + bias[0], 3, axis=-1)
        ch, norm_h = _normed(c_prev @ recurrent, params, opts, "recurrent_norm", 3)
        h_u, h_r, h_c = np.split(ch + bias[1], 3, axis=-1)
        g_r = sigmoid(x_r + h_r)
        z_u, z_c = x_u + h_u, x_c + g_r * h_c
    else:
        x_u, x_r, x_c = np.split(xw + bias, 3, axis=-1)
        ch, norm_h = _normed(
            c_prev @ recurrent[:, : 2 * units], params, opts, "recurrent_norm", 2, slice(None, 2 * units)
        )
        h_u, h_r = np.split(ch, 2, axis=-1)
        g_r = sigmoid(x_r + h_r)
        h_c, norm_hc = _normed(
            (g_r * c_prev) @ recurrent[:, 2 * units :], params, opts, "recurrent_norm", 1, slice(2 * units, None)
        )
        z_u, z_c = x_u + h_u, x_c + h_c
    g_u = sigmoid(z_u)
    c_tilde = np.tanh(z_c)
    c = g_u * c_tilde + (1.0 - g_u) * c_prev
    return (c,), (x_t, c_prev, g_u, g_r, h_c, c_tilde, norm_x, norm_h, norm_hc)


def _gru_step_backward(d_states, step_cache, params, opts, grads):
    (dc,) = d_states
    x_t, c_prev, g_u, g_r, h_c, c_tilde, norm_x, norm_h, norm_hc = step_cache
    kernel, recurrent = params["kernel"], params["recurrent_kernel"]
    units = c_prev.shape[-1]
    dz_u = dc * (c_tilde - c_prev) * g_u * (1.0 - g_u)
    dz_c = dc * g_u * (1.0 - c_tilde**2)
    dc_prev = dc * (1.0 - g_u)
    if not opts["reset_gate"]:
        dz = np.concatenate([dz_u, dz_c], axis=-1)
        grads["bias"] += dz.sum(axis=0)
        dh = _normed_backward(dz, norm_h, params, grads)
        grads["recurrent_kernel"] += c_prev.T @ dh
        dc_prev = dc_prev + dh @ recurrent.T
    elif opts["reset_after"]:
        dz_r = dz_c * h_c * g_r * (1.0 - g_r)
        dz = np.concatenate([dz_u, dz_r, dz_c], axis=-1)
        # Γr scales the recurrent candidate term c<t-1> U_c + b_h_c, so only that block's gradient carries Γr.
        dh = np.concatenate([dz_u, dz_r, dz_c * g_r], axis=-1)
        grads["bias"][0] += dz.sum(axis=0)
        grads["bias"][1] += dh.sum(axis=0)
        dh = _normed_backward(dh, norm_h, params, grads)
        grads["recurrent_kernel"] += c_prev.T @ dh
        dc_prev = dc_prev + dh @ recurrent.T
    else:
        u_ur, u_c = recurrent[:, : 2 * units], recurrent[:, 2 * units :]
        dh_c = _normed_backward(dz_c, norm_hc, params, grads)
        d_reset_c = dh_c @ u_c.T  # gradient w.r.t. Γr*c<t-1>
        dz_r = d_reset_c * c_prev * g_r * (1.0 - g_r)
        dz = np.concatenate([dz_u, dz_r, dz_c], axis=-1)
        grads["bias"] += dz.sum(axis=0)
        dh_ur = _normed_backward(np.concatenate([dz_u, dz_r], axis=-1), norm_h, params, grads)
        # Each block of U multiplies a different input: c<t-1> for u and r, Γr*c<t-1> for c.
        grads["recurrent_kernel"] += np.concatenate([c_prev.T @ dh_ur, (g_r * c_prev).T @ dh_c], axis=-1)
        dc_prev = dc_prev + d_reset_c * g_r + dh_ur @ u_ur.T
    dzx = _normed_backward(dz, norm_x, params, grads)
    grads["kernel"] += x_t.T @ dzx
    return (dc_prev,), dzx @ kernel.T


_STEPS = {
    "rnn": (_rnn_step, _rnn_step_backward, 1),
    "lstm": (_lstm_step, _lstm_step_backward, 2),
    "gru": (_gru_step, _gru_step_backward, 1),
}


# --- the scan over time ------------------------------------------------------------------------------------


def _state_sizes(kind, params, opts):
    """Sizes of the states, the output's first: (P or H, H) for an LSTM, whose U is (P or H, 4H); (H,) else."""
    recurrent_shape = np.shape(params["recurrent_kernel"])
    if kind == "lstm":
        return recurrent_shape[0], recurrent_shape[1] // 4
    return (recurrent_shape[0],)


def _forward(kind, x, params, mask, initial_state, options):
    opts = _resolve(kind, options)
    step, _, n_states = _STEPS[kind]
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"x must be (batch, time, features); got shape {x.shape}")
    batch, steps, input_dim = x.shape
    sizes = _state_sizes(kind, params, opts)
    shapes = param_shapes(kind, input_dim, sizes[-1], **opts)
    if set(params) != set(shapes):
        raise ValueError(f"{kind} params with {opts} must be exactly {sorted(shapes)}; got {sorted(params)}")
    params = {name: np.asarray(value, dtype=np.float64) for name, value in params.items()}
    for name, shape in shapes.items():
        if params[name].shape != shape:
            raise ValueError(f"params[{name!r}] must have shape {shape}; got {params[name].shape}")
    mask = np.ones((batch, steps), bool) if mask is None else np.asarray(mask, dtype=bool)
    if mask.shape != (batch, steps):
        raise ValueError(f"mask must have shape {(batch, steps)}; got {mask.shape}")
    if initial_state is None:
        states = tuple(np.zeros((batch, size)) for size in sizes)
    else:
        states = tuple(np.asarray(s, dtype=np.float64) for s in initial_state)
        if len(states) != n_states or any(s.shape != (batch, size) for s, size in zip(states, sizes)):
            raise ValueError(f"initial_state must be {n_states} array(s) of shapes {[(batch, size) for size in sizes]}")
    initial = states
    outputs = np.zeros((batch, steps, sizes[0]))
    step_caches = []
    for t in range(steps):
        new_states, step_cache = step(x[:, t], states, params, opts)
        keep = mask[:, t, None]
        states = tuple(np.where(keep, new, old) for new, old in zip(new_states, states))
        outputs[:, t] = np.where(keep, new_states[0], 0.0)
        step_caches.append(step_cache)
    cache = {
        "kind": kind,
        "opts": opts,
        "params": params,
        "mask": mask,
        "x_shape": x.shape,
        "initial_state": initial,
        "steps": step_caches,
    }
    return outputs, states, cache


def _backward(kind, d_outputs, d_final_states, cache):
    if cache["kind"] != kind:
        raise ValueError(f"this is {kind}'s backward; the cache comes from {cache['kind']}_forward")
    _, step_backward, n_states = _STEPS[kind]
    params, opts, mask = cache["params"], cache["opts"], cache["mask"]
    batch, steps, _ = cache["x_shape"]
    sizes = _state_sizes(kind, params, opts)
    d_outputs = np.zeros((batch, steps, sizes[0])) if d_outputs is None else np.asarray(d_outputs, np.float64)
    if d_outputs.shape != (batch, steps, sizes[0]):
        raise ValueError(f"d_outputs must have shape {(batch, steps, sizes[0])}; got {d_outputs.shape}")
    if d_final_states is None:
        d_final_states = (None,) * n_states
    if len(d_final_states) != n_states:
        raise ValueError(f"d_final_states must hold {n_states} array(s) (or None)")
    d_states = tuple(
        np.zeros((batch, size)) if d is None else np.asarray(d, np.float64) for d, size in zip(d_final_states, sizes)
    )
    grads = {name: np.zeros_like(value) for name, value in params.items()}
    dx = np.zeros(cache["x_shape"])
    for t in reversed(range(steps)):
        keep = mask[:, t, None]
        # A skipped step passes its state (and that state's gradient) straight through to t-1.
        d_new = [np.where(keep, d, 0.0) for d in d_states]
        d_new[0] = d_new[0] + np.where(keep, d_outputs[:, t], 0.0)
        d_prev, dx[:, t] = step_backward(tuple(d_new), cache["steps"][t], params, opts, grads)
        d_states = tuple(dp + np.where(keep, 0.0, d) for dp, d in zip(d_prev, d_states))
    grads["x"] = dx
    grads["initial_state"] = d_states
    return grads


def rnn_forward(x, params, mask=None, initial_state=None):
    """Forward pass of the basic RNN (`keras.layers.SimpleRNN` with tanh).

    a<t> = tanh(x<t> W + a<t-1> U + b), a<0> = 0 unless given; the output at t is a<t>.

    Args:
        x: (B, T, D) inputs.
        params: `kernel` W (D, H), `recurrent_kernel` U (H, H), `bias` b (H,).
        mask: optional (B, T) booleans; False skips the step (state carried over, output zero).
        initial_state: optional `(a<0>,)`, a 1-tuple of a (B, H) array.

    Returns:
        `(outputs, (a<T>,), cache)`: outputs (B, T, H); a<T> the state after the last unmasked step; cache for
        `rnn_backward`.

    Example:

    >>> p = {"kernel": np.ones((1, 1)), "recurrent_kernel": np.zeros((1, 1)), "bias": np.zeros(1)}
    >>> y, (a,), _ = rnn_forward(np.zeros((1, 2, 1)), p)
    >>> y.tolist()
    [[[0.0], [0.0]]]
    """
    return _forward("rnn", x, params, mask, initial_state, {})


def lstm_forward(
    x,
    params,
    peephole=False,
    mask=None,
    initial_state=None,
    proj_size=None,
    proj_clip=None,
    cell_clip=None,
    forget_bias=0.0,
    layer_norm=False,
    layer_norm_epsilon=1e-3,
):
    """Forward pass of the LSTM, optionally with peepholes, projection, clipping and layer normalisation.

        z = LN_x(x<t> W) + LN_a(a<t-1> U) + b, split into column blocks z_u, z_f, z_c, z_o (H wide each)
        Γu = σ(z_u + p_u*c<t-1>),  Γf = σ(z_f + forget_bias + p_f*c<t-1>),  c̃<t> = tanh(z_c)
        c<t> = LN_c(clip(Γu*c̃<t> + Γf*c<t-1>, cell_clip))
        Γo = σ(z_o + p_o*c<t>)            (the output gate peeks at the new cell)
        a<t> = clip((Γo*tanh(c<t>)) W_proj, proj_clip)
    Without peepholes p_u = p_f = p_o = 0; without `proj_size` there is no W_proj; a missing clip is none;
    without `layer_norm` every LN is the identity, with it LN(v) = (v - mean(v))/√(var(v) + ε)*γ + β over
    the last axis (all 4H columns of x W and of a U at once), as TF Addons' `LayerNormLSTMCell`.
    a<0> = c<0> = 0 unless given; the output at t is a<t>. Without options the layout and equations are those of
    `keras.layers.LSTMCell` (whose gate order i, f, c, o is u, f, c, o).

    Args:
        x: (B, T, D) inputs.
        params: `kernel` W (D, 4H), `recurrent_kernel` U (P or H, 4H), `bias` b (4H,), and when `peephole`,
            `peephole_u`, `peephole_f`, `peephole_o` (H,) each, and the entries `param_shapes` lists for
            `proj_size` and `layer_norm`.
        peephole: whether the gates peek at the cell; must agree with the peephole entries of `params`.
        mask: optional (B, T) booleans; False skips the step (a and c carried over, output zero).
        initial_state: optional `(a<0>, c<0>)`, (B, P or H) and (B, H).
        proj_size: P, the size of a<t> (the LSTMP of Sak et al. 2014), or None.
        proj_clip, cell_clip: positive limits, or None.
        forget_bias: a constant added to the forget gate's pre-activation (TF1's `forget_bias`).
        layer_norm: whether to layer-normalise (Ba et al. 2016); `layer_norm_epsilon` is its ε.

    Returns:
        `(outputs, (a<T>, c<T>), cache)`: outputs (B, T, P or H); the states after the last unmasked step; cache
        for `lstm_backward`.

    Example:

    >>> p = init_params("lstm", 1, 1, np.random.default_rng(0))
    >>> p = {k: 0 * v for k, v in p.items()}  # all gates 0.5, candidate 0
    >>> _, (a, c), _ = lstm_forward(np.zeros((1, 1, 1)), p, initial_state=(np.zeros((1, 1)), np.ones((1, 1))))
    >>> float(c[0, 0])  # c<1> = 0.5*0 + 0.5*1
    0.5
    """
    return _forward(
        "lstm",
        x,
        params,
        mask,
        initial_state,
        {
            "peephole": peephole,
            "proj_size": proj_size,
            "proj_clip": proj_clip,
            "cell_clip": cell_clip,
            "forget_bias": forget_bias,
            "layer_norm": layer_norm,
            "layer_norm_epsilon": layer_norm_epsilon,
        },
    )


def gru_forward(
    x,
    params,
    reset_gate=True,
    reset_after=False,
    mask=None,
    initial_state=None,
    layer_norm=False,
    layer_norm_epsilon=1e-3,
):
    """Forward pass of the GRU in the course's form (the state is c<t> and a<t> = c<t>).

    Full GRU, `reset_after=False` (gate blocks u, r, c; bias (3H,)):
        Γu = σ(x<t> W_u + c<t-1> U_u + b_u),  Γr = σ(x<t> W_r + c<t-1> U_r + b_r)
        c̃<t> = tanh(x<t> W_c + (Γr*c<t-1>) U_c + b_c)
    Full GRU, `reset_after=True` (cuDNN style; bias (2, 3H): row 0 input bias b_i, row 1 recurrent bias b_h):
        Γu = σ(x<t> W_u + b_i_u + c<t-1> U_u + b_h_u),  Γr = σ(x<t> W_r + b_i_r + c<t-1> U_r + b_h_r)
        c̃<t> = tanh(x<t> W_c + b_i_c + Γr*(c<t-1> U_c + b_h_c))
    Simplified GRU, `reset_gate=False` (gate blocks u, c; bias (2H,)):
        Γu = σ(x<t> W_u + c<t-1> U_u + b_u),  c̃<t> = tanh(x<t> W_c + c<t-1> U_c + b_c)
    In every form:
        c<t> = Γu*c̃<t> + (1 - Γu)*c<t-1>,  a<t> = c<t>
    c<0> = 0 unless given; the output at t is a<t>.
    With `layer_norm`, every matrix product above is layer-normalised gate block by gate block before the
    bias is added (or Γr applied): x<t> W_k becomes LN(x<t> W_k; γx_k, βx_k) and c<t-1> U_k (or
    (Γr*c<t-1>) U_c) becomes LN(c<t-1> U_k; γh_k, βh_k), LN(v) = (v - mean(v))/√(var(v) + ε)*γ + β over the
    block's H columns.

    Note `keras.layers.GRUCell` has the same layout but the opposite update convention,
    h<t> = z*h<t-1> + (1 - z)*h̃<t>; it equals this GRU with the u blocks of W, U and b negated (1 - σ(z) = σ(-z)).

    Args:
        x: (B, T, D) inputs.
        params: `kernel` W (D, kH), `recurrent_kernel` U (H, kH), `bias` b, shapes as above (k = 3, or 2 without
            the reset gate).
        reset_gate: False for the course's simplified GRU, which has no Γr.
        reset_after: whether Γr is applied after the recurrent matmul; must be False when `reset_gate` is False.
        mask: optional (B, T) booleans; False skips the step (c carried over, output zero).
        initial_state: optional `(c<0>,)`, a 1-tuple of a (B, H) array.
        layer_norm: whether to layer-normalise each gate block (Ba et al. 2016); `layer_norm_epsilon` is its ε.

    Returns:
        `(outputs, (c<T>,), cache)`: outputs (B, T, H); the state after the last unmasked step; cache for
        `gru_backward`.

    Example:

    >>> p = {k: 0 * v for k, v in init_params("gru", 1, 1, np.random.default_rng(0)).items()}
    >>> _, (c,), _ = gru_forward(np.zeros((1, 1, 1)), p, initial_state=(np.ones((1, 1)),))
    >>> float(c[0, 0])  # Γu = 0.5, c̃ = 0: c<1> = 0.5*0 + 0.5*1
    0.5
    """
    return _forward(
        "gru",
        x,
        params,
        mask,
        initial_state,
        {
            "reset_gate": reset_gate,
            "reset_after": reset_after,
            "layer_norm": layer_norm,
            "layer_norm_epsilon": layer_norm_epsilon,
        },
    )


_BACKWARD_DOC = """Backpropagation through time for `{kind}_forward`.

    Gradients of a scalar loss L, given dL/d(outputs) and dL/d(final states), through every step (masked steps
    pass the state gradient straight to the previous step).

    Args:
        d_outputs: (B, T, H) dL/d(outputs), or None for zeros.
        d_final_states: a tuple like the final states of `{kind}_forward` ({states}), each dL/d(state) of shape
            (B, H) or None for zeros; or None for all zeros.
        cache: the cache returned by `{kind}_forward`.

    Returns:
        Dict of float64 arrays: dL/d(param) for every entry of `params`, same name and shape; `x`, dL/dx (B, T, D);
        `initial_state`, the tuple ({initial}), each (B, H).

    Example:

    >>> x = np.random.default_rng(0).normal(size=(2, 3, 4))
    >>> outputs, states, cache = {kind}_forward(x, init_params("{kind}", 4, 5, np.random.default_rng(1)))
    >>> grads = {kind}_backward(np.ones_like(outputs), None, cache)  # L = sum(outputs)
    >>> grads["x"].shape
    (2, 3, 4)
    """


def rnn_backward(d_outputs, d_final_states, cache):
    return _backward("rnn", d_outputs, d_final_states, cache)


def lstm_backward(d_outputs, d_final_states, cache):
    return _backward("lstm", d_outputs, d_final_states, cache)


def gru_backward(d_outputs, d_final_states, cache):
    return _backward("gru", d_outputs, d_final_states, cache)


rnn_backward.__doc__ = _BACKWARD_DOC.format(kind="rnn", states="(a<T>,)", initial="dL/d(a<0>),")
lstm_backward.__doc__ = _BACKWARD_DOC.format(kind="lstm", states="(a<T>, c<T>)", initial="dL/d(a<0>), dL/d(c<0>)")
gru_backward.__doc__ = _BACKWARD_DOC.format(kind="gru", states="(c<T>,)", initial="dL/d(c<0>),")

_FORWARD = {"rnn": rnn_forward, "lstm": lstm_forward, "gru": gru_forward}
_BACKWARD = {"rnn": rnn_backward, "lstm": lstm_backward, "gru": gru_backward}


def loss_and_grads(kind, x, params, output_weights, state_weights=None, *, mask=None, initial_state=None, **options):
    """A fixed linear loss of the outputs and final states, and its gradients.

        L = Σ_{b,t,h} R[b,t,h]*y[b,t,h] + Σ_k Σ_{b,h} S_k[b,h]*s_k[b,h]
    where y is the (B, T, H) output sequence (zero at masked steps), s_k the k-th final state (a<T>, then c<T> for
    an LSTM; c<T> for a GRU) and R = `output_weights`, S_k = `state_weights[k]`. Being linear in the outputs,
    dL/dy = R and dL/ds_k = S_k, so any Keras layer with `return_sequences=True, return_state=True` can build the
    same L with `tf.GradientTape`:
    `L = reduce_sum(y * R) + sum(reduce_sum(s * S) for s, S in zip(states, state_weights))`.

    Args:
        kind: `"rnn"`, `"lstm"` or `"gru"`.
        x: (B, T, D) inputs.
        params: the cell's parameters (see `param_shapes`).
        output_weights: R, (B, T, H).
        state_weights: None (no state term), or a tuple with one (B, H) array or None per final state.
        mask: optional (B, T) booleans.
        initial_state: optional tuple of (B, H) initial states.
        **options: those of `lstm_forward` (lstm) or `gru_forward` (gru).

    Returns:
        `(L, grads)`: L a float; grads as from `*_backward` (every parameter, `x`, `initial_state`).

    Example:

    >>> rng = np.random.default_rng(0)
    >>> x, R = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 3, 5))
    >>> p = init_params("gru", 4, 5, rng, reset_after=True)
    >>> L, grads = loss_and_grads("gru", x, p, R, reset_after=True)
    >>> grads["bias"].shape
    (2, 15)
    """
    opts = _resolve(kind, options)
    outputs, final_states, cache = _FORWARD[kind](x, params, mask=mask, initial_state=initial_state, **opts)
    output_weights = np.asarray(output_weights, dtype=np.float64)
    loss = float(np.sum(outputs * output_weights))
    if state_weights is not None:
        loss += sum(float(np.sum(s * w)) for s, w in zip(final_states, state_weights) if w is not None)
    return loss, _BACKWARD[kind](output_weights, state_weights, cache)
