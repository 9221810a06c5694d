"""`layers.GRU`/`GRUCell` against `keras.layers.GRU` (after `gru_weights_from_keras`, float32) and against
`layers.reference` (float64), in the full form (both `reset_after`) and the simplified one (`reset_gate=False`)."""

import keras
import numpy as np
import pytest

from layers import GRU, GRUCell, gru_from_torch, gru_weights_from_keras, reference

from layer_helpers import assert_imports_torch_modules, call_fn, randomize, run_stack

B, T, D, H = 4, 6, 3, 5
LENGTHS = np.array([6, 4, 1, 3])  # a full row, two padded ones and a single step
RESET_AFTER = pytest.mark.parametrize("reset_after", [False, True], ids=["reset_before", "reset_after"])
NAMES = ["kernel", "recurrent_kernel", "bias"]


def make_batch(seed=0, dtype="float32", steps=T):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((B, steps, D)).astype(dtype)
    mask = np.arange(steps)[None, :] < LENGTHS[:, None]
    return x, mask


def keras_and_ours(x, reset_after, **kwargs):
    """A built `keras.layers.GRU` with random weights and our GRU holding the converted weights."""
    theirs = keras.layers.GRU(H, reset_after=reset_after, **kwargs)
    ours = GRU(H, reset_after=reset_after, **kwargs)
    theirs.build(x.shape)
    ours.build(x.shape)
    randomize(theirs)
    ours.set_weights(gru_weights_from_keras(theirs.get_weights()))
    return theirs, ours


def assert_same_as_keras(theirs, ours, inputs, mask, grads, assert_all_close, n_layers=1):
    expected = grads(call_fn(theirs, mask), theirs.trainable_variables, inputs)
    actual = grads(call_fn(ours, mask), ours.trainable_variables, inputs)
    assert_all_close(actual[0], expected[0], atol=1e-5)
    # Keras's z is our 1 - Γu: the same conversion maps the gradients (negated update-gate columns).
    converted = []
    for i in range(n_layers):
        converted += gru_weights_from_keras(expected[1][3 * i : 3 * i + 3])
    assert_all_close(actual[1], converted, atol=1e-5, names=[f"{i}.{n}" for i in range(n_layers) for n in NAMES])
    assert_all_close(actual[2], expected[2], atol=1e-5, names=["x", "c0"][: len(inputs)])
    assert all(np.abs(g).max() > 1e-3 for g in actual[1])
    if mask is not None:
        assert np.all(actual[2][0][~mask] == 0.0)
    return actual


SCENARIOS = {
    "masked_sequences": dict(return_sequences=True),
    "masked_last_output": dict(),
    "go_backwards": dict(return_sequences=True, go_backwards=True),
    "return_state": dict(return_sequences=True, return_state=True),
    "initial_state": dict(return_sequences=True, return_state=True, initial_state=True),
    "unroll": dict(return_sequences=True, return_state=True, unroll=True),
    "zero_output_for_mask": dict(return_sequences=True, zero_output_for_mask=True),
}


@RESET_AFTER
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_matches_keras_gru_outputs_and_gradients(scenario, reset_after, grads, assert_all_close):
    options = dict(SCENARIOS[scenario])
    with_initial_state = options.pop("initial_state", False)
    x, mask = make_batch()
    theirs, ours = keras_and_ours(x, reset_after, **options)
    inputs = [x]
    if with_initial_state:
        inputs.append(np.random.default_rng(7).standard_normal((B, H)).astype("float32"))
    assert_same_as_keras(theirs, ours, inputs, mask, grads, assert_all_close)


@RESET_AFTER
def test_matches_keras_gru_inside_bidirectional(reset_after, grads, assert_all_close):
    x, mask = make_batch()
    theirs = keras.layers.Bidirectional(keras.layers.GRU(H, reset_after=reset_after, return_sequences=True))
    ours = keras.layers.Bidirectional(GRU(H, reset_after=reset_after, return_sequences=True))
    theirs.build(x.shape)
    ours.build(x.shape)
    for k_layer, o_layer, seed in [
        (theirs.forward_layer, ours.forward_layer, 1),
        (theirs.backward_layer, ours.backward_layer, 2),
    ]:
        assert isinstance(o_layer, GRU) and o_layer.reset_after == reset_after
        randomize(k_layer, seed=seed)
        o_layer.set_weights(gru_weights_from_keras(k_layer.get_weights()))

    class Both:  # the variables of both directions, in a fixed order
        def __init__(self, bi):
            self.bi = bi
            self.trainable_variables = bi.forward_layer.trainable_variables + bi.backward_layer.trainable_variables

        def __call__(self, x, mask=None, initial_state=None):
            return self.bi(x, mask=mask)

    assert_same_as_keras(Both(theirs), Both(ours), [x], mask, grads, assert_all_close, n_layers=2)


