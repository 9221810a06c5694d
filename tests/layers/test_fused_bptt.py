"""The fused path (`layers._bptt`) with step masks and variational recurrent dropout, for every cell that has
one: outputs, final states and every gradient against `layers.reference` (float64, 1e-10) and against Keras's
generic loop (float32, 1e-5; our layer with `use_fused_bptt=False` runs exactly `keras.src.backend.rnn`).

The masks have holes, an all-False row (an empty sentence), leading masked steps and trailing padding, one
row each; the scenarios combine `go_backwards`, `zero_output_for_mask`, `return_state`, `initial_state`,
length-1 sequences, `Bidirectional` and stacking pairwise rather than all at once.
"""

import keras
import numpy as np
import pytest

from layers import GRU, LSTM, _bptt, _gru_bptt, gru_weights_from_keras, reference

from layer_helpers import call_fn, count_calls, randomize

B, T, D, H = 4, 6, 3, 5
BACKEND = keras.backend.backend()

# Row by row: holes, an empty sentence, leading masked steps, right padding.
MASK = np.array([[1, 0, 1, 1, 0, 1], [0, 0, 0, 0, 0, 0], [0, 0, 1, 1, 1, 0], [1, 1, 1, 1, 0, 0]], bool)

# name -> (layer class, reference kind, options both take)
KINDS = {
    "lstm": (LSTM, "lstm", {}),
    "peephole": (LSTM, "lstm", {"peephole": True}),
    "gru_course": (GRU, "gru", {}),
    "gru_reset_after": (GRU, "gru", {"reset_after": True}),
    "gru_simplified": (GRU, "gru", {"reset_gate": False}),
}
N_STATES = {"lstm": 2, "gru": 1}
FORWARD = {"lstm": reference.lstm_forward, "gru": reference.gru_forward}


@pytest.fixture
def fused_calls(monkeypatch):
    """Counts the calls of the fused path (it still runs: the spy forwards to it)."""
    return count_calls(monkeypatch, _bptt, "sequence")


def make_inputs(seed=0, dtype="float32", steps=T):
    return np.random.default_rng(seed).standard_normal((B, steps, D)).astype(dtype)


def repeated_outputs(ref_outputs, mask, output_weights, a0):
    """Keras's outputs without `zero_output_for_mask` from the reference's (zeros at masked steps), and the
    reference cotangents that give the same loss.

    A masked step repeats the previous output; before the first unmasked step TensorFlow's loop repeats zeros
    and JAX's a⟨0⟩ (see `layers._bptt`). So the weight of a masked output joins that of the output it repeats:
    returns `(outputs, folded output weights, the weight left on a⟨0⟩)`.
    """
    leading = a0 if BACKEND == "jax" else np.zeros_like(a0)
    outputs, previous = np.zeros_like(ref_outputs), leading
    for t in range(mask.shape[1]):
        outputs[:, t] = previous = np.where(mask[:, t, None], ref_outputs[:, t], previous)
    folded, left = np.zeros_like(output_weights), np.zeros_like(a0)
    for t in reversed(range(mask.shape[1])):
        total = output_weights[:, t] + left
        folded[:, t] = np.where(mask[:, t, None], total, 0.0)
        left = np.where(mask[:, t, None], 0.0, total)
    return outputs, folded, left if BACKEND == "jax" else np.zeros_like(a0)


# (masked, go_backwards, zero_output_for_mask); the unmasked LSTM against the reference: test_lstm_bptt.py.
REFERENCE_CASES = {
    "forwards_repeat": (True, False, False),
    "backwards_zeros": (True, True, True),
    "unmasked_backwards": (False, True, False),
}


