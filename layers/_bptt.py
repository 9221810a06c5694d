"""What the fused recurrent paths share: a whole sequence as one op with a hand-written backpropagation through
time, step masks and variational recurrent dropout included.

Autodiff of a time loop keeps, and walks back through, every small op of every step, and computes the weight
gradients step by step. Here everything that does not depend on the previous step runs outside the loops, as
one large op over all T·B rows: the input projection x·W + b before the forward loop; the local derivatives of
every step before the backward loop, which is left with a few multiplies and one matmul per step for the
carried gradients; the weight and input gradients after it. The numbers are those of the generic loop; its
speed against Keras's loop, which depends on the model, the backend and the compile: `benchmarks/README.md`.

A cell's equations live in a *recurrence* (`layers._lstm_bptt.LSTMRecurrence`, `layers._gru_bptt`): its step
forward, the per-step factors of its backward step, the backward step itself and the weight gradients. This
module runs them over time and adds what every cell has in common, with s⟨t⟩ the states ([a, c] for the
LSTM, [c] for the GRU), m⟨t⟩ ∈ {0, 1} the step mask (1 everywhere without a mask) and new(·) the cell's step:

    forward:   s⟨t⟩ = m⟨t⟩ ? new(x⟨t⟩, s⟨t-1⟩) : s⟨t-1⟩           a masked step carries the states unchanged
    backward:  ds⟨t⟩ = ∂L/∂s⟨t⟩ (the output's, for a⟨t⟩) + ds carried from step t+1
               the step's own backward runs on m⟨t⟩ * ds⟨t⟩ (zero at a masked step), giving ds⟨t-1⟩ part
               carried to step t-1:  ds⟨t-1⟩ = that part + (1 - m⟨t⟩) * ds⟨t⟩

and the recurrent dropout mask r (one per sequence, drawn by Keras's `DropoutRNNCell`) multiplies the state
before U: the recurrence's step computes (r * a⟨t-1⟩)·U, its backward da⟨t-1⟩ = r * (dz·Uᵀ) and dU = (r * A)ᵀ·dZ.

The outputs follow `keras.src.backend.rnn` on the backend it runs on: a⟨t⟩ (the carried state) at every step;
zeros at masked steps with `zero_output_for_mask`; and otherwise, at masked steps before the first unmasked one,
zeros on TensorFlow and PyTorch (their loops repeat the previous *output*, zeros at first) but a⟨0⟩ on JAX (its
loop repeats the previous *state*). These heads are element-wise selections after the op, left to autodiff.

Only `keras.ops`: it runs on TensorFlow and JAX alike.
"""

import keras
import numpy as np
from keras import ops


