"""One compiled sampling loop for every generative app.

An app hands over a *step model* (`StepModel`): a Keras model taking `[token (batch,), *states]` and returning
`[probabilities (batch, vocab), *new_states]`, built from the same layer objects as its training model.
`Sampler` runs all steps for the whole batch inside one `tf.function` (a `tf.while_loop`), never
`model.predict` once per step, and is a `tf.Module`, so it exports as a SavedModel signature as is.

A model may also be *conditioned* on what is known of the step it predicts (for a melody, the chord and the beat
at the token's onset). Such features depend on the running time, the sum of the durations of the tokens so far,
so the sampler is given each token's duration and a table of features for every time step, and looks the
next step's features up inside the loop (`ConditionedSampler`).
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
        condition_encoder: for a conditioned model, the layer mapping the step's features (batch, F) to a
            vector c, which is concatenated after the token's vector as the first layer's input and after the
            last a⟨t⟩ as the head's input (as in the training model). `None`: an unconditioned model.

    Call arguments:
        inputs: `[token (batch,) int32, *states]`, the states of all layers in order; with a
            `condition_encoder`, `[token, conditions (batch, F), *states]`, the features of the predicted step.
        token_table: optional, `token_table(vocab)`'s result: the first layer's input projection is then
            looked up instead of computed.

    Returns:
        `[probabilities (batch, vocab), *new_states]`.
    """

    def __init__(self, token_encoder, recurrent_layers, head, condition_encoder=None, **kwargs):
        super().__init__(**kwargs)
        self.token_encoder = token_encoder
        self.recurrent_layers = list(recurrent_layers)
        self.head = head
        self.condition_encoder = condition_encoder
        self.state_sizes = [
            size for layer in self.recurrent_layers for size in keras.tree.flatten(layer.cell.state_size)
        ]

    def token_table(self, vocab_size):
        """x·W + b of the first recurrent layer for each of the `vocab_size` tokens, (vocab_size, ...).

        A token's row equals the embedding-then-projection of one step, so a sampler can look it up instead of
        running both every step: a third of the LSTM's per-step matmul work at 64 inputs and 128 units.
        None when the cell does not split its step that way (e.g. `keras.layers.SimpleRNN`).
        """
        cell = self.recurrent_layers[0].cell
        if not hasattr(cell, "project_inputs") or self.condition_encoder is not None:
            return None  # a conditioned step's input is not the token's alone
        return cell.project_inputs(self._encode(keras.ops.arange(vocab_size, dtype="int32")), training=False)

    def _encode(self, token):
        # The vectors carry no mask here: one real token per row, never padding.
        return keras.ops.multiply(self.token_encoder(token), 1)

    def call(self, inputs, training=False, token_table=None):
        token, states = inputs[0], list(inputs[1:])
        x = None if token_table is not None else self._encode(token)
        context = None
        if self.condition_encoder is not None:
            context = self.condition_encoder(states.pop(0))
            x = keras.ops.concatenate([x, keras.ops.cast(context, x.dtype)], axis=-1)
        new_states = []
        for layer in self.recurrent_layers:
            count = len(keras.tree.flatten(layer.cell.state_size))
            layer_states, states = states[:count], states[count:]
            if x is None:
                x, layer_states = layer.cell.recurrent_step(
                    keras.ops.take(token_table, token, axis=0), layer_states, training=training
                )
            else:
                x, layer_states = layer.cell(x, layer_states, training=training)
            new_states += keras.tree.flatten(layer_states)
        if context is not None:
            x = keras.ops.concatenate([x, keras.ops.cast(context, x.dtype)], axis=-1)
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
        if step_model.condition_encoder is not None and not isinstance(self, ConditionedSampler):
            raise ValueError("a conditioned step model is sampled by a `ConditionedSampler`")
        self.step_model = step_model
        self.end_token = _NO_END_TOKEN if end_token is None else int(end_token)
        self.state_sizes = step_model.state_sizes
        self.durations = None

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None], tf.int32),
            tf.TensorSpec([], tf.int32),
            tf.TensorSpec([], tf.float32),
            tf.TensorSpec([], tf.int32),
            tf.TensorSpec([], tf.int32),
        ]
    )
    def __call__(self, prefix, steps, temperature, top_k, seed):
        return self._run(prefix, steps, temperature, top_k, seed)

    def _run(self, prefix, steps, temperature, top_k, seed, conditions=None):
        batch = tf.shape(prefix)[0]
        if conditions is None:
            # With one prefix for the whole batch (a start token, or a user's prefix: the usual case), the rows
            # share every step up to the first sampled token, so those run on one row.
            shared = tf.reduce_all(tf.equal(prefix, prefix[:1]))
            distinct = tf.cond(shared, lambda: prefix[:1], lambda: prefix)
            source = tf.cond(shared, lambda: tf.zeros([batch], tf.int32), lambda: tf.range(batch))
        else:  # each row is conditioned on its own features
            distinct, source = prefix, tf.range(batch)
        rows = tf.range(tf.shape(distinct)[0])
        onset = tf.zeros_like(rows)
        states = [tf.zeros([tf.shape(distinct)[0], size], self.step_model.compute_dtype) for size in self.state_sizes]
        for t in tf.range(tf.shape(prefix)[1] - 1):
            outputs, onset = self._step(distinct[:, t], states, conditions, rows, onset)
            states = list(outputs[1:])
        outputs, onset = self._step(distinct[:, -1], states, conditions, rows, onset)
        probs = tf.gather(tf.cast(outputs[0], tf.float32), source)
        states = [tf.gather(state, source) for state in outputs[1:]]
        onset = tf.gather(onset, source)
        vocab = probs.shape[-1]  # static (a Dense head)
        table = self.step_model.token_table(vocab)
        # The usual call (temperature 1, no top-k) gets a loop without the per-step branches of the others.
        plain = tf.equal(temperature, 1.0) & ((top_k <= 0) | (top_k >= vocab))
        positions, sampled, chosen_log_p = tf.cond(
            plain,
            lambda: self._sample(probs, states, table, batch, steps, seed, lambda probs: probs, conditions, onset),
            lambda: self._sample(
                probs,
                states,
                table,
                batch,
                steps,
                seed,
                lambda probs: _tempered_top_k(probs, temperature, top_k),
                conditions,
                onset,
            ),
        )
        # Every position not written comes after the row's end token (or after the early stop).
        tokens = tf.tensor_scatter_nd_update(tf.fill([batch, steps], self.end_token), positions, sampled)
        log_probs = tf.math.unsorted_segment_sum(chosen_log_p, positions[:, 0], batch)
        return {"tokens": tokens, "log_probs": log_probs}

    def _step(self, token, states, conditions, rows, onset, table=None):
        """One step of the model for batch rows `rows`; a conditioned one first moves each row's onset on by
        the duration of its input token and looks up the features there. Returns `(outputs, onset)`."""
        if conditions is None:
            return self.step_model([token, *states], training=False, token_table=table), onset
        onset = onset + tf.gather(self.durations, token)
        at = tf.stack([rows, tf.minimum(onset, tf.shape(conditions)[1] - 1)], axis=1)
        return self.step_model([token, tf.gather_nd(conditions, at), *states], training=False), onset

    def _sample(self, probs, states, table, batch, steps, seed, weigh, conditions=None, onset=None):
        """The sampling loop from the first sampled step's probabilities; `weigh(probs)` gives the weights to
        draw from; `conditions` and `onset` (per row) as in `_step`. Returns the written (row, step) positions,
        their tokens and their log-probabilities."""
        vocab = probs.shape[-1]
        upper_ones = tf.linalg.band_part(tf.ones([vocab, vocab]), 0, -1)
        # Only the rows still sampling go through the model: the model step is most of the time, and names end
        # long before the last step (the shipped names after ~13 of up to 31).
        rows = tf.range(batch)
        # Per step, the (row, step) positions written and their tokens and log-probabilities.
        positions = tf.TensorArray(tf.int32, size=0, dynamic_size=True, infer_shape=False, element_shape=[None, 2])
        sampled = tf.TensorArray(tf.int32, size=0, dynamic_size=True, infer_shape=False, element_shape=[None])
        chosen_log_p = tf.TensorArray(tf.float32, size=0, dynamic_size=True, infer_shape=False, element_shape=[None])
        t = tf.constant(0)
        while tf.logical_and(t < steps, tf.size(rows) > 0):
            # One uniform per row of the whole batch, picked by row: a row's draw does not depend on which
            # other rows are still running.
            uniform = tf.gather(tf.random.stateless_uniform([batch], seed=tf.stack([seed, t])), rows)
            # A product with an upper-triangular matrix of ones is a cumulative sum several times faster than
            # cumsum over a short axis, and still exact in order: each column adds the same terms in the same
            # order, the columns to its left having zeros in place of the later ones.
            cumulative = tf.matmul(weigh(probs), upper_ones)
            # Inverse CDF: 1 - uniform lies in (0, 1], so the first token whose cumulative weight reaches the
            # target has a weight > 0; a token cut by top-k or underflow is never drawn.
            target = (1.0 - uniform[:, None]) * cumulative[:, -1:]
            token = tf.searchsorted(cumulative, target, side="left", out_type=tf.int32)[:, 0]
            positions = positions.write(t, tf.stack([rows, tf.fill(tf.shape(rows), t)], axis=1))
            sampled = sampled.write(t, token)
            chosen_log_p = chosen_log_p.write(t, tf.math.log(tf.gather(probs, token, batch_dims=1)))
            if self.end_token != _NO_END_TOKEN:
                running = tf.where(tf.not_equal(token, self.end_token))[:, 0]
                rows, token = tf.gather(rows, running), tf.gather(token, running)
                states = [tf.gather(state, running) for state in states]
                onset = tf.gather(onset, running)
            # The next step's probabilities; after the last step this one is not used.
            outputs, onset = self._step(token, states, conditions, rows, onset, table)
            probs, states = tf.cast(outputs[0], tf.float32), list(outputs[1:])
            t += 1
        return positions.concat(), sampled.concat(), chosen_log_p.concat()


