"""The course's jazz LSTM as a Functional API many-to-many model, and the one-step model that samples it.

    x⟨1..Tx⟩ (batch, Tx) -> Embedding -> recurrent (a⟨t⟩ for every t) -> Dense softmax -> ŷ⟨1..Tx⟩

x⟨1⟩ is the start token (the course's zero vector) and x⟨t⟩ = y⟨t-1⟩, so ŷ⟨t⟩ = P(token t | tokens < t).
The layers are named (`embedding`, `recurrent`, `head`) and shared: `step_model` wraps the very same layer
objects, so the one-to-many inference model (token + states -> probabilities + states) uses the trained
weights, as in the course's `music_inference_model`.
"""

import keras

from apps.common.cells import recurrent_layer
from apps.common.sampling import StepModel
from apps.common.training import compile_language_model


def build_model(num_tokens, cell="lstm", units=64, embedding_dim=32, dropout=0.0, seed=None):
    """The training model: token ids (batch, Tx) -> next-token probabilities (batch, Tx, num_tokens).

    Args:
        num_tokens: vocabulary size, the start token (id 0) included.
        cell: one of `apps.common.cells.CELLS`.
        units: size of the recurrent state a (the course uses 64).
        embedding_dim: size of the token vectors fed to the recurrent layer.
        dropout: rate of the dropout between the recurrent layer and the head.
        seed: seed of the dropout (weight initialisation follows `keras.utils.set_random_seed`).
    """
    tokens = keras.Input((None,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(num_tokens, embedding_dim, name="embedding")(tokens)
    # `compile_model` compiles with XLA, where our LSTM's hand-written backpropagation through time pays.
    x = recurrent_layer(cell, units, return_sequences=True, name="recurrent", use_fused_bptt=True)(x)
    x = keras.layers.Dropout(dropout, seed=seed, name="dropout")(x)
    # float32 even under a mixed policy: a softmax in half precision rounds small probabilities to 0.
    probabilities = keras.layers.Dense(num_tokens, activation="softmax", dtype="float32", name="head")(x)
    return keras.Model(tokens, probabilities, name="jazz")


def compile_model(model, learning_rate=5e-3, clipnorm=1.0, jit_compile=True, steps_per_execution=10):
    """Adam with gradient clipping by global norm; sparse cross-entropy in nats per token.

    XLA and several steps per call are how the apps compile recurrent models (see `benchmarks/layers.py`).
    """
    return compile_language_model(model, learning_rate, clipnorm, jit_compile, steps_per_execution)


def step_model(model):
    """The one-step model `[token (batch,), *states] -> [probabilities (batch, V), *states]` of `model`."""
    return StepModel(model.get_layer("embedding"), [model.get_layer("recurrent")], model.get_layer("head"))
