"""The LSTM's fast path: a whole sequence forward with a hand-written backpropagation through time.

`lstm_sequence` runs `LSTMRecurrence`, the LSTM's equations, through `layers._bptt`, which adds what every fused
cell shares (the loops, step masks, recurrent dropout, the output heads). Only `keras.ops`: it runs on
TensorFlow and JAX alike.
"""

import functools

from keras import ops

from layers import _bptt


def lstm_sequence(
    x,
    a0,
    c0,
    kernel,
    recurrent_kernel,
    bias=None,
    peepholes=None,
    go_backwards=False,
    return_sequences=True,
    mask=None,
    recurrent_mask=None,
    zero_output_for_mask=False,
):
    """Runs an LSTM (tanh activation, sigmoid gates) over `x`, with the gradient of `LSTMRecurrence`.

    Args:
        x: inputs (batch, time, features), input dropout already applied.
        a0, c0: initial states (batch, units).
        kernel, recurrent_kernel, bias: W (features, 4·units), U (units, 4·units), b (4·units) or None,
            gate order u (input), f, c, o as `LSTMCell`; variables or tensors.
        peepholes: None, or the three peephole vectors (p_u, p_f, p_o) of size units.
        go_backwards, return_sequences, mask, recurrent_mask, zero_output_for_mask: as in `_bptt.sequence`.

    Returns:
        `(last_output, outputs, [a, c])` exactly as `keras.src.backend.rnn` returns them.
    """
    weights = [kernel, recurrent_kernel, *([bias] if bias is not None else []), *(peepholes or [])]
    recurrence = functools.partial(LSTMRecurrence, use_bias=bias is not None, peephole=peepholes is not None)
    return _bptt.sequence(
        recurrence,
        x,
        [a0, c0],
        weights,
        mask=mask,
        recurrent_mask=recurrent_mask,
        go_backwards=go_backwards,
        return_sequences=return_sequences,
        zero_output_for_mask=zero_output_for_mask,
    )


