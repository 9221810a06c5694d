"""The course's LSTM, with the options Keras 3 lacks (peepholes, projection, clipping, TF1's forget bias, layer
normalisation): `LSTMCell`, the `LSTM` sequence layer, and weight importers from Keras, TF1 and PyTorch."""

import keras
import numpy as np
from keras import activations, constraints, initializers, ops, regularizers

from layers import _lstm_bptt
from layers._sequence import (
    DropoutRNNCell,
    ProjectedRNN,
    apply_dropout_mask,
    check_float,
    check_limit,
    check_rate,
    check_step_input,
    check_units,
    drop_inputs,
    layer_normalize,
    layers_from_torch,
    recurrent_dropout_mask,
    resolve,
)


@keras.saving.register_keras_serializable(package="sequence_models")
class LSTMCell(keras.layers.Layer, DropoutRNNCell):
    """Long Short-Term Memory cell, optionally with peepholes, projection, clipping, layer norm; one time step.

    In the course notation, with z = x⟨t⟩·W + a⟨t-1⟩·U + b split into the four gate blocks [u, f, c, o]:

        Γu = σ(z_u + p_u * c⟨t-1⟩)                  update (input) gate
        Γf = σ(z_f + forget_bias + p_f * c⟨t-1⟩)    forget gate
        c̃⟨t⟩ = tanh(z_c)                            candidate
        c⟨t⟩ = Γu * c̃⟨t⟩ + Γf * c⟨t-1⟩                clipped to [-cell_clip, cell_clip] if given
        Γo = σ(z_o + p_o * c⟨t⟩)                    output gate (peeks at the new cell)
        a⟨t⟩ = Γo * tanh(c⟨t⟩)                       times W_proj (units, P) if `proj_size=P`, then
                                                    clipped to [-proj_clip, proj_clip] if given

    With `proj_size=P` (LSTMP, Sak et al. 2014: TF1's `num_proj`, PyTorch's `proj_size`) a⟨t⟩ has P units
    and U is (P, 4·units); c keeps `units`. `forget_bias` (TF1's, default 0) is a constant added at every
    step; `unit_forget_bias` (Keras's) only initialises the forget block of b to 1, which training then moves.

    With `layer_norm=True` (Ba, Kiros & Hinton 2016), exactly TF Addons' `LayerNormLSTMCell`:

        z = LN_x(x⟨t⟩·W) + LN_a(a⟨t-1⟩·U) + b       each LN over all 4·units columns, bias after
        c⟨t⟩ = LN_c(Γu * c̃⟨t⟩ + Γf * c⟨t-1⟩)         (after the clip); the normalised c is the state
        LN(v) = (v - mean(v)) / √(var(v) + ε) * γ + β, with learned gain γ (initially 1) and offset β (0)

    and the peepholes, Γo and tanh see the normalised c.

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
        proj_size: P, the size of a⟨t⟩ through the projection W_proj (default `None`: no projection). W_proj
            is initialised like W and follows the peepholes in the weights.
        proj_clip: clip a⟨t⟩ to [-proj_clip, proj_clip] after the projection (default `None`; needs
            `proj_size`).
        cell_clip: clip c⟨t⟩ to [-cell_clip, cell_clip] after the update (default `None`).
        forget_bias: a float added to the forget gate's pre-activation at every step (default 0.0).
        layer_norm: layer-normalise as above (default `False`); six weights of gains and offsets follow,
            for x·W, a·U (4·units each) and c (units).
        layer_norm_epsilon: ε of the layer normalisation (default 1e-3, TF Addons').

    Call arguments:
        inputs: x⟨t⟩, shape (batch, features).
        states: [a⟨t-1⟩, c⟨t-1⟩], (batch, P or units) and (batch, units).
        training: whether dropout applies.

    Returns:
        `(a⟨t⟩, [a⟨t⟩, c⟨t⟩])`.

    Example:

    >>> cell = LSTMCell(4, peephole=True)
    >>> rnn = keras.layers.RNN(cell, return_sequences=True)
    >>> tuple(rnn(np.ones((2, 3, 5), "float32")).shape)
    (2, 3, 4)

    Reference:
        Gers, Schraudolph & Schmidhuber, "Learning Precise Timing with LSTM Recurrent Networks", JMLR 2002.
        Hochreiter & Schmidhuber, "Long Short-Term Memory", Neural Computation 1997.
        Sak, Senior & Beaufays, "Long Short-Term Memory Recurrent Neural Network Architectures for Large
        Scale Acoustic Modeling", Interspeech 2014.
        Ba, Kiros & Hinton, "Layer Normalization", arXiv:1607.06450, 2016.
    """

    # The entries of `step_trace` that are the states, in the order of `states`.
    state_names = ("a", "c")

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
        proj_size=None,
        proj_clip=None,
        cell_clip=None,
        forget_bias=0.0,
        layer_norm=False,
        layer_norm_epsilon=1e-3,
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
        self.proj_size = None if proj_size is None else check_units(proj_size, "proj_size")
        self.proj_clip = check_limit(proj_clip, "proj_clip")
        if self.proj_clip is not None and self.proj_size is None:
            raise ValueError("Invalid `proj_clip` without `proj_size`: there is no projection to clip")
        self.cell_clip = check_limit(cell_clip, "cell_clip")
        self.forget_bias = check_float(forget_bias, "forget_bias")
        self.layer_norm = bool(layer_norm)
        self.layer_norm_epsilon = check_limit(layer_norm_epsilon, "layer_norm_epsilon")
        if self.layer_norm_epsilon is None:
            raise ValueError("Invalid `layer_norm_epsilon`: expected a positive number, got None")
        self.state_size = [self.proj_size or self.units, self.units]
        self.output_size = self.proj_size or self.units

    def build(self, input_shape):
        check_step_input(input_shape, self.name)
        self.kernel = self.add_weight(
            shape=(input_shape[-1], 4 * self.units),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.proj_size or self.units, 4 * self.units),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(4 * self.units,),
                name="bias",
                initializer=self._initial_bias,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        self.peephole_weights = None
        if self.peephole:
            self.peephole_weights = [
                self.add_weight(
                    shape=(self.units,), name=f"{gate}_gate_peephole_weights", initializer=self.kernel_initializer
                )
                for gate in ("input", "forget", "output")
            ]
        self.projection_kernel = None
        if self.proj_size:
            self.projection_kernel = self.add_weight(
                shape=(self.units, self.proj_size), name="projection_kernel", initializer=self.kernel_initializer
            )
        self.norms = {}
        if self.layer_norm:
            for part, width in (("kernel", 4 * self.units), ("recurrent", 4 * self.units), ("cell", self.units)):
                self.norms[part] = (
                    self.add_weight(shape=(width,), name=f"{part}_norm_gamma", initializer="ones"),
                    self.add_weight(shape=(width,), name=f"{part}_norm_beta", initializer="zeros"),
                )

    def _initial_bias(self, shape, dtype=None):
        if not self.unit_forget_bias:
            return self.bias_initializer(shape, dtype=dtype)
        u = self.units
        return ops.concatenate(
            [
                self.bias_initializer((u,), dtype=dtype),
                ops.ones((u,), dtype=dtype),
                self.bias_initializer((2 * u,), dtype=dtype),
            ]
        )

    def project_inputs(self, inputs, training=False):
        """x·W + b (LN_x(x·W) + b with `layer_norm`) for one step (batch, features) or every step at once
        (batch, time, features)."""
        projected = ops.matmul(drop_inputs(self, inputs, training=training), self.kernel)
        projected = self._normalize(projected, "kernel")
        if self.use_bias:
            projected = ops.add(projected, ops.cast(self.bias, projected.dtype))
        return projected

    def _normalize(self, v, part):
        """LN(v) with the `part` gain and offset when `layer_norm` is on, in at least float32 (so under a mixed
        policy, like the states); v itself otherwise."""
        if not self.layer_norm:
            return v
        gamma, beta = self.norms[part]
        return layer_normalize(v, gamma, beta, self.layer_norm_epsilon)

    def recurrent_step(self, projected_inputs, states, training=False):
        """One step from x·W + b: adds a⟨t-1⟩·U and applies the gates. Returns `(a, [a, c])`.

        The gate arithmetic runs in the dtype of the incoming states (float32 under mixed precision, see
        `LSTM`), the matmul in the compute dtype.
        """
        step = self.step_trace(projected_inputs, states, training=training)
        return step["a"], [step["a"], step["c"]]

    def step_trace(self, projected_inputs, states, training=False):
        """`recurrent_step`'s gates and states by name: Γu `gamma_u`, Γf `gamma_f`, c̃⟨t⟩ `c_tilde`, Γo
        `gamma_o`, c⟨t⟩ `c` and a⟨t⟩ `a` (see `LSTM.trace`)."""
        a_prev, c_prev = states[0], states[1]
        state_dtype = c_prev.dtype
        a_prev = apply_dropout_mask(a_prev, recurrent_dropout_mask(self, a_prev, training=training))
        recurrent = ops.matmul(ops.cast(a_prev, self.compute_dtype), self.recurrent_kernel)
        recurrent = self._normalize(recurrent, "recurrent")
        z = ops.cast(projected_inputs, state_dtype) + ops.cast(recurrent, state_dtype)
        z_u, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
        if self.forget_bias:
            z_f = z_f + self.forget_bias
        if self.peephole:
            p_u, p_f, p_o = (ops.cast(p, state_dtype) for p in self.peephole_weights)
            z_u = z_u + p_u * c_prev
            z_f = z_f + p_f * c_prev
        gamma_u = self.recurrent_activation(z_u)
        gamma_f = self.recurrent_activation(z_f)
        c_tilde = self.activation(z_c)
        c = gamma_u * c_tilde + gamma_f * c_prev
        if self.cell_clip is not None:
            c = ops.clip(c, -self.cell_clip, self.cell_clip)
        c = ops.cast(self._normalize(c, "cell"), state_dtype)
        if self.peephole:
            z_o = z_o + p_o * c
        gamma_o = self.recurrent_activation(z_o)
        a = gamma_o * self.activation(c)
        if self.proj_size:
            a = ops.cast(ops.matmul(ops.cast(a, self.compute_dtype), self.projection_kernel), state_dtype)
            if self.proj_clip is not None:
                a = ops.clip(a, -self.proj_clip, self.proj_clip)
        return {"gamma_u": gamma_u, "gamma_f": gamma_f, "c_tilde": c_tilde, "gamma_o": gamma_o, "c": c, "a": a}

    def call(self, inputs, states, training=False):
        return self.recurrent_step(self.project_inputs(inputs, training=training), states, training=training)

    def get_initial_state(self, batch_size=None):
        return [ops.zeros((batch_size, size), dtype=self.compute_dtype) for size in self.state_size]

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
            "proj_size": self.proj_size,
            "proj_clip": self.proj_clip,
            "cell_clip": self.cell_clip,
            "forget_bias": self.forget_bias,
            "layer_norm": self.layer_norm,
            "layer_norm_epsilon": self.layer_norm_epsilon,
        }


