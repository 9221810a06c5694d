"""What our sequence layers share: the time loop (full-precision states) and a flat config."""

import math
import numbers
import warnings

import keras
import numpy as np
from keras import activations, ops

# `keras.layers.RNN.inner_loop` steps a cell through time with this function; there is no public alias, and
# reusing it keeps masking, `go_backwards` and `unroll` exactly as in Keras's own LSTM and GRU.
from keras.src.backend import rnn as backend_rnn

# `keras.layers.RNN` prepares and clears the dropout masks of cells that are instances of this mixin (it
# checks with isinstance), so our cells must inherit the very class; Keras does not export it.
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell  # noqa: F401


class ProjectedRNN(keras.layers.RNN):
    """A `keras.layers.RNN` whose cell splits into an input projection and a recurrent step.

    The cell must provide `project_inputs(x, training)` (x·W + b, with input dropout) and
    `recurrent_step(projected_x, states, training)`. The generic loop runs both at every step, as
    `keras.layers.RNN` does; the split lets a caller that knows its inputs ahead (a sampler over a fixed
    vocabulary) compute x·W + b once and look it up.

    The states travel through the loop in the layer's *variable* dtype: under a `mixed_bfloat16` or
    `mixed_float16` policy the matmuls run in 16 bits but c⟨t⟩ and the gate arithmetic stay in float32, so a
    memory cell that integrates small updates over many steps does not lose them to 16-bit rounding. Outputs
    and returned states are cast to the compute dtype, as Keras's RNN does.

    With `use_fused_bptt=True` the subclass's `fused_loop` (one op with a hand-written backpropagation through
    time) replaces the generic loop wherever it computes exactly the same (see `fused_bptt_declined`); where it
    does not, a warning says so, once.
    """

    def __init__(self, cell, use_fused_bptt=False, **kwargs):
        if not isinstance(use_fused_bptt, bool):
            raise ValueError(f"Invalid `use_fused_bptt`: expected True or False, got {use_fused_bptt!r}")
        super().__init__(cell, **kwargs)
        self.use_fused_bptt = use_fused_bptt
        self._declined_fused_bptt = False  # warned once already

    def build(self, sequences_shape, initial_state_shape=None):
        check_sequence_input(sequences_shape, self.name)
        super().build(sequences_shape, initial_state_shape)

    def fused_loop(self, sequences, initial_state, mask, training=False):
        """The time loop as one op with a hand-written backpropagation through time (`layers._bptt`):
        `(last_output, outputs, states)` as `keras.src.backend.rnn` returns them. Subclasses provide it."""
        raise NotImplementedError

    def fused_bptt_declined(self, sequences):
        """Why the fused path would not run `sequences` through exactly this layer (a sentence), or None.

        Its hand-coded derivatives assume tanh and sigmoid, a time loop (not unrolled), and states in the
        compute dtype, float32 or float64 (mixed policies keep their float32 states in the generic loop). A
        time axis of unknown length (a graph traced for `Input((None, features))`) is fine.
        """
        cell = self.cell
        if cell.activation is not activations.tanh or cell.recurrent_activation is not activations.sigmoid:
            return (
                f"its derivatives are those of activation='tanh', recurrent_activation='sigmoid', not "
                f"{activations.serialize(cell.activation)!r}, "
                f"{activations.serialize(cell.recurrent_activation)!r}"
            )
        if self.unroll:
            return "unroll=True asks for the unrolled generic loop"
        if cell.compute_dtype != cell.variable_dtype:
            return (
                f"the {cell.dtype_policy.name!r} policy computes in {cell.compute_dtype}; the generic loop "
                f"keeps its states in {cell.variable_dtype}"
            )
        if cell.compute_dtype not in ("float32", "float64"):
            return f"it runs in float32 or float64, not {cell.compute_dtype}"
        return None

    def inner_loop(self, sequences, initial_state, mask, training=False):
        """The fused path (`fused_loop`) where `use_fused_bptt` asks for it and it computes exactly this layer,
        Keras's generic loop otherwise: with a warning, once, when asked for and declined."""
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        if self.use_fused_bptt:
            declined = self.fused_bptt_declined(sequences)
            if declined is None:
                return self.fused_loop(sequences, initial_state, mask, training=training)
            if not self._declined_fused_bptt:
                self._declined_fused_bptt = True
                warnings.warn(
                    f"{self.name}: use_fused_bptt=True, but the fused path is not taken and Keras's "
                    f"slower generic loop runs instead: {declined}.",
                    stacklevel=2,
                )
        cell = self.cell

        def step(x, states):
            return cell.recurrent_step(cell.project_inputs(x, training=training), states, training=training)

        return backend_rnn(
            step,
            sequences,
            [ops.cast(state, cell.variable_dtype) for state in initial_state],
            go_backwards=self.go_backwards,
            mask=mask,
            unroll=self.unroll,
            input_length=sequences.shape[1],
            zero_output_for_mask=self.zero_output_for_mask,
            return_all_outputs=self.return_sequences,
        )

    def trace(self, inputs, initial_state=None, mask=None):
        """Every step's gates and states, computed by the cell's own `step_trace` (what `recurrent_step` runs),
        at inference (no dropout): a dict name -> NumPy array (batch, time, size) in the states' dtype.

        Index t is the step that reads x⟨t⟩, with `go_backwards` too (the layer then reads from the last step).
        A masked step carries the previous states, as the layer does, and has no gates: NaN there. The initial
        states are `initial_state`, else those a call would start from (zeros, or a stateful layer's current
        states, which tracing leaves as they are). The subclasses' `trace` names the entries.
        """
        sequences = ops.convert_to_tensor(inputs, dtype=self.compute_dtype)
        check_sequence_input(sequences.shape, self.name)
        if not self.built:
            self.build(sequences.shape)
        cell = self.cell
        if initial_state is None:
            initial_state = self.states if self.stateful else self.get_initial_state(ops.shape(sequences)[0])
        states = [ops.cast(state, cell.variable_dtype) for state in keras.tree.flatten(initial_state)]
        keep = ops.ones(ops.shape(sequences)[:2]) if mask is None else mask
        # The mask rides along as one more input column, so that the step itself carries the states where it is
        # off: Keras's loop would carry the traced values (and start them at zero, not at the initial states).
        steps = ops.concatenate([sequences, ops.cast(ops.expand_dims(keep, -1), sequences.dtype)], axis=-1)
        sizes = {}

        def step(x_and_keep, states):
            x, keep = x_and_keep[:, :-1], ops.cast(x_and_keep[:, -1:], "bool")
            record = cell.step_trace(cell.project_inputs(x), states)
            new_states = [ops.where(keep, record[name], old) for name, old in zip(cell.state_names, states)]
            record.update(zip(cell.state_names, new_states))
            for name in record:
                if name not in cell.state_names:
                    record[name] = ops.where(keep, record[name], float("nan"))
                sizes[name] = record[name].shape[-1]
            return ops.concatenate(list(record.values()), axis=-1), new_states

        _, records, _ = backend_rnn(
            step, steps, states, go_backwards=self.go_backwards, input_length=sequences.shape[1]
        )
        if self.go_backwards:
            records = ops.flip(records, axis=1)
        ends = np.cumsum(list(sizes.values()))[:-1].tolist()
        return {name: ops.convert_to_numpy(part) for name, part in zip(sizes, ops.split(records, ends, axis=-1))}

    def call(self, sequences, initial_state=None, mask=None, training=False):
        check_sequence_input(sequences.shape, self.name)  # a built layer skips `build`
        return super().call(sequences, mask=mask, training=training, initial_state=initial_state)

    @property
    def units(self):
        return self.cell.units

    @property
    def dropout(self):
        return self.cell.dropout

    @property
    def recurrent_dropout(self):
        return self.cell.recurrent_dropout

    def get_config(self):
        cell_config = self.cell.get_config()
        for owned_by_layer in ("name", "trainable", "dtype"):
            cell_config.pop(owned_by_layer, None)
        config = super().get_config()
        del config["cell"]
        return {
            **config,
            **cell_config,
            "use_fused_bptt": self.use_fused_bptt,
        }

    @classmethod
    def from_config(cls, config):
        # `.keras` files saved while the layers took `precompute_inputs` hold it; it chose only where x·W + b
        # was computed, not the numbers, so dropping it loads them exactly.
        config = {key: value for key, value in config.items() if key != "precompute_inputs"}
        return cls(**config)


