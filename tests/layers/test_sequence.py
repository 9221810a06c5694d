"""What LSTM and GRU share as Keras layers: the basic RNN oracle, config and `.keras` round trips, SavedModel
export, training under XLA and mixed precision, and gradient clipping with Keras's optimizers."""

import json

import keras
import numpy as np
import pytest

from layers import GRU, LSTM, GRUCell, LSTMCell, reference

from layer_helpers import randomize

B, T, D, H = 4, 6, 3, 5
LENGTHS = np.array([6, 4, 1, 3])


def make_batch(seed=0, dtype="float32", batch=B, steps=T, features=D):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, steps, features)).astype(dtype)
    mask = np.arange(steps)[None, :] < LENGTHS[:batch, None]
    return x, mask


# --- the basic RNN against the NumPy reference ---------------------------------------------------------


def test_simple_rnn_forward_and_bptt_equal_numpy_reference(float64, grads, assert_all_close):
    """`keras.layers.SimpleRNN` is the basic RNN of the course; the reference's BPTT must reproduce it."""
    rng = np.random.default_rng(3)
    x, mask = make_batch(seed=4, dtype="float64")
    mask[1, 2] = False
    params = reference.init_params("rnn", D, H, rng)
    names = list(params)
    initial_state = (rng.standard_normal((B, H)),)
    output_weights = rng.standard_normal((B, T, H))
    state_weights = (rng.standard_normal((B, H)),)
    _, expected = reference.loss_and_grads(
        "rnn", x, params, output_weights, state_weights, mask=mask, initial_state=initial_state
    )
    ref_outputs, ref_states, _ = reference.rnn_forward(x, params, mask=mask, initial_state=initial_state)

    layer = keras.layers.SimpleRNN(
        H, return_sequences=True, return_state=True, zero_output_for_mask=True, dtype="float64"
    )
    layer.build(x.shape)
    layer.set_weights([params[n] for n in names])
    mask_tensor = keras.ops.convert_to_tensor(mask)
    outputs, var_grads, input_grads = grads(
        lambda x, s: layer(x, mask=mask_tensor, initial_state=[s]),
        layer.trainable_variables,
        [x, *initial_state],
        cotangents=[output_weights, *state_weights],
    )
    assert all(o.dtype == np.float64 for o in outputs)
    assert_all_close(outputs, [ref_outputs, *ref_states], atol=1e-10, names=["outputs", "a"])
    assert_all_close(var_grads, [expected[n] for n in names], atol=1e-10, names=names)
    assert_all_close(input_grads, [expected["x"], *expected["initial_state"]], atol=1e-10, names=["x", "a0"])


# --- config round trips ---------------------------------------------------------------------------------

NON_DEFAULT = {
    "lstm": (
        LSTM,
        dict(
            units=3,
            peephole=True,
            activation="relu",
            recurrent_activation="hard_sigmoid",
            use_bias=False,
            kernel_initializer="he_normal",
            recurrent_initializer="glorot_normal",
            unit_forget_bias=False,
            kernel_regularizer=keras.regularizers.L2(0.01),
            recurrent_constraint=keras.constraints.MaxNorm(2.0),
            dropout=0.25,
            recurrent_dropout=0.125,
            seed=7,
            use_fused_bptt=True,
            return_sequences=True,
            return_state=True,
            go_backwards=True,
            stateful=False,
            unroll=True,
            zero_output_for_mask=True,
            name="my_lstm",
        ),
    ),
    "gru": (
        GRU,
        dict(
            units=3,
            reset_after=True,
            activation="softsign",
            recurrent_activation="hard_sigmoid",
            bias_initializer="ones",
            bias_regularizer=keras.regularizers.L1(0.5),
            kernel_constraint=keras.constraints.NonNeg(),
            dropout=0.5,
            seed=3,
            return_sequences=True,
            go_backwards=True,
            unroll=True,
            name="my_gru",
        ),
    ),
    "simplified_gru": (
        GRU,
        dict(units=2, reset_gate=False, recurrent_dropout=0.3, trainable=False, use_fused_bptt=True),
    ),
    "lstm_cell": (
        LSTMCell,
        dict(units=3, peephole=True, activation="relu", unit_forget_bias=False, dropout=0.1, seed=5),
    ),
    "gru_cell": (GRUCell, dict(units=3, reset_gate=False, recurrent_activation="hard_sigmoid")),
}


