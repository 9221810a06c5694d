"""`--cell lstm|peephole|gru|gru-simple|rnn` -> a recurrent sequence layer: the only door from apps to layers.

Keras (and so TensorFlow) is imported only when a layer is made, so a CLI can offer `CELLS` as choices and
reject bad arguments before paying for that import.
"""

CELLS = ("lstm", "peephole", "gru", "gru-simple", "rnn")


def recurrent_layer(
    cell,
    units,
    *,
    return_sequences=True,
    return_state=False,
    dropout=0.0,
    recurrent_dropout=0.0,
    name=None,
    use_fused_bptt=False,
    **kwargs,
):
    """Returns a recurrent sequence layer of kind `cell`.

    Args:
        cell: one of `CELLS`: `lstm` (our LSTM), `peephole` (our LSTM with peepholes), `gru` (our full GRU,
            reset gate applied after the recurrent matmul as in cuDNN), `gru-simple` (the course's GRU without
            a reset gate), `rnn` (`keras.layers.SimpleRNN`, the course's basic RNN).
        units: size of the hidden state a.
        return_sequences, return_state, dropout, recurrent_dropout, name: as in `keras.layers.RNN`/`LSTM`.
        use_fused_bptt: for our LSTM and GRU cells, as in `layers.LSTM`/`layers.GRU`: `True` for a model
            compiled with `jit_compile=True`; ignored by `rnn`.
        **kwargs: passed to the layer (e.g. `stateful`, `go_backwards`).
    """
    import keras

    import layers

    common = dict(
        return_sequences=return_sequences,
        return_state=return_state,
        dropout=dropout,
        recurrent_dropout=recurrent_dropout,
        name=name,
        **kwargs,
    )
    fused = {"use_fused_bptt": use_fused_bptt}
    kinds = {
        "lstm": (layers.LSTM, fused),
        "peephole": (layers.LSTM, {"peephole": True, **fused}),
        "gru": (layers.GRU, {"reset_after": True, **fused}),
        "gru-simple": (layers.GRU, {"reset_gate": False, **fused}),
        "rnn": (keras.layers.SimpleRNN, {}),
    }
    if cell not in kinds:
        raise ValueError(f"cell must be one of {', '.join(CELLS)}; got {cell!r}")
    layer, options = kinds[cell]
    return layer(units, **options, **common)