def resolve(getter, value, argument):
    """`activations.get` & co. with the argument's name in the error, e.g. "Invalid `activation`: 'relu6x'"."""
    try:
        return getter(value)
    except (ValueError, TypeError) as error:
        raise ValueError(f"Invalid `{argument}`: {value!r} ({error})") from None


def check_units(units, argument="units"):
    if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
        raise ValueError(f"Invalid `{argument}`: expected a positive integer, got {units!r}")
    return units


def check_float(value, argument):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise ValueError(f"Invalid `{argument}`: expected a number, got {value!r}")
    return float(value)


def check_limit(value, argument):
    """None, or a positive float (a clipping limit, an epsilon)."""
    if value is None:
        return None
    if check_float(value, argument) <= 0.0 or value == float("inf"):
        raise ValueError(f"Invalid `{argument}`: expected a positive number or None, got {value!r}")
    return float(value)


def check_rate(rate, argument):
    if not 0.0 <= float(rate) <= 1.0:
        raise ValueError(f"Invalid `{argument}`: expected a rate in [0, 1], got {rate!r}")
    return float(rate)


def check_step_input(input_shape, layer_name):
    if len(input_shape) != 2:
        raise ValueError(
            f"Invalid input to {layer_name}: `inputs` must have rank 2 (batch, features) for one step, "
            f"got shape {tuple(input_shape)}; wrap the cell in a sequence layer for (batch, time, features)"
        )