@RESET_AFTER
def test_matches_keras_gru_stacked_two_layers(reset_after, grads, assert_all_close):
    x, mask = make_batch()
    x[~mask] = 0.0  # padding, found by the Masking layer and propagated from layer to layer

    def stacked(layer_class):
        return keras.Sequential(
            [
                keras.Input((T, D)),
                keras.layers.Masking(0.0),
                layer_class(H, reset_after=reset_after, return_sequences=True),
                layer_class(H + 1, reset_after=reset_after, return_sequences=True),
            ]
        )

    theirs = stacked(keras.layers.GRU)
    ours = stacked(GRU)
    randomize(theirs)
    ours.set_weights(
        gru_weights_from_keras(theirs.get_weights()[:3]) + gru_weights_from_keras(theirs.get_weights()[3:])
    )

    class Model:
        def __init__(self, model):
            self.model, self.trainable_variables = model, model.trainable_variables

        def __call__(self, x, mask=None, initial_state=None):
            return self.model(x)

    assert_same_as_keras(Model(theirs), Model(ours), [x], mask, grads, assert_all_close, n_layers=2)


@RESET_AFTER
def test_matches_keras_gru_stateful(reset_after, grads, assert_all_close):
    x, _ = make_batch(steps=2 * T)
    first, second = x[:, :T], x[:, T:]
    theirs, ours = keras_and_ours(first, reset_after, stateful=True, return_sequences=True)
    np.testing.assert_allclose(ours(first), theirs(first), atol=1e-5)
    # The second chunk starts from the state the first one left.
    assert np.abs(np.asarray(ours.states[0])).max() > 1e-2
    assert_same_as_keras(theirs, ours, [second], None, grads, assert_all_close)


@pytest.mark.parametrize("form", ["reset_before", "reset_after", "simplified"])
def test_stateful_chunks_equal_whole_sequence(form):
    options = {"reset_before": {}, "reset_after": {"reset_after": True}, "simplified": {"reset_gate": False}}[form]
    x, _ = make_batch(steps=2 * T)
    ours = GRU(H, stateful=True, return_sequences=True, **options)
    ours.build(x[:, :T].shape)
    randomize(ours)
    whole = GRU(H, return_sequences=True, **options)
    whole.build(x.shape)
    whole.set_weights(ours.get_weights())
    chunks = np.concatenate([ours(x[:, :T]), ours(x[:, T:])], axis=1)
    np.testing.assert_allclose(chunks, whole(x), atol=1e-6)
    ours.reset_state()
    np.testing.assert_allclose(ours(x[:, T:]), whole(x[:, T:]), atol=1e-6)


# --- the weight conversion ------------------------------------------------------------------------------


@RESET_AFTER
def test_gru_weights_from_keras_negates_update_block_and_is_its_own_inverse(reset_after):
    rng = np.random.default_rng(0)
    bias_shape = (2, 3 * H) if reset_after else (3 * H,)
    weights = [rng.standard_normal(s) for s in [(D, 3 * H), (H, 3 * H), bias_shape]]
    originals = [w.copy() for w in weights]
    converted = gru_weights_from_keras(weights)
    for w, c, o in zip(weights, converted, originals):
        np.testing.assert_array_equal(w, o)  # the input is not modified
        np.testing.assert_array_equal(c[..., :H], -o[..., :H])
        np.testing.assert_array_equal(c[..., H:], o[..., H:])
    for w, back in zip(weights, gru_weights_from_keras(converted)):
        np.testing.assert_array_equal(back, w)


def test_without_conversion_keras_weights_give_other_outputs():
    """Sanity of the test above: the update gates really are opposite, loading as is is wrong."""
    x, _ = make_batch()
    theirs, ours = keras_and_ours(x, reset_after=True)
    ours.set_weights(theirs.get_weights())
    assert np.abs(np.asarray(ours(x)) - np.asarray(theirs(x))).max() > 1e-2


# --- float64 against the NumPy reference -----------------------------------------------------------------

FORMS = {
    "reset_before": dict(reset_gate=True, reset_after=False),
    "reset_after": dict(reset_gate=True, reset_after=True),
    "simplified": dict(reset_gate=False, reset_after=False),
}


@pytest.mark.parametrize("form", list(FORMS))
def test_forward_and_bptt_equal_numpy_reference(form, float64, grads, assert_all_close):
    check_against_reference(FORMS[form], grads, assert_all_close)