@pytest.mark.parametrize(
    "kind, case",
    [(kind, case) for kind in KINDS for case in REFERENCE_CASES if REFERENCE_CASES[case][0] or KINDS[kind][1] == "gru"],
)
def test_fused_path_equals_numpy_reference(kind, case, fused_calls, float64, grads, assert_all_close):
    """Nonzero weights and initial states, gradients of every output and final state, in float64."""
    masked, go_backwards, zero_output_for_mask = REFERENCE_CASES[case]
    mask = MASK if masked else np.ones((B, T), bool)
    layer_class, ref_kind, options = KINDS[kind]
    rng = np.random.default_rng(3)
    x = make_inputs(seed=4, dtype="float64")
    params = reference.init_params(ref_kind, D, H, rng, **options)
    names = list(params)
    initial_state = tuple(rng.standard_normal((B, H)) for _ in range(N_STATES[ref_kind]))
    output_weights = rng.standard_normal((B, T, H))
    state_weights = tuple(rng.standard_normal((B, H)) for _ in initial_state)
    # go_backwards processes x (and its mask) from the end and returns the outputs in that order: the
    # reference on the reversed sequence computes the same.
    processed = (lambda a: a[:, ::-1]) if go_backwards else (lambda a: a)
    ref_outputs, ref_states, _ = FORWARD[ref_kind](
        processed(x), params, mask=processed(mask), initial_state=initial_state, **options
    )
    cotangents, left_on_a0 = output_weights, 0.0
    if not zero_output_for_mask:
        ref_outputs, cotangents, left_on_a0 = repeated_outputs(
            ref_outputs, processed(mask), output_weights, initial_state[0]
        )
    _, expected = reference.loss_and_grads(
        ref_kind,
        processed(x),
        params,
        cotangents,
        state_weights,
        mask=processed(mask),
        initial_state=initial_state,
        **options,
    )
    expected_initial = list(expected["initial_state"])
    expected_initial[0] = expected_initial[0] + left_on_a0

    layer = layer_class(
        H,
        return_sequences=True,
        return_state=True,
        go_backwards=go_backwards,
        zero_output_for_mask=zero_output_for_mask,
        dtype="float64",
        use_fused_bptt=True,
        **options,
    )
    layer.build(x.shape)
    layer.set_weights([params[n] for n in names])
    outputs, var_grads, input_grads = grads(
        call_fn(layer, mask=mask if masked else None),
        layer.trainable_variables,
        [x, *initial_state],
        cotangents=[output_weights, *state_weights],
    )

    assert len(fused_calls) == 1
    assert all(o.dtype == np.float64 for o in outputs)
    assert_all_close(outputs, [ref_outputs, *ref_states], atol=1e-10)
    assert_all_close(var_grads, [expected[n] for n in names], atol=1e-10, names=names)
    assert_all_close(input_grads, [processed(expected["x"]), *expected_initial], atol=1e-10)


# --- against Keras's generic loop --------------------------------------------------------------------------


def fused_and_generic(layer_class, x_shape, **options):
    """Our layer with the fused path and the same layer (same weights, random) running Keras's loop."""
    fused = layer_class(H, use_fused_bptt=True, **options)
    generic = layer_class(H, use_fused_bptt=False, **options)
    fused.build(x_shape)
    generic.build(x_shape)
    randomize(fused)
    generic.set_weights(fused.get_weights())
    return fused, generic


def assert_same_outputs_and_gradients(fused, generic, inputs, grads, assert_all_close, mask=None, training=False):
    expected = grads(call_fn(generic, mask=mask, training=training), generic.trainable_variables, inputs)
    actual = grads(call_fn(fused, mask=mask, training=training), fused.trainable_variables, inputs)
    assert_all_close(actual[0], expected[0], atol=1e-5)
    assert_all_close(actual[1], expected[1], atol=1e-5, names=[v.path for v in fused.trainable_variables])
    assert_all_close(actual[2], expected[2], atol=1e-5)
    return actual