def layer_normalize(v, gamma, beta, epsilon):
    """LN(v) = (v - mean(v)) / √(var(v) + ε) * γ + β over the last axis, in v's dtype but at least float32.

    Not `keras.ops.layer_normalization`: on JAX it computes float64 in float32 (Keras 3.15 maps float64 with
    float32 to float32 there), which a float64 layer checked against the reference to 1e-10 cannot have.
    """
    if keras.backend.standardize_dtype(v.dtype) in ("float16", "bfloat16"):
        v = ops.cast(v, "float32")
    mean, variance = ops.moments(v, axes=[-1], keepdims=True)
    return (v - mean) * ops.rsqrt(variance + epsilon) * ops.cast(gamma, v.dtype) + ops.cast(beta, v.dtype)


def check_sequence_input(input_shape, layer_name):
    if len(input_shape) != 3:
        raise ValueError(
            f"Invalid input to {layer_name}: `sequences` must have rank 3 (batch, time, features), "
            f"got shape {tuple(input_shape)}"
        )


def drop_inputs(cell, inputs, training=False):
    """x with the cell's input dropout mask applied (in training), one step or a whole sequence."""
    if training and 0.0 < cell.dropout < 1.0:
        step_input = inputs[:, 0, :] if len(inputs.shape) == 3 else inputs
        inputs = apply_dropout_mask(inputs, cell.get_dropout_mask(step_input))
    return inputs


def recurrent_dropout_mask(cell, state, training=False):
    """The cell's recurrent dropout mask for `state` (the same one for every step), or None when none applies."""
    if training and 0.0 < cell.recurrent_dropout < 1.0:
        return cell.get_recurrent_dropout_mask(state)
    return None


def apply_dropout_mask(x, mask):
    """Multiplies `x` (one step, or a whole sequence) by a per-step dropout mask of shape (batch, features)."""
    if mask is None:
        return x
    mask = ops.cast(mask, x.dtype)
    if len(x.shape) == 3:
        mask = ops.expand_dims(mask, 1)
    return ops.multiply(x, mask)


_TORCH_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")


def layers_from_torch(state_dict, convert):
    """Our sequence layers holding the weights of a PyTorch `nn.LSTM`/`nn.GRU` state dict: one per layer of the
    module (`_l0`, `_l1`, ...), each a `keras.layers.Bidirectional` where the module has `_reverse` weights.

    `convert(arrays)` maps one direction's arrays (`weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`, `weight_hr`;
    None where absent) to `(unbuilt layer, our weights)`. Keys may carry a module prefix ("rnn.weight_ih_l0").
    """
    arrays = {}
    for key, value in state_dict.items():
        name = key.rsplit(".", 1)[-1]
        base, _, rest = name.rpartition("_l")
        index, _, direction = rest.partition("_")
        if base not in _TORCH_NAMES or not index.isdigit() or direction not in ("", "reverse"):
            raise ValueError(
                f"Invalid PyTorch state dict: unexpected key {key!r}; expected those of one nn.LSTM or "
                f"nn.GRU ({', '.join(n + '_l0' for n in _TORCH_NAMES)}, ..., `_reverse`)"
            )
        if (base, int(index), direction) in arrays:
            raise ValueError(f"Invalid PyTorch state dict: {name!r} appears twice (two modules in one dict?)")
        arrays[base, int(index), direction] = np.asarray(value)
    depth = 1 + max((index for _, index, _ in arrays), default=-1)
    if depth == 0 or any(("weight_ih", k, "") not in arrays for k in range(depth)):
        raise ValueError("Invalid PyTorch state dict: no `weight_ih_l0`, or a layer in between is missing")
    stack = []
    for k in range(depth):
        directions = ["", "reverse"] if ("weight_ih", k, "reverse") in arrays else [""]
        built = []
        for direction in directions:
            layer, weights = convert({name: arrays.get((name, k, direction)) for name in _TORCH_NAMES})
            built.append((layer, weights))
        input_shape = (None, None, arrays["weight_ih", k, ""].shape[1])
        if len(built) == 1:
            layer, weights = built[0]
            layer.build(input_shape)
            layer.set_weights(weights)
        else:
            layer = keras.layers.Bidirectional(built[0][0], dtype=built[0][0].dtype_policy)
            layer.build(input_shape)
            layer.forward_layer.set_weights(built[0][1])
            layer.backward_layer.set_weights(built[1][1])
        stack.append(layer)
    return stack
