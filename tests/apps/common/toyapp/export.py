"""The toy app's SavedModel: one signature, `serving_default`."""

import tensorflow as tf

from apps.common.export import export_saved_model


def export(model, config, out, force=False):
    module = tf.Module()
    module.model = model
    module.serve = tf.function(lambda x: {"outputs": model(x)}, input_signature=[tf.TensorSpec([None, 3])])
    export_saved_model(module, out, {"serving_default": module.serve}, config["app"], force=force)
