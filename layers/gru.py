"""The course's GRU, full or simplified, optionally layer-normalised: `GRUCell`, the `GRU` sequence layer, and
weight importers from Keras and PyTorch."""

import keras
import numpy as np
from keras import activations, constraints, initializers, ops, regularizers

from layers import _gru_bptt
from layers._sequence import (
    DropoutRNNCell,
    ProjectedRNN,
    apply_dropout_mask,
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
class GRUCell(keras.layers.Layer, DropoutRNNCell):
    """Gated Recurrent Unit cell in the course's form; one time step.

    The memory cell is the output, a⟨t⟩ = c⟨t⟩. With the blocks [u, r, c] of W, U and b:

        Γu = σ(x⟨t⟩·W_u + c⟨t-1⟩·U_u + b_u)                    update gate
        Γr = σ(x⟨t⟩·W_r + c⟨t-1⟩·U_r + b_r)                    reset (relevance) gate
        c̃⟨t⟩ = tanh(x⟨t⟩·W_c + (Γr * c⟨t-1⟩)·U_c + b_c)         reset_after=False (course, Cho et al.)
        c̃⟨t⟩ = tanh(x⟨t⟩·W_c + b_c + Γr * (c⟨t-1⟩·U_c + b'_c))  reset_after=True (cuDNN form)
        c⟨t⟩ = Γu * c̃⟨t⟩ + (1 - Γu) * c⟨t-1⟩

    `reset_gate=False` is the course's simplified GRU: no Γr, c̃⟨t⟩ = tanh(x·W_c + c⟨t-1⟩·U_c + b_c), and
    W, U, b hold only the blocks [u, c].

    Weights: kernel (input_dim, k·units), recurrent_kernel (units, k·units) with k = 3 (2 without a reset
    gate); bias (k·units), or (2, 3·units) with `reset_after=True` (row 0 for the inputs, row 1 for the
    recurrent term), exactly Keras's shapes. Keras's GRU writes h = z*h⟨t-1⟩ + (1-z)*h̃, so its z is 1 - Γu:
    load a `keras.layers.GRU`'s weights with `gru_weights_from_keras`, which negates the update-gate blocks
    (σ(-x) = 1 - σ(x)), and the outputs are identical.

    With `layer_norm=True` (Ba, Kiros & Hinton 2016) every product with W or U is layer-normalised gate block
    by gate block, each over its `units` columns, before b is added and Γr applied, as TF Addons'
    `LayerNormLSTMCell` does for the LSTM (which normalises all four blocks at once; the course's form cannot,
    since (Γr * c⟨t-1⟩)·U_c needs Γr first):

        Γu = σ(LN(x⟨t⟩·W_u) + LN(c⟨t-1⟩·U_u) + b_u),  Γr = σ(LN(x⟨t⟩·W_r) + LN(c⟨t-1⟩·U_r) + b_r)
        c̃⟨t⟩ = tanh(LN(x⟨t⟩·W_c) + LN((Γr * c⟨t-1⟩)·U_c) + b_c)                  reset_after=False
        c̃⟨t⟩ = tanh(LN(x⟨t⟩·W_c) + b_c + Γr * (LN(c⟨t-1⟩·U_c) + b'_c))            reset_after=True
        LN(v) = (v - mean(v)) / √(var(v) + ε) * γ + β, γ and β learned per block (initially 1 and 0)

    and c⟨t⟩ as above, not normalised (it is the output).

    Args:
        units: positive integer, size of c⟨t⟩.
        reset_gate: whether the cell has Γr (default `True`; `False` is the simplified GRU).
        reset_after: apply Γr after the recurrent matmul (default `False`, the course's form; `True` is
            Keras's default and cuDNN's). Needs `reset_gate=True`.
        activation: for c̃, default `"tanh"`.
        recurrent_activation: for the gates, default `"sigmoid"`.
        use_bias: whether to add b (default `True`).
        kernel_initializer, recurrent_initializer, bias_initializer: defaults `"glorot_uniform"`,
            `"orthogonal"`, `"zeros"`.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: default `None`.
        kernel_constraint, recurrent_constraint, bias_constraint: default `None`.
        dropout: fraction of the inputs dropped, one mask for all steps (default 0).
        recurrent_dropout: fraction of c⟨t-1⟩ dropped before U, one mask for all steps (default 0).
        seed: seed of the dropout masks.
        layer_norm: layer-normalise as above (default `False`); four weights of gains and offsets follow
            the bias: for x·W and c·U, k·units each.
        layer_norm_epsilon: ε of the layer normalisation (default 1e-3, as `LSTMCell`).

    Call arguments:
        inputs: x⟨t⟩, shape (batch, features).
        states: [c⟨t-1⟩], (batch, units).
        training: whether dropout applies.

    Returns:
        `(c⟨t⟩, [c⟨t⟩])`.

    Example:

    >>> rnn = keras.layers.RNN(GRUCell(4, reset_gate=False))
    >>> tuple(rnn(np.ones((2, 3, 5), "float32")).shape)
    (2, 4)

    Reference:
        Cho et al., "On the Properties of Neural Machine Translation: Encoder-Decoder Approaches", 2014;
        Chung et al., "Empirical Evaluation of Gated Recurrent Neural Networks on Sequence Modeling", 2014.
        Ba, Kiros & Hinton, "Layer Normalization", arXiv:1607.06450, 2016.
    """

    # The entry of `step_trace` that is the state.
    state_names = ("c",)

    def __init__(
        self,
        units,
        reset_gate=True,
        reset_after=False,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        layer_norm=False,
        layer_norm_epsilon=1e-3,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_units(units)
        self.reset_gate = bool(reset_gate)
        self.reset_after = bool(reset_after)
        if self.reset_after and not self.reset_gate:
            raise ValueError("Invalid `reset_after=True` with `reset_gate=False`: there is no reset gate")
        self.activation = resolve(activations.get, activation, "activation")
        self.recurrent_activation = resolve(activations.get, recurrent_activation, "recurrent_activation")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = resolve(initializers.get, kernel_initializer, "kernel_initializer")
        self.recurrent_initializer = resolve(initializers.get, recurrent_initializer, "recurrent_initializer")
        self.bias_initializer = resolve(initializers.get, bias_initializer, "bias_initializer")
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
        self.layer_norm = bool(layer_norm)
        self.layer_norm_epsilon = check_limit(layer_norm_epsilon, "layer_norm_epsilon")
        if self.layer_norm_epsilon is None:
            raise ValueError("Invalid `layer_norm_epsilon`: expected a positive number, got None")
        self.state_size = self.units
        self.output_size = self.units

    @property
    def _blocks(self):
        return 3 if self.reset_gate else 2

    def build(self, input_shape):
        check_step_input(input_shape, self.name)
        width = self._blocks * self.units
        self.kernel = self.add_weight(
            shape=(input_shape[-1], width),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, width),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(2, width) if self.reset_after else (width,),
                name="bias",
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        self.norms = {}
        if self.layer_norm:
            for part in ("kernel", "recurrent"):
                self.norms[part] = (
                    self.add_weight(shape=(width,), name=f"{part}_norm_gamma", initializer="ones"),
                    self.add_weight(shape=(width,), name=f"{part}_norm_beta", initializer="zeros"),
                )

    def _normalize(self, v, part, first_block=0):
        """Each `units`-wide block of v layer-normalised with its slice of the `part` gain and offset (the
        blocks from `first_block` on), in at least float32, when `layer_norm` is on; v itself otherwise."""
        if not self.layer_norm:
            return v
        gamma, beta = self.norms[part]
        u = self.units
        blocks = ops.split(v, v.shape[-1] // u, axis=-1)
        return ops.concatenate(
            [
                layer_normalize(block, gamma[k * u : (k + 1) * u], beta[k * u : (k + 1) * u], self.layer_norm_epsilon)
                for k, block in enumerate(blocks, start=first_block)
            ],
            axis=-1,
        )

    def project_inputs(self, inputs, training=False):
        """x·W + b (the input bias row with `reset_after`; x·W layer-normalised with `layer_norm`) for one step
        or every step at once."""
        projected = self._normalize(ops.matmul(drop_inputs(self, inputs, training=training), self.kernel), "kernel")
        if self.use_bias:
            projected = ops.add(projected, ops.cast(self.bias[0] if self.reset_after else self.bias, projected.dtype))
        return projected

    def recurrent_step(self, projected_inputs, states, training=False):
        """One step from x·W + b: applies the gates with c⟨t-1⟩. Returns `(c, [c])`.

        The gate arithmetic runs in the dtype of the incoming state (float32 under mixed precision, see
        `GRU`), the matmuls in the compute dtype.
        """
        step = self.step_trace(projected_inputs, states, training=training)
        return step["c"], [step["c"]]

    def step_trace(self, projected_inputs, states, training=False):
        """`recurrent_step`'s gates and state by name: Γu `gamma_u`, Γr `gamma_r` (not in the simplified GRU),
        c̃⟨t⟩ `c_tilde` and c⟨t⟩ `c` (see `GRU.trace`)."""
        c_prev = states[0] if isinstance(states, (list, tuple)) else states
        state_dtype = c_prev.dtype
        c_dropped = apply_dropout_mask(c_prev, recurrent_dropout_mask(self, c_prev, training=training))
        compute_dtype = self.compute_dtype

        def times_recurrent(vector, columns=slice(None), first_block=0):
            product = ops.matmul(ops.cast(vector, compute_dtype), self.recurrent_kernel[:, columns])
            return ops.cast(self._normalize(product, "recurrent", first_block), state_dtype)

        projected_inputs = ops.cast(projected_inputs, state_dtype)
        u = self.units
        if not self.reset_gate:
            z_u, z_c = ops.split(projected_inputs + times_recurrent(c_dropped), 2, axis=-1)
            gamma_u = self.recurrent_activation(z_u)
            candidate = self.activation(z_c)
        elif self.reset_after:
            recurrent = times_recurrent(c_dropped)
            if self.use_bias:
                recurrent = recurrent + ops.cast(self.bias[1], state_dtype)
            x_u, x_r, x_c = ops.split(projected_inputs, 3, axis=-1)
            h_u, h_r, h_c = ops.split(recurrent, 3, axis=-1)
            gamma_u = self.recurrent_activation(x_u + h_u)
            gamma_r = self.recurrent_activation(x_r + h_r)
            candidate = self.activation(x_c + gamma_r * h_c)
        else:
            x_ur, x_c = projected_inputs[..., : 2 * u], projected_inputs[..., 2 * u :]
            z_u, z_r = ops.split(x_ur + times_recurrent(c_dropped, slice(None, 2 * u)), 2, axis=-1)
            gamma_u = self.recurrent_activation(z_u)
            gamma_r = self.recurrent_activation(z_r)
            candidate = self.activation(x_c + times_recurrent(gamma_r * c_dropped, slice(2 * u, None), 2))
        c = gamma_u * candidate + (1.0 - gamma_u) * c_prev
        gates = {"gamma_u": gamma_u, "gamma_r": gamma_r} if self.reset_gate else {"gamma_u": gamma_u}
        return {**gates, "c_tilde": candidate, "c": c}

    def call(self, inputs, states, training=False):
        return self.recurrent_step(self.project_inputs(inputs, training=training), states, training=training)

    def get_initial_state(self, batch_size=None):
        return [ops.zeros((batch_size, self.units), dtype=self.compute_dtype)]

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "reset_gate": self.reset_gate,
            "reset_after": self.reset_after,
            "activation": activations.serialize(self.activation),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
            "layer_norm": self.layer_norm,
            "layer_norm_epsilon": self.layer_norm_epsilon,
        }


@keras.saving.register_keras_serializable(package="sequence_models")
class GRU(ProjectedRNN):
    """Gated Recurrent Unit sequence layer, full or simplified: `GRUCell` run over time.

    A `keras.layers.RNN` subclass: masking, `return_sequences`, `return_state`, `go_backwards`, `stateful`,
    `initial_state` and `unroll` behave as in Keras; works inside `keras.layers.Bidirectional` and stacked.

    Args:
        units, reset_gate, reset_after, activation, recurrent_activation, use_bias, kernel_initializer,
        recurrent_initializer, bias_initializer, kernel_regularizer, recurrent_regularizer, bias_regularizer,
        kernel_constraint, recurrent_constraint, bias_constraint, dropout, recurrent_dropout, seed, layer_norm,
        layer_norm_epsilon: as in `GRUCell`.
        use_fused_bptt: bool, default `False`. Run the hand-written backpropagation through time
            (`layers._gru_bptt`: the three forms, masked or not, with or without recurrent dropout) wherever
            it computes exactly this layer: activations tanh and sigmoid, not unrolled, float32 or float64
            with no mixed policy, no `layer_norm` (`fused_bptt_declined` says why not); elsewhere Keras's
            loop runs, with a warning, once. Same numbers either way; whether it is faster depends on the
            model, the backend and the compile: [benchmarks/README.md](../benchmarks/README.md).
        return_sequences, return_state, go_backwards, stateful, unroll, zero_output_for_mask: as in
        `keras.layers.RNN`.

    Call arguments:
        sequences: x, shape (batch, time, features).
        initial_state: optional [c⟨0⟩].
        mask: optional boolean (batch, time); masked steps keep the previous state.
        training: whether dropout applies.

    Example:

    >>> gru = GRU(8, reset_after=True, return_sequences=True)
    >>> tuple(gru(np.ones((2, 5, 3), "float32")).shape)
    (2, 5, 8)

    Reference:
        Cho et al., "On the Properties of Neural Machine Translation: Encoder-Decoder Approaches", 2014.
    """

    def __init__(
        self,
        units,
        reset_gate=True,
        reset_after=False,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        layer_norm=False,
        layer_norm_epsilon=1e-3,
        use_fused_bptt=False,
        **kwargs,
    ):
        cell = GRUCell(
            units,
            reset_gate=reset_gate,
            reset_after=reset_after,
            activation=activation,
            recurrent_activation=recurrent_activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            layer_norm=layer_norm,
            layer_norm_epsilon=layer_norm_epsilon,
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name="gru_cell",
        )
        super().__init__(cell, use_fused_bptt=use_fused_bptt, **kwargs)

    @property
    def reset_gate(self):
        return self.cell.reset_gate

    @property
    def reset_after(self):
        return self.cell.reset_after

    def trace(self, inputs, initial_state=None, mask=None):
        """Every step's gates and memory cell, for a look inside: what the cell computes at each step
        (`GRUCell`'s equations in this layer's form, layer-normalised with `layer_norm`), at inference.

            gamma_u   Γu⟨t⟩ = σ(x⟨t⟩·W_u + c⟨t-1⟩·U_u + b_u)    update gate                   (batch, time, units)
            gamma_r   Γr⟨t⟩ = σ(x⟨t⟩·W_r + c⟨t-1⟩·U_r + b_r)    reset gate; not with reset_gate=False
            c_tilde   c̃⟨t⟩ = tanh(x⟨t⟩·W_c + (Γr * c⟨t-1⟩)·U_c + b_c), or the layer's other form: candidate
            c         c⟨t⟩ = Γu * c̃⟨t⟩ + (1 - Γu) * c⟨t-1⟩      the memory cell, = a⟨t⟩, the output

        A masked step carries c from the step before, as the layer does, and its gates are NaN (it has
        none). Index t is the step reading x⟨t⟩, also with `go_backwards`.

        Args:
            inputs: x, (batch, time, features).
            initial_state: optional [c⟨0⟩]; default zeros (a stateful layer's current state).
            mask: optional boolean (batch, time); False skips the step.

        Returns:
            A dict of NumPy arrays, keys as above; `c[:, -1]` is the layer's output for an unmasked batch.

        Example:

        >>> gru = GRU(4, reset_gate=False)
        >>> steps = gru.trace(np.ones((2, 3, 5), "float32"), mask=np.array([[True] * 3, [True, True, False]]))
        >>> sorted(steps), steps["c"].shape
        (['c', 'c_tilde', 'gamma_u'], (2, 3, 4))
        >>> bool(np.isnan(steps["gamma_u"][1, 2]).all()), bool((steps["c"][1, 2] == steps["c"][1, 1]).all())
        (True, True)
        """
        return super().trace(inputs, initial_state=initial_state, mask=mask)

    def fused_bptt_declined(self, sequences):
        """As `ProjectedRNN.fused_bptt_declined`, and the fused GRU has no layer normalisation."""
        if self.cell.layer_norm:
            return "its equations have no layer_norm"
        return super().fused_bptt_declined(sequences)

    def fused_loop(self, sequences, initial_state, mask, training=False):
        """`layers._gru_bptt`: the GRU as one op with its hand-written backpropagation through time, masks and
        recurrent dropout included. Input dropout is applied to the whole sequence before it, so autodiff
        differentiates it."""
        cell = self.cell
        c0 = ops.cast(initial_state[0], cell.variable_dtype)
        return _gru_bptt.gru_sequence(
            drop_inputs(cell, sequences, training=training),
            c0,
            cell.kernel,
            cell.recurrent_kernel,
            bias=cell.bias,
            reset_gate=cell.reset_gate,
            reset_after=cell.reset_after,
            go_backwards=self.go_backwards,
            return_sequences=self.return_sequences,
            mask=mask,
            recurrent_mask=recurrent_dropout_mask(cell, c0, training=training),
            zero_output_for_mask=self.zero_output_for_mask,
        )


def gru_weights_from_keras(weights):
    """Converts `keras.layers.GRU`/`GRUCell` weights [kernel, recurrent_kernel, bias] to ours, and back.

    Keras's update gate z is our 1 - Γu. Since σ(-x) = 1 - σ(x), negating the first `units` columns of the
    kernel, the recurrent kernel and the bias (both rows with `reset_after=True`) turns one into the other
    exactly; the reset gate and candidate blocks are in the same place in both. The conversion is its own
    inverse. Build our cell with the same `reset_after` as the Keras layer (Keras's default is `True`).

    Example:

    >>> keras_gru = keras.layers.GRU(4)
    >>> x = np.ones((1, 3, 2), "float32")
    >>> _ = keras_gru(x)
    >>> ours = GRU(4, reset_after=True)
    >>> _ = ours(x)
    >>> ours.set_weights(gru_weights_from_keras(keras_gru.get_weights()))
    >>> bool(np.allclose(ours(x), keras_gru(x), atol=1e-6))
    True
    """
    converted = [np.array(w, copy=True) for w in weights]
    units = converted[1].shape[0]
    for weight in converted:
        weight[..., :units] *= -1
    return converted


def gru_from_torch(state_dict, **layer_kwargs):
    """Our GRU layers computing exactly a PyTorch `nn.GRU`, from its `state_dict()` (tensors or NumPy arrays).

    PyTorch's GRU is the `reset_after=True` form, h⟨t⟩ = (1 - z) * n + z * h⟨t-1⟩ with its blocks r, z, n: its z
    is 1 - Γu, so the z blocks are negated (σ(-x) = 1 - σ(x)) and moved first, giving our u, r, c; `bias_ih` and
    `bias_hh` are our two bias rows. Every layer `_lK` becomes one of our `GRU`s, a `keras.layers.Bidirectional`
    of two where the module is bidirectional (`_reverse`); `bias=False` gives `use_bias=False`.

    Args:
        state_dict: `nn.GRU(...).state_dict()`, or the same keys with a module prefix ("rnn.weight_ih_l0").
        **layer_kwargs: passed to every `GRU` (default `return_sequences=True`, as PyTorch returns them all).

    Returns:
        A list of built layers, one per layer of the module.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> [gru] = gru_from_torch({"weight_ih_l0": rng.normal(size=(6, 3)), "weight_hh_l0": rng.normal(size=(6, 2))})
    >>> tuple(gru(np.ones((1, 4, 3), "float32")).shape)
    (1, 4, 2)
    """
    layer_kwargs.setdefault("return_sequences", True)

    def to_ours(matrix):  # PyTorch's r, z, n rows -> our u = 1 - z, r, c
        r, z, n = np.split(matrix, 3, axis=0)
        return np.concatenate([-z, r, n], axis=0)

    def convert(arrays):
        w_ih, w_hh, b_ih, b_hh = (arrays[name] for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
        if arrays["weight_hr"] is not None:
            raise ValueError("Invalid PyTorch nn.GRU state dict: `weight_hr` belongs to an nn.LSTM with proj_size")
        weights = [to_ours(w_ih).T, to_ours(w_hh).T]
        if b_ih is not None:
            weights.append(np.stack([to_ours(b_ih), to_ours(b_hh)]))
        return GRU(w_ih.shape[0] // 3, reset_after=True, use_bias=b_ih is not None, **layer_kwargs), weights

    return layers_from_torch(state_dict, convert)
