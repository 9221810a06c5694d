"""The GRU's fast path: a whole sequence forward with a hand-written backpropagation through time.

`gru_sequence` runs `GRURecurrence`, the GRU's equations in its three forms, through `layers._bptt`, which adds
what every fused cell shares (the loops, step masks, recurrent dropout, the output heads). Only `keras.ops`: it
runs on TensorFlow and JAX alike.
"""

import functools

from keras import ops

from layers import _bptt


def gru_sequence(
    x,
    c0,
    kernel,
    recurrent_kernel,
    bias=None,
    reset_gate=True,
    reset_after=False,
    go_backwards=False,
    return_sequences=True,
    mask=None,
    recurrent_mask=None,
    zero_output_for_mask=False,
):
    """Runs a GRU (tanh activation, sigmoid gates) over `x`, with the gradient of `GRURecurrence`.

    Args:
        x: inputs (batch, time, features), input dropout already applied.
        c0: initial state (batch, units).
        kernel, recurrent_kernel, bias: W, U, b in `GRUCell`'s layout (blocks u, r, c; u, c without a reset
            gate; b (2, 3·units) with `reset_after`) or None; variables or tensors.
        reset_gate, reset_after: the form, as in `GRUCell`.
        go_backwards, return_sequences, mask, recurrent_mask, zero_output_for_mask: as in `_bptt.sequence`.

    Returns:
        `(last_output, outputs, [c])` exactly as `keras.src.backend.rnn` returns them.
    """
    weights = [kernel, recurrent_kernel, *([bias] if bias is not None else [])]
    recurrence = functools.partial(
        GRURecurrence, use_bias=bias is not None, reset_gate=reset_gate, reset_after=reset_after
    )
    return _bptt.sequence(
        recurrence,
        x,
        [c0],
        weights,
        mask=mask,
        recurrent_mask=recurrent_mask,
        go_backwards=go_backwards,
        return_sequences=return_sequences,
        zero_output_for_mask=zero_output_for_mask,
    )


