"""A sequence layer as a function of `(x, *initial_state)`: the form the gradient helpers differentiate.

A plain module (not conftest) so that test_lstm, test_gru and test_lstm_bptt import the one definition.
"""

import keras


def call_fn(layer, mask=None, training=False):
    """`fn(x, *initial_state)` calling `layer` with `mask` (array or None) and `training`."""
    mask = None if mask is None else keras.ops.convert_to_tensor(mask)
    # Only when set: some tests wrap two layers in a callable of their own that takes no `training`.
    flags = {"training": True} if training else {}

    def fn(x, *state):
        return layer(x, mask=mask, initial_state=list(state) if state else None, **flags)

    return fn