def sequence(
    recurrence,
    x,
    initial_states,
    weights,
    mask=None,
    recurrent_mask=None,
    go_backwards=False,
    return_sequences=True,
    zero_output_for_mask=False,
):
    """Runs a recurrence over `x` as one op with its hand-written gradient.

    Args:
        recurrence: `recurrence(weights, recurrent_mask)` makes the cell's equations inside the op: an object
            with `saved_width` and `dz_width` (the widths of what its step keeps for the backward pass and of
            what its backward step hands to `gradients`), `project(xt)` (x·W + b for all steps),
            `step(projected_t, states) -> (new states, saved)`, `factors(xt, states, previous, saved)` (the
            per-step factors of the backward step, for all steps; a tuple), `step_back(d_states, factors_t)
            -> (d previous states, dz)` and `gradients(xt, dz, states, previous, saved) -> (dx, d weights)`;
            states, previous (the states before each step) and saved are stacked over time.
        x: inputs (batch, time, features), input dropout already applied.
        initial_states: list of (batch, units) states, the first one the output a.
        weights: the recurrence's weights, variables or tensors.
        mask: None or a boolean (batch, time) step mask.
        recurrent_mask: None or the (batch, units) recurrent dropout mask (already scaled by 1/(1 - rate)).
        go_backwards: process the sequence from its last step to its first.
        return_sequences: whether `outputs` holds every step or only the last.
        zero_output_for_mask: zeros, not the previous output, at masked steps.

    Returns:
        `(last_output, outputs, states)` exactly as `keras.src.backend.rnn` returns them: `outputs` is
        (batch, time, units) in processing order, or (batch, 1, units) without `return_sequences`.
    """
    # tf.custom_gradient refuses functions that read variables unless told about them (`variables=`, a
    # TensorFlow-only argument); as plain tensor arguments the weights get their gradients like any input.
    weights = [ops.copy(w) for w in weights]
    xt = ops.transpose(x, (1, 0, 2))  # time major: the loops scan over the first axis
    step_mask = None
    if mask is not None:
        # Nonzero is True, as Keras reads a mask; then 1.0 or 0.0, (time, batch, 1).
        step_mask = ops.expand_dims(ops.cast(ops.cast(ops.transpose(mask, (1, 0)), "bool"), x.dtype), -1)
    if go_backwards:
        xt = ops.flip(xt, axis=0)
        step_mask = None if step_mask is None else ops.flip(step_mask, axis=0)
    n_states = len(initial_states)
    masks = [m for m in (step_mask, recurrent_mask) if m is not None]
    stacked = _sequence_op(recurrence, n_states, step_mask is not None, recurrent_mask is not None)(
        xt, *masks, *initial_states, *weights
    )
    carried = stacked[: -(n_states - 1)] if n_states > 1 else stacked
    states = [carried[-1]] + [stacked[i - n_states + 1] for i in range(n_states - 1)]
    outputs = carried
    if step_mask is not None and zero_output_for_mask:
        outputs = ops.where(step_mask > 0.5, outputs, ops.zeros_like(outputs))
    elif step_mask is not None and keras.backend.backend() != "jax":
        # TensorFlow's and PyTorch's loops repeat the previous output: zeros before the first unmasked step.
        outputs = ops.where(ops.cumsum(step_mask, axis=0) > 0.5, outputs, ops.zeros_like(outputs))
    last_output = outputs[-1]
    outputs = ops.transpose(outputs, (1, 0, 2)) if return_sequences else ops.expand_dims(last_output, 1)
    return last_output, outputs, states


def _sequence_op(recurrence, n_states, masked, dropped):
    """`f(x, [m,] [r,] *s⟨0⟩, *weights)` over a time-major x: the first state at every step with the final
    values of the other states appended along time, (T + n_states - 1, batch, units). A single output, because
    TensorFlow and JAX pass the gradients of several outputs to the gradient function differently."""

    @ops.custom_gradient
    def run(xt, *args):
        args = list(args)
        step_mask = args.pop(0) if masked else None
        recurrent_mask = args.pop(0) if dropped else None
        initial, weights = args[:n_states], args[n_states:]
        cell = recurrence(weights, recurrent_mask)
        batch = ops.shape(xt)[1]
        no_saved = ops.zeros((batch, cell.saved_width), dtype=xt.dtype)

        def forward_step(carry, inputs):
            projected_t, m_t = inputs if masked else (inputs, None)
            states = list(carry[:n_states])
            new, saved = cell.step(projected_t, states)
            if masked:
                keep = m_t > 0.5
                new = [ops.where(keep, n, s) for n, s in zip(new, states)]
            # What the backward pass needs travels in the carry: Keras's TensorFlow `scan` stacks per-step
            # outputs of the carry's structure only.
            step = (*new, saved)
            return step, step

        projected = cell.project(xt)
        _, stacked = _scan(forward_step, (*initial, no_saved), (projected, step_mask) if masked else projected)
        states_all, saved_all = list(stacked[:n_states]), stacked[n_states]
        previous_all = [ops.concatenate([ops.expand_dims(s0, 0), s[:-1]], axis=0) for s0, s in zip(initial, states_all)]

        def gradient(d_stacked):
            d_outputs = d_stacked[: -(n_states - 1)] if n_states > 1 else d_stacked
            d_final = [d_stacked[i - n_states + 1] for i in range(n_states - 1)]
            # The local derivatives of each step depend only on forward values: computed here for all steps
            # at once, they leave the sequential loop only what needs the carried gradients.
            factors = cell.factors(xt, states_all, previous_all, saved_all)
            no_dz = ops.zeros((batch, cell.dz_width), dtype=xt.dtype)

            def backward_step(carry, inputs):
                d_output_t, *inputs = inputs
                m_t = inputs.pop(0) if masked else None
                d_states = [d_output_t + carry[0], *carry[1:n_states]]
                into_step = [m_t * d for d in d_states] if masked else d_states
                d_previous, dz = cell.step_back(into_step, inputs)
                if masked:
                    d_previous = [p + (1.0 - m_t) * d for p, d in zip(d_previous, d_states)]
                step = (*d_previous, dz)  # dz leaves through the carry too, as the forward values do
                return step, step

            carry, stacked_back = _scan(
                backward_step,
                (ops.zeros_like(initial[0]), *d_final, no_dz),
                (d_outputs, *([step_mask] if masked else []), *factors),
                reverse=True,
            )
            d_initial = list(carry[:n_states])
            dx, d_weights = cell.gradients(xt, stacked_back[n_states], states_all, previous_all, saved_all)
            # The masks are constants of the model: their gradients are not computed (zeros).
            d_masks = [ops.zeros_like(m) for m in (step_mask, recurrent_mask) if m is not None]
            return (dx, *d_masks, *d_initial, *d_weights)

        return ops.concatenate([states_all[0], *(s[-1:] for s in states_all[1:])], axis=0), gradient

    return run