@pytest.mark.parametrize("form", list(FORMS))
def test_layer_norm_forward_and_bptt_equal_numpy_reference(form, float64, grads, assert_all_close):
    check_against_reference({**FORMS[form], "layer_norm": True}, grads, assert_all_close)


def check_against_reference(options, grads, assert_all_close):
    """Our GRU with `options` (float64, masked, from given states) against `layers.reference`: the outputs, the
    final state and every gradient to 1e-10."""
    rng = np.random.default_rng(3)
    x, mask = make_batch(seed=4, dtype="float64")
    mask[1, 2] = False  # a hole inside a sequence too: the state carries over it
    params = reference.init_params("gru", D, H, rng, **options)
    names = list(params)
    initial_state = (rng.standard_normal((B, H)),)
    output_weights = rng.standard_normal((B, T, H))
    state_weights = (rng.standard_normal((B, H)),)
    _, expected = reference.loss_and_grads(
        "gru", x, params, output_weights, state_weights, mask=mask, initial_state=initial_state, **options
    )
    ref_outputs, ref_states, _ = reference.gru_forward(x, params, mask=mask, initial_state=initial_state, **options)

    layer = GRU(
        H,
        return_sequences=True,
        return_state=True,
        zero_output_for_mask=True,
        dtype="float64",
        **options,
    )
    layer.build(x.shape)
    assert [tuple(v.shape) for v in layer.trainable_variables] == [params[n].shape for n in names]
    layer.set_weights([params[n] for n in names])
    outputs, var_grads, input_grads = grads(
        call_fn(layer, mask),
        layer.trainable_variables,
        [x, *initial_state],
        cotangents=[output_weights, *state_weights],
    )

    assert all(o.dtype == np.float64 for o in outputs)
    assert_all_close(outputs, [ref_outputs, *ref_states], atol=1e-10, names=["outputs", "c"])
    assert_all_close(var_grads, [expected[n] for n in names], atol=1e-10, names=names)
    assert_all_close(input_grads, [expected["x"], *expected["initial_state"]], atol=1e-10, names=["x", "c0"])


def test_simplified_gru_has_two_blocks_and_differs_from_the_full_one():
    x, _ = make_batch()
    simple = GRU(H, reset_gate=False)
    simple.build(x.shape)
    assert [tuple(w.shape) for w in simple.get_weights()] == [(D, 2 * H), (H, 2 * H), (2 * H,)]
    full = GRU(H, reset_after=True)
    full.build(x.shape)
    assert [tuple(w.shape) for w in full.get_weights()] == [(D, 3 * H), (H, 3 * H), (2, 3 * H)]


# --- masking: a padded batch is a batch of separate sequences ----------------------------------------


@pytest.mark.parametrize("form", list(FORMS))
def test_padded_batch_equals_each_sequence_alone(form):
    x, mask = make_batch()
    layer = GRU(H, return_sequences=True, return_state=True, **FORMS[form])
    layer.build(x.shape)
    randomize(layer)
    outputs, state = (np.asarray(t) for t in layer(x, mask=mask))
    for i, length in enumerate(LENGTHS):
        alone, state_alone = (np.asarray(t) for t in layer(x[i : i + 1, :length]))
        np.testing.assert_allclose(outputs[i, :length], alone[0], atol=1e-6)
        # Keras's default zero_output_for_mask=False: a padded step repeats the last valid output.
        np.testing.assert_allclose(outputs[i, length:], np.broadcast_to(alone[0, -1], (T - length, H)), atol=1e-6)
        np.testing.assert_allclose(state[i], state_alone[0], atol=1e-6)


def test_cell_in_keras_rnn_equals_our_layer():
    x, mask = make_batch()
    layer = GRU(H, reset_after=True, return_sequences=True)
    layer.build(x.shape)
    randomize(layer)
    rnn = keras.layers.RNN(GRUCell(H, reset_after=True), return_sequences=True)
    rnn.build(x.shape)
    rnn.set_weights(layer.get_weights())
    np.testing.assert_allclose(rnn(x, mask=mask), layer(x, mask=mask), atol=1e-6)


# --- dropout --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", list(FORMS))
def test_dropout_is_a_no_op_at_inference_and_active_in_training(form):
    x, mask = make_batch()
    plain = GRU(H, **FORMS[form])
    dropped = GRU(H, dropout=0.5, recurrent_dropout=0.5, seed=3, **FORMS[form])
    plain.build(x.shape)
    dropped.build(x.shape)
    randomize(plain)
    dropped.set_weights(plain.get_weights())
    expected = np.asarray(plain(x, mask=mask))
    np.testing.assert_array_equal(np.asarray(dropped(x, mask=mask)), expected)
    np.testing.assert_array_equal(np.asarray(dropped(x, mask=mask, training=False)), expected)
    trained = np.asarray(dropped(x, mask=mask, training=True))
    assert np.abs(trained - expected).max() > 1e-2
    assert np.abs(np.asarray(dropped(x, mask=mask, training=True)) - trained).max() > 1e-2


