"""A tiny model of our layers trained through `apps.common.distribute`; run as a script by test_distribute.py.

Each test that needs a fresh TensorFlow runtime (logical devices, a multi-worker cluster) runs this file in a
subprocess::

    python distribute_script.py mirrored OUT.npz              2 logical CPUs: one device vs MirroredStrategy
    python distribute_script.py worker OUT_DIR BACKUP_DIR     one MultiWorkerMirroredStrategy worker (TF_CONFIG)

The test module imports it too, for the same model and data in-process.
"""

import hashlib
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np

import layers
from apps.common import distribute

STEPS, FEATURES, CLASSES = 5, 3, 2
EXAMPLES, GLOBAL_BATCH, EPOCHS = 32, 8, 3


def data():
    """Fixed inputs (EXAMPLES, STEPS, FEATURES) and class labels; the same in every process."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((EXAMPLES, STEPS, FEATURES)).astype("float32")
    y = (x[:, :, 0].sum(axis=1) > 0).astype("int32")
    return x, y


def build_model(seed=0):
    """Peephole LSTM -> GRU -> softmax, compiled with SGD (no adaptive scaling to amplify rounding)."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((STEPS, FEATURES))
    h = layers.LSTM(6, peephole=True, return_sequences=True, name="lstm")(inputs)
    h = layers.GRU(6, name="gru")(h)
    # float32 probabilities whatever the policy: the loss of bfloat16 probabilities is coarse.
    outputs = keras.layers.Dense(CLASSES, activation="softmax", dtype="float32", name="head")(h)
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.SGD(0.5, momentum=0.5), "sparse_categorical_crossentropy")
    return model


def fit(model, epochs=EPOCHS, callbacks=()):
    x, y = data()
    return model.fit(
        distribute.make_dataset(x, y, GLOBAL_BATCH), epochs=epochs, callbacks=list(callbacks), shuffle=False, verbose=0
    )


def mirrored(out):
    """Saves the initial weights and those after EPOCHS of one-device and of 2-replica mirrored training."""
    import tensorflow as tf

    # Must run before the runtime initialises its devices, hence in a process of its own.
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    single = build_model()
    initial = single.get_weights()
    fit(single)
    strategy = distribute.make_strategy("mirrored")
    with strategy.scope():
        replicated = build_model()
    replicated.set_weights(initial)
    fit(replicated)
    arrays = {"replicas": np.array(strategy.num_replicas_in_sync)}
    for name, weights in (
        ("initial", initial),
        ("single", single.get_weights()),
        ("mirrored", replicated.get_weights()),
    ):
        arrays.update({f"{name}_{i}": w for i, w in enumerate(weights)})
    np.savez(out, **arrays)


def worker(out, backup_dir):
    """One worker of the cluster in TF_CONFIG: trains, and saves `out/model.keras` (chief only)."""
    strategy = distribute.make_strategy("multi-worker")
    with strategy.scope():
        model = build_model()
    history = fit(model, callbacks=distribute.backup_callbacks(backup_dir))
    with distribute.chief_path(out) as path:
        os.makedirs(path, exist_ok=True)
        model.save(os.path.join(path, "model.keras"))
        np.savez(os.path.join(path, "weights.npz"), *model.get_weights())
    # Synchronous training keeps every worker's copy identical: the test compares these digests.
    digest = hashlib.sha256(b"".join(w.tobytes() for w in model.get_weights())).hexdigest()
    print(
        f"replicas={strategy.num_replicas_in_sync} chief={distribute.is_chief()} "
        f"epochs={len(history.history['loss'])} weights={digest}"
    )


if __name__ == "__main__":
    {"mirrored": mirrored, "worker": worker}[sys.argv[1]](*sys.argv[2:])
