"""Fixtures shared by the layer tests: backend-neutral gradients, float64, and the TensorFlow-only skip.

There is deliberately no tests/conftest.py: with it, pytest's rootdir import mode puts tests/ on sys.path,
where the folder tests/layers shadows the package `layers` as a namespace package.
"""

import os

# Before anything imports TensorFlow (conftest.py is imported before the test modules).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import pytest
from keras import ops

BACKEND = keras.backend.backend()


@pytest.fixture(autouse=True)
def _restore_keras_globals():
    """A test that changes floatx or the global dtype policy and fails half-way must not leak it."""
    floatx = keras.config.floatx()
    policy = keras.config.dtype_policy()
    yield
    keras.config.set_floatx(floatx)
    keras.config.set_dtype_policy(policy)


def _cotangents(outputs, seed):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(tuple(o.shape)) for o in outputs]


def value_and_grads(fn, variables, inputs=(), cotangents=None, seed=1234):
    """Outputs of `fn(*inputs)` and the gradients of a fixed linear loss of them.

    L = Σ_k Σ cotangent_k * output_k over the flattened outputs, with the cotangents given or drawn from
    N(0, 1) with `seed` (so two layers with outputs of the same shapes get the same loss). Being linear,
    dL/d(output_k) = cotangent_k, which is how `layers.reference.loss_and_grads` states its loss too.

    Gradients are taken with `tf.GradientTape` on TensorFlow and `jax.value_and_grad` (variables substituted
    through `keras.StatelessScope`) on JAX. Every layer must be built before.

    Returns:
        `(outputs, variable_grads, input_grads)`, lists of NumPy arrays; a gradient that does not reach a
        variable is None on TensorFlow (so a comparison with a real gradient fails).
    """
    variables = list(variables)
    inputs = [np.asarray(a) for a in inputs]

    def loss_of(outputs):
        outputs = keras.tree.flatten(outputs)
        cots = cotangents if cotangents is not None else _cotangents(outputs, seed)
        assert len(cots) == len(outputs)
        loss = 0.0
        for output, cot in zip(outputs, cots):
            loss = loss + ops.sum(ops.multiply(output, ops.cast(np.asarray(cot), output.dtype)))
        return loss, outputs

    if BACKEND == "tensorflow":
        import tensorflow as tf

        xs = [tf.convert_to_tensor(a) for a in inputs]
        with tf.GradientTape() as tape:
            tape.watch(xs)
            loss, outputs = loss_of(fn(*xs))
        grads = tape.gradient(loss, variables + xs)
    elif BACKEND == "jax":
        import jax
        import jax.numpy as jnp

        def loss_fn(values, xs):
            with keras.StatelessScope(state_mapping=list(zip(variables, values))):
                return loss_of(fn(*xs))

        (_, outputs), (var_grads, input_grads) = jax.value_and_grad(loss_fn, argnums=(0, 1), has_aux=True)(
            [v.value for v in variables], [jnp.asarray(a) for a in inputs]
        )
        grads = list(var_grads) + list(input_grads)
    else:
        pytest.skip(f"no gradient helper for the {BACKEND} backend")
    to_numpy = lambda g: None if g is None else np.asarray(ops.convert_to_numpy(g))  # noqa: E731
    grads = [to_numpy(g) for g in grads]
    return [to_numpy(o) for o in outputs], grads[: len(variables)], grads[len(variables) :]


@pytest.fixture
def grads():
    """The `value_and_grads` helper (a fixture, so that test modules need no import path)."""
    return value_and_grads


@pytest.fixture(scope="session", autouse=True)
def _jax_compilation_cache(tmp_path_factory):
    """On JAX every eager `lax.scan` (each RNN call) is traced and compiled afresh; a compilation cache keyed by
    the compiled program lets tests that build the same loop share it. Pure speed: the numbers are the same."""
    if BACKEND != "jax":
        yield
        return
    import jax

    names = (
        "jax_compilation_cache_dir",
        "jax_persistent_cache_min_compile_time_secs",
        "jax_persistent_cache_min_entry_size_bytes",
    )
    saved = {name: getattr(jax.config, name) for name in names}
    jax.config.update("jax_compilation_cache_dir", str(tmp_path_factory.mktemp("jax_compilation_cache")))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    yield
    for name, value in saved.items():
        jax.config.update(name, value)


def _float64_tanh(x):
    import jax.numpy as jnp

    return jnp.tanh(jnp.asarray(x))


@pytest.fixture
def float64(monkeypatch):
    """Runs the test with float64 available.

    TensorFlow needs nothing. JAX truncates to float32 unless x64 is enabled. And Keras 3.15's JAX `tanh`
    (keras/src/backend/jax/numpy.py) casts to `dtypes.result_type(x.dtype, float)`, which Keras maps from
    float64 to float32 on every backend but TensorFlow, so `keras.ops.tanh` of float64 is computed in float32
    (errors ~1e-7): a Keras limitation outside our layers, which call `keras.activations.tanh`. While it lasts
    (checked, not assumed), the test swaps in `jnp.tanh` for Keras's JAX tanh, nothing else.
    """
    if BACKEND != "jax":
        yield
        return
    import jax
    import keras.src.backend.jax.numpy as keras_jax_numpy

    with jax.enable_x64(True):
        if ops.tanh(np.ones((1,), "float64")).dtype != "float64":
            monkeypatch.setattr(keras_jax_numpy, "tanh", _float64_tanh)
        assert ops.tanh(np.ones((1,), "float64")).dtype == "float64"
        yield


@pytest.fixture
def tensorflow_backend():
    """Skips a test that needs TensorFlow itself (SavedModel, tf.function) on any other Keras backend."""
    if BACKEND != "tensorflow":
        pytest.skip(f"needs the TensorFlow backend; Keras runs on {BACKEND}")
    import tensorflow as tf

    return tf


def assert_close_lists(actual, expected, atol, rtol=0.0, names=None):
    assert len(actual) == len(expected)
    for i, (a, e) in enumerate(zip(actual, expected)):
        name = names[i] if names else i
        assert a is not None, f"no gradient reaches {name}"
        np.testing.assert_allclose(a, e, atol=atol, rtol=rtol, err_msg=f"mismatch in {name}")


@pytest.fixture
def assert_all_close():
    """Element-wise comparison of two lists of arrays, naming the first that differs."""
    return assert_close_lists