# Each scenario for two or three kinds, each kind in three scenarios: pairs, not the whole product.
SCENARIOS = {
    "sequences": (dict(return_sequences=True), ["lstm", "gru_reset_after"]),
    "last_output_and_state": (dict(return_state=True), ["peephole", "gru_course"]),
    "backwards_initial_state": (
        dict(return_sequences=True, return_state=True, go_backwards=True, initial_state=True),
        ["lstm", "gru_simplified", "gru_reset_after"],
    ),
    "zero_output_initial_state": (
        dict(return_sequences=True, zero_output_for_mask=True, initial_state=True),
        ["peephole", "gru_course"],
    ),
    "backwards_zero_output_last": (
        dict(go_backwards=True, zero_output_for_mask=True, return_state=True),
        ["gru_simplified", "lstm"],
    ),
    "length_1": (
        dict(return_sequences=True, return_state=True, go_backwards=True, initial_state=True, steps=1),
        ["gru_reset_after", "peephole", "gru_course", "gru_simplified"],
    ),
}


@pytest.mark.parametrize("kind, scenario", [(kind, name) for name, (_, kinds) in SCENARIOS.items() for kind in kinds])
def test_masked_fused_path_equals_generic_loop(kind, scenario, fused_calls, grads, assert_all_close):
    layer_class, ref_kind, options = KINDS[kind]
    scenario = dict(SCENARIOS[scenario][0])
    with_initial_state = scenario.pop("initial_state", False)
    steps = scenario.pop("steps", T)
    x = make_inputs(steps=steps)
    mask = MASK[:, :steps] if steps > 1 else np.array([[True], [False], [True], [False]])
    fused, generic = fused_and_generic(layer_class, x.shape, **options, **scenario)
    inputs = [x]
    if with_initial_state:
        rng = np.random.default_rng(7)
        inputs += [rng.standard_normal((B, H)).astype("float32") for _ in range(N_STATES[ref_kind])]
    actual = assert_same_outputs_and_gradients(fused, generic, inputs, grads, assert_all_close, mask=mask)
    assert len(fused_calls) == 1
    # The loss reaches every weight and input.
    assert all(np.abs(g).max() > 1e-3 for g in actual[1] + actual[2])


@pytest.mark.parametrize(
    "kind, return_sequences",
    [("lstm", True), ("peephole", False), ("gru_course", True), ("gru_reset_after", False), ("gru_simplified", True)],
)
def test_masked_fused_path_inside_bidirectional_equals_generic_loop(
    kind, return_sequences, fused_calls, grads, assert_all_close
):
    """`Bidirectional` runs a masked `go_backwards` copy (and forces `zero_output_for_mask` with sequences)."""
    layer_class, _, options = KINDS[kind]
    x = make_inputs()

    def bidirectional(use_fused_bptt):
        layer = keras.layers.Bidirectional(
            layer_class(
                H, return_sequences=return_sequences, return_state=True, use_fused_bptt=use_fused_bptt, **options
            )
        )
        layer.build(x.shape)
        return layer

    fused, generic = bidirectional(True), bidirectional(False)
    randomize(fused)
    generic.set_weights(fused.get_weights())
    assert_same_outputs_and_gradients(fused, generic, [x], grads, assert_all_close, mask=MASK)
    assert len(fused_calls) == 2
    assert [call["go_backwards"] for call in fused_calls] == [False, True]


@pytest.mark.parametrize("kind", ["peephole", "gru_reset_after"])
def test_masked_fused_path_stacked_equals_generic_loop(kind, fused_calls, grads, assert_all_close):
    """Two layers, the mask passed on by the first (`return_sequences`) to the second (`go_backwards`)."""
    layer_class, _, options = KINDS[kind]
    x = make_inputs()

    def stacked(use_fused_bptt):
        inputs = keras.Input((T, D))
        masked = keras.layers.Masking(0.0)(inputs)
        hidden = layer_class(H, return_sequences=True, use_fused_bptt=use_fused_bptt, **options)(masked)
        outputs = layer_class(H, go_backwards=True, return_state=True, use_fused_bptt=use_fused_bptt, **options)(hidden)
        return keras.Model(inputs, outputs)

    fused, generic = stacked(True), stacked(False)
    randomize(fused)
    generic.set_weights(fused.get_weights())
    x = np.where(MASK[..., None], x, 0.0).astype("float32")  # Masking(0.0) turns MASK's holes into the mask
    fused_calls.clear()
    expected = grads(generic, generic.trainable_variables, [x])
    actual = grads(fused, fused.trainable_variables, [x])
    assert len(fused_calls) == 2
    for a, e in zip(actual, expected):
        assert_all_close(a, e, atol=1e-5)


