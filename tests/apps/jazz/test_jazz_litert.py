"""`export --format litert` of the jazz model, token-only and chord-conditioned: the .tflite steps answer as
the Keras model, and the NumPy sampler fed the compiled sampler's draws picks the same tokens."""

import numpy as np
import pytest

pytest.importorskip("ai_edge_litert")

from apps.common import litert
from apps.jazz import conditioning, grammar
from apps.jazz import litert as jazz_litert
from apps.jazz.chords import parse_progression
from apps.jazz.cli import main

from jazz_scores import tiny_model

TOKENS = ["C,1/2,<-2,+2>", "R,1/4", "S,1/4,<-2,+2>", "A,1/3,<+2,+6>", "C,1,<-6,-2>", "X,1/2,<-2,+2>", "R,1/2"]


@pytest.fixture(scope="module", params=[("none", "joint"), ("changes", "chain")])
def exported(request, tmp_path_factory):
    """A tiny model of each kind, saved as a bundle and exported through the CLI: token-only with the course's
    head, and conditioned with the chain head (`train`'s defaults)."""
    import keras

    from apps.common.bundle import save_bundle

    keras.utils.set_random_seed(3)
    mode, head = request.param
    model = tiny_model(TOKENS, mode, head)
    directory = tmp_path_factory.mktemp("jazz")
    save_bundle(str(directory / "bundle"), model, {"app": "jazz", "vocabulary": TOKENS, "conditioning": mode})
    out = str(directory / "jazz.tflite")
    assert main(["export", "--format", "litert", "--model", str(directory / "bundle"), "--out", out]) == 0
    return model, out, mode == "changes"


TIMELINE, _ = parse_progression("Dm7 G7 | Cmaj7 | A7")


@pytest.mark.parametrize("length", [3, 10])
def test_the_tflite_steps_give_the_keras_models_probabilities(exported, length):
    model, out, conditioned = exported
    tokens = np.concatenate([[0], np.random.default_rng(length).integers(1, len(TOKENS) + 1, length - 1)])
    inputs = tokens[None].astype("int32")
    features = conditioning.features(TIMELINE, conditioning.onsets(grammar.Vocabulary(TOKENS).decode(tokens)))
    if conditioned:
        inputs = {"tokens": inputs, "conditions": features[None]}
    expected = model.predict_on_batch(inputs)[0]
    step = litert.StepRunner(out)
    assert step.conditioned == conditioned
    states = step.initial_states()
    for t, token in enumerate(tokens):
        probs, states = step(token, states, features[t])
        np.testing.assert_allclose(probs, expected[t], atol=1e-5)


def test_fed_the_compiled_samplers_draws_the_numpy_sampler_picks_the_same_tokens(exported):
    import tensorflow as tf

    from apps.jazz.generate import SoloSampler

    model, out, conditioned = exported
    generator = SoloSampler(model, {"vocabulary": TOKENS, "conditioning": "changes" if conditioned else "none"})
    quarters, steps = 12.0, 16
    table = conditioning.step_table(TIMELINE, quarters)
    for seed in range(3):
        arguments = (tf.constant(steps), tf.constant(0.8), tf.constant(0), tf.constant(seed))
        prefix = tf.constant([[0]], tf.int32)
        compiled = (
            generator.sampler(prefix, *arguments)
            if not conditioned
            else generator.sampler(prefix, tf.constant(table[None]), *arguments)
        )
        draws = [tf.random.stateless_uniform([1], seed=[seed, t])[0].numpy() for t in range(steps)]
        sampled = jazz_litert.sample_tokens(
            out, steps, timeline=TIMELINE, quarters=quarters, temperature=0.8, uniforms=draws
        )
        assert sampled == grammar.Vocabulary(TOKENS).decode(compiled["tokens"][0].numpy())


def test_the_token_file_lists_the_vocabulary_in_id_order(exported):
    assert jazz_litert.read_tokens(exported[1]) == [grammar.START, *TOKENS]
