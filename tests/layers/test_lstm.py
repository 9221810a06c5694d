"""`layers.LSTM`/`LSTMCell` against `keras.layers.LSTM` (float32) and against `layers.reference` (float64)."""

import keras
import numpy as np
import pytest

from layers import LSTM, LSTMCell, lstm_from_tf1, lstm_from_torch, lstm_weights_from_keras, reference

from layer_helpers import assert_imports_torch_modules, call_fn, keras_and_our_lstm, randomize, run_stack

B, T, D, H = 4, 6, 3, 5
LENGTHS = np.array([6, 4, 1, 3])  # a full row, two padded ones and a single step


def make_batch(seed=0, dtype="float32", batch=B, steps=T):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, steps, D)).astype(dtype)
    mask = np.arange(steps)[None, :] < LENGTHS[:batch, None]
    return x, mask


SCENARIOS = {
    "masked_sequences": dict(return_sequences=True),
    "masked_last_output": dict(),
    "go_backwards": dict(return_sequences=True, go_backwards=True),
    "return_state": dict(return_sequences=True, return_state=True),
    "initial_state": dict(return_sequences=True, return_state=True, initial_state=True),
    "unroll": dict(return_sequences=True, return_state=True, unroll=True),
    "zero_output_for_mask": dict(return_sequences=True, zero_output_for_mask=True),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_matches_keras_lstm_outputs_and_gradients(scenario, grads, assert_all_close):
    options = dict(SCENARIOS[scenario])
    with_initial_state = options.pop("initial_state", False)
    x, mask = make_batch()
    theirs, ours = keras_and_our_lstm(x, H, **options)
    inputs = [x]
    if with_initial_state:
        rng = np.random.default_rng(7)
        inputs += [rng.standard_normal((B, H)).astype("float32") for _ in range(2)]
    expected = grads(call_fn(theirs, mask), theirs.trainable_variables, inputs)
    actual = grads(call_fn(ours, mask), ours.trainable_variables, inputs)
    names = ["kernel", "recurrent_kernel", "bias"]
    assert_all_close(actual[0], expected[0], atol=1e-5, names=["output", "a", "c"][: len(expected[0])])
    assert_all_close(actual[1], expected[1], atol=1e-5, names=names)
    assert_all_close(actual[2], expected[2], atol=1e-5, names=["x", "a0", "c0"][: len(inputs)])
    # The loss reaches every weight, and the padding really is masked: no gradient flows into padded steps.
    assert all(np.abs(g).max() > 1e-3 for g in actual[1])
    assert np.all(actual[2][0][~mask] == 0.0)


@pytest.mark.parametrize("return_sequences", [True, False], ids=["sequences", "last"])
def test_matches_keras_lstm_inside_bidirectional(return_sequences, grads, assert_all_close):
    x, mask = make_batch()
    theirs = keras.layers.Bidirectional(keras.layers.LSTM(H, return_sequences=return_sequences))
    ours = keras.layers.Bidirectional(LSTM(H, return_sequences=return_sequences))
    theirs.build(x.shape)
    ours.build(x.shape)
    for k_layer, o_layer, seed in [
        (theirs.forward_layer, ours.forward_layer, 1),
        (theirs.backward_layer, ours.backward_layer, 2),
    ]:
        assert isinstance(o_layer, LSTM)
        randomize(k_layer, seed=seed)
        o_layer.set_weights(k_layer.get_weights())
    variables = lambda bi: bi.forward_layer.trainable_variables + bi.backward_layer.trainable_variables  # noqa
    expected = grads(call_fn(theirs, mask), variables(theirs), [x])
    actual = grads(call_fn(ours, mask), variables(ours), [x])
    assert_all_close(actual[0], expected[0], atol=1e-5)
    assert_all_close(
        actual[1],
        expected[1],
        atol=1e-5,
        names=[f"{d}.{n}" for d in ("forward", "backward") for n in ("kernel", "recurrent_kernel", "bias")],
    )
    assert_all_close(actual[2], expected[2], atol=1e-5, names=["x"])
    assert np.all(actual[2][0][~mask] == 0.0)


def stacked(layer_class):
    return keras.Sequential(
        [
            keras.Input((T, D)),
            keras.layers.Masking(0.0),
            layer_class(H, return_sequences=True),
            layer_class(H + 1, return_sequences=True),
        ]
    )


def test_matches_keras_lstm_stacked_two_layers(grads, assert_all_close):
    x, mask = make_batch()
    x[~mask] = 0.0  # padding, found by the Masking layer and propagated from layer to layer
    theirs = stacked(keras.layers.LSTM)
    ours = stacked(LSTM)
    randomize(theirs)
    ours.set_weights(theirs.get_weights())
    expected = grads(theirs, theirs.trainable_variables, [x])
    actual = grads(ours, ours.trainable_variables, [x])
    assert_all_close(actual[0], expected[0], atol=1e-5)
    assert_all_close(
        actual[1],
        expected[1],
        atol=1e-5,
        names=[f"{i}.{n}" for i in (1, 2) for n in ("kernel", "recurrent_kernel", "bias")],
    )
    assert_all_close(actual[2], expected[2], atol=1e-5, names=["x"])
    # The mask went through both layers: the loss does not depend on padded inputs.
    assert np.all(actual[2][0][~mask] == 0.0)


def test_matches_keras_lstm_stateful(grads, assert_all_close):
    x, _ = make_batch(steps=2 * T)
    first, second = x[:, :T], x[:, T:]
    theirs, ours = keras_and_our_lstm(first, H, stateful=True, return_sequences=True)
    np.testing.assert_allclose(ours(first), theirs(first), atol=1e-5)
    # The second chunk starts from the states the first one left: outputs and gradients still agree.
    expected = grads(call_fn(theirs, None), theirs.trainable_variables, [second])
    actual = grads(call_fn(ours, None), ours.trainable_variables, [second])
    assert_all_close(actual[0], expected[0], atol=1e-5)
    assert_all_close(actual[1], expected[1], atol=1e-5)
    assert_all_close(actual[2], expected[2], atol=1e-5)


def test_stateful_chunks_equal_whole_sequence_and_reset_state_restarts():
    x, _ = make_batch(steps=2 * T)
    ours = LSTM(H, peephole=True, stateful=True, return_sequences=True)
    ours.build(x[:, :T].shape)
    randomize(ours)
    ours.reset_state()
    whole = LSTM(H, peephole=True, return_sequences=True)
    whole.build(x.shape)
    whole.set_weights(ours.get_weights())
    chunks = np.concatenate([ours(x[:, :T]), ours(x[:, T:])], axis=1)
    np.testing.assert_allclose(chunks, whole(x), atol=1e-6)
    ours.reset_state()
    np.testing.assert_allclose(ours(x[:, T:]), whole(x[:, T:]), atol=1e-6)


# --- peepholes ---------------------------------------------------------------------------------------


def test_zero_peepholes_equal_keras_lstm(grads, assert_all_close):
    x, mask = make_batch()
    theirs, ours = keras_and_our_lstm(x, H, peephole=True, return_sequences=True, return_state=True)
    assert len(ours.trainable_weights) == 6
    assert all(np.all(w == 0) for w in ours.get_weights()[3:])
    expected = grads(call_fn(theirs, mask), theirs.trainable_variables, [x])
    actual = grads(call_fn(ours, mask), ours.trainable_variables, [x])
    assert_all_close(actual[0], expected[0], atol=1e-5)
    assert_all_close(actual[1][:3], expected[1], atol=1e-5)
    assert_all_close(actual[2], expected[2], atol=1e-5)
    # At p = 0 the peepholes still get a gradient: they are wired in, just switched off.
    assert all(np.abs(g).max() > 1e-3 for g in actual[1][3:])


@pytest.mark.parametrize("gate", [0, 1, 2], ids=["update", "forget", "output"])
def test_each_nonzero_peephole_changes_outputs(gate):
    x, mask = make_batch()
    theirs, ours = keras_and_our_lstm(x, H, peephole=True, return_sequences=True)
    weights = ours.get_weights()
    weights[3 + gate] = np.full((H,), 0.8, "float32")
    ours.set_weights(weights)
    difference = np.abs(np.asarray(ours(x, mask=mask)) - np.asarray(theirs(x, mask=mask)))
    assert difference[mask].max() > 1e-2


def test_peephole_weights_layout():
    layer = LSTM(H, peephole=True)
    layer(np.zeros((1, 2, D), "float32"))
    shapes = [tuple(w.shape) for w in layer.get_weights()]
    assert shapes == [(D, 4 * H), (H, 4 * H), (4 * H,), (H,), (H,), (H,)]
    assert [w.name for w in layer.cell.peephole_weights] == [
        "input_gate_peephole_weights",
        "forget_gate_peephole_weights",
        "output_gate_peephole_weights",
    ]
    plain = LSTM(H)
    plain(np.zeros((1, 2, D), "float32"))
    assert [tuple(w.shape) for w in plain.get_weights()] == shapes[:3]


def test_unit_forget_bias_initialises_forget_block_to_one():
    layer = LSTM(H, peephole=True)
    layer(np.zeros((1, 2, D), "float32"))
    bias = layer.get_weights()[2]
    np.testing.assert_array_equal(bias[H : 2 * H], 1.0)
    np.testing.assert_array_equal(np.delete(bias, np.s_[H : 2 * H]), 0.0)


def test_lstm_weights_from_keras():
    weights = [np.ones((D, 4 * H)), np.ones((H, 4 * H)), np.ones(4 * H)]
    assert lstm_weights_from_keras(weights) == weights
    converted = lstm_weights_from_keras(weights, peephole=True)
    assert len(converted) == 6 and converted[:3] == weights
    assert all(p.shape == (H,) and not p.any() for p in converted[3:])


# --- float64 against the NumPy reference -------------------------------------------------------------


@pytest.mark.parametrize("peephole", [True, False], ids=["peephole", "plain"])
def test_forward_and_bptt_equal_numpy_reference(peephole, float64, grads, assert_all_close):
    rng = np.random.default_rng(3)
    x, mask = make_batch(seed=4, dtype="float64")
    mask[1, 2] = False  # a hole inside a sequence too: the state carries over it
    params = reference.init_params("lstm", D, H, rng, peephole=peephole)
    names = list(params)
    initial_state = tuple(rng.standard_normal((B, H)) for _ in range(2))
    output_weights = rng.standard_normal((B, T, H))
    state_weights = tuple(rng.standard_normal((B, H)) for _ in range(2))
    loss, expected = reference.loss_and_grads(
        "lstm", x, params, output_weights, state_weights, mask=mask, initial_state=initial_state, peephole=peephole
    )
    ref_outputs, ref_states, _ = reference.lstm_forward(
        x, params, peephole=peephole, mask=mask, initial_state=initial_state
    )

    layer = LSTM(
        H,
        peephole=peephole,
        return_sequences=True,
        return_state=True,
        zero_output_for_mask=True,
        dtype="float64",
    )
    layer.build(x.shape)
    layer.set_weights([params[n] for n in names])
    assert [v.dtype for v in layer.trainable_variables] == ["float64"] * len(names)
    outputs, var_grads, input_grads = grads(
        call_fn(layer, mask),
        layer.trainable_variables,
        [x, *initial_state],
        cotangents=[output_weights, *state_weights],
    )

    assert all(o.dtype == np.float64 for o in outputs)
    assert_all_close(outputs, [ref_outputs, *ref_states], atol=1e-10, names=["outputs", "a", "c"])
    assert_all_close(var_grads, [expected[n] for n in names], atol=1e-10, names=names)
    assert_all_close(input_grads, [expected["x"], *expected["initial_state"]], atol=1e-10, names=["x", "a0", "c0"])
    assert abs(sum(float(np.sum(o * w)) for o, w in zip(outputs, [output_weights, *state_weights])) - loss) < 1e-9


# --- masking: a padded batch is a batch of separate sequences ----------------------------------------


@pytest.mark.parametrize("go_backwards", [False, True], ids=["forwards", "backwards"])
def test_padded_batch_equals_each_sequence_alone(go_backwards):
    x, mask = make_batch()
    layer = LSTM(
        H,
        peephole=True,
        return_sequences=True,
        return_state=True,
        go_backwards=go_backwards,
    )
    layer.build(x.shape)
    randomize(layer)
    outputs, a, c = (np.asarray(t) for t in layer(x, mask=mask))
    for i, length in enumerate(LENGTHS):
        alone, a_alone, c_alone = (np.asarray(t) for t in layer(x[i : i + 1, :length]))
        # go_backwards returns the outputs in processing order, so its padding (the end of the sequence, met
        # first) comes first. Keras's default zero_output_for_mask=False: a padded step repeats the previous
        # output, which before any valid step is the zero initial state.
        valid = slice(T - length, T) if go_backwards else slice(0, length)
        padded = slice(0, T - length) if go_backwards else slice(length, T)
        repeated = np.zeros((H,)) if go_backwards else alone[0, -1]
        np.testing.assert_allclose(outputs[i, valid], alone[0], atol=1e-6)
        np.testing.assert_allclose(outputs[i, padded], np.broadcast_to(repeated, (T - length, H)), atol=1e-6)
        np.testing.assert_allclose(a[i], a_alone[0], atol=1e-6)
        np.testing.assert_allclose(c[i], c_alone[0], atol=1e-6)


# --- cell ---------------------------------------------------------------------------------------------


def test_cell_in_keras_rnn_equals_our_layer():
    x, mask = make_batch()
    layer = LSTM(H, peephole=True, return_sequences=True)
    layer.build(x.shape)
    randomize(layer)
    rnn = keras.layers.RNN(LSTMCell(H, peephole=True), return_sequences=True)
    rnn.build(x.shape)
    rnn.set_weights(layer.get_weights())
    np.testing.assert_allclose(rnn(x, mask=mask), layer(x, mask=mask), atol=1e-6)
    stacked_cells = keras.layers.RNN([LSTMCell(H, peephole=True), LSTMCell(H)])
    assert stacked_cells(x).shape == (B, H)


# --- dropout --------------------------------------------------------------------------------------------


def test_dropout_is_a_no_op_at_inference_and_active_in_training():
    x, mask = make_batch()
    plain, dropped = LSTM(H, peephole=True), LSTM(H, peephole=True, dropout=0.5, recurrent_dropout=0.5, seed=3)
    plain.build(x.shape)
    dropped.build(x.shape)
    randomize(plain)
    dropped.set_weights(plain.get_weights())
    expected = np.asarray(plain(x, mask=mask))
    np.testing.assert_array_equal(np.asarray(dropped(x, mask=mask)), expected)
    np.testing.assert_array_equal(np.asarray(dropped(x, mask=mask, training=False)), expected)
    trained = np.asarray(dropped(x, mask=mask, training=True))
    assert np.abs(trained - expected).max() > 1e-2
    # Fresh masks on each training call.
    assert np.abs(np.asarray(dropped(x, mask=mask, training=True)) - trained).max() > 1e-2


@pytest.mark.parametrize("rates", [(0.5, 0.0), (0.0, 0.5), (0.3, 0.4)], ids=["input", "recurrent", "both"])
def test_dropout_is_deterministic_per_seed(rates):
    """Same seed, same weights: same masks. With input dropout only, also
    the same as `keras.layers.LSTM` (one mask for x, as ours). With recurrent dropout Keras switches to
    `implementation=1`, which draws a separate mask per gate, so there is nothing to compare with."""
    dropout, recurrent_dropout = rates
    x, mask = make_batch()
    options = dict(dropout=dropout, recurrent_dropout=recurrent_dropout, seed=11, return_sequences=True)
    theirs = keras.layers.LSTM(H, **options)
    layers = [LSTM(H, **options) for _ in range(2)]
    theirs.build(x.shape)
    randomize(theirs)
    for layer in layers:
        layer.build(x.shape)
        layer.set_weights(theirs.get_weights())
    if not recurrent_dropout:
        layers.append(theirs)
    outputs = [np.asarray(layer(x, mask=mask, training=True)) for layer in layers]
    for out in outputs[1:]:
        np.testing.assert_allclose(out, outputs[0], atol=1e-6)
    other_seed = LSTM(H, **{**options, "seed": 12})
    other_seed.build(x.shape)
    other_seed.set_weights(theirs.get_weights())
    assert np.abs(np.asarray(other_seed(x, mask=mask, training=True)) - outputs[0]).max() > 1e-2


# --- bad arguments ------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [LSTM, LSTMCell])
@pytest.mark.parametrize(
    "kwargs, argument",
    [
        (dict(units=0), "units"),
        (dict(units=-3), "units"),
        (dict(units=2.5), "units"),
        (dict(units=True), "units"),
        (dict(units=4, activation="no_such_activation"), "activation"),
        (dict(units=4, recurrent_activation="no_such_activation"), "recurrent_activation"),
        (dict(units=4, kernel_initializer="no_such_initializer"), "kernel_initializer"),
        (dict(units=4, dropout=-0.1), "dropout"),
        (dict(units=4, dropout=1.5), "dropout"),
        (dict(units=4, recurrent_dropout=2.0), "recurrent_dropout"),
        (dict(units=4, proj_size=0), "proj_size"),
        (dict(units=4, proj_size=2.0), "proj_size"),
        (dict(units=4, proj_clip=1.0), "proj_clip"),  # no projection to clip
        (dict(units=4, proj_size=2, proj_clip=-1.0), "proj_clip"),
        (dict(units=4, cell_clip=0.0), "cell_clip"),
        (dict(units=4, cell_clip="3"), "cell_clip"),
        (dict(units=4, forget_bias=None), "forget_bias"),
        (dict(units=4, forget_bias=float("nan")), "forget_bias"),
        (dict(units=4, layer_norm_epsilon=0.0), "layer_norm_epsilon"),
        (dict(units=4, layer_norm_epsilon=None), "layer_norm_epsilon"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(cls, kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        cls(**kwargs)


@pytest.mark.parametrize("value", ["auto", 1, None])
def test_bad_use_fused_bptt_raises_value_error_naming_it(value):
    with pytest.raises(ValueError, match="`use_fused_bptt`"):
        LSTM(H, use_fused_bptt=value)


@pytest.mark.parametrize("shape", [(B, D), (B, T, D, 2)], ids=["rank2", "rank4"])
def test_input_of_wrong_rank_raises_value_error_naming_sequences(shape):
    with pytest.raises(ValueError, match=r"`sequences` must have rank 3 .*got shape"):
        LSTM(H)(np.zeros(shape, "float32"))
    built = LSTM(H)
    built(np.zeros((B, T, D), "float32"))
    with pytest.raises(ValueError, match=r"`sequences` must have rank 3"):
        built(np.zeros(shape, "float32"))


def test_cell_given_a_sequence_raises_value_error_naming_inputs():
    with pytest.raises(ValueError, match="`inputs` must have rank 2"):
        LSTMCell(H).build((B, T, D))


# --- the options: projection, clipping, forget bias, layer normalisation --------------------------------------

# Pairs and triples of options.
OPTION_CASES = {
    "proj-peephole-forget-bias": dict(proj_size=2, peephole=True, forget_bias=0.7),
    "proj-clips": dict(proj_size=2, proj_clip=0.2, cell_clip=0.3),
    "layer-norm-peephole-clip": dict(layer_norm=True, peephole=True, cell_clip=0.3),
    "layer-norm-proj-forget-bias": dict(layer_norm=True, proj_size=3, proj_clip=0.25, forget_bias=1.0),
}


@pytest.mark.parametrize("case", OPTION_CASES)
def test_options_forward_and_bptt_equal_numpy_reference(case, float64, grads, assert_all_close):
    options = OPTION_CASES[case]
    rng = np.random.default_rng(list(OPTION_CASES).index(case))
    x, mask = make_batch(seed=4, dtype="float64")
    mask[1, 2] = False
    params = reference.init_params("lstm", D, H, rng, **options)
    names = list(params)
    sizes = (options.get("proj_size") or H, H)
    initial_state = tuple(rng.standard_normal((B, size)) for size in sizes)
    output_weights = rng.standard_normal((B, T, sizes[0]))
    state_weights = tuple(rng.standard_normal((B, size)) for size in sizes)
    _, expected = reference.loss_and_grads(
        "lstm", x, params, output_weights, state_weights, mask=mask, initial_state=initial_state, **options
    )
    ref_outputs, ref_states, _ = reference.lstm_forward(x, params, mask=mask, initial_state=initial_state, **options)

    layer = LSTM(
        H,
        return_sequences=True,
        return_state=True,
        zero_output_for_mask=True,
        dtype="float64",
        **options,
    )
    layer.build(x.shape)
    layer.set_weights([params[n] for n in names])
    outputs, var_grads, input_grads = grads(
        call_fn(layer, mask),
        layer.trainable_variables,
        [x, *initial_state],
        cotangents=[output_weights, *state_weights],
    )

    assert_all_close(outputs, [ref_outputs, *ref_states], atol=1e-10, names=["outputs", "a", "c"])
    assert_all_close(var_grads, [expected[n] for n in names], atol=1e-10, names=names)
    assert_all_close(input_grads, [expected["x"], *expected["initial_state"]], atol=1e-10, names=["x", "a0", "c0"])


def test_return_state_with_proj_size_has_p_units_in_a_and_units_in_c():
    x, _ = make_batch()
    outputs, a, c = LSTM(H, proj_size=2, return_sequences=True, return_state=True)(x)
    assert (outputs.shape, a.shape, c.shape) == ((B, T, 2), (B, 2), (B, H))
    outputs, a_fwd, c_fwd, a_bwd, c_bwd = keras.layers.Bidirectional(LSTM(H, proj_size=2, return_state=True))(x)
    assert outputs.shape == (B, 4) and (a_fwd.shape, c_fwd.shape, a_bwd.shape, c_bwd.shape) == (
        (B, 2),
        (B, H),
        (B, 2),
        (B, H),
    )
    cell = LSTMCell(H, proj_size=2)
    assert (cell.state_size, cell.output_size) == ([2, H], 2)


def test_options_combine_with_dropout():
    x, mask = make_batch()
    options = dict(proj_size=2, cell_clip=0.5, forget_bias=1.0, layer_norm=True, peephole=True)
    layer = LSTM(H, dropout=0.3, recurrent_dropout=0.3, seed=1, return_sequences=True, **options)
    plain = LSTM(H, return_sequences=True, **options)
    layer.build(x.shape)
    plain.build(x.shape)
    randomize(layer)
    plain.set_weights(layer.get_weights())
    inference = np.asarray(layer(x, mask=mask))
    np.testing.assert_allclose(inference, np.asarray(plain(x, mask=mask)), atol=1e-6)
    assert np.abs(np.asarray(layer(x, mask=mask, training=True)) - inference).max() > 1e-2


def test_fused_path_takes_forget_bias_and_declines_the_other_options():
    x, mask = make_batch()
    for options in (dict(forget_bias=0.8), dict(forget_bias=0.8, use_bias=False)):
        generic = LSTM(H, peephole=True, return_sequences=True, **options)
        fused = LSTM(H, peephole=True, return_sequences=True, use_fused_bptt=True, **options)
        for layer in (generic, fused):
            layer.build(x.shape)
        randomize(generic)
        fused.set_weights(generic.get_weights())
        assert fused.fused_bptt_declined(keras.ops.convert_to_tensor(x)) is None
        np.testing.assert_allclose(np.asarray(fused(x, mask=mask)), np.asarray(generic(x, mask=mask)), atol=1e-6)
    for option in (dict(proj_size=2), dict(cell_clip=1.0), dict(layer_norm=True)):
        with pytest.warns(UserWarning, match=f"no {next(iter(option))}"):
            LSTM(H, use_fused_bptt=True, **option)(x)


def test_lstm_from_tf1_equals_tf1_legacy_cell_outputs_and_gradients(tensorflow_backend, grads):
    """TF1's `LSTMCell` as `tf_keras` still ships it (peepholes, projection, both clips, forget bias), stepped by
    hand over a sequence, against our layer holding its variables."""
    tf = tensorflow_backend
    legacy_cells = pytest.importorskip("tf_keras.src.layers.rnn.legacy_cells")
    rng = np.random.default_rng(11)
    x, _ = make_batch(seed=8)
    # Clips low enough to be reached (checked below), a projection P != units.
    tf1_options = dict(cell_clip=0.3, proj_clip=0.2, forget_bias=0.6)
    cell = legacy_cells.LSTMCell(H, use_peepholes=True, num_proj=2, **tf1_options)
    cell(x[:, 0], legacy_cells.LSTMStateTuple(tf.zeros((B, H)), tf.zeros((B, 2))))
    for variable in cell.variables:
        variable.assign(0.5 * rng.standard_normal(tuple(variable.shape)).astype("float32"))
    cotangents = [rng.standard_normal((B, T, 2)), rng.standard_normal((B, 2)), rng.standard_normal((B, H))]

    xs = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xs)
        state = legacy_cells.LSTMStateTuple(tf.zeros((B, H)), tf.zeros((B, 2)))
        steps = []
        for t in range(T):
            m, state = cell(xs[:, t], state)
            steps.append(m)
        theirs = [tf.stack(steps, axis=1), state.h, state.c]
        loss = sum(tf.reduce_sum(o * w) for o, w in zip(theirs, cotangents))
    *their_var_grads, their_dx = tape.gradient(loss, cell.variables + [xs])

    ours = lstm_from_tf1({v.name: v.numpy() for v in cell.variables}, return_state=True, **tf1_options)
    assert (ours.peephole, ours.proj_size) == (True, 2)
    outputs, var_grads, (dx,) = grads(ours, ours.trainable_variables, [x], cotangents=cotangents)

    for ours_value, their_value, name in zip(outputs, theirs, ["outputs", "a", "c"]):
        np.testing.assert_allclose(ours_value, their_value.numpy(), atol=1e-5, err_msg=name)
    assert np.abs(outputs[0]).max() == pytest.approx(0.2) and np.abs(outputs[2]).max() == pytest.approx(0.3)
    # TF1's gradients in our layout: the importer's reordering applied to them.
    expected = lstm_from_tf1({v.name: g.numpy() for v, g in zip(cell.variables, their_var_grads)}).get_weights()
    for name, ours_grad, their_grad in zip([v.name for v in ours.trainable_variables], var_grads, expected):
        np.testing.assert_allclose(ours_grad, their_grad, atol=1e-5, rtol=1e-5, err_msg=name)
    np.testing.assert_allclose(dx, their_dx.numpy(), atol=1e-5, rtol=1e-5)


def test_lstm_from_tf1_finds_each_variable_by_name_and_refuses_strangers():
    rng = np.random.default_rng(0)
    variables = {
        "rnn/lstm_cell/kernel:0": rng.standard_normal((D + H, 4 * H)),
        "rnn/lstm_cell/bias:0": rng.standard_normal(4 * H),
    }
    layer = lstm_from_tf1(variables)
    assert (layer.peephole, layer.proj_size, layer.cell.forget_bias) == (False, None, 1.0)
    # TF1's blocks i, j, f, o land in our u, c, f, o: our forget block is TF1's third.
    np.testing.assert_allclose(
        np.asarray(layer.cell.bias)[H : 2 * H], variables["rnn/lstm_cell/bias:0"][2 * H : 3 * H], rtol=1e-6
    )
    with pytest.raises(ValueError, match="kernel/Adam"):
        lstm_from_tf1({**variables, "rnn/lstm_cell/kernel/Adam": variables["rnn/lstm_cell/kernel:0"]})
    with pytest.raises(ValueError, match="w_i_diag"):
        lstm_from_tf1({**variables, "rnn/lstm_cell/w_i_diag": np.zeros(H)})


def test_lstm_from_torch_equals_pytorch_equations(tensorflow_backend):
    """A two-layer bidirectional `nn.LSTM` with `proj_size`, and a one-layer one with `bias=False`, against
    PyTorch's documented equations in NumPy. The importer only rearranges NumPy arrays, the same on every
    backend, and the reference tests check the layers' equations on each: TensorFlow alone runs this."""
    x, _ = make_batch(seed=9, dtype="float64")
    modules = [dict(num_layers=2, bidirectional=True, proj_size=2), dict(bias=False)]
    assert_imports_torch_modules("lstm", lstm_from_torch, x, H, modules, seed=12)


def test_lstm_from_torch_equals_torch_itself(tensorflow_backend):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    module = torch.nn.LSTM(D, H, num_layers=2, bidirectional=True, proj_size=2, batch_first=True)
    x, _ = make_batch(seed=10)
    with torch.no_grad():
        expected = module(torch.from_numpy(x))[0].numpy()
    np.testing.assert_allclose(run_stack(lstm_from_torch(module.state_dict()), x), expected, atol=1e-5)


def test_lstm_from_torch_refuses_a_state_dict_of_something_else():
    with pytest.raises(ValueError, match="conv.weight"):
        lstm_from_torch({"conv.weight": np.zeros((2, 2))})
    with pytest.raises(ValueError, match="weight_ih_l0"):
        lstm_from_torch({"weight_hh_l0": np.zeros((4 * H, H))})