@keras.saving.register_keras_serializable(package="sequence_models")
class LSTM(ProjectedRNN):
    """Long Short-Term Memory sequence layer, optionally with peepholes: `LSTMCell` run over time.

    A `keras.layers.RNN` subclass (not `keras.layers.LSTM`, whose cuDNN path would silently drop the
    peepholes), so masking, `return_sequences`, `return_state`, `go_backwards`, `stateful`, `initial_state`
    and `unroll` behave as in Keras, and it works inside `keras.layers.Bidirectional` and stacked.
    With `use_fused_bptt`, float32/float64 sequences with the default activations run as one op with a
    hand-written backpropagation through time (`layers._lstm_bptt`), masked or not, with or without recurrent
    dropout, which can train faster than Keras's generic loop (see `use_fused_bptt`); every other case runs
    Keras's loop, with a warning. The numbers are the same either way.

    Args:
        units, peephole, activation, recurrent_activation, use_bias, kernel_initializer,
        recurrent_initializer, bias_initializer, unit_forget_bias, kernel_regularizer, recurrent_regularizer,
        bias_regularizer, kernel_constraint, recurrent_constraint, bias_constraint, dropout,
        recurrent_dropout, seed, proj_size, proj_clip, cell_clip, forget_bias, layer_norm,
        layer_norm_epsilon: as in `LSTMCell`.
        use_fused_bptt: bool, default `False`. Run the hand-written backpropagation through time wherever it
            computes exactly this layer: activations tanh and sigmoid, not unrolled, float32 or float64 with
            no mixed policy, no `proj_size`, `cell_clip` or `layer_norm` (`fused_bptt_declined` says why
            not); elsewhere Keras's loop runs, with a warning, once. Masks, `go_backwards`,
            `Bidirectional`, recurrent dropout and a time axis of unknown length are all taken. Same numbers
            either way; whether it is faster depends on the model, the backend and the compile:
            [benchmarks/README.md](../benchmarks/README.md).
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
    >>> [tuple(t.shape) for t in (outputs, a, c)]
    [(2, 5, 8), (2, 8), (2, 8)]
    >>> lstmp = LSTM(8, proj_size=3, cell_clip=5.0, forget_bias=1.0, layer_norm=True, return_state=True)
    >>> [tuple(t.shape) for t in lstmp(np.ones((2, 5, 3), "float32"))]  # a has P = 3 units, c has 8
    [(2, 3), (2, 3), (2, 8)]

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
        proj_size=None,
        proj_clip=None,
        cell_clip=None,
        forget_bias=0.0,
        layer_norm=False,
        layer_norm_epsilon=1e-3,
        use_fused_bptt=False,
        **kwargs,
    ):
        cell = LSTMCell(
            units,
            peephole=peephole,
            activation=activation,
            recurrent_activation=recurrent_activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            unit_forget_bias=unit_forget_bias,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            proj_size=proj_size,
            proj_clip=proj_clip,
            cell_clip=cell_clip,
            forget_bias=forget_bias,
            layer_norm=layer_norm,
            layer_norm_epsilon=layer_norm_epsilon,
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name="lstm_cell",
        )
        super().__init__(cell, use_fused_bptt=use_fused_bptt, **kwargs)

    @property
    def peephole(self):
        return self.cell.peephole

    @property
    def proj_size(self):
        return self.cell.proj_size

    def trace(self, inputs, initial_state=None, mask=None):
        """Every step's gates and states, for a look inside: what the cell computes at each step (`LSTMCell`'s
        equations, with this layer's peepholes, projection, clipping and layer norm), at inference.

            gamma_u   Γu⟨t⟩ = σ(z_u + p_u * c⟨t-1⟩)              update gate          (batch, time, units)
            gamma_f   Γf⟨t⟩ = σ(z_f + forget_bias + p_f * c⟨t-1⟩) forget gate          (batch, time, units)
            c_tilde   c̃⟨t⟩ = tanh(z_c)                          candidate            (batch, time, units)
            gamma_o   Γo⟨t⟩ = σ(z_o + p_o * c⟨t⟩)                output gate          (batch, time, units)
            c         c⟨t⟩ = Γu * c̃⟨t⟩ + Γf * c⟨t-1⟩ (clipped, normalised): the memory cell (batch, time, units)
            a         a⟨t⟩ = Γo * tanh(c⟨t⟩) (projected, clipped): the output (batch, time, P or units)

        with z = x⟨t⟩·W + a⟨t-1⟩·U + b (layer-normalised with `layer_norm`). A masked step carries a and c
        from the step before, as the layer does, and its gates are NaN (it has none). Index t is the step
        reading x⟨t⟩, also with `go_backwards`.

        Args:
            inputs: x, (batch, time, features).
            initial_state: optional [a⟨0⟩, c⟨0⟩]; default zeros (a stateful layer's current states).
            mask: optional boolean (batch, time); False skips the step.

        Returns:
            A dict of NumPy arrays, keys as above; `a[:, -1]` is the layer's output for an unmasked batch.

        Example:

        >>> lstm = LSTM(4, peephole=True)
        >>> steps = lstm.trace(np.ones((2, 3, 5), "float32"))
        >>> {name: value.shape for name, value in steps.items()}["gamma_f"]
        (2, 3, 4)
        >>> sorted(steps)
        ['a', 'c', 'c_tilde', 'gamma_f', 'gamma_o', 'gamma_u']
        >>> bool(np.allclose(steps["a"][:, -1], lstm(np.ones((2, 3, 5), "float32"))))
        True
        """
        return super().trace(inputs, initial_state=initial_state, mask=mask)

    def fused_bptt_declined(self, sequences):
        """As `ProjectedRNN.fused_bptt_declined`, and the fused LSTM has no projection, clipping or layer
        normalisation (TF1's `forget_bias` it takes, folded into b)."""
        cell = self.cell
        options = [
            name
            for name, on in (
                ("proj_size", cell.proj_size),
                ("cell_clip", cell.cell_clip is not None),
                ("layer_norm", cell.layer_norm),
            )
            if on
        ]
        if options:
            return f"its equations have no {', '.join(options)}"
        return super().fused_bptt_declined(sequences)

    def fused_loop(self, sequences, initial_state, mask, training=False):
        """`layers._lstm_bptt`: the LSTM as one op with its hand-written backpropagation through time, masks
        and recurrent dropout included. Input dropout is applied to the whole sequence before it, so autodiff
        differentiates it."""
        cell = self.cell
        a0, c0 = (ops.cast(state, cell.variable_dtype) for state in initial_state)
        bias = cell.bias
        if cell.forget_bias:
            u = cell.units
            forget_offset = np.concatenate([np.zeros(u), np.full(u, cell.forget_bias), np.zeros(2 * u)])
            forget_offset = ops.convert_to_tensor(forget_offset, dtype=cell.variable_dtype)
            bias = forget_offset if bias is None else ops.add(bias, forget_offset)
        return _lstm_bptt.lstm_sequence(
            drop_inputs(cell, sequences, training=training),
            a0,
            c0,
            cell.kernel,
            cell.recurrent_kernel,
            bias=bias,
            peepholes=cell.peephole_weights,
            go_backwards=self.go_backwards,
            return_sequences=self.return_sequences,
            mask=mask,
            recurrent_mask=recurrent_dropout_mask(cell, a0, training=training),
            zero_output_for_mask=self.zero_output_for_mask,
        )


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


def lstm_from_torch(state_dict, **layer_kwargs):
    """Our LSTM layers computing exactly a PyTorch `nn.LSTM`, from its `state_dict()` (tensors or NumPy arrays).

    PyTorch's gates i, f, g, o are our u, f, c, o in the same order; its two biases add up to our b, and
    `weight_hr` (`proj_size`) is our W_proj transposed. Every layer `_lK` becomes one of our `LSTM`s, a
    `keras.layers.Bidirectional` of two where the module is bidirectional (`_reverse`); `bias=False` gives
    `use_bias=False`. Stack the list (`keras.Sequential([keras.Input((None, D)), *layers])`) for the module's
    output sequence; PyTorch's `dropout` between layers is yours to add.

    Args:
        state_dict: `nn.LSTM(...).state_dict()`, or the same keys with a module prefix ("rnn.weight_ih_l0").
        **layer_kwargs: passed to every `LSTM` (default `return_sequences=True`, as PyTorch returns them all).

    Returns:
        A list of built layers, one per layer of the module.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> torch_weights = {"weight_ih_l0": rng.normal(size=(8, 3)), "weight_hh_l0": rng.normal(size=(8, 2))}
    >>> [lstm] = lstm_from_torch(torch_weights)
    >>> tuple(lstm(np.ones((1, 4, 3), "float32")).shape)
    (1, 4, 2)
    """
    layer_kwargs.setdefault("return_sequences", True)

    def convert(arrays):
        w_ih, w_hh, b_ih, b_hh, w_hr = (
            arrays[name] for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
        )
        weights = (
            [w_ih.T, w_hh.T] + ([b_ih + b_hh] if b_ih is not None else []) + ([w_hr.T] if w_hr is not None else [])
        )
        layer = LSTM(
            w_ih.shape[0] // 4,
            use_bias=b_ih is not None,
            proj_size=None if w_hr is None else w_hr.shape[0],
            **layer_kwargs,
        )
        return layer, weights

    return layers_from_torch(state_dict, convert)


_TF1_NAMES = ("projection/kernel", "kernel", "bias", "w_i_diag", "w_f_diag", "w_o_diag")


def lstm_from_tf1(variables, forget_bias=1.0, cell_clip=None, proj_clip=None, **layer_kwargs):
    """Our LSTM computing exactly a TF1 `LSTMCell(use_peepholes=..., num_proj=..., cell_clip=..., forget_bias=...)`
    run over time, from the variables a TF1 checkpoint holds.

    TF1 keeps one kernel over [x, a] with the gate blocks in the order i, j, f, o (our u, c, f, o; reordered
    here), its bias likewise, the peepholes `w_i_diag`, `w_f_diag`, `w_o_diag` and `projection/kernel`
    (units, num_proj). Peepholes and the projection are recognised by their presence. `forget_bias`,
    `cell_clip` and `proj_clip` are arguments of the TF1 cell, not variables: give them as the model was built
    (TF1's `forget_bias` default is 1.0) and they go to the layer.

    Args:
        variables: one cell's variables, name -> array; names may carry a scope and a ":0"
            ("rnn/lstm_cell/kernel"), e.g. `{n: reader.get_tensor(n) for n in names}` with
            `reader = tf.train.load_checkpoint(path)`.
        forget_bias, cell_clip, proj_clip: the TF1 cell's arguments.
        **layer_kwargs: passed to the `LSTM` (default `return_sequences=True`, as `tf.nn.dynamic_rnn`).

    Returns:
        A built `LSTM`.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> lstm = lstm_from_tf1({"rnn/lstm_cell/kernel": rng.normal(size=(5, 8)), "rnn/lstm_cell/bias": np.zeros(8)})
    >>> tuple(lstm(np.ones((1, 4, 3), "float32")).shape)
    (1, 4, 2)
    """
    found = {}
    for key, value in variables.items():
        name = key.split(":")[0]
        suffix = next((s for s in _TF1_NAMES if name == s or name.endswith("/" + s)), None)
        if suffix is None or suffix in found:
            raise ValueError(
                f"Invalid TF1 LSTMCell variables: {'unexpected' if suffix is None else 'a second'} "
                f"{key!r}; expected one cell's {', '.join(_TF1_NAMES)}"
            )
        found[suffix] = np.asarray(value)
    if "kernel" not in found or "bias" not in found:
        raise ValueError("Invalid TF1 LSTMCell variables: `kernel` and `bias` are needed")
    peepholes = [found.get(f"w_{gate}_diag") for gate in "ifo"]
    if any(p is None for p in peepholes) and any(p is not None for p in peepholes):
        raise ValueError("Invalid TF1 LSTMCell variables: w_i_diag, w_f_diag, w_o_diag come together")
    projection = found.get("projection/kernel")
    kernel, bias = found["kernel"], found["bias"]
    units = bias.shape[0] // 4
    recurrent_size = units if projection is None else projection.shape[1]
    input_dim = kernel.shape[0] - recurrent_size

    def reorder(matrix):  # TF1's i, j, f, o -> our u, f, c, o
        i, j, f, o = np.split(matrix, 4, axis=-1)
        return np.concatenate([i, f, j, o], axis=-1)

    weights = [reorder(kernel[:input_dim]), reorder(kernel[input_dim:]), reorder(bias)]
    if peepholes[0] is not None:
        weights += peepholes
    if projection is not None:
        weights.append(projection)
    layer_kwargs.setdefault("return_sequences", True)
    layer = LSTM(
        units,
        peephole=peepholes[0] is not None,
        proj_size=None if projection is None else recurrent_size,
        proj_clip=proj_clip,
        cell_clip=cell_clip,
        forget_bias=forget_bias,
        **layer_kwargs,
    )
    layer.build((None, None, input_dim))
    layer.set_weights(weights)
    return layer