@RESET_AFTER
@pytest.mark.parametrize("rates", [(0.5, 0.0), (0.3, 0.4)], ids=["input", "both"])
def test_dropout_is_deterministic_per_seed(rates, reset_after):
    """Same seed, same weights: same masks. With input dropout only, also the same as
    `keras.layers.GRU` (one mask for x); with recurrent dropout Keras draws one mask per gate instead."""
    dropout, recurrent_dropout = rates
    x, mask = make_batch()
    options = dict(
        dropout=dropout, recurrent_dropout=recurrent_dropout, seed=11, return_sequences=True, reset_after=reset_after
    )
    theirs = keras.layers.GRU(H, **options)
    layers = [GRU(H, **options) for _ in range(2)]
    theirs.build(x.shape)
    randomize(theirs)
    for layer in layers:
        layer.build(x.shape)
        layer.set_weights(gru_weights_from_keras(theirs.get_weights()))
    if not recurrent_dropout:
        layers.append(theirs)
    outputs = [np.asarray(layer(x, mask=mask, training=True)) for layer in layers]
    for out in outputs[1:]:
        np.testing.assert_allclose(out, outputs[0], atol=1e-6)
    other_seed = GRU(H, **{**options, "seed": 12})
    other_seed.build(x.shape)
    other_seed.set_weights(layers[0].get_weights())
    assert np.abs(np.asarray(other_seed(x, mask=mask, training=True)) - outputs[0]).max() > 1e-2


# --- bad arguments ------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [GRU, GRUCell])
@pytest.mark.parametrize(
    "kwargs, argument",
    [
        (dict(units=0), "units"),
        (dict(units=-3), "units"),
        (dict(units=2.5), "units"),
        (dict(units=4, activation="no_such_activation"), "activation"),
        (dict(units=4, recurrent_activation="no_such_activation"), "recurrent_activation"),
        (dict(units=4, bias_initializer="no_such_initializer"), "bias_initializer"),
        (dict(units=4, dropout=-0.1), "dropout"),
        (dict(units=4, recurrent_dropout=1.5), "recurrent_dropout"),
        (dict(units=4, reset_gate=False, reset_after=True), "reset_after"),
        (dict(units=4, layer_norm_epsilon=-1.0), "layer_norm_epsilon"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(cls, kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}"):
        cls(**kwargs)


@pytest.mark.parametrize("shape", [(B, D), (B, T, D, 2)], ids=["rank2", "rank4"])
def test_input_of_wrong_rank_raises_value_error_naming_sequences(shape):
    with pytest.raises(ValueError, match=r"`sequences` must have rank 3 .*got shape"):
        GRU(H)(np.zeros(shape, "float32"))
    built = GRU(H)
    built(np.zeros((B, T, D), "float32"))
    with pytest.raises(ValueError, match=r"`sequences` must have rank 3"):
        built(np.zeros(shape, "float32"))


# --- layer normalisation and PyTorch's GRU --------------------------------------------------------------------


def test_layer_norm_is_declined_by_the_fused_path():
    x, _ = make_batch()
    with pytest.warns(UserWarning, match="no layer_norm"):
        GRU(H, layer_norm=True, use_fused_bptt=True)(x)


def test_gru_from_torch_equals_pytorch_equations(tensorflow_backend):
    """A two-layer bidirectional `nn.GRU` and a one-layer one with `bias=False` against PyTorch's documented
    equations in NumPy (its z is our 1 - Γu). The importer only rearranges NumPy arrays, the same on every
    backend, and the reference tests check the layers' equations on each: TensorFlow alone runs this."""
    x, _ = make_batch(seed=9, dtype="float64")
    modules = [dict(num_layers=2, bidirectional=True), dict(bias=False)]
    assert_imports_torch_modules("gru", gru_from_torch, x, H, modules, seed=13)


def test_gru_from_torch_equals_torch_itself(tensorflow_backend):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    module = torch.nn.GRU(D, H, num_layers=2, bidirectional=True, batch_first=True)
    x, _ = make_batch(seed=10)
    with torch.no_grad():
        expected = module(torch.from_numpy(x))[0].numpy()
    np.testing.assert_allclose(run_stack(gru_from_torch(module.state_dict()), x), expected, atol=1e-5)