@pytest.mark.parametrize(
    "reset_after, go_backwards", [(True, True), (False, False)], ids=["reset_after_backwards", "course_form"]
)
def test_masked_fused_gru_equals_keras_gru(reset_after, go_backwards, fused_calls, grads, assert_all_close):
    """Keras's own GRU (its update gate negated by `gru_weights_from_keras`), masked, with initial state."""
    x = make_inputs()
    options = dict(reset_after=reset_after, go_backwards=go_backwards, return_sequences=True, return_state=True)
    theirs = keras.layers.GRU(H, **options)
    ours = GRU(H, use_fused_bptt=True, **options)
    theirs.build(x.shape)
    ours.build(x.shape)
    randomize(theirs)
    ours.set_weights(gru_weights_from_keras(theirs.get_weights()))
    inputs = [x, np.random.default_rng(7).standard_normal((B, H)).astype("float32")]
    expected = grads(call_fn(theirs, mask=MASK), theirs.trainable_variables, inputs)
    actual = grads(call_fn(ours, mask=MASK), ours.trainable_variables, inputs)
    assert len(fused_calls) == 1
    assert_all_close(actual[0], expected[0], atol=1e-5)
    assert_all_close(gru_weights_from_keras(actual[1]), expected[1], atol=1e-5)  # d(-w) = -dw
    assert_all_close(actual[2], expected[2], atol=1e-5)


# --- variational recurrent dropout --------------------------------------------------------------------------


@pytest.mark.parametrize("kind, masked", [(kind, True) for kind in KINDS] + [("lstm", False), ("gru_course", False)])
def test_recurrent_dropout_equals_generic_loop_with_the_same_seed(kind, masked, fused_calls, grads, assert_all_close):
    """The same seed draws the same dropout masks (one per sequence, as Keras draws them): the fused path and
    the generic loop then give the same outputs and gradients in training."""
    layer_class, _, options = KINDS[kind]
    x = make_inputs()
    fused, generic = fused_and_generic(
        layer_class,
        x.shape,
        recurrent_dropout=0.4,
        dropout=0.2,
        seed=11,
        return_sequences=True,
        return_state=True,
        go_backwards=masked,
        **options,
    )
    mask = MASK if masked else None
    actual = assert_same_outputs_and_gradients(fused, generic, [x], grads, assert_all_close, mask=mask, training=True)
    assert len(fused_calls) == 1
    # Recurrent dropout really acted: training differs from inference, and the inputs' dropout is the same.
    inference = keras.tree.flatten(fused(x, mask=mask))
    assert np.abs(actual[0][0] - np.asarray(inference[0])).max() > 1e-2


# --- training as the apps compile it; what the GRU's fused path declines ------------------------------------


