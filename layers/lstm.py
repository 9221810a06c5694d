"""The course's LSTM, with the peephole connections Keras 3 removed: `LSTMCell` and the `LSTM` sequence layer."""

import keras
import numpy as np
from keras import activations, constraints, initializers, ops, regularizers

from layers import _lstm_bptt
from layers._sequence import (
    DropoutRNNCell, ProjectedRNN, apply_dropout_mask, check_rate, check_step_input, check_units, drop_inputs,
    recurrent_dropout_mask, resolve)


@keras.saving.register_keras_serializable(package="sequence_models")
class LSTMCell(keras.layers.Layer, DropoutRNNCell):
    """Long Short-Term Memory cell, optionally with peephole connections; one time step.

    In the course notation, with z = x⟨t⟩·W + a⟨t-1⟩·U + b split into the four gate blocks [u, f, c, o]:

        Γu = σ(z_u + p_u * c⟨t-1⟩)          update (input) gate
        Γf = σ(z_f + p_f * c⟨t-1⟩)          forget gate
        c̃⟨t⟩ = tanh(z_c)                    candidate
        c⟨t⟩ = Γu * c̃⟨t⟩ + Γf * c⟨t-1⟩
        Γo = σ(z_o + p_o * c⟨t⟩)            output gate (peeks at the new cell)
        a⟨t⟩ = Γo * tanh(c⟨t⟩)

    σ is `recurrent_activation`, tanh is `activation`. Without peepholes p = 0, and the weights have exactly
    the layout of `keras.layers.LSTMCell` (kernel (input_dim, 4·units), recurrent_kernel (units, 4·units),
    bias (4·units), gate order i, f, c, o), so `cell.set_weights(keras_cell.get_weights())` just works. With
    `peephole=True` three diagonal weight vectors of size `units` follow the bias, in the order update
    (input), forget, output: the convention of Keras 2's `PeepholeLSTMCell` and TF1's
    `LSTMCell(use_peepholes=True)`.

    Args:
        units: positive integer, size of a⟨t⟩ and c⟨t⟩.
        peephole: whether the gates see the cell c (default `False`).
        activation: for c̃ and the output, default `"tanh"`.
        recurrent_activation: for the gates, default `"sigmoid"`.
        use_bias: whether to add b (default `True`).
        kernel_initializer: for W, default `"glorot_uniform"`; also initialises the peepholes, as in Keras 2.
        recurrent_initializer: for U, default `"orthogonal"`.
        bias_initializer: for b, default `"zeros"`.
        unit_forget_bias: add 1 to the forget gate's bias at initialisation (default `True`; Jozefowicz et
            al. 2015).
        kernel_regularizer, recurrent_regularizer, bias_regularizer: regularizers of W, U, b (default `None`).
        kernel_constraint, recurrent_constraint, bias_constraint: constraints of W, U, b (default `None`).
        dropout: fraction of the inputs x dropped, one mask for all steps (default 0).
        recurrent_dropout: fraction of a⟨t-1⟩ dropped before U, one mask for all steps (default 0).
        seed: seed of the dropout masks.

    Call arguments:
        inputs: x⟨t⟩, shape (batch, features).
        states: [a⟨t-1⟩, c⟨t-1⟩], each (batch, units).
        training: whether dropout applies.

    Returns:
        `(a⟨t⟩, [a⟨t⟩, c⟨t⟩])`.

    Example:

    >>> cell = LSTMCell(4, peephole=True)
    >>> rnn = keras.layers.RNN(cell, return_sequences=True)
    >>> rnn(np.ones((2, 3, 5), "float32")).shape
    (2, 3, 4)

    Reference:
        Gers, Schraudolph & Schmidhuber, "Learning Precise Timing with LSTM Recurrent Networks", JMLR 2002.
        Hochreiter & Schmidhuber, "Long Short-Term Memory", Neural Computation 1997.
    """

    def __init__(
        self,
        units,
        peephole=False,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_units(units)
        self.peephole = bool(peephole)
        self.activation = resolve(activations.get, activation, "activation")
        self.recurrent_activation = resolve(activations.get, recurrent_activation, "recurrent_activation")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = resolve(initializers.get, kernel_initializer, "kernel_initializer")
        self.recurrent_initializer = resolve(initializers.get, recurrent_initializer, "recurrent_initializer")
        self.bias_initializer = resolve(initializers.get, bias_initializer, "bias_initializer")
        self.unit_forget_bias = bool(unit_forget_bias)
        self.kernel_regularizer = resolve(regularizers.get, kernel_regularizer, "kernel_regularizer")
        self.recurrent_regularizer = resolve(regularizers.get, recurrent_regularizer, "recurrent_regularizer")
        self.bias_regularizer = resolve(regularizers.get, bias_regularizer, "bias_regularizer")
        self.kernel_constraint = resolve(constraints.get, kernel_constraint, "kernel_constraint")
        self.recurrent_constraint = resolve(constraints.get, recurrent_constraint, "recurrent_constraint")
        self.bias_constraint = resolve(constraints.get, bias_constraint, "bias_constraint")
        self.dropout = check_rate(dropout, "dropout")
        self.recurrent_dropout = check_rate(recurrent_dropout, "recurrent_dropout")
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed=seed)
        self.state_size = [self.units, self.units]
        self.output_size = self.units

    def build(self, input_shape):
        check_step_input(input_shape, self.name)
        self.kernel = self.add_weight(
            shape=(input_shape[-1], 4 * self.units), name="kernel", initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, 4 * self.units), name="recurrent_kernel",
            initializer=self.recurrent_initializer, regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(4 * self.units,), name="bias", initializer=self._initial_bias,
                regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.peephole_weights = None
        if self.peephole:
            self.peephole_weights = [
                self.add_weight(shape=(self.units,), name=f"{gate}_gate_peephole_weights",
                                initializer=self.kernel_initializer)
                for gate in ("input", "forget", "output")
            ]

    def _initial_bias(self, shape, dtype=None):
        if not self.unit_forget_bias:
            return self.bias_initializer(shape, dtype=dtype)
        u = self.units
        return ops.concatenate([
            self.bias_initializer((u,), dtype=dtype),
            ops.ones((u,), dtype=dtype),
            self.bias_initializer((2 * u,), dtype=dtype),
        ])

    def project_inputs(self, inputs, training=False):
        """x·W + b for one step (batch, features) or every step at once (batch, time, features)."""
        projected = ops.matmul(drop_inputs(self, inputs, training=training), self.kernel)
        if self.use_bias:
            projected = ops.add(projected, self.bias)
        return projected

    def recurrent_step(self, projected_inputs, states, training=False):
        """One step from x·W + b: adds a⟨t-1⟩·U and applies the gates. Returns `(a, [a, c])`.

        The gate arithmetic runs in the dtype of the incoming states (float32 under mixed precision, see
        `LSTM`), the matmul in the compute dtype.
        """
        a_prev, c_prev = states[0], states[1]
        state_dtype = c_prev.dtype
        a_prev = apply_dropout_mask(a_prev, recurrent_dropout_mask(self, a_prev, training=training))
        recurrent = ops.matmul(ops.cast(a_prev, self.compute_dtype), self.recurrent_kernel)
        z = ops.cast(ops.add(projected_inputs, recurrent), state_dtype)
        z_u, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
        if self.peephole:
            p_u, p_f, p_o = (ops.cast(p, state_dtype) for p in self.peephole_weights)
            z_u = z_u + p_u * c_prev
            z_f = z_f + p_f * c_prev
        gamma_u = self.recurrent_activation(z_u)
        gamma_f = self.recurrent_activation(z_f)
        c = gamma_u * self.activation(z_c) + gamma_f * c_prev
        if self.peephole:
            z_o = z_o + p_o * c
        gamma_o = self.recurrent_activation(z_o)
        a = gamma_o * self.activation(c)
        return a, [a, c]

    def call(self, inputs, states, training=False):
        return self.recurrent_step(self.project_inputs(inputs, training=training), states, training=training)

    def get_initial_state(self, batch_size=None):
        return [ops.zeros((batch_size, self.units), dtype=self.compute_dtype) for _ in range(2)]

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "peephole": self.peephole,
            "activation": activations.serialize(self.activation),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "unit_forget_bias": self.unit_forget_bias,
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="sequence_models")
class LSTM(ProjectedRNN):
    """Long Short-Term Memory sequence layer, optionally with peepholes: `LSTMCell` run over time.

    A `keras.layers.RNN` subclass (not `keras.layers.LSTM`, whose cuDNN path would silently drop the
    peepholes), so masking, `return_sequences`, `return_state`, `go_backwards`, `stateful`, `initial_state`
    and `unroll` behave as in Keras, and it works inside `keras.layers.Bidirectional` and stacked.
    With `use_fused_bptt`, float32/float64 sequences with the default activations run as one op with a
    hand-written backpropagation through time (`layers._lstm_bptt`), masked or not, with or without recurrent
    dropout, which trains faster than Keras's generic loop when XLA compiles it (see `benchmarks/layers.py`);
    every other case runs Keras's loop, with a warning. The numbers are the same either way.

    Args:
        units, peephole, activation, recurrent_activation, use_bias, kernel_initializer,
        recurrent_initializer, bias_initializer, unit_forget_bias, kernel_regularizer, recurrent_regularizer,
        bias_regularizer, kernel_constraint, recurrent_constraint, bias_constraint, dropout,
        recurrent_dropout, seed: as in `LSTMCell`.
        precompute_inputs: in the generic time loop, compute x·W + b for all steps in one matmul before
            it (default `False`: on a CPU it measured slower). Same numbers either way. The fast path (see
            `fused_loop`) has its own schedule and ignores it.
        use_fused_bptt: run the hand-written backpropagation through time where it computes exactly this
            layer (see `fused_bptt_declined`; default `False`; where it does not, a warning says so once). Set
            it when TensorFlow compiles the model with XLA (`model.compile(jit_compile=True)`): measured faster
            there, but slower without XLA (on a CPU TensorFlow then runs each of its extra small ops
            separately) and no faster on JAX's CPU backend. Same numbers either way.
        return_sequences: return a⟨t⟩ for every step, not only the last (default `False`).
        return_state: also return the final a and c (default `False`).
        go_backwards: process the sequence backwards and return the reversed outputs (default `False`).
        stateful: carry the final states of batch i into batch i+1 (default `False`).
        unroll: unroll the time loop (short sequences only; default `False`).
        zero_output_for_mask: output zeros at masked steps instead of the last output (default `False`).

    Call arguments:
        sequences: x, shape (batch, time, features).
        initial_state: optional [a⟨0⟩, c⟨0⟩].
        mask: optional boolean (batch, time); masked steps keep the previous states.
        training: whether dropout applies.

    Example:

    >>> lstm = LSTM(8, peephole=True, return_sequences=True, return_state=True)
    >>> outputs, a, c = lstm(np.ones((2, 5, 3), "float32"))
    >>> outputs.shape, a.shape, c.shape
    ((2, 5, 8), (2, 8), (2, 8))

    Reference:
        Gers, Schraudolph & Schmidhuber, "Learning Precise Timing with LSTM Recurrent Networks", JMLR 2002.
    """

    def __init__(
        self,
        units,
        peephole=False,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        precompute_inputs=False,
        use_fused_bptt=False,
        **kwargs,
    ):
        cell = LSTMCell(
            units, peephole=peephole, activation=activation, recurrent_activation=recurrent_activation,
            use_bias=use_bias, kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
            unit_forget_bias=unit_forget_bias, kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint, dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed,
            dtype=kwargs.get("dtype"), trainable=kwargs.get("trainable", True), name="lstm_cell")
        super().__init__(cell, precompute_inputs=precompute_inputs, use_fused_bptt=use_fused_bptt, **kwargs)

    @property
    def peephole(self):
        return self.cell.peephole

    def fused_loop(self, sequences, initial_state, mask, training=False):
        """`layers._lstm_bptt`: the LSTM as one op with its hand-written backpropagation through time, masks
        and recurrent dropout included. Input dropout is applied to the whole sequence before it, so autodiff
        differentiates it."""
        cell = self.cell
        a0, c0 = (ops.cast(state, cell.variable_dtype) for state in initial_state)
        return _lstm_bptt.lstm_sequence(
            drop_inputs(cell, sequences, training=training), a0, c0, cell.kernel, cell.recurrent_kernel,
            bias=cell.bias, peepholes=cell.peephole_weights, go_backwards=self.go_backwards,
            return_sequences=self.return_sequences, mask=mask,
            recurrent_mask=recurrent_dropout_mask(cell, a0, training=training),
            zero_output_for_mask=self.zero_output_for_mask)


def lstm_weights_from_keras(weights, peephole=False):
    """Weights of a `keras.layers.LSTM`/`LSTMCell` ([kernel, recurrent_kernel, bias]) for our LSTM.

    Without peepholes the layouts are identical and the list is returned as is. With `peephole=True` three
    zero peephole vectors are appended, so the peephole LSTM starts out computing exactly Keras's LSTM.
    """
    weights = list(weights)
    if not peephole:
        return weights
    units = np.shape(weights[1])[0]
    return weights + [np.zeros((units,), dtype=np.asarray(weights[1]).dtype) for _ in range(3)]
