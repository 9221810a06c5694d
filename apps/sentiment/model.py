"""The sentiment model: raw strings in, class probabilities out, everything in between inside the model.

    strings (batch,)
      -> TextVectorization   standardize_ptb + whitespace split + vocabulary adapted on the training split
      -> TokenWindow         first `max_length` tokens (longer texts are truncated), at least one step
      -> Embedding           mask_zero=True: padding (id 0) is masked from here on
      -> word dropout        during training, whole words are dropped (their vectors zeroed)
      -> [Bidirectional](recurrent layer) x `num_layers`   apps.common.cells
      -> a⟨T⟩ of the last layer, or the mean or max of its a⟨t⟩ over the tokens (`pooling`)
      -> Dropout -> Dense softmax over the classes
      [-> GroupClasses]      a model trained on finer classes answers with coarser ones (`group_classes`)

A text with no tokens (empty or whitespace-only) is all padding: every recurrent layer keeps its zero initial
state (and pooling over no tokens gives zeros), so its prediction is the classifier's answer to "no evidence",
softmax(b) of the last Dense layer.

The model is built from registered layers and a registered standardisation function only, so it saves as
`.keras` and loads in safe mode with its vocabulary, and exports to a SavedModel that needs TensorFlow alone.
"""

import keras
import tensorflow as tf

from apps.common.cells import recurrent_layer
from apps.sentiment.config import DEFAULT_MAX_LENGTH, POOLINGS, PTB_RULES  # noqa: F401  (re-exported for scripts)


@keras.saving.register_keras_serializable(package="sentiment")
def standardize_ptb(texts):
    """Lower-cases raw text and splits it into Penn-Treebank-style tokens, the form SST is written in.

    SST is lower-cased and PTB-tokenised (`it 's`, `does n't`, `-lrb-`, `, .` apart), so raw input such as
    `"It isn't good (at all)!"` becomes `"it is n't good -lrb- at all -rrb- !"` and meets the same vocabulary.
    Text already in SST's form comes out unchanged.

    Args:
        texts: string tensor of any shape.

    Returns:
        A string tensor of the same shape, tokens separated by spaces.
    """
    texts = tf.strings.lower(texts, encoding="utf-8")
    for pattern, replacement in PTB_RULES:
        texts = tf.strings.regex_replace(texts, pattern, replacement)
    return texts


