"""A SavedModel of the jazz token sampler that runs with TensorFlow alone."""

import tensorflow as tf

from apps.common.export import export_saved_model
from apps.jazz.generate import SoloSampler


def export(model, config, path, force=False):
    """Exports the token sampler as a SavedModel in `path` that runs with TensorFlow alone.

    Signatures: `sample(prefix, steps, temperature, top_k, seed)` -> `{tokens, log_probs}` (see
    `apps.common.sampling.Sampler`; id 0 is the start token) and `vocabulary()` -> `{tokens}`, the token
    string of each id. A conditioned model's `sample` also takes `conditions` (batch, S, F), the features of
    each grid step of the progression (`apps.jazz.conditioning.step_table`), as in
    `apps.common.sampling.ConditionedSampler`.
    """
    generator = SoloSampler(model, config)
    tokens = tf.constant(generator.vocabulary.tokens)
    vocabulary = tf.function(lambda: {"tokens": tokens}, input_signature=[])
    generator.sampler.vocabulary = vocabulary
    export_saved_model(
        generator.sampler,
        path,
        {"sample": generator.sampler.__call__, "vocabulary": vocabulary},
        app="jazz",
        force=force,
    )
