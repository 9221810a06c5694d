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


def keras_and_our_lstm(x, units, precompute_inputs=True, peephole=False, use_fused_bptt=False, **kwargs):
    """A built `keras.layers.LSTM` with random weights and our LSTM holding the same weights."""
    theirs = keras.layers.LSTM(units, **kwargs)
    ours = LSTM(units, peephole=peephole, precompute_inputs=precompute_inputs, use_fused_bptt=use_fused_bptt,
                **kwargs)
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