@keras.saving.register_keras_serializable(package="sentiment")
class TokenWindow(keras.layers.Layer):
    """Keeps the first `max_length` token ids of each row and pads a batch to at least one time step.

    Truncation bounds the cost of very long texts; the one-step floor lets a batch of empty texts flow through
    the recurrent layers (all masked) instead of failing on a zero-length sequence.

    Args:
        max_length: positive integer, the most tokens kept per text.

    Call arguments:
        tokens: int tensor (batch, time), 0 is padding.

    Returns:
        int tensor (batch, min(max(time, 1), max_length)).
    """

    def __init__(self, max_length=DEFAULT_MAX_LENGTH, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(max_length, int) or max_length <= 0:
            raise ValueError(f"Invalid `max_length`: expected a positive integer, got {max_length!r}")
        self.max_length = max_length

    def call(self, tokens):
        tokens = tokens[:, : self.max_length]
        missing = keras.ops.maximum(1 - keras.ops.shape(tokens)[1], 0)
        return keras.ops.pad(tokens, [[0, 0], [0, missing]])

    def compute_output_shape(self, input_shape):
        return (input_shape[0], None)

    def compute_output_spec(self, tokens):
        # The ids keep their integer dtype (Keras's default spec would say float32), so that a model built
        # from this layer's output on takes int64 ids (`apps.sentiment.train.IdsInPipeline`).
        return keras.KerasTensor(self.compute_output_shape(tokens.shape), dtype=tokens.dtype)

    def get_config(self):
        return {**super().get_config(), "max_length": self.max_length}


@keras.saving.register_keras_serializable(package="sentiment")
class MaskedPooling(keras.layers.Layer):
    """Mean or max of a sequence over its unmasked time steps; a row with none gives zeros.

    Keras's `GlobalAveragePooling1D` divides by zero on a fully masked row (an empty text) and
    `GlobalMaxPooling1D` ignores the mask, hence this layer.

    Args:
        mode: `"mean"` or `"max"`.

    Call arguments:
        inputs: float tensor (batch, time, features).
        mask: bool tensor (batch, time), `True` for real steps.

    Returns:
        float tensor (batch, features).
    """

    def __init__(self, mode="mean", **kwargs):
        super().__init__(**kwargs)
        if mode not in ("mean", "max"):
            raise ValueError(f"Invalid `mode`: expected 'mean' or 'max', got {mode!r}")
        self.mode = mode
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            mask = keras.ops.ones(keras.ops.shape(inputs)[:2], "bool")
        steps = keras.ops.expand_dims(keras.ops.cast(mask, inputs.dtype), -1)
        if self.mode == "mean":
            return keras.ops.sum(inputs * steps, axis=1) / keras.ops.maximum(keras.ops.sum(steps, axis=1), 1.0)
        lowest = keras.ops.where(keras.ops.expand_dims(mask, -1), inputs, float("-inf"))
        return keras.ops.where(keras.ops.any(mask, axis=1, keepdims=True), keras.ops.max(lowest, axis=1), 0.0)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


@keras.saving.register_keras_serializable(package="sentiment")
class GroupClasses(keras.layers.Layer):
    """Turns probabilities over fine classes into probabilities over groups of them.

    Each group's probability is the sum of its classes' probabilities, divided by the sum over all groups, so
    that classes left out of every group (SST-5's neutral when answering SST-2) are ignored and each row still
    sums to 1: with groups `[[0, 1], [3, 4]]`, P(negative) = (P0 + P1) / (P0 + P1 + P3 + P4).

    Args:
        groups: list of non-empty, disjoint lists of class ids, one per output class.

    Call arguments:
        probabilities: float tensor (batch, fine classes).

    Returns:
        float tensor (batch, len(groups)).
    """

    def __init__(self, groups, **kwargs):
        super().__init__(**kwargs)
        groups = [[int(index) for index in group] for group in groups]
        flat = [index for group in groups for index in group]
        if len(groups) < 2 or not all(groups) or min(flat) < 0 or len(set(flat)) != len(flat):
            raise ValueError(
                f"Invalid `groups`: expected at least two non-empty, disjoint lists of class ids, got {groups!r}"
            )
        self.groups = groups

    def call(self, probabilities):
        grouped = keras.ops.stack(
            [keras.ops.sum(keras.ops.take(probabilities, group, axis=-1), axis=-1) for group in self.groups], axis=-1
        )
        return grouped / keras.ops.sum(grouped, axis=-1, keepdims=True)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], len(self.groups))

    def get_config(self):
        return {**super().get_config(), "groups": self.groups}


def group_classes(model, groups):
    """`model` (strings -> fine-class probabilities) followed by `GroupClasses(groups)`, as a new model that
    shares its layers."""
    grouped = GroupClasses(groups, dtype="float32", name="groups")(model.outputs[0])
    return keras.Model(model.inputs, grouped, name=model.name)


ADAPT_BATCH = 1024
"""Texts `make_vectorizer` counts the words of at a time."""


def make_vectorizer(train_texts, max_tokens):
    """Returns a `TextVectorization` whose vocabulary (at most `max_tokens` ids, padding and OOV included)
    is adapted on `train_texts`."""
    vectorizer = keras.layers.TextVectorization(
        max_tokens=max_tokens, standardize=standardize_ptb, split="whitespace", output_mode="int", name="vectorizer"
    )
    # Batches, not one tensor: `adapt` of a tensor standardises and splits the whole corpus at once (its
    # `batch_size` applies to no tensor), several copies of it alive together. The counts, and so the
    # vocabulary, are the same.
    texts = list(train_texts)
    vectorizer.adapt(texts[start : start + ADAPT_BATCH] for start in range(0, len(texts), ADAPT_BATCH))
    return vectorizer


