"""Helpers the layer tests share: random weights, a Keras LSTM paired with ours, a layer as a function.

A plain module (not conftest) so that every test module imports the one definition.
"""

import keras
import numpy as np

from layers import LSTM, lstm_weights_from_keras


def randomize(layer, seed=1, scale=0.5):
    """Every trainable weight N(0, scale²), biases and peepholes included: a zero weight hides mistakes."""
    rng = np.random.default_rng(seed)
    for v in layer.trainable_weights:
        v.assign((scale * rng.standard_normal(tuple(v.shape))).astype(v.dtype))


def keras_and_our_lstm(x, units, peephole=False, use_fused_bptt=False, **kwargs):
    """A built `keras.layers.LSTM` with random weights and our LSTM holding the same weights."""
    theirs = keras.layers.LSTM(units, **kwargs)
    ours = LSTM(units, peephole=peephole, use_fused_bptt=use_fused_bptt, **kwargs)
    theirs.build(x.shape)
    ours.build(x.shape)
    randomize(theirs)
    ours.set_weights(lstm_weights_from_keras(theirs.get_weights(), peephole=peephole))
    if kwargs.get("stateful"):
        theirs.reset_state()
        ours.reset_state()
    return theirs, ours


def call_fn(layer, mask=None, training=False):
    """`fn(x, *initial_state)` calling `layer` with `mask` (array or None) and `training`."""
    mask = None if mask is None else keras.ops.convert_to_tensor(mask)
    # Only when set: some tests wrap two layers in a callable of their own that takes no `training`.
    flags = {"training": True} if training else {}

    def fn(x, *state):
        return layer(x, mask=mask, initial_state=list(state) if state else None, **flags)

    return fn


def count_calls(monkeypatch, module, name):
    """Replaces `module.name` by a spy that records each call's keyword arguments and forwards the call to it;
    returns the list of records."""
    calls = []
    function = getattr(module, name)

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return function(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)
    return calls


def torch_state_dict(
    kind, input_size, hidden_size, rng, num_layers=1, bidirectional=False, proj_size=0, bias=True, scale=0.5
):
    """Random weights with the keys and shapes of `torch.nn.LSTM`/`nn.GRU(...).state_dict()`."""
    gates = {"lstm": 4, "gru": 3}[kind]
    out_size = proj_size or hidden_size
    state = {}
    for k in range(num_layers):
        layer_input = input_size if k == 0 else out_size * (2 if bidirectional else 1)
        for suffix in ("", "_reverse") if bidirectional else ("",):
            shapes = {"weight_ih": (gates * hidden_size, layer_input), "weight_hh": (gates * hidden_size, out_size)}
            if bias:
                shapes.update(bias_ih=(gates * hidden_size,), bias_hh=(gates * hidden_size,))
            if proj_size:
                shapes["weight_hr"] = (proj_size, hidden_size)
            state.update({f"{name}_l{k}{suffix}": scale * rng.standard_normal(shape) for name, shape in shapes.items()})
    return state


def torch_equations(kind, state_dict, x):
    """The output sequence of PyTorch's `nn.LSTM`/`nn.GRU` (batch_first, zero initial states) from `state_dict`,
    transcribed from PyTorch's documentation into NumPy float64:

        LSTM: i, f, g, o = σ, σ, tanh, σ of (W_i* x + b_i* + W_h* h + b_h*); c' = f*c + i*g; h' = o*tanh(c'),
              then h' = W_hr h' with proj_size
        GRU:  r, z = σ(W_i* x + b_i* + W_h* h + b_h*); n = tanh(W_in x + b_in + r*(W_hn h + b_hn));
              h' = (1 - z)*n + z*h
    Each layer reads the previous one's output, the `_reverse` direction the sequence backwards, and a
    bidirectional layer outputs [forward, backward] per step.
    """

    def sigmoid(z):
        return 1.0 / (1.0 + np.exp(-z))

    depth = 1 + max(int(key.split("_l")[1].split("_")[0]) for key in state_dict)
    out = np.asarray(x, np.float64)
    for k in range(depth):
        directions = []
        for suffix in ("", "_reverse"):
            if f"weight_ih_l{k}{suffix}" not in state_dict:
                continue
            w_ih, w_hh, b_ih, b_hh, w_hr = (
                state_dict.get(f"{n}_l{k}{suffix}")
                for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
            )
            b_ih = 0.0 if b_ih is None else b_ih
            b_hh = 0.0 if b_hh is None else b_hh
            sequence = out[:, ::-1] if suffix else out
            h = np.zeros((out.shape[0], w_hh.shape[1]))
            c = np.zeros((out.shape[0], w_hh.shape[0] // 4))
            hs = []
            for t in range(out.shape[1]):
                if kind == "lstm":
                    i, f, g, o = np.split(sequence[:, t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh, 4, axis=-1)
                    c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
                    h = sigmoid(o) * np.tanh(c)
                    if w_hr is not None:
                        h = h @ w_hr.T
                else:
                    i_r, i_z, i_n = np.split(sequence[:, t] @ w_ih.T + b_ih, 3, axis=-1)
                    h_r, h_z, h_n = np.split(h @ w_hh.T + b_hh, 3, axis=-1)
                    r, z = sigmoid(i_r + h_r), sigmoid(i_z + h_z)
                    h = (1.0 - z) * np.tanh(i_n + r * h_n) + z * h
                hs.append(h)
            hs = np.stack(hs, axis=1)
            directions.append(hs[:, ::-1] if suffix else hs)
        out = np.concatenate(directions, axis=-1)
    return out


def run_stack(stack, x):
    """The output of a list of layers applied one after the other, as NumPy."""
    for layer in stack:
        x = layer(x)
    return np.asarray(keras.ops.convert_to_numpy(x))


def assert_imports_torch_modules(kind, importer, x, units, modules, seed):
    """`importer` (`lstm_from_torch`/`gru_from_torch`) of random state dicts of each module in `modules` (the
    module's keyword arguments) computes `torch_equations` to 1e-10 in float64, one layer per module layer."""
    rng = np.random.default_rng(seed)
    for module in modules:
        state_dict = torch_state_dict(kind, x.shape[-1], units, rng, **module)
        stack = importer(state_dict, dtype="float64")
        assert len(stack) == module.get("num_layers", 1)
        np.testing.assert_allclose(run_stack(stack, x), torch_equations(kind, state_dict, x), atol=1e-10)