@pytest.mark.parametrize("name", list(NON_DEFAULT))
def test_get_config_from_config_round_trip(name):
    cls, kwargs = NON_DEFAULT[name]
    layer = cls(**kwargs)
    config = layer.get_config()
    for key, value in kwargs.items():  # every argument is in the config, as given
        if key in ("kernel_regularizer", "bias_regularizer", "recurrent_constraint", "kernel_constraint"):
            assert config[key]["class_name"] == type(value).__name__
        elif key in ("activation", "recurrent_activation"):
            assert config[key] == value
        elif key.endswith("_initializer"):
            assert type(keras.initializers.get(config[key])) is type(keras.initializers.get(value))
        else:
            assert config[key] == value, key
    clone = cls.from_config(config)
    assert type(clone) is cls
    assert clone.get_config() == config
    # Through Keras's own (de)serialization too, with no custom_objects.
    again = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(again) is cls and again.get_config() == config


@pytest.mark.parametrize("name", ["lstm", "gru", "simplified_gru"])
def test_from_config_clone_computes_the_same(name):
    cls, kwargs = NON_DEFAULT[name]
    layer = cls(**kwargs)
    x, mask = make_batch()
    layer.build(x.shape)
    randomize(layer)
    clone = cls.from_config(layer.get_config())
    clone.build(x.shape)
    clone.set_weights(layer.get_weights())
    # With a seed, the same dropout masks too.
    for training in (False, True) if kwargs.get("seed") is not None else (False,):
        expected = keras.tree.flatten(layer(x, mask=mask, training=training))
        actual = keras.tree.flatten(clone(x, mask=mask, training=training))
        assert len(actual) == len(expected)
        for a, e in zip(actual, expected):
            np.testing.assert_allclose(a, e, atol=1e-6)


def test_peephole_and_reset_options_survive_the_round_trip():
    assert LSTM.from_config(LSTM(2, peephole=True).get_config()).peephole is True
    assert LSTM.from_config(LSTM(2, use_fused_bptt=False).get_config()).use_fused_bptt is False
    gru = GRU.from_config(GRU(2, reset_gate=False).get_config())
    assert (gru.reset_gate, gru.reset_after) == (False, False)
    assert GRU.from_config(GRU(2, reset_after=True).get_config()).reset_after is True
    assert GRU.from_config(GRU(2, use_fused_bptt=True).get_config()).use_fused_bptt is True
    config = GRU(2).get_config()
    del config["use_fused_bptt"]  # saved before GRU had a fused path
    assert GRU.from_config(config).use_fused_bptt is False


# --- whole models: .keras and SavedModel -------------------------------------------------------------


def functional_model(steps=T):
    inputs = keras.Input((steps, D))
    x = keras.layers.Masking(0.0)(inputs)
    x = keras.layers.Bidirectional(LSTM(4, peephole=True, return_sequences=True))(x)
    x = GRU(4, reset_gate=False, return_sequences=True)(x)
    x = GRU(4, reset_after=True)(x)
    model = keras.Model(inputs, keras.layers.Dense(2)(x))
    for i, layer in enumerate(model.layers):
        randomize(layer, seed=i)
    return model


def padded_batch():
    x, mask = make_batch(seed=5)
    x[~mask] = 0.0
    return x


