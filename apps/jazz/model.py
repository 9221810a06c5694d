"""The course's jazz LSTM as a Functional API many-to-many model, and the one-step model that samples it.

    x⟨1..Tx⟩ (batch, Tx) -> Embedding -> recurrent (a⟨t⟩ for every t) -> Dense softmax -> ŷ⟨1..Tx⟩

x⟨1⟩ is the start token (the course's zero vector) and x⟨t⟩ = y⟨t-1⟩, so ŷ⟨t⟩ = P(token t | tokens < t).
The layers are named (`embedding`, `recurrent`, `head`) and shared: `step_model` wraps the very same layer
objects, so the one-to-many inference model (token + states -> probabilities + states) uses the trained
weights, as in the course's `music_inference_model`.

With `conditioning="changes"` the model has a second input, the features of each predicted token's onset
(`apps.jazz.conditioning`: the sounding and the next chord, the distance to the change, the bar position):

    f⟨t⟩ (batch, Tx, F) -> Dense relu (`conditions_projection`) -> c⟨t⟩
    [embedding(x⟨t⟩), c⟨t⟩] -> recurrent -> [a⟨t⟩, c⟨t⟩] -> Dense softmax -> ŷ⟨t⟩ = P(token t | tokens < t, f⟨t⟩)

c⟨t⟩ goes to the head as well as to the recurrent layer: what is sounding *now* shapes the token directly,
without having to pass through the state first.
"""

import keras

from apps.common.cells import recurrent_layer
from apps.common.sampling import StepModel
from apps.jazz.conditioning import MODES, SIZE

CONDITION_DIM = 32


def build_model(
    num_tokens,
    cell="lstm",
    units=64,
    embedding_dim=32,
    dropout=0.0,
    seed=None,
    conditioning="none",
    condition_dim=CONDITION_DIM,
    use_fused_bptt=False,
):
    """The training model: token ids (batch, Tx) -> next-token probabilities (batch, Tx, num_tokens).

    A conditioned model takes `{"tokens": (batch, Tx) int32, "conditions": (batch, Tx, F) float32}`.

    Args:
        num_tokens: vocabulary size, the start token (id 0) included.
        cell: one of `apps.common.cells.CELLS`.
        units: size of the recurrent state a (the course uses 64).
        embedding_dim: size of the token vectors fed to the recurrent layer.
        dropout: rate of the dropout between the recurrent layer and the head.
        seed: seed of the dropout (weight initialisation follows `keras.utils.set_random_seed`).
        conditioning: one of `apps.jazz.conditioning.MODES`: `changes` adds the `conditions` input.
        condition_dim: size of c⟨t⟩, the features' projection (conditioned models only).
        use_fused_bptt: our LSTM and GRU cells run the hand-written backpropagation through time; `train`
            compiles without XLA, where it trained no faster than Keras's loop on jazz windows
            (`benchmarks/apps.py`), hence off.
    """
    if conditioning not in MODES:
        raise ValueError(f"conditioning must be one of {MODES}; got {conditioning!r}")
    tokens = keras.Input((None,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(num_tokens, embedding_dim, name="embedding")(tokens)
    inputs = tokens
    if conditioning == "changes":
        conditions = keras.Input((None, SIZE), dtype="float32", name="conditions")
        context = keras.layers.Dense(condition_dim, activation="relu", name="conditions_projection")(conditions)
        x = keras.layers.Concatenate(name="step_input")([x, context])
        inputs = {"tokens": tokens, "conditions": conditions}
    x = recurrent_layer(cell, units, return_sequences=True, name="recurrent", use_fused_bptt=use_fused_bptt)(x)
    x = keras.layers.Dropout(dropout, seed=seed, name="dropout")(x)
    if conditioning == "changes":
        x = keras.layers.Concatenate(name="head_input")([x, context])
    # float32 even under a mixed policy: a softmax in half precision rounds small probabilities to 0.
    probabilities = keras.layers.Dense(num_tokens, activation="softmax", dtype="float32", name="head")(x)
    return keras.Model(inputs, probabilities, name="jazz")


def is_conditioned(model):
    """Whether `model` takes the `conditions` input (bundles from before conditioning existed do not)."""
    return any(layer.name == "conditions_projection" for layer in model.layers)


def step_model(model):
    """The one-step model `[token (batch,), *states] -> [probabilities (batch, V), *states]` of `model` (a
    conditioned one takes `[token, conditions (batch, F), *states]`)."""
    encoder = model.get_layer("conditions_projection") if is_conditioned(model) else None
    return StepModel(
        model.get_layer("embedding"), [model.get_layer("recurrent")], model.get_layer("head"), condition_encoder=encoder
    )
