"""The LSTM's fast path: a whole sequence forward with a hand-written backpropagation through time.

Autodiff of a time loop keeps, and walks back through, every small op of every step, and computes the
weight gradients step by step: T small matmuls for dW, T for dU. Here everything that does not depend on the
previous step runs outside the loops, as one large op over all T·B rows: the input projection x·W + b before
the forward loop; the local derivatives of every step before the backward loop, which is left with a few
multiplies and one matmul per step for the carried da, dc; the weight and input gradients after it. On a CPU that is what makes our LSTM
train faster than `keras.layers.LSTM` (see `benchmarks/layers.py`); the numbers are the same.

Only `keras.ops`: it runs on TensorFlow and JAX alike.
"""

from keras import ops


def lstm_sequence(x, a0, c0, kernel, recurrent_kernel, bias=None, peepholes=None, go_backwards=False,
                  return_sequences=True):
    """Runs an LSTM (tanh activation, sigmoid gates) over `x`, with the gradient of `_lstm_bptt`.

    Args:
        x: inputs (batch, time, features), input dropout already applied.
        a0, c0: initial states (batch, units).
        kernel, recurrent_kernel, bias: W (features, 4·units), U (units, 4·units), b (4·units) or None,
            gate order u (input), f, c, o as `LSTMCell`; variables or tensors.
        peepholes: None, or the three peephole vectors (p_u, p_f, p_o) of size units.
        go_backwards: process the sequence from its last step to its first.
        return_sequences: whether `outputs` holds every step or only the last.

    Returns:
        `(last_output, outputs, [a, c])` exactly as `keras.src.backend.rnn` returns them: `outputs` is
        (batch, time, units) in processing order, or (batch, 1, units) without `return_sequences`.
    """
    # tf.custom_gradient refuses functions that read variables unless told about them (`variables=`, a
    # TensorFlow-only argument); as plain tensor arguments the weights get their gradients like any input.
    weights = [ops.copy(kernel), ops.copy(recurrent_kernel)]
    if bias is not None:
        weights.append(ops.copy(bias))
    if peepholes is not None:
        weights.extend(ops.copy(p) for p in peepholes)
    xt = ops.transpose(x, (1, 0, 2))  # time major: the loops scan over the first axis
    if go_backwards:
        xt = ops.flip(xt, axis=0)
    a_and_c = _lstm_bptt(bias is not None, peepholes is not None)(xt, a0, c0, *weights)
    outputs, c = a_and_c[:-1], a_and_c[-1]
    a = outputs[-1]
    outputs = ops.transpose(outputs, (1, 0, 2)) if return_sequences else ops.expand_dims(a, 1)
    return a, outputs, [a, c]


