"""SavedModel export shared by the apps: atomic, with named signatures, loadable without this package."""

import tensorflow as tf

from apps.common.files import SAVED_MODEL, atomic_dir, write_owner


def export_saved_model(module, path, signatures, app, force=False):
    """Saves `module` (a `tf.Module` holding the Keras model) as a SavedModel in `path`, atomically.

    Args:
        module: the `tf.Module`; its variables and traced functions are all that is saved, so the
            SavedModel runs with TensorFlow alone (no `layers`/`apps` import needed to load it).
        path: output directory; an existing SavedModel of `app` is replaced only once the export is
            complete, anything else only with `force` (`apps.common.files.check_output_dir`).
        signatures: dict name -> concrete function (or `tf.function` with an input signature).
        app: the exporting app, recorded in the SavedModel (`files.OWNER_FILE`) so a later export may
            replace it.
        force: delete whatever else is at `path`.
    """
    with atomic_dir(path, app=app, kind=SAVED_MODEL, force=force) as tmp:
        tf.saved_model.save(module, tmp, signatures=signatures)
        write_owner(tmp, app)