def test_keras_file_round_trip_without_custom_objects(tmp_path):
    model = functional_model()
    x = padded_batch()
    expected = np.asarray(model(x))
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(np.asarray(loaded(x)), expected)
    kinds = [type(layer) for layer in loaded.layers]
    assert kinds.count(GRU) == 2 and type(loaded.layers[2].forward_layer) is LSTM
    assert loaded.layers[2].forward_layer.peephole and loaded.layers[2].backward_layer.peephole
    assert [(g.reset_gate, g.reset_after) for g in loaded.layers if isinstance(g, GRU)] == [
        (False, False),
        (True, True),
    ]


def test_model_saved_with_precompute_inputs_loads_computes_the_same_and_saves_without_it(tmp_path):
    """`.keras` files saved while the layers took `precompute_inputs` (the shipped bundles among them) hold it
    in each recurrent layer's config. It only moved x·W + b out of the time loop, so such a model loads as it
    is, computes the same, and is saved again without it."""
    model = functional_model()
    x = padded_batch()
    config = json.dumps(model.get_config())
    config = config.replace('"use_fused_bptt":', '"precompute_inputs": true, "use_fused_bptt":')
    assert config.count("precompute_inputs") == 4  # both directions of the LSTM, both GRUs
    old = keras.Model.from_config(json.loads(config))
    old.set_weights(model.get_weights())
    np.testing.assert_allclose(np.asarray(old(x)), np.asarray(model(x)), atol=1e-6)
    old.save(tmp_path / "again.keras")
    assert "precompute_inputs" not in json.dumps(keras.saving.load_model(tmp_path / "again.keras").get_config())


def test_encoder_decoder_with_symbolic_initial_state_round_trips(tmp_path):
    """The seq2seq wiring: an encoder's final states passed as a decoder's `initial_state` in a Functional
    model, saved to `.keras` and loaded with no custom_objects."""
    source, target = keras.Input((T, D)), keras.Input((T - 2, D))
    _, a, c = LSTM(4, peephole=True, return_state=True)(keras.layers.Masking(0.0)(source))
    decoded = LSTM(4, peephole=True, return_sequences=True)(target, initial_state=[a, c])
    _, state = GRU(4, reset_after=True, return_state=True)(source)
    decoded = GRU(4, reset_gate=False, return_sequences=True)(decoded, initial_state=state)
    model = keras.Model([source, target], decoded)
    for i, layer in enumerate(model.layers):
        randomize(layer, seed=i)
    x = padded_batch()
    y = make_batch(seed=6, steps=T - 2)[0]
    expected = np.asarray(model([x, y]))
    # The encoder's states really reach the decoder.
    assert np.abs(np.asarray(model([x[::-1], y])) - expected).max() > 1e-3
    model.save(tmp_path / "seq2seq.keras")
    loaded = keras.saving.load_model(tmp_path / "seq2seq.keras")
    np.testing.assert_array_equal(np.asarray(loaded([x, y])), expected)


def test_export_saved_model_reloads_with_tf_saved_model_load(tmp_path, tensorflow_backend):
    tf = tensorflow_backend
    model = functional_model()
    x = padded_batch()
    expected = np.asarray(model(x))
    model.export(str(tmp_path / "saved_model"), format="tf_saved_model", verbose=False)
    reloaded = tf.saved_model.load(str(tmp_path / "saved_model"))
    np.testing.assert_allclose(reloaded.serve(tf.constant(x)).numpy(), expected, atol=1e-6)
    # Another batch size and the padding still masked.
    np.testing.assert_allclose(reloaded.serve(tf.constant(x[:2])).numpy(), expected[:2], atol=1e-6)