def _lstm_bptt(use_bias, peephole):
    """The LSTM over a time-major sequence as one op with its own gradient.

    `f(x, a⟨0⟩, c⟨0⟩, W, U[, b][, p_u, p_f, p_o])` returns a⟨1⟩ … a⟨T⟩ with c⟨T⟩ appended along time,
    shape (T + 1, batch, units): a single output, because TensorFlow and JAX pass the gradients of several
    outputs to the gradient function differently (as arguments, as one tuple).

    Forward, per step (σ the sigmoid, * element-wise; x⟨t⟩·W + b computed for all steps before the loop):

        z = x⟨t⟩·W + b + a⟨t-1⟩·U, split into z_u, z_f, z_c, z_o
        Γu = σ(z_u + p_u * c⟨t-1⟩)    Γf = σ(z_f + p_f * c⟨t-1⟩)    c̃ = tanh(z_c)
        c⟨t⟩ = Γu * c̃ + Γf * c⟨t-1⟩
        Γo = σ(z_o + p_o * c⟨t⟩)      a⟨t⟩ = Γo * tanh(c⟨t⟩)

    Backward, from t = T down to 1, with da⟨t⟩ = ∂L/∂a⟨t⟩ (from the output) + da carried from step t+1 and
    dc⟨t⟩ carried from step t+1 (∂L/∂c⟨T⟩ at the start); every factor that multiplies da⟨t⟩ or dc below is
    computed for all steps before the loop:

        dz_o = da⟨t⟩ * tanh(c⟨t⟩) * Γo (1 - Γo)
        dc = dc⟨t⟩ + da⟨t⟩ * Γo * (1 - tanh²(c⟨t⟩)) + dz_o * p_o
        dz_u = dc * c̃ * Γu (1 - Γu)    dz_f = dc * c⟨t-1⟩ * Γf (1 - Γf)    dz_c = dc * Γu * (1 - c̃²)
        carried to step t-1:  da = dz·Uᵀ,  dc = dc * Γf + dz_u * p_u + dz_f * p_f

    and after the loop, with dZ, X, A_prev, C, C_prev the steps stacked into T·batch rows:

        dW = Xᵀ·dZ    dU = A_prevᵀ·dZ    db = Σ dZ    dx = dZ·Wᵀ
        dp_u = Σ dZ_u * C_prev    dp_f = Σ dZ_f * C_prev    dp_o = Σ dZ_o * C
        da⟨0⟩, dc⟨0⟩ = the carries left after step 1.
    """

    @ops.custom_gradient
    def lstm(xt, a0, c0, kernel, recurrent_kernel, *rest):
        bias = rest[0] if use_bias else None
        p_u, p_f, p_o = rest[-3:] if peephole else (None, None, None)
        units = recurrent_kernel.shape[0]
        # x·W + b for every step in one large matmul before the loop (which, unlike T small ones, keeps both
        # cores busy), leaving the loop only a⟨t-1⟩·U.
        steps = xt.shape[0]
        projected = ops.matmul(ops.reshape(xt, (-1, xt.shape[-1])), kernel)
        if use_bias:
            projected = projected + bias
        projected = ops.reshape(projected, (steps, -1, 4 * units))
        no_gates = ops.zeros((ops.shape(a0)[0], 4 * units), dtype=a0.dtype)

        def forward_step(carry, projected_t):
            a_prev, c_prev, _ = carry
            z = projected_t + ops.matmul(a_prev, recurrent_kernel)
            z_u, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
            if peephole:
                z_u = z_u + p_u * c_prev
                z_f = z_f + p_f * c_prev
            gamma_u, gamma_f, c_tilde = ops.sigmoid(z_u), ops.sigmoid(z_f), ops.tanh(z_c)
            c = gamma_u * c_tilde + gamma_f * c_prev
            if peephole:
                z_o = z_o + p_o * c
            gamma_o = ops.sigmoid(z_o)
            a = gamma_o * ops.tanh(c)
            # The gates are kept for the backward pass. Keras's TensorFlow `scan` stacks per-step outputs
            # of the carry's structure only, so they travel in the carry.
            step = (a, c, ops.concatenate([gamma_u, gamma_f, c_tilde, gamma_o], axis=-1))
            return step, step

        _, (a_all, c_all, gates) = ops.scan(forward_step, (a0, c0, no_gates), projected)

        def gradient(d_out):
            d_a_all, d_c_last = d_out[:-1], d_out[-1]
            a_prev_all = ops.concatenate([ops.expand_dims(a0, 0), a_all[:-1]], axis=0)
            c_prev_all = ops.concatenate([ops.expand_dims(c0, 0), c_all[:-1]], axis=0)
            recurrent_kernel_t = ops.transpose(recurrent_kernel)

            # The local derivatives of each step depend only on forward values, so they are computed here for
            # all steps at once (one large element-wise op), and the sequential loop below is left with the
            # few multiplies that need the carried da, dc.
            gamma_u, gamma_f, c_tilde, gamma_o = ops.split(gates, 4, axis=-1)
            tanh_c = ops.tanh(c_all)
            dz_o_by_da = tanh_c * gamma_o * (1.0 - gamma_o)
            dc_by_da = gamma_o * (1.0 - tanh_c * tanh_c)
            dz_u_by_dc = c_tilde * gamma_u * (1.0 - gamma_u)
            dz_f_by_dc = c_prev_all * gamma_f * (1.0 - gamma_f)
            dc_prev_by_dc = gamma_f
            if peephole:
                dc_by_da = dc_by_da + dz_o_by_da * p_o
                dc_prev_by_dc = dc_prev_by_dc + dz_u_by_dc * p_u + dz_f_by_dc * p_f
            dz_by_dc_da = ops.concatenate(
                [dz_u_by_dc, dz_f_by_dc, gamma_u * (1.0 - c_tilde * c_tilde), dz_o_by_da], axis=-1)
            dc_factors = ops.concatenate([dc_by_da, dc_prev_by_dc], axis=-1)

            def backward_step(carry, step):
                da_next, dc_next, _ = carry
                d_a, dz_by, dc_by = step
                dc_by_da, dc_prev_by_dc = ops.split(dc_by, 2, axis=-1)
                da = d_a + da_next
                dc = dc_next + da * dc_by_da
                dz = ops.concatenate([dc, dc, dc, da], axis=-1) * dz_by
                # dz leaves through the carry too, for the same reason the gates do in the forward scan.
                step = (ops.matmul(dz, recurrent_kernel_t), dc * dc_prev_by_dc, dz)
                return step, step

            (da0, dc0, _), (_, _, dz_all) = ops.scan(
                backward_step, (ops.zeros_like(a0), d_c_last, no_gates), (d_a_all, dz_by_dc_da, dc_factors),
                reverse=True)
            # Everything that is not sequential, as one op over all T·batch rows.
            dz_rows = ops.reshape(dz_all, (-1, 4 * units))
            x_rows = ops.reshape(xt, (-1, xt.shape[-1]))
            grads = [
                ops.reshape(ops.matmul(dz_rows, ops.transpose(kernel)), ops.shape(xt)),
                da0,
                dc0,
                ops.matmul(ops.transpose(x_rows), dz_rows),
                ops.matmul(ops.transpose(ops.reshape(a_prev_all, (-1, units))), dz_rows),
            ]
            if use_bias:
                grads.append(ops.sum(dz_rows, axis=0))
            if peephole:
                dz_u, dz_f, _, dz_o = ops.split(dz_all, 4, axis=-1)
                grads += [ops.sum(dz_u * c_prev_all, axis=(0, 1)), ops.sum(dz_f * c_prev_all, axis=(0, 1)),
                          ops.sum(dz_o * c_all, axis=(0, 1))]
            return tuple(grads)

        return ops.concatenate([a_all, ops.expand_dims(c_all[-1], 0)], axis=0), gradient

    return lstm
