"""SavedModel export shared by the apps: atomic, with named signatures, loadable without this package."""

import tensorflow as tf

from apps.common.cli import atomic_dir


def export_saved_model(module, path, signatures):
    """Saves `module` (a `tf.Module` holding the Keras model) as a SavedModel in `path`, atomically.

    Args:
        module: the `tf.Module`; its variables and traced functions are all that is saved, so the
            SavedModel runs with TensorFlow alone (no `layers`/`apps` import needed to load it).
        path: output directory; an existing one is replaced only once the export is complete.
        signatures: dict name -> concrete function (or `tf.function` with an input signature).
    """
    with atomic_dir(path) as tmp:
        tf.saved_model.save(module, tmp, signatures=signatures)