def test_jit_compiled_training_on_padded_batches_equals_generic_loop(fused_calls, monkeypatch):
    """`fit` under XLA with several steps per execution, on zero-padded sequences behind a Masking layer (holes
    and an empty row), with input and recurrent dropout: the same weights after training as the generic loop.
    Both GRU forms side by side in one model: XLA compiles one training step (seconds) per model, not per form."""
    kinds = ["gru_reset_after", "gru_course"]
    gru_calls = count_calls(monkeypatch, _gru_bptt, "gru_sequence")
    rng = np.random.default_rng(5)
    x = np.concatenate([make_inputs(steps=8), make_inputs(seed=1, steps=8)])
    x[:, 5:] = 0.0
    x[1, 2] = x[2] = 0.0
    y = rng.standard_normal((2 * B, 1)).astype("float32")

    def model(use_fused_bptt):
        inputs = keras.Input((8, D))
        masked = keras.layers.Masking(0.0)(inputs)
        branches = [
            layer_class(H, dropout=0.3, recurrent_dropout=0.3, seed=2, use_fused_bptt=use_fused_bptt, **options)(masked)
            for layer_class, _, options in (KINDS[kind] for kind in kinds)
        ]
        return keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Concatenate()(branches)))

    fused, generic = model(True), model(False)
    randomize(fused)
    generic.set_weights(fused.get_weights())
    initial = fused.get_weights()
    gru_calls.clear()  # what building the models traced: only training counts
    for m in (fused, generic):
        m.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", jit_compile=True, steps_per_execution=2)
        m.fit(x, y, batch_size=B, epochs=3, shuffle=False, verbose=0)
    assert fused_calls
    assert {call["reset_after"] for call in gru_calls} == {True, False}  # each form took the fused path
    trained = fused.get_weights()
    assert all(np.abs(w - w0).max() > 1e-4 for w, w0 in zip(trained, initial))  # every weight trained
    for actual, expected in zip(trained, generic.get_weights()):
        np.testing.assert_allclose(actual, expected, atol=1e-5)


@pytest.mark.parametrize(
    "options, reason",
    [(dict(activation="relu"), "'relu'"), (dict(unroll=True, reset_gate=False), "unroll=True")],
    ids=["activation", "unroll"],
)
def test_gru_falls_back_to_the_generic_loop_and_says_so_once(options, reason, fused_calls):
    layer = GRU(H, use_fused_bptt=True, **options)
    with pytest.warns(UserWarning, match=f"use_fused_bptt=True.*generic loop.*{reason}") as caught:  # noqa: PT031
        layer(make_inputs(), mask=MASK)
        layer(make_inputs())
    assert len(caught) == 1
    assert not fused_calls


@pytest.mark.parametrize(
    "kind, options",
    [
        ("lstm", dict(go_backwards=True, return_sequences=True)),
        ("gru_reset_after", dict(return_state=True)),
        ("gru_course", dict(return_sequences=True, zero_output_for_mask=True)),
    ],
)
def test_unknown_number_of_steps_takes_the_fused_path(kind, options, tensorflow_backend, fused_calls, assert_all_close):
    """A graph traced for any length (as Keras traces a training step from the second batch length on, with
    `reduce_retracing`): the fused path runs, and equals Keras's loop. Keras 3.15's TensorFlow `ops.scan`
    fails there on several inputs (`_bptt._scan` packs them into one)."""
    tf = tensorflow_backend
    layer_class, _, layer_options = KINDS[kind]
    fused, generic = fused_and_generic(layer_class, (None, None, D), **layer_options, **options)

    def traced(layer):
        def run(x, mask):
            with tf.GradientTape() as tape:
                tape.watch(x)
                outputs = tf.nest.flatten(layer(x, mask=mask, training=True))
                loss = sum(tf.reduce_sum(o * tf.cos(o)) for o in outputs)
            return outputs, tape.gradient(loss, [x, *layer.trainable_variables])

        return tf.function(run, input_signature=[tf.TensorSpec((None, None, D)), tf.TensorSpec((None, None), tf.bool)])

    fused_run, generic_run = traced(fused), traced(generic)
    for steps in (T, 2):  # one trace, two lengths
        x, mask = make_inputs(steps=steps), MASK[:, -steps:]
        actual, expected = fused_run(x, mask), generic_run(x, mask)
        assert_all_close([a.numpy() for a in actual[0]], [e.numpy() for e in expected[0]], atol=1e-5)
        assert_all_close([a.numpy() for a in actual[1]], [e.numpy() for e in expected[1]], atol=1e-5)
    assert fused_calls