def test_dropout_follows_the_models_training_mode():
    """In a Model, dropout acts in `model(x, training=True)` (what `fit` calls) and nowhere else."""
    inputs = keras.Input((T, D))
    h = LSTM(4, peephole=True, dropout=0.5, recurrent_dropout=0.5, seed=1, return_sequences=True)(inputs)
    outputs = GRU(4, reset_gate=False, dropout=0.5, recurrent_dropout=0.5, seed=2)(h)
    model = keras.Model(inputs, outputs)
    for i, layer in enumerate(model.layers):
        randomize(layer, seed=i)
    x = padded_batch()
    inference = np.asarray(model(x))
    np.testing.assert_array_equal(np.asarray(model(x, training=False)), inference)
    np.testing.assert_allclose(model.predict(x, verbose=0), inference, atol=1e-6)
    assert np.abs(np.asarray(model(x, training=True)) - inference).max() > 1e-2
    # Without dropout the same weights give the inference outputs.
    config = model.get_config()
    for layer_config in config["layers"]:
        if "recurrent_dropout" in layer_config["config"]:
            layer_config["config"].update(dropout=0.0, recurrent_dropout=0.0)
    plain = keras.Model.from_config(config)
    plain.set_weights(model.get_weights())
    np.testing.assert_array_equal(np.asarray(plain(x, training=True)), inference)


# --- training ---------------------------------------------------------------------------------------------