def _scan(f, init, xs, reverse=False):
    """`keras.ops.scan` over one time-major tensor or a tuple of them, which may have a time axis of unknown
    length: Keras 3.15's TensorFlow `scan` compares the lengths of several inputs with a method that an
    unknown length (None) lacks, so there the tuple travels packed into one tensor along its last axis and
    is split again inside `f`. A known length scans the tuple as it is."""
    if not isinstance(xs, tuple) or xs[0].shape[0] is not None:
        return ops.scan(f, init, xs, reverse=reverse)
    ends = np.cumsum([x.shape[-1] for x in xs])

    def unpacked(carry, packed_t):
        return f(carry, tuple(ops.split(packed_t, ends[:-1].tolist(), axis=-1)))

    return ops.scan(unpacked, init, ops.concatenate(xs, axis=-1), reverse=reverse)


def dropped(state, recurrent_mask):
    """r * state: the state as U sees it under recurrent dropout."""
    return state if recurrent_mask is None else state * recurrent_mask


def rows(tensor):
    """(T, batch, n) as (T·batch, n): one large matmul over every step."""
    return ops.reshape(tensor, (-1, tensor.shape[-1]))


def input_projection(xt, kernel, bias):
    """x·W + b for every step in one large matmul before the loop (which, unlike T small ones, keeps both
    cores busy), leaving the loop only the recurrent matmul."""
    projected = ops.matmul(rows(xt), kernel)
    if bias is not None:
        projected = projected + bias
    return ops.reshape(projected, (ops.shape(xt)[0], ops.shape(xt)[1], kernel.shape[-1]))


def input_gradients(xt, kernel, dz_rows, use_bias):
    """[dx, dW, db] (db only with `use_bias`) over all T·batch rows for z = x·W + b: dZ·Wᵀ, Xᵀ·dZ, Σ dZ."""
    grads = [
        ops.reshape(ops.matmul(dz_rows, ops.transpose(kernel)), ops.shape(xt)),
        ops.matmul(ops.transpose(rows(xt)), dz_rows),
    ]
    return grads + [ops.sum(dz_rows, axis=0)] if use_bias else grads


def recurrent_kernel_gradient(previous, recurrent_mask, dz_rows):
    """dU = (r * S_prev)ᵀ·dZ over all T·batch rows, for z = (r * s⟨t-1⟩)·U."""
    return ops.matmul(ops.transpose(rows(dropped(previous, recurrent_mask))), dz_rows)
