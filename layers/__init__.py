"""Recurrent building blocks for Keras 3, written with `keras` and `keras.ops` only.

- `LSTMCell`, `LSTM`: the course's LSTM with optional peepholes (Gers et al. 2002), projection (Sak et al. 2014),
  cell and projection clipping, TF1's forget bias and layer normalisation (Ba et al. 2016).
- `GRUCell`, `GRU`: the course's GRU, full or simplified (`reset_gate=False`), `reset_after` either way,
  optionally layer-normalised.
- `lstm_weights_from_keras`, `gru_weights_from_keras`: load `keras.layers.LSTM`/`GRU` weights.
- `lstm_from_torch`, `gru_from_torch`, `lstm_from_tf1`: our layers holding PyTorch `nn.LSTM`/`nn.GRU` state dicts
  or a TF1 `LSTMCell`'s checkpoint variables.
- `layers.reference`: a NumPy forward pass and BPTT of the same equations, the tests' oracle.
"""

from layers.gru import GRU, GRUCell, gru_from_torch, gru_weights_from_keras
from layers.lstm import LSTM, LSTMCell, lstm_from_tf1, lstm_from_torch, lstm_weights_from_keras

__all__ = [
    "GRU",
    "LSTM",
    "GRUCell",
    "LSTMCell",
    "gru_from_torch",
    "gru_weights_from_keras",
    "lstm_from_tf1",
    "lstm_from_torch",
    "lstm_weights_from_keras",
]
