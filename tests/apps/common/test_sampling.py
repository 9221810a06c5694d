"""`apps.common.sampling.Sampler` on small random recurrent models: what it samples, against the model's own
softmax. Keras's LSTM is stepped through its cell; ours through a table of each token's input projection."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import layers
from apps.common.sampling import Sampler, StepModel

VOCAB = 7
END = 0
RECURRENT_LAYERS = {
    "keras.layers.LSTM": lambda: keras.layers.LSTM(8, return_sequences=True),
    "layers.LSTM": lambda: layers.LSTM(8, return_sequences=True, peephole=True),
    "layers.GRU": lambda: layers.GRU(8, return_sequences=True),
}


@pytest.fixture(scope="module", params=list(RECURRENT_LAYERS))
def step(request):
    keras.utils.set_random_seed(3)
    embedding, recurrent = keras.layers.Embedding(VOCAB, 4), RECURRENT_LAYERS[request.param]()
    head = keras.layers.Dense(
        VOCAB, activation="softmax", kernel_initializer=keras.initializers.RandomNormal(stddev=1.0, seed=3)
    )
    tokens = keras.Input((None,), dtype="int32")
    keras.Model(tokens, head(recurrent(embedding(tokens))))  # builds the layers, as training would
    return StepModel(embedding, [recurrent], head)


@pytest.fixture(scope="module")
def sampler(step):
    return Sampler(step, end_token=END)


def sample(sampler, prefix, n, steps=12, temperature=1.0, top_k=0, seed=0):
    """`prefix`: one for every row, or a list of n."""
    prefixes = prefix if isinstance(prefix[0], list) else [prefix] * n
    out = sampler(tf.constant(prefixes, tf.int32), steps, temperature, top_k, seed)
    return out["tokens"].numpy(), out["log_probs"].numpy()


def zero_states(step, batch=1):
    return [tf.zeros([batch, size]) for size in step.state_sizes]


def first_step_probs(step, prefix):
    states = zero_states(step)
    for token in prefix:
        probs, *states = step([tf.constant([token]), *states])
    return probs.numpy()[0].astype("float64")


# One prefix for all rows runs the prefix on one row; different prefixes run on every row.
@pytest.mark.parametrize("prefixes", [[[END, 3, 5]] * 40, [[END, 3, 5], [END, 2, 2], [END, 6, 1], [END, 3, 4]] * 10])
def test_log_probs_are_the_model_softmax_up_to_the_end_token(step, sampler, prefixes):
    tokens, log_probs = sample(sampler, prefixes, 40, steps=6, temperature=0.8, top_k=4, seed=11)
    ended = 0
    for prefix, row, log_prob in zip(prefixes, tokens, log_probs):
        states, expected = zero_states(step), 0.0
        for token in prefix[:-1]:
            _, *states = step([tf.constant([token]), *states])
        previous = prefix[-1]
        for t, token in enumerate(row):
            probs, *states = step([tf.constant([previous]), *states])
            expected += np.log(probs.numpy()[0, token])
            previous = token
            if token == END:
                assert (row[t:] == END).all()
                ended += 1
                break
        assert log_prob == pytest.approx(expected, rel=1e-5)
    assert 0 < ended < len(tokens)  # both kinds of rows were checked


def test_a_token_table_step_is_the_model_step(step):
    table = step.token_table(VOCAB)
    if isinstance(step.recurrent_layers[0], keras.layers.LSTM):
        assert table is None  # Keras's cell has no separate input projection
        return
    tokens = tf.constant([0, 3, 6, 3], tf.int32)
    states = [tf.random.stateless_normal([4, size], seed=[1, i]) for i, size in enumerate(step.state_sizes)]
    for looked_up, computed in zip(step([tokens, *states], token_table=table), step([tokens, *states])):
        np.testing.assert_allclose(looked_up.numpy(), computed.numpy(), rtol=1e-6, atol=1e-7)


def test_same_seed_same_tokens(sampler):
    first, again, other = (sample(sampler, [END], 64, seed=seed)[0] for seed in (5, 5, 6))
    np.testing.assert_array_equal(first, again)
    assert (first != other).any()


@pytest.mark.parametrize("top_k", [VOCAB, VOCAB + 3, -1])
def test_top_k_off_is_the_same_as_top_k_0(sampler, top_k):
    np.testing.assert_array_equal(
        sample(sampler, [END], 64, temperature=0.7, top_k=top_k, seed=2)[0],
        sample(sampler, [END], 64, temperature=0.7, top_k=0, seed=2)[0],
    )


@pytest.mark.parametrize("temperature, top_k", [(1.0, 0), (0.5, 0), (2.0, 0), (1.0, 3), (0.7, 2)])
def test_first_tokens_follow_the_tempered_truncated_distribution(step, sampler, temperature, top_k):
    n = 20000
    tokens, _ = sample(sampler, [END, 2], n, steps=1, temperature=temperature, top_k=top_k, seed=9)
    probs = first_step_probs(step, [END, 2])
    weights = probs ** (1 / temperature)
    if top_k:
        weights[probs < np.sort(probs)[-top_k]] = 0
    expected = weights / weights.sum()
    observed = np.bincount(tokens[:, 0], minlength=VOCAB) / n
    assert (observed[expected == 0] == 0).all()
    np.testing.assert_allclose(observed, expected, atol=5 * np.sqrt(0.25 / n))


def test_a_low_temperature_samples_the_likeliest_token(step, sampler):
    tokens, _ = sample(sampler, [END], 100, steps=1, temperature=1e-3, seed=1)
    assert (tokens[:, 0] == np.argmax(first_step_probs(step, [END]))).all()


def test_without_an_end_token_every_step_is_sampled(step):
    tokens, log_probs = sample(Sampler(step), [END], 30, steps=20, seed=4)
    assert tokens.shape == (30, 20) and np.isfinite(log_probs).all()
    assert ((tokens[:, :-1] == END) & (tokens[:, 1:] != END)).any()  # token 0 is then no end
