"""A SavedModel that samples and scores names with TensorFlow alone (strings in, strings out)."""

import tensorflow as tf

from apps.common.export import export_saved_model
from apps.common.sampling import Sampler
from apps.dinos import data
from apps.dinos.model import step_model


class DinosModule(tf.Module):
    """The exported module; the character <-> id mapping is done by TF ops, so no Python code is needed.

    Signatures:
        sample(n int32, temperature float32, seed int32) -> {"names": string (n,), "log_probs": float32 (n,),
            "ended": bool (n,)}: one batch from the start token, up to the bundle's `max_len` characters;
            `ended` is false for a name cut at that length. The same seed gives the same names as
            `NameSampler.sample_batch`.
        score(names string (batch,)) -> {"log_probs": float32 (batch,)}: log P(name) in nats, end token
            included, after the same normalisation as the CLI (strip, lower-case unless the model keeps case);
            -inf for a name with a character outside the vocabulary.
    """

    def __init__(self, model, config):
        super().__init__()
        self.model = model
        # Keras keeps its layers' dropout seed states out of TensorFlow's tracking, and a signature that
        # captures an untracked variable cannot be saved: listing them here tracks them.
        self.model_variables = list(model.variables)
        self.sampler = Sampler(step_model(model), end_token=data.END_CLASS)
        vocab = data.Vocabulary.from_config(config["vocabulary"])
        self.keep_case = vocab.keep_case
        self.max_len = int(config["max_len"])
        chars = vocab.tokens[2:]
        self.char_ids = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(chars, tf.string), tf.range(2, len(vocab), dtype=tf.int32)),
            default_value=-1,
        )
        # Class c is token c + 1; the end class spells "", so joining a row stops the name at its end.
        self.class_strings = tf.constant(["", *chars], tf.string)

    @tf.function(
        input_signature=[tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.float32), tf.TensorSpec([], tf.int32)]
    )
    def sample(self, n, temperature, seed):
        out = self.sampler(tf.fill([n, 1], data.END_CLASS), self.max_len + 1, temperature, 0, seed)
        tokens = out["tokens"]
        names = tf.strings.reduce_join(tf.gather(self.class_strings, tokens), axis=1)
        ended = tf.reduce_any(tf.equal(tokens, data.END_CLASS), axis=1)
        return {"names": names, "log_probs": out["log_probs"], "ended": ended}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def score(self, names):
        names = tf.strings.strip(names)
        if not self.keep_case:
            names = tf.strings.lower(names, encoding="utf-8")
        ids = self.char_ids.lookup(tf.strings.unicode_split(names, "UTF-8"))
        known = tf.reduce_all(ids >= 0, axis=1)
        ids = tf.maximum(ids, data.END_ID)  # any valid id; unknown names come out as -inf below
        batch = tf.shape(names)[0]
        x = tf.concat([tf.fill([batch, 1], data.END_ID), ids], axis=1).to_tensor(data.PAD_ID)
        y = tf.concat([ids - 1, tf.fill([batch, 1], data.END_CLASS)], axis=1).to_tensor(data.END_CLASS)
        probs = self.model(x, training=False)
        chosen = tf.gather(probs, y, batch_dims=2)
        log_probs = tf.where(x != data.PAD_ID, tf.math.log(tf.maximum(chosen, 1e-30)), 0.0)
        total = tf.reduce_sum(log_probs, axis=1)
        return {"log_probs": tf.where(known, total, float("-inf"))}


def export(model, config, out, force=False):
    """Writes the SavedModel of `DinosModule(model, config)` to `out`, atomically (`force`: see `export_saved_model`)."""
    module = DinosModule(model, config)
    export_saved_model(module, out, {"sample": module.sample, "score": module.score}, app="dinos", force=force)
    return out