class ConditionedSampler(Sampler):
    """A `Sampler` for a step model with a `condition_encoder`: each step is also fed features that depend on
    the running time, the sum of the durations of the tokens before it.

    Args:
        step_model: a `StepModel` with a `condition_encoder`.
        durations: each token's duration in time steps (ints, (vocab,); 0 for a start token).
        end_token: as for `Sampler`.

    Call arguments:
        prefix, steps, temperature, top_k, seed: as for `Sampler`.
        conditions: float32 (batch, S, F): row s of a batch row holds the features of a token whose onset is s
            time steps after the start (the sum of the durations of the tokens before it, prefix included); a
            token starting at or after S - 1 gets row S - 1. Rows never share steps, as their features differ.

    Returns:
        As for `Sampler`.
    """

    def __init__(self, step_model, durations, end_token=None):
        if step_model.condition_encoder is None:
            raise ValueError("a `ConditionedSampler` needs a step model with a `condition_encoder`")
        super().__init__(step_model, end_token=end_token)
        self.durations = tf.constant(durations, tf.int32)

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None], tf.int32),
            tf.TensorSpec([None, None, None], tf.float32),
            tf.TensorSpec([], tf.int32),
            tf.TensorSpec([], tf.float32),
            tf.TensorSpec([], tf.int32),
            tf.TensorSpec([], tf.int32),
        ]
    )
    def __call__(self, prefix, conditions, steps, temperature, top_k, seed):
        return self._run(prefix, steps, temperature, top_k, seed, conditions)


def _tempered_top_k(probs, temperature, top_k):
    """Weights proportional to probs ** (1 / temperature), zero outside the `top_k` likeliest tokens."""
    vocab = probs.shape[-1]
    # Scaled by the largest first, so that a low temperature cannot underflow every weight to 0;
    # exp(log(.) / T) rather than pow, which is several times slower on a CPU.
    weights = tf.cond(
        tf.equal(temperature, 1.0),
        lambda: probs,
        lambda: tf.exp(tf.math.log(probs / tf.reduce_max(probs, axis=1, keepdims=True)) / temperature),
    )
    return tf.cond(
        (top_k > 0) & (top_k < vocab),
        lambda: tf.where(probs < tf.math.top_k(probs, k=top_k).values[:, -1:], 0.0, weights),
        lambda: weights,
    )