def extend_vocabulary(vectorizer, words):
    """A `TextVectorization` like `vectorizer` whose vocabulary goes on with those of `words` it lacks (beyond
    its `max_tokens`): words the training texts do not hold but pretrained vectors give a meaning."""
    vocabulary = vectorizer.get_vocabulary()
    known = set(vocabulary)
    return keras.layers.TextVectorization(
        standardize=standardize_ptb,
        split="whitespace",
        output_mode="int",
        name=vectorizer.name,
        vocabulary=vocabulary[2:] + [word for word in dict.fromkeys(words) if word not in known],
    )


def is_one_token(words):
    """For each word, whether the model's standardisation leaves it as it is, one token: only such words can be
    looked up in the vocabulary (`"U.S."` becomes `"u . s ."`, never `"U.S."`)."""
    standardised = standardize_ptb(tf.constant(list(words))).numpy()
    return [text.decode("utf-8").strip() == word for text, word in zip(standardised, words)]


def build_model(
    vectorizer,
    num_classes,
    *,
    cell="lstm",
    units=64,
    num_layers=1,
    bidirectional=True,
    embedding_dim=64,
    dropout=0.5,
    word_dropout=0.0,
    pooling="last",
    max_length=DEFAULT_MAX_LENGTH,
    freeze_embeddings=False,
):
    """Builds the strings -> probabilities classifier around an adapted `vectorizer`.

    Args:
        vectorizer: an adapted `keras.layers.TextVectorization` (see `make_vectorizer`).
        num_classes: number of classes (>= 2) of the softmax.
        cell: one of `apps.common.cells.CELLS`.
        units: size of a⟨t⟩ of each recurrent layer (per direction).
        num_layers: number of stacked recurrent layers.
        bidirectional: wrap each recurrent layer in `keras.layers.Bidirectional` (outputs concatenated).
        embedding_dim: size of the word vectors.
        dropout: rate of the dropout on the inputs of every recurrent layer (one mask for all time steps) and
            before the classifier.
        word_dropout: share of the words whose vectors are zeroed while training, so that the model cannot
            lean on any single word (Iyyer et al. 2015); padding stays masked.
        pooling: what the classifier sees of the last recurrent layer: `"last"`, its final a⟨T⟩ (for a
            bidirectional layer, each direction's final state), or `"mean"`/`"max"` of a⟨t⟩ over the text's
            tokens (`MaskedPooling`).
        max_length: tokens kept per text (see `TokenWindow`).
        freeze_embeddings: the word vectors are not trained (`trainable=False`): for pretrained vectors
            that should keep their meaning, also for the words training does not see.

    Returns:
        An uncompiled `keras.Model` taking a string tensor of shape (batch,) and returning the class
        probabilities (batch, num_classes).
    """
    texts = keras.Input(shape=(), dtype="string", name="text")
    tokens = TokenWindow(max_length, name="window")(vectorizer(texts))
    x = keras.layers.Embedding(
        vectorizer.vocabulary_size(), embedding_dim, mask_zero=True, trainable=not freeze_embeddings, name="embedding"
    )(tokens)
    x = keras.layers.Dropout(word_dropout, noise_shape=(None, None, 1), name="word_dropout")(x)
    for index in range(num_layers):
        last = index == num_layers - 1
        layer = recurrent_layer(
            cell,
            units,
            return_sequences=not last or pooling != "last",
            dropout=dropout,
            name=f"{cell}_{index + 1}",
        )
        if bidirectional:
            layer = keras.layers.Bidirectional(layer, name=f"bi_{cell}_{index + 1}")
        x = layer(x)
    if pooling != "last":
        x = MaskedPooling(pooling, name=f"{pooling}_pooling")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    # float32 even under a mixed-precision policy: a half-precision softmax loses small probabilities.
    probabilities = keras.layers.Dense(num_classes, activation="softmax", dtype="float32", name="classes")(x)
    return keras.Model(texts, probabilities, name="sentiment")
