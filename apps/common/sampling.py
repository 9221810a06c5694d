"""One compiled sampling loop for every generative app (dinos, jazz).

An app hands over a *step model* (`StepModel`): a Keras model taking `[token (batch,), *states]` and returning
`[probabilities (batch, vocab), *new_states]`, built from the same layer objects as its training model.
`Sampler` runs all steps for the whole batch inside one `tf.function` (a `tf.while_loop`), never
`model.predict` once per step, and is a `tf.Module`, so it exports as a SavedModel signature as is.
"""

import keras
import tensorflow as tf

_NO_END_TOKEN = -1


class StepModel(keras.Model):
    """The one-step model, made of the training model's own layer objects (so the weights are shared).

    Args:
        token_encoder: layer mapping int tokens (batch,) to vectors (an `Embedding`, a one-hot
            `CategoryEncoding`, ...).
        recurrent_layers: the stacked recurrent sequence layers, in order; each one's `cell` runs one step.
        head: layer mapping the last a⟨t⟩ to probabilities (a softmax `Dense`).

    Call arguments:
        inputs: `[token (batch,) int32, *states]`, the states of all layers in order.

    Returns:
        `[probabilities (batch, vocab), *new_states]`.
    """

    def __init__(self, token_encoder, recurrent_layers, head, **kwargs):
        super().__init__(**kwargs)
        self.token_encoder = token_encoder
        self.recurrent_layers = list(recurrent_layers)
        self.head = head
        self.state_sizes = []
        for layer in self.recurrent_layers:
            size = layer.cell.state_size
            self.state_sizes += list(size) if isinstance(size, (list, tuple)) else [size]

    def call(self, inputs, training=False):
        token, states = inputs[0], list(inputs[1:])
        # The vectors carry no mask here: one real token per row, never padding.
        x = keras.ops.multiply(self.token_encoder(token), 1)
        new_states = []
        for layer in self.recurrent_layers:
            count = len(layer.cell.state_size) if isinstance(layer.cell.state_size, (list, tuple)) else 1
            layer_states, states = states[:count], states[count:]
            x, layer_states = layer.cell(x, layer_states, training=training)
            new_states += list(layer_states) if isinstance(layer_states, (list, tuple)) else [layer_states]
        return [self.head(x), *new_states]


class Sampler(tf.Module):
    """Samples token sequences from a one-step model with temperature, top-k, a seed and an end token.

    Args:
        step_model: a `StepModel`, `[token (batch,) int32, *states (batch, n)] -> [probs (batch, V), *states]`.
        end_token: id that ends a sequence; after it a row keeps emitting `end_token`. `None` for none.

    Call arguments:
        prefix: int32 (batch, P), P >= 1: tokens fed first (teacher-forced); sampling continues from the
            last one. A start token alone is a prefix of length 1.
        steps: int32 scalar, number of tokens to sample after the prefix.
        temperature: float32 scalar > 0; probabilities are raised to 1/temperature and renormalised.
        top_k: int32 scalar; sample among the k likeliest tokens only (0 or >= V: all tokens).
        seed: int32 scalar; the same seed gives the same tokens (stateless random ops).

    Returns:
        A dict with `tokens` int32 (batch, steps) and `log_probs` float32 (batch,), the sum of the
        sampled tokens' log-probabilities under the unmodified distribution up to and including the end token.

    Example:

        sampler = Sampler(step_model, end_token=1)
        out = sampler(tf.fill([100, 1], 1), steps=25, temperature=1.0, top_k=0, seed=7)
    """

    def __init__(self, step_model, end_token=None):
        super().__init__()
        self.step_model = step_model
        self.end_token = _NO_END_TOKEN if end_token is None else int(end_token)
        self.state_sizes = step_model.state_sizes

    @tf.function(input_signature=[
        tf.TensorSpec([None, None], tf.int32),
        tf.TensorSpec([], tf.int32),
        tf.TensorSpec([], tf.float32),
        tf.TensorSpec([], tf.int32),
        tf.TensorSpec([], tf.int32),
    ])
    def __call__(self, prefix, steps, temperature, top_k, seed):
        batch = tf.shape(prefix)[0]
        prefix_length = tf.shape(prefix)[1]
        states = [tf.zeros([batch, size], self.step_model.compute_dtype) for size in self.state_sizes]
        # Teacher-force every prefix token but the last: its step is the first sampling step.
        for t in tf.range(prefix_length - 1):
            outputs = self.step_model([prefix[:, t], *states], training=False)
            states = list(outputs[1:])
        token = prefix[:, -1]
        done = tf.zeros([batch], tf.bool)
        log_probs = tf.zeros([batch], tf.float32)
        sampled = tf.TensorArray(tf.int32, size=0, dynamic_size=True, element_shape=[None])
        for t in tf.range(steps):
            if tf.reduce_all(done):
                break  # every row has ended: the remaining columns are all end tokens, padded below
            outputs = self.step_model([token, *states], training=False)
            states = list(outputs[1:])
            log_p = tf.math.log(tf.maximum(tf.cast(outputs[0], tf.float32), 1e-30))
            logits = log_p / temperature
            vocab = tf.shape(logits)[1]
            k = tf.where((top_k <= 0) | (top_k > vocab), vocab, top_k)
            kth_largest = tf.math.top_k(logits, k=k).values[:, -1:]
            logits = tf.where(logits < kth_largest, tf.fill(tf.shape(logits), -1e30), logits)
            token = tf.random.stateless_categorical(
                logits, 1, seed=tf.stack([seed, t]), dtype=tf.int32)[:, 0]
            token = tf.where(done, self.end_token, token)
            chosen = tf.gather(log_p, token, batch_dims=1)
            log_probs += tf.where(done, 0.0, chosen)
            done = done | tf.equal(token, self.end_token)
            sampled = sampled.write(t, token)
        tokens = tf.transpose(sampled.stack(), [1, 0])
        tokens = tf.pad(tokens, [[0, 0], [0, steps - tf.shape(tokens)[1]]], constant_values=self.end_token)
        return {"tokens": tokens, "log_probs": log_probs}