class GRURecurrence:
    """The GRU's equations for `_bptt.sequence`, from `weights` = [W, U[, b]] and the recurrent dropout mask r
    (None: no dropout); d = r * c⟨t-1⟩ is the state as U sees it.

    Forward, per step (σ the sigmoid, * element-wise; x⟨t⟩·W + b, the input row of b with `reset_after`,
    computed for all steps before the loop as p = [p_u, p_r, p_c]):

        simplified:    Γu = σ(p_u + d·U_u)                      c̃ = tanh(p_c + d·U_c)
        reset_after:   h = d·U + b_h    Γu = σ(p_u + h_u)    Γr = σ(p_r + h_r)    c̃ = tanh(p_c + Γr * h_c)
        course form:   Γu = σ(p_u + d·U_u)    Γr = σ(p_r + d·U_r)    c̃ = tanh(p_c + (Γr * d)·U_c)
        c⟨t⟩ = Γu * c̃ + (1 - Γu) * c⟨t-1⟩

    Backward, one step, from dc = dc⟨t⟩ (what `_bptt` hands the step: zero at a masked step); every factor that
    multiplies dc below is computed for all steps before the loop:

        dz_u = dc * (c̃ - c⟨t-1⟩) * Γu (1 - Γu)    dz_c = dc * Γu * (1 - c̃²)
        simplified:    dd = [dz_u, dz_c]·Uᵀ
        reset_after:   dz_r = dz_c * h_c * Γr (1 - Γr)    dd = [dz_u, dz_r, dz_c * Γr]·Uᵀ
        course form:   dq = dz_c·U_cᵀ    dz_r = dq * d * Γr (1 - Γr)    dd = [dz_u, dz_r]·[U_u, U_r]ᵀ + dq * Γr
        to step t-1:   dc = dc * (1 - Γu) + r * dd

    In the first two forms every dz is dc times a factor, so the loop leaves only dc and the dz are formed after
    it, for all steps at once; the course form's dz_r needs a second matmul and leaves the loop as dz. After the
    loop, with the steps stacked into T·batch rows and D = r * C_prev:

        dx = dZ·Wᵀ    dW = Xᵀ·dZ    db = Σ dZ    (dZ = [dZ_u, dZ_r, dZ_c], the derivatives of z = x·W + b)
        simplified, reset_after:   dU = Dᵀ·dZ_h with dZ_h the derivatives of d·U (+ b_h: db_h = Σ dZ_h)
        course form:   dU = [Dᵀ·[dZ_u, dZ_r],  (Γr * D)ᵀ·dZ_c]
    """

    def __init__(self, weights, recurrent_mask, use_bias, reset_gate, reset_after):
        self.kernel, self.recurrent_kernel = weights[:2]
        self.bias = weights[2] if use_bias else None
        self.recurrent_mask = recurrent_mask
        self.reset_gate, self.reset_after = reset_gate, reset_after
        self.course_form = reset_gate and not reset_after
        self.units = units = self.recurrent_kernel.shape[0]
        # Saved per step: Γu, c̃, then Γr, then h_c with reset_after.
        self.saved_width = (2 + reset_gate + reset_after) * units
        self.dz_width = 3 * units if self.course_form else units

    def project(self, xt):
        bias = self.bias[0] if self.reset_after and self.bias is not None else self.bias
        return _bptt.input_projection(xt, self.kernel, bias)

    def step(self, projected_t, states):
        c_prev = states[0]
        dropped = _bptt.dropped(c_prev, self.recurrent_mask)
        u = self.units
        if not self.reset_gate:
            z_u, z_c = ops.split(projected_t + ops.matmul(dropped, self.recurrent_kernel), 2, axis=-1)
            gamma_u, c_tilde = ops.sigmoid(z_u), ops.tanh(z_c)
            saved = [gamma_u, c_tilde]
        elif self.reset_after:
            h = ops.matmul(dropped, self.recurrent_kernel)
            if self.bias is not None:
                h = h + self.bias[1]
            x_u, x_r, x_c = ops.split(projected_t, 3, axis=-1)
            h_u, h_r, h_c = ops.split(h, 3, axis=-1)
            gamma_u, gamma_r = ops.sigmoid(x_u + h_u), ops.sigmoid(x_r + h_r)
            c_tilde = ops.tanh(x_c + gamma_r * h_c)
            saved = [gamma_u, c_tilde, gamma_r, h_c]
        else:
            z_u, z_r = ops.split(
                projected_t[:, : 2 * u] + ops.matmul(dropped, self.recurrent_kernel[:, : 2 * u]), 2, axis=-1
            )
            gamma_u, gamma_r = ops.sigmoid(z_u), ops.sigmoid(z_r)
            c_tilde = ops.tanh(
                projected_t[:, 2 * u :] + ops.matmul(gamma_r * dropped, self.recurrent_kernel[:, 2 * u :])
            )
            saved = [gamma_u, c_tilde, gamma_r]
        return [gamma_u * c_tilde + (1.0 - gamma_u) * c_prev], ops.concatenate(saved, axis=-1)

    def factors(self, xt, states_all, previous_all, saved):
        u = self.units
        c_prev_all = previous_all[0]
        gamma_u, c_tilde = saved[..., :u], saved[..., u : 2 * u]
        dz_u_by_dc = (c_tilde - c_prev_all) * gamma_u * (1.0 - gamma_u)
        dz_c_by_dc = gamma_u * (1.0 - c_tilde * c_tilde)
        dc_prev_by_dc = 1.0 - gamma_u
        # Uᵀ (or its blocks) once for every backward step (`factors` runs just before them).
        self.recurrent_kernel_t = ops.transpose(self.recurrent_kernel)
        if not self.reset_gate:
            self.dz_x_by_dc = self.dz_h_by_dc = ops.concatenate([dz_u_by_dc, dz_c_by_dc], axis=-1)
            return self.dz_h_by_dc, dc_prev_by_dc
        gamma_r = saved[..., 2 * u : 3 * u]
        if self.reset_after:
            dz_r_by_dc = dz_c_by_dc * saved[..., 3 * u :] * gamma_r * (1.0 - gamma_r)
            self.dz_x_by_dc = ops.concatenate([dz_u_by_dc, dz_r_by_dc, dz_c_by_dc], axis=-1)
            self.dz_h_by_dc = ops.concatenate([dz_u_by_dc, dz_r_by_dc, dz_c_by_dc * gamma_r], axis=-1)
            return self.dz_h_by_dc, dc_prev_by_dc
        dz_r_by_dq = _bptt.dropped(c_prev_all, self.recurrent_mask) * gamma_r * (1.0 - gamma_r)
        return ops.concatenate([dz_u_by_dc, dz_c_by_dc], axis=-1), dc_prev_by_dc, dz_r_by_dq, gamma_r

    def step_back(self, d_states, factors_t):
        dc = d_states[0]
        u = self.units
        if not self.course_form:
            dz_h_by_dc, dc_prev_by_dc = factors_t
            dz_h = ops.concatenate([dc] * (dz_h_by_dc.shape[-1] // u), axis=-1) * dz_h_by_dc
            d_dropped = ops.matmul(dz_h, self.recurrent_kernel_t)
            return [dc * dc_prev_by_dc + _bptt.dropped(d_dropped, self.recurrent_mask)], dc
        dz_uc_by_dc, dc_prev_by_dc, dz_r_by_dq, gamma_r = factors_t
        dz_u, dz_c = ops.split(ops.concatenate([dc, dc], axis=-1) * dz_uc_by_dc, 2, axis=-1)
        dq = ops.matmul(dz_c, self.recurrent_kernel_t[2 * u :])
        dz_r = dq * dz_r_by_dq
        d_dropped = ops.matmul(ops.concatenate([dz_u, dz_r], axis=-1), self.recurrent_kernel_t[: 2 * u]) + dq * gamma_r
        return (
            [dc * dc_prev_by_dc + _bptt.dropped(d_dropped, self.recurrent_mask)],
            ops.concatenate([dz_u, dz_r, dz_c], axis=-1),
        )

    def gradients(self, xt, d_loop, states_all, previous_all, saved):
        use_bias = self.bias is not None
        c_prev_all = previous_all[0]
        if self.course_form:
            dz_rows = _bptt.rows(d_loop)
            dx, d_kernel, *d_bias = _bptt.input_gradients(xt, self.kernel, dz_rows, use_bias)
            u = self.units
            reset_dropped = saved[..., 2 * u : 3 * u] * _bptt.dropped(c_prev_all, self.recurrent_mask)
            d_recurrent = ops.concatenate(
                [
                    _bptt.recurrent_kernel_gradient(c_prev_all, self.recurrent_mask, dz_rows[:, : 2 * u]),
                    ops.matmul(ops.transpose(_bptt.rows(reset_dropped)), dz_rows[:, 2 * u :]),
                ],
                axis=-1,
            )
            return dx, [d_kernel, d_recurrent, *d_bias]
        dc_blocks = ops.concatenate([d_loop] * (self.dz_h_by_dc.shape[-1] // self.units), axis=-1)
        dz_x_rows = _bptt.rows(dc_blocks * self.dz_x_by_dc)
        dz_h_rows = _bptt.rows(dc_blocks * self.dz_h_by_dc)
        dx, d_kernel, *d_bias = _bptt.input_gradients(xt, self.kernel, dz_x_rows, use_bias)
        if use_bias and self.reset_after:
            d_bias = [ops.stack([d_bias[0], ops.sum(dz_h_rows, axis=0)])]
        return dx, [d_kernel, _bptt.recurrent_kernel_gradient(c_prev_all, self.recurrent_mask, dz_h_rows), *d_bias]
