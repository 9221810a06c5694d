"""A SavedModel of the classifier that answers and explains with TensorFlow alone."""

import tensorflow as tf

from apps.common.export import export_saved_model
from apps.sentiment.explain import Explainer


class SentimentServing(tf.Module):
    """The classifier as a `tf.Module` whose `serve` and `explain` signatures need TensorFlow alone.

    Call arguments:
        texts: string tensor (batch,), raw text.

    Returns:
        `serve`: a dict: `probabilities` float32 (batch, classes), `label_ids` int32 (batch,), `labels` string
        (batch,). `explain`: the same and the integrated-gradients explanation of each predicted label,
        `tokens`, `scores`, `baseline`, `truncated` (`apps.sentiment.explain.Explainer.serve`).
    """

    def __init__(self, model, label_names):
        super().__init__()
        self.model = model
        # keras.layers.RNN draws its cells' dropout masks even at inference, so the serving function reads the
        # cells' seed-generator states; Keras's tracking does not hand those to tf.saved_model, so track every
        # model variable here.
        self.model_variables = [variable.value for variable in model.variables]
        self.label_names = tf.constant(label_names)
        self.explainer = Explainer(model)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="texts")])
    def serve(self, texts):
        probs = self.model(texts, training=False)
        label_ids = tf.argmax(probs, axis=-1, output_type=tf.int32)
        return {"probabilities": probs, "label_ids": label_ids, "labels": tf.gather(self.label_names, label_ids)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="texts")])
    def explain(self, texts):
        explained = self.explainer.serve(texts)
        return {**explained, "labels": tf.gather(self.label_names, explained["label_ids"])}


def export(model, config, out, force=False):
    """Writes a SavedModel to `out` with the `serving_default` and `explain` signatures of `SentimentServing`.

    An existing SavedModel of this app at `out` is replaced; anything else only with `force`.
    """
    module = SentimentServing(model, config["labels"])
    export_saved_model(
        module, out, {"serving_default": module.serve, "explain": module.explain}, app="sentiment", force=force
    )
