"""`apps.jazz.generate.Generator` over a conditioned model: the compiled loop feeds each step the features of the
running time, the same ones training computes from a solo's tokens."""

import pytest
import tensorflow as tf

from apps.jazz import chords, conditioning, evaluate, generate, grammar
from apps.jazz import model as jazz_model

TOKENS = ["R,1/2", "C,1/2,<*>", "C,1/3,<+0,+4>", "S,1,<-4,+0>", "A,1/6,<-2,+2>", "C,2,<+2,+6>", "R,4",
          "X,3/2,<-6,-2>"]


@pytest.fixture(scope="module")
def model():
    return jazz_model.build_model(len(TOKENS) + 1, units=6, embedding_dim=5, conditioning="changes", condition_dim=4)


@pytest.fixture(scope="module")
def generator(model):
    return generate.Generator(model, {"vocabulary": TOKENS, "encoding": "grammar", "conditioning": "changes",
                                      "mean_token_quarters": 1.0})


@pytest.mark.parametrize("prefix", [[], ["C,1/2,<*>", "R,4", "A,1/6,<-2,+2>"]])
def test_sampled_log_probs_are_the_training_models_with_the_solos_features(model, generator, prefix):
    timeline, _ = chords.parse_progression("Dm7 G7 | Cmaj7 | F7 Bb7 | Ebmaj7")
    table = conditioning.step_table(timeline, 16.0)
    ids = [0] + generator.vocabulary.encode(prefix).tolist()
    out = generator.sampler(tf.constant([ids, ids]), tf.constant(table[None].repeat(2, 0)),
                                               tf.constant(12), tf.constant(1.0), tf.constant(0), tf.constant(5))
    for row in range(2):
        tokens = prefix + generator.vocabulary.decode(out["tokens"][row].numpy())
        features = conditioning.features(timeline, conditioning.onsets(tokens))
        nll, _ = evaluate.negative_log_likelihood(model, generator.vocabulary, tokens, features)
        assert -nll[len(prefix):].sum() == pytest.approx(float(out["log_probs"][row]), rel=1e-4, abs=1e-4)


def test_generate_solo_over_a_progression_fills_its_bars(generator):
    timeline, _ = chords.parse_progression("Dm7 G7 | Cmaj7")
    notes, tokens = generate.generate_solo(generator, timeline, 2, seed=3)
    assert sum(grammar.duration_steps(token) for token in tokens) >= 2 * 4 * grammar.GRID
    assert all(0 <= offset < 8 for offset, _, _ in notes)
    again, _ = generate.generate_solo(generator, timeline, 2, seed=3)
    assert again == notes


def test_a_conditioned_generator_needs_a_timeline(generator):
    with pytest.raises(ValueError, match="timeline"):
        generator.sample(8.0)
