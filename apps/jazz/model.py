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

With `head="chain"` (`train`'s default) the parts of a grammar token are predicted one after another, each
given those before it (`ChainSoftmax`: the tone type, then the duration, then the articulation where the
vocabulary has it, then the window), and their product is
renormalised over the vocabulary: a `(batch, V)` softmax over the joint tokens, as the `Dense` head's, so its
perplexity is the joint token's and the sampler sees the same probabilities.
"""

import keras
import numpy as np

from apps.common.cells import recurrent_layer
from apps.common.sampling import StepModel
from apps.jazz import grammar
from apps.jazz.conditioning import MODES, SIZE
from apps.jazz.config import HEADS

CONDITION_DIM = 32


def token_parts(tokens):
    """For each part of the tokens (type, duration, window; `pitch` tokens: pitch, duration; in a vocabulary
    with articulation, its silence after the duration: `apps.jazz.grammar`), the class of each token, ids in
    order of first appearance; the start token (id 0) is a class of its own in each.

    Args:
        tokens: the vocabulary's token strings after the start token, in id order.

    Returns:
        A list, one per part, of `len(tokens) + 1` int class ids.
    """
    split = [grammar.fields(token) for token in tokens]
    if any(grammar.silent_steps(token) for token in tokens):
        split = [[*fields[:2], str(grammar.silent_steps(token)), *fields[2:]] for fields, token in zip(split, tokens)]
    parts = []
    for index in range(max(len(fields) for fields in split)):
        names = {}  # part -> class; class 0 is the start token's
        parts.append(
            [0] + [names.setdefault(fields[index] if index < len(fields) else "", len(names) + 1) for fields in split]
        )
    return parts


@keras.saving.register_keras_serializable(package="apps.jazz")
class FactoredSoftmax(keras.layers.Layer):
    """The head of a bundle trained with `--head factored`, loaded as the joint softmax it computes.

    That head added a term per token part to each token's logit (p_k(v): the class of token v's k-th part,
    `token_parts`):

        z_v = a·W_v + b_v + Σ_k (a·W^k_{p_k(v)} + b^k_{p_k(v)}),   ŷ = softmax(z)

    which is one kernel W_v + Σ_k W^k_{p_k(v)} and one bias b_v + Σ_k b^k_{p_k(v)}: `load_own_variables`
    sums them as the bundle loads, so the layer computes what `--head joint`'s `Dense` softmax does, with as
    many weights.

    Args:
        parts: `token_parts(vocabulary tokens)`: per part, each token's class id.
    """

    def __init__(self, parts, **kwargs):
        super().__init__(**kwargs)
        self.parts = [[int(c) for c in part] for part in parts]

    def build(self, input_shape):
        self.kernel = self.add_weight((input_shape[-1], len(self.parts[0])), name="kernel")
        self.bias = self.add_weight((len(self.parts[0]),), initializer="zeros", name="bias")

    def load_own_variables(self, store):
        kernel, bias = np.asarray(store["0"]), np.asarray(store["1"])
        if len(store) > 2:  # as trained: each part's kernel and bias follow
            for index, part in enumerate(self.parts):
                kernel = kernel + np.take(store[str(2 + 2 * index)], part, axis=1)
                bias = bias + np.take(store[str(3 + 2 * index)], part)
        self.kernel.assign(kernel)
        self.bias.assign(bias)

    def call(self, inputs):
        return keras.ops.softmax(keras.ops.matmul(inputs, self.kernel) + self.bias, axis=-1)

    def get_config(self):
        return {**super().get_config(), "parts": self.parts}


@keras.saving.register_keras_serializable(package="apps.jazz")
class ChainSoftmax(keras.layers.Layer):
    """A chain of heads, one per token part, each conditioned on the parts before it, renormalised over the
    vocabulary: for a grammar token v = (type, duration, window),

        P(v) ∝ P(type_v | a) · P(duration_v | a, type_v) · P(window_v | a, type_v, duration_v)

    The first head is a softmax over the first part's classes; head k > 1 is a softmax over part k's classes
    of a relu layer of `hidden` units fed a and the classes of the parts before it (their embeddings in the
    hidden space):

        P(p_k | a, p_<k) = softmax(V_k relu(W_k a + b_k + Σ_{j<k} E_kj[p_j]) + c_k)

    The product gives some probability to part combinations that are no token of the vocabulary; dividing by
    the vocabulary's total makes the output a softmax over the joint tokens again (`(..., V)`, as a `Dense`
    head's), so its perplexity is the joint token's, and the sampler, `evaluate` and the LiteRT export are
    unchanged. Each head k > 1 is computed for every prefix p_<k the vocabulary holds (grammar: 135 (type,
    duration) pairs for the window; with articulation, 196 (type, duration, silence) triples).

    Args:
        parts: `token_parts(vocabulary tokens)`: per part, each token's class id.
        hidden: units of the relu layer of each head after the first.

    Example:

    >>> head = ChainSoftmax(token_parts(["C,1/2,<*>", "C,1,<+0,+4>", "R,1/2"]), hidden=4)
    >>> head(np.zeros((2, 8), "float32")).shape
    (2, 4)
    """

    def __init__(self, parts, hidden=64, **kwargs):
        super().__init__(**kwargs)
        self.parts = [[int(c) for c in part] for part in parts]
        if not self.parts or len({len(part) for part in self.parts}) != 1:
            raise ValueError("parts must be one or more class lists of the same length (one class per token)")
        if int(hidden) < 1:
            raise ValueError(f"hidden must be a positive number of units; got {hidden!r}")
        self.hidden = int(hidden)
        self.classes = [max(part) + 1 for part in self.parts]
        # For each head after the first: the distinct prefixes (classes of the parts before it) in order of first
        # appearance, and each token's entry in the head's (prefixes × classes) log-probabilities, flattened.
        self.prefixes, self.entries = [], []
        for k in range(1, len(self.parts)):
            index = {}
            rows = [index.setdefault(prefix, len(index)) for prefix in zip(*self.parts[:k])]
            self.prefixes.append(list(index))
            self.entries.append([row * self.classes[k] + c for row, c in zip(rows, self.parts[k])])

    def build(self, input_shape):
        dim = input_shape[-1]
        self.first_kernel = self.add_weight((dim, self.classes[0]), initializer="glorot_uniform", name="kernel_0")
        self.first_bias = self.add_weight((self.classes[0],), initializer="zeros", name="bias_0")
        self.heads = []
        for k in range(1, len(self.parts)):
            self.heads.append(
                {
                    "kernel": self.add_weight((dim, self.hidden), initializer="glorot_uniform", name=f"kernel_{k}"),
                    "bias": self.add_weight((self.hidden,), initializer="zeros", name=f"bias_{k}"),
                    "embeddings": [
                        self.add_weight(
                            (self.classes[j], self.hidden), initializer="glorot_uniform", name=f"embedding_{k}_{j}"
                        )
                        for j in range(k)
                    ],
                    "output_kernel": self.add_weight(
                        (self.hidden, self.classes[k]), initializer="glorot_uniform", name=f"output_kernel_{k}"
                    ),
                    "output_bias": self.add_weight((self.classes[k],), initializer="zeros", name=f"output_bias_{k}"),
                }
            )

    def call(self, inputs):
        ops = keras.ops
        first = ops.log_softmax(ops.matmul(inputs, self.first_kernel) + self.first_bias, axis=-1)
        total = ops.take(first, self.parts[0], axis=-1)
        for head, prefixes, entries in zip(self.heads, self.prefixes, self.entries):
            shift = sum(ops.take(table, [p[j] for p in prefixes], axis=0) for j, table in enumerate(head["embeddings"]))
            hidden = ops.relu(ops.expand_dims(ops.matmul(inputs, head["kernel"]) + head["bias"], -2) + shift)
            log_probs = ops.log_softmax(ops.matmul(hidden, head["output_kernel"]) + head["output_bias"], axis=-1)
            # (..., prefixes, classes) -> (rows, prefixes * classes): each token's (prefix, class) entry.
            flat = ops.reshape(log_probs, (-1, log_probs.shape[-2] * log_probs.shape[-1]))
            total = total + ops.reshape(ops.take(flat, entries, axis=1), ops.shape(total))
        return ops.softmax(total, axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], len(self.parts[0]))

    def get_config(self):
        return {**super().get_config(), "parts": self.parts, "hidden": self.hidden}


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
    head="joint",
    token_strings=None,
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
        head: one of `HEADS`.
        token_strings: the vocabulary's tokens after the start token (a `chain` head needs them).
    """
    if conditioning not in MODES:
        raise ValueError(f"conditioning must be one of {MODES}; got {conditioning!r}")
    if head not in HEADS:
        raise ValueError(f"head must be one of {HEADS}; got {head!r}")
    if head == "chain" and (token_strings is None or len(token_strings) + 1 != num_tokens):
        raise ValueError("a chain head needs the vocabulary's tokens, num_tokens - 1 of them")
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
    if head == "chain":
        probabilities = ChainSoftmax(token_parts(token_strings), dtype="float32", name="head")(x)
    else:
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
