"""Recurrent building blocks for Keras 3, written with `keras` and `keras.ops` only.

- `LSTMCell`, `LSTM`: the course's LSTM with optional peephole connections (Gers et al. 2002).
- `GRUCell`, `GRU`: the course's GRU, full or simplified (`reset_gate=False`), `reset_after` either way.
- `lstm_weights_from_keras`, `gru_weights_from_keras`: load `keras.layers.LSTM`/`GRU` weights.
- `layers.reference`: a NumPy forward pass and BPTT of the same equations, the tests' oracle.
"""

from layers.gru import GRU, GRUCell, gru_weights_from_keras
from layers.lstm import LSTM, LSTMCell, lstm_weights_from_keras

__all__ = ["GRU", "GRUCell", "LSTM", "LSTMCell", "gru_weights_from_keras", "lstm_weights_from_keras"]
