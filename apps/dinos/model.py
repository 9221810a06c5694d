"""The character-level language model (Functional API) and the one-step model the sampler drives.

    token ids (batch, T) -> Embedding(mask_zero) -> [recurrent_i -> Dropout] x layers -> Dense softmax
                                                                              -> ŷ⟨t⟩ = P(class | name[:t])

Layers are named (`embedding`, `recurrent_1`, ..., `head`) so that a loaded model hands them back to
`step_model`, which shares their weights.
"""

import keras

from apps.common.cells import recurrent_layer
from apps.common.sampling import StepModel


@keras.saving.register_keras_serializable(package="dinos")
class CharacterDropoutEmbedding(keras.layers.Embedding):
    """An Embedding that, in training, drops whole characters (embedding dropout, Gal & Ghahramani 2016): each
    name draws once per character whether to drop it, every occurrence of a dropped character in that name
    embeds to zeros, and the others are scaled by 1 / (1 - rate).

    Unlike dropout on the embedded vectors, a dropped character cannot be recovered from its other occurrences,
    and the model learns not to lean on any one character.
    """

    def __init__(self, input_dim, output_dim, rate=0.0, seed=None, **kwargs):
        super().__init__(input_dim, output_dim, **kwargs)
        self.rate = rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        outputs = super().call(inputs)
        if not training or self.rate == 0:
            return outputs
        keep = keras.random.uniform((keras.ops.shape(inputs)[0], self.input_dim), seed=self.seed_generator) >= self.rate
        kept = keras.ops.take_along_axis(keras.ops.cast(keep, outputs.dtype), keras.ops.cast(inputs, "int32"), axis=1)
        return outputs * (kept / (1 - self.rate))[..., None]

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


def build_model(
    num_tokens,
    cell="lstm",
    units=128,
    layers=1,
    dropout=0.1,
    embedding_dim=32,
    seed=None,
    input_dropout=0.0,
    recurrent_dropout=0.0,
    embedding_dropout=0.0,
    use_fused_bptt=False,
):
    """The training model: token ids (batch, T) -> class probabilities (batch, T, num_tokens - 1).

    Args:
        num_tokens: vocabulary size including padding (id 0) and the end token (id 1).
        cell: one of `apps.common.cells.CELLS`.
        units: size of each recurrent layer's state a.
        layers: number of stacked recurrent layers.
        dropout: rate of the Dropout after every recurrent layer.
        embedding_dim: size of the character embedding.
        seed: seed of the dropout layers (weight initialisation follows `keras.utils.set_random_seed`).
        input_dropout: rate of every recurrent layer's input dropout, one mask per sequence.
        recurrent_dropout: rate of every recurrent layer's variational dropout on a⟨t-1⟩, one mask per sequence.
        embedding_dropout: rate of whole characters dropped per name (`CharacterDropoutEmbedding`); 0 builds
            a plain Embedding.
        use_fused_bptt: our LSTM and GRU cells run the hand-written backpropagation through time, as `train`
            asks: on padded, masked names with recurrent dropout it trained faster than Keras's loop, with or
            without XLA (`benchmarks/apps.py`).
    """
    tokens = keras.Input((None,), dtype="int32", name="tokens")
    if embedding_dropout:
        embedding = CharacterDropoutEmbedding(
            num_tokens, embedding_dim, rate=embedding_dropout, seed=seed, mask_zero=True, name="embedding"
        )
    else:
        embedding = keras.layers.Embedding(num_tokens, embedding_dim, mask_zero=True, name="embedding")
    x = embedding(tokens)
    for i in range(1, layers + 1):
        x = recurrent_layer(
            cell,
            units,
            return_sequences=True,
            dropout=input_dropout,
            recurrent_dropout=recurrent_dropout,
            name=f"recurrent_{i}",
            use_fused_bptt=use_fused_bptt,
        )(x)
        x = keras.layers.Dropout(dropout, seed=seed, name=f"dropout_{i}")(x)
    # float32 even under a mixed policy: a softmax in half precision rounds small probabilities to 0.
    probs = keras.layers.Dense(num_tokens - 1, activation="softmax", dtype="float32", name="head")(x)
    return keras.Model(tokens, probs, name="dinos")


def recurrent_layers(model):
    """The stacked recurrent layers of a model made by `build_model`, in order."""
    return [layer for layer in model.layers if layer.name.startswith("recurrent_")]


class _ClassToToken(keras.layers.Layer):
    """Embeds a sampled class as the next input: class c is token c + 1 (the head never predicts padding)."""

    def __init__(self, embedding, **kwargs):
        super().__init__(**kwargs)
        self.embedding = embedding

    def call(self, classes):
        return self.embedding(classes + 1)


def step_model(model):
    """The one-step model `[class (batch,), *states] -> [probs (batch, classes), *states]` sharing `model`'s
    weights, in class space: feed class 0 (the end token) to start a name."""
    return StepModel(
        _ClassToToken(model.get_layer("embedding"), name="class_to_token"),
        recurrent_layers(model),
        model.get_layer("head"),
    )