def tiny_task(steps=8, features=2, n=32):
    """y = the mean of the first feature over time: a task a few RNN units learn in a few dozen steps."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, steps, features)).astype("float32")
    return x, x[:, :, :1].mean(axis=1) * 3.0


def three_layer_model(steps=8, features=2, dense_dtype=None):
    """A peephole LSTM, a bidirectional cuDNN-form GRU and a simplified GRU."""
    inputs = keras.Input((steps, features))
    x = LSTM(8, peephole=True, return_sequences=True)(inputs)
    x = keras.layers.Bidirectional(GRU(4, reset_after=True, return_sequences=True))(x)
    x = GRU(8, reset_gate=False)(x)
    return keras.Model(inputs, keras.layers.Dense(1, dtype=dense_dtype)(x))


def fit_losses(model, x, y, epochs, **compile_kwargs):
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="mse", **compile_kwargs)
    return model.fit(x, y, epochs=epochs, batch_size=16, verbose=0, shuffle=False).history["loss"]


def test_training_under_jit_compile():
    keras.utils.set_random_seed(0)
    x, y = tiny_task()
    # XLA compiles each time loop and its gradient (seconds per layer on CPU): two layers, both cell kinds.
    inputs = keras.Input((8, 2))
    h = LSTM(8, peephole=True, return_sequences=True)(inputs)
    h = GRU(8, reset_after=True)(h)
    model = keras.Model(inputs, keras.layers.Dense(1)(h))
    losses = fit_losses(model, x, y, epochs=25, jit_compile=True)
    assert model.jit_compile is True  # Keras did not fall back to a non-XLA step
    assert np.all(np.isfinite(losses))
    assert losses[-1] < 0.3 * losses[0]


def test_training_under_mixed_bfloat16():
    keras.config.set_dtype_policy("mixed_bfloat16")  # restored by the autouse fixture in conftest.py
    keras.utils.set_random_seed(0)
    x, y = tiny_task()
    model = three_layer_model(dense_dtype="float32")
    rnn_layers = [layer for layer in model.layers if isinstance(layer, (LSTM, GRU, keras.layers.Bidirectional))]
    assert all(layer.compute_dtype == "bfloat16" for layer in rnn_layers)
    assert all(v.dtype == "float32" for v in model.trainable_variables)
    probe = keras.Model(model.input, [layer.output for layer in rnn_layers])
    assert all(keras.backend.standardize_dtype(o.dtype) == "bfloat16" for o in probe(x[:2]))
    assert keras.backend.standardize_dtype(model(x[:2]).dtype) == "float32"
    losses = fit_losses(model, x, y, epochs=25)
    assert np.all(np.isfinite(losses))
    assert losses[-1] < 0.3 * losses[0]
    assert all(v.dtype == "float32" for v in model.trainable_variables)


# --- exploding gradients ------------------------------------------------------------------------------


def diverging_fit(**clipping):
    """Large recurrent weights, a long sequence, far targets and a huge SGD step: without clipping the
    updates grow geometrically until the weights overflow."""
    keras.utils.set_random_seed(0)
    steps = 20
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, steps, 2)).astype("float32")
    y = np.full((8, 1), 100.0, "float32")
    big = keras.initializers.RandomNormal(stddev=5.0, seed=1)
    inputs = keras.Input((steps, 2))
    h = LSTM(4, peephole=True, recurrent_initializer=big, return_sequences=True)(inputs)
    h = GRU(4, recurrent_initializer=big)(h)
    model = keras.Model(inputs, keras.layers.Dense(1)(h))
    model.compile(keras.optimizers.SGD(learning_rate=30.0, **clipping), loss="mse")
    history = model.fit(x, y, epochs=12, batch_size=8, verbose=0, shuffle=False).history["loss"]
    rnn_weights = [w for layer in model.layers if isinstance(layer, (LSTM, GRU)) for w in layer.get_weights()]
    return history, rnn_weights


def test_without_clipping_the_rnn_weights_blow_up():
    losses, weights = diverging_fit()
    assert not np.isfinite(losses[-1])
    assert not all(np.isfinite(w).all() for w in weights)


@pytest.mark.parametrize("clipping", [{"global_clipnorm": 1.0}, {"clipvalue": 0.5}], ids=["clipnorm", "clipvalue"])
def test_keras_optimizer_clipping_keeps_training_finite(clipping):
    losses, weights = diverging_fit(**clipping)
    assert np.all(np.isfinite(losses))
    assert all(np.isfinite(w).all() for w in weights)
    assert losses[-1] < losses[0]


# --- the options in whole models: config, .keras and SavedModel -----------------------------------------------


def options_model():
    """Every option of the LSTM and the GRU once, with masking and `Bidirectional`."""
    inputs = keras.Input((T, D))
    x = keras.layers.Masking(0.0)(inputs)
    x = keras.layers.Bidirectional(
        LSTM(
            4,
            peephole=True,
            proj_size=2,
            proj_clip=0.5,
            cell_clip=1.0,
            forget_bias=1.0,
            layer_norm=True,
            layer_norm_epsilon=1e-2,
            return_sequences=True,
        )
    )(x)
    x = GRU(3, layer_norm=True, return_sequences=True)(x)
    x = LSTM(4, proj_size=3, forget_bias=0.5, cell_clip=0.8)(x)
    model = keras.Model(inputs, keras.layers.Dense(2)(x))
    for i, layer in enumerate(model.layers):
        randomize(layer, seed=i)
    return model


def test_options_survive_the_config_round_trip():
    options = dict(
        peephole=True,
        proj_size=2,
        proj_clip=0.5,
        cell_clip=1.0,
        forget_bias=1.0,
        layer_norm=True,
        layer_norm_epsilon=1e-2,
    )
    cell = LSTM.from_config(LSTM(4, **options).get_config()).cell
    assert {name: getattr(cell, name) for name in options} == options
    gru = GRU.from_config(GRU(3, layer_norm=True, layer_norm_epsilon=1e-4).get_config()).cell
    assert (gru.layer_norm, gru.layer_norm_epsilon) == (True, 1e-4)


def test_options_survive_the_keras_file_and_saved_model(tmp_path):
    model = options_model()
    x = padded_batch()
    expected = np.asarray(model(x))
    model.save(tmp_path / "options.keras")
    loaded = keras.saving.load_model(tmp_path / "options.keras")
    np.testing.assert_array_equal(np.asarray(loaded(x)), expected)
    assert [w.name for w in loaded.weights] == [w.name for w in model.weights]
    if keras.backend.backend() != "tensorflow":
        return  # SavedModel export needs TensorFlow
    import tensorflow as tf

    model.export(str(tmp_path / "saved_model"), format="tf_saved_model", verbose=False)
    reloaded = tf.saved_model.load(str(tmp_path / "saved_model"))
    np.testing.assert_allclose(reloaded.serve(tf.constant(x)).numpy(), expected, atol=1e-6)