class LSTMRecurrence:
    """The LSTM's equations for `_bptt.sequence`, from `weights` = [W, U[, b][, p_u, p_f, p_o]] and the
    recurrent dropout mask r (None: no dropout).

    Forward, per step (σ the sigmoid, * element-wise; x⟨t⟩·W + b computed for all steps before the loop):

        z = x⟨t⟩·W + b + (r * a⟨t-1⟩)·U, split into z_u, z_f, z_c, z_o
        Γu = σ(z_u + p_u * c⟨t-1⟩)    Γf = σ(z_f + p_f * c⟨t-1⟩)    c̃ = tanh(z_c)
        c⟨t⟩ = Γu * c̃ + Γf * c⟨t-1⟩
        Γo = σ(z_o + p_o * c⟨t⟩)      a⟨t⟩ = Γo * tanh(c⟨t⟩)

    Backward, one step, from da⟨t⟩, dc⟨t⟩ (what `_bptt` hands the step: zero at a masked step); every factor
    that multiplies da⟨t⟩ or dc below is computed for all steps before the loop:

        dz_o = da⟨t⟩ * tanh(c⟨t⟩) * Γo (1 - Γo)
        dc = dc⟨t⟩ + da⟨t⟩ * Γo * (1 - tanh²(c⟨t⟩)) + dz_o * p_o
        dz_u = dc * c̃ * Γu (1 - Γu)    dz_f = dc * c⟨t-1⟩ * Γf (1 - Γf)    dz_c = dc * Γu * (1 - c̃²)
        to step t-1:  da = r * (dz·Uᵀ),  dc = dc * Γf + dz_u * p_u + dz_f * p_f

    and after the loop, with dZ, X, A_prev, C, C_prev the steps stacked into T·batch rows:

        dW = Xᵀ·dZ    dU = (r * A_prev)ᵀ·dZ    db = Σ dZ    dx = dZ·Wᵀ
        dp_u = Σ dZ_u * C_prev    dp_f = Σ dZ_f * C_prev    dp_o = Σ dZ_o * C

    At a masked step C holds c⟨t-1⟩ carried, not the discarded new cell; its dZ is zero, so nothing reads it.
    """

    def __init__(self, weights, recurrent_mask, use_bias, peephole):
        self.kernel, self.recurrent_kernel = weights[:2]
        self.bias = weights[2] if use_bias else None
        self.peepholes = weights[-3:] if peephole else None
        self.recurrent_mask = recurrent_mask
        self.units = self.recurrent_kernel.shape[0]
        self.saved_width = self.dz_width = 4 * self.units  # the gates forward, dz backward

    def project(self, xt):
        return _bptt.input_projection(xt, self.kernel, self.bias)

    def step(self, projected_t, states):
        a_prev, c_prev = states
        z = projected_t + ops.matmul(_bptt.dropped(a_prev, self.recurrent_mask), self.recurrent_kernel)
        z_u, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
        if self.peepholes:
            p_u, p_f, p_o = self.peepholes
            z_u = z_u + p_u * c_prev
            z_f = z_f + p_f * c_prev
        gamma_u, gamma_f, c_tilde = ops.sigmoid(z_u), ops.sigmoid(z_f), ops.tanh(z_c)
        c = gamma_u * c_tilde + gamma_f * c_prev
        if self.peepholes:
            z_o = z_o + p_o * c
        gamma_o = ops.sigmoid(z_o)
        return [gamma_o * ops.tanh(c), c], ops.concatenate([gamma_u, gamma_f, c_tilde, gamma_o], axis=-1)

    def factors(self, xt, states_all, previous_all, gates):
        c_all, c_prev_all = states_all[1], previous_all[1]
        gamma_u, gamma_f, c_tilde, gamma_o = ops.split(gates, 4, axis=-1)
        tanh_c = ops.tanh(c_all)
        dz_o_by_da = tanh_c * gamma_o * (1.0 - gamma_o)
        dc_by_da = gamma_o * (1.0 - tanh_c * tanh_c)
        dz_u_by_dc = c_tilde * gamma_u * (1.0 - gamma_u)
        dz_f_by_dc = c_prev_all * gamma_f * (1.0 - gamma_f)
        dc_prev_by_dc = gamma_f
        if self.peepholes:
            p_u, p_f, p_o = self.peepholes
            dc_by_da = dc_by_da + dz_o_by_da * p_o
            dc_prev_by_dc = dc_prev_by_dc + dz_u_by_dc * p_u + dz_f_by_dc * p_f
        # Uᵀ once for every backward step (`factors` runs just before them).
        self.recurrent_kernel_t = ops.transpose(self.recurrent_kernel)
        dz_by_dc_da = ops.concatenate(
            [dz_u_by_dc, dz_f_by_dc, gamma_u * (1.0 - c_tilde * c_tilde), dz_o_by_da], axis=-1
        )
        return dz_by_dc_da, ops.concatenate([dc_by_da, dc_prev_by_dc], axis=-1)

    def step_back(self, d_states, factors_t):
        da, dc_next = d_states
        dz_by, dc_by = factors_t
        dc_by_da, dc_prev_by_dc = ops.split(dc_by, 2, axis=-1)
        dc = dc_next + da * dc_by_da
        dz = ops.concatenate([dc, dc, dc, da], axis=-1) * dz_by
        return [_bptt.dropped(ops.matmul(dz, self.recurrent_kernel_t), self.recurrent_mask), dc * dc_prev_by_dc], dz

    def gradients(self, xt, dz_all, states_all, previous_all, gates):
        dz_rows = _bptt.rows(dz_all)
        dx, d_kernel, *d_bias = _bptt.input_gradients(xt, self.kernel, dz_rows, self.bias is not None)
        grads = [d_kernel, _bptt.recurrent_kernel_gradient(previous_all[0], self.recurrent_mask, dz_rows), *d_bias]
        if self.peepholes:
            dz_u, dz_f, _, dz_o = ops.split(dz_all, 4, axis=-1)
            c_all, c_prev_all = states_all[1], previous_all[1]
            grads += [
                ops.sum(dz_u * c_prev_all, axis=(0, 1)),
                ops.sum(dz_f * c_prev_all, axis=(0, 1)),
                ops.sum(dz_o * c_all, axis=(0, 1)),
            ]
        return dx, grads
