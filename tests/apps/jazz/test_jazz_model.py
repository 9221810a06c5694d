import numpy as np
import pytest

from apps.jazz import model as jazz_model

from jazz_scores import tiny_model


@pytest.mark.parametrize("cell", ["lstm", "peephole", "gru", "gru-simple"])
def test_step_model_shares_the_training_models_weights(cell):
    model = jazz_model.build_model(11, cell=cell, units=6, embedding_dim=5)
    tokens = np.array([[0, 3, 7, 1, 10]], "int32")
    expected = model.predict_on_batch(tokens)[0]
    step = jazz_model.step_model(model)
    states = [np.zeros((1, size), "float32") for size in step.state_sizes]
    for t in range(tokens.shape[1]):
        probabilities, *states = step([tokens[:, t], *states])
        np.testing.assert_allclose(np.asarray(probabilities)[0], expected[t], rtol=1e-4, atol=1e-6)


def test_training_model_is_many_to_many():
    model = jazz_model.build_model(20, units=4)
    assert model.predict_on_batch(np.zeros((3, 9), "int32")).shape == (3, 9, 20)
    assert model.get_layer("recurrent").units == 4


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_recurrent_layer_runs_keras_loop_unless_asked_for_the_fused_path(cell):
    # Without XLA, as `train` compiles, the fused path trained no faster on jazz windows (benchmarks/apps.py).
    assert jazz_model.build_model(20, cell=cell, units=4).get_layer("recurrent").use_fused_bptt is False
    fused = jazz_model.build_model(20, cell=cell, units=4, use_fused_bptt=True)
    assert fused.get_layer("recurrent").use_fused_bptt is True


def random_conditions(rng, steps, batch=1):
    from apps.jazz.conditioning import SIZE

    return (rng.random((batch, steps, SIZE)) < 0.2).astype("float32")


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_conditioned_step_model_shares_the_training_models_weights(cell):
    rng = np.random.default_rng(0)
    model = jazz_model.build_model(11, cell=cell, units=6, embedding_dim=5, conditioning="changes", condition_dim=4)
    assert jazz_model.is_conditioned(model) and not jazz_model.is_conditioned(jazz_model.build_model(11, units=2))
    tokens = np.array([[0, 3, 7, 1, 10]], "int32")
    conditions = random_conditions(rng, tokens.shape[1])
    expected = model.predict_on_batch({"tokens": tokens, "conditions": conditions})[0]
    step = jazz_model.step_model(model)
    states = [np.zeros((1, size), "float32") for size in step.state_sizes]
    for t in range(tokens.shape[1]):
        probabilities, *states = step([tokens[:, t], conditions[:, t], *states])
        np.testing.assert_allclose(np.asarray(probabilities)[0], expected[t], rtol=1e-4, atol=1e-6)


def test_the_conditions_change_the_prediction():
    rng = np.random.default_rng(1)
    model = jazz_model.build_model(11, units=6, embedding_dim=5, conditioning="changes", condition_dim=4)
    tokens = np.array([[0, 3, 7]], "int32")
    first = model.predict_on_batch({"tokens": tokens, "conditions": random_conditions(rng, 3)})
    second = model.predict_on_batch({"tokens": tokens, "conditions": random_conditions(rng, 3)})
    assert np.abs(first - second).max() > 1e-4


TOKENS = ["C,1/2,<+0,+4>", "R,1/2", "A,1/3,<-2,+2>", "C,1/3,<*>", "R,1"]


def test_token_parts_class_each_tokens_type_duration_and_window():
    types, durations, windows = jazz_model.token_parts(TOKENS)
    # Class 0 is the start token's; the others in order of first appearance.
    assert types == [0, 1, 2, 3, 1, 2]
    assert durations == [0, 1, 1, 2, 2, 3]
    assert windows == [0, 1, 2, 3, 4, 2]  # a rest has no window: the empty one, shared by both rests


def test_token_parts_of_an_articulated_vocabulary_put_the_silence_between_duration_and_window():
    tokens = [*TOKENS, "C,1/2,<+0,+4>;1/6", "A,1/3,<-2,+2>;1/12"]
    types, durations, silences, windows = jazz_model.token_parts(tokens)
    assert types == [0, 1, 2, 3, 1, 2, 1, 3]
    assert durations == [0, 1, 1, 2, 2, 3, 1, 2]
    assert silences == [0, 1, 1, 1, 1, 1, 2, 3]  # legato notes and rests share "no silence"
    assert windows == [0, 1, 2, 3, 4, 2, 1, 3]  # the suffix is not part of the window


def test_a_model_trained_with_the_factored_head_loads_as_the_joint_softmax_it_computes():
    """`--head factored` added a term per token part to each token's logit. A model saved with it (its head's
    config and weights as that head saved them: its own kernel and bias, then each part's) loads with the
    same probabilities and no more weights than the `--head joint` model of that size."""
    import keras

    rng = np.random.default_rng(0)
    joint = tiny_model(TOKENS, "changes", "joint")
    parts = jazz_model.token_parts(TOKENS)
    config = joint.get_config()
    (head,) = [layer for layer in config["layers"] if layer["name"] == "head"]
    head.update(
        module="apps.jazz.model",
        class_name="FactoredSoftmax",
        registered_name="apps.jazz>FactoredSoftmax",
        config={"name": "head", "trainable": True, "dtype": "float32", "parts": parts},
    )
    factored = keras.Model.from_config(config)
    for layer in joint.layers:
        if layer.name != "head":
            factored.get_layer(layer.name).set_weights(layer.get_weights())
    dim = joint.get_layer("head").input.shape[-1]
    shapes = [(dim, len(TOKENS) + 1), (len(TOKENS) + 1,)]
    shapes += [shape for part in parts for shape in ((dim, max(part) + 1), (max(part) + 1,))]
    saved = [rng.normal(size=shape).astype("float32") for shape in shapes]
    factored.get_layer("head").load_own_variables({str(index): weight for index, weight in enumerate(saved)})

    inputs = {"tokens": np.array([[0, 3, 5, 1, 2]], "int32"), "conditions": random_conditions(rng, 5)}
    a = keras.Model(joint.inputs, joint.get_layer("head").input).predict_on_batch(inputs)
    logits = a @ saved[0] + saved[1]
    for part, kernel, bias in zip(parts, saved[2::2], saved[3::2]):
        logits += (a @ kernel + bias)[..., part]
    expected = np.exp(logits - logits.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(factored.predict_on_batch(inputs), expected, rtol=1e-4, atol=1e-7)
    assert factored.count_params() == joint.count_params()


def test_chain_softmax_multiplies_each_parts_conditional_and_renormalises():
    rng = np.random.default_rng(1)
    parts = jazz_model.token_parts(TOKENS)
    head = jazz_model.ChainSoftmax(parts, hidden=3)
    inputs = rng.normal(size=(2, 4)).astype("float32")
    head.build(inputs.shape)
    for weight in head.weights:
        weight.assign(rng.normal(size=weight.shape).astype("float32"))
    weights = {weight.path.split("/")[-1]: weight.numpy() for weight in head.weights}

    def log_softmax(z):
        z = z - z.max(-1, keepdims=True)
        return z - np.log(np.exp(z).sum(-1, keepdims=True))

    expected = np.zeros((2, len(TOKENS) + 1))
    for v in range(len(TOKENS) + 1):
        classes = [part[v] for part in parts]
        log_p = log_softmax(inputs @ weights["kernel_0"] + weights["bias_0"])[:, classes[0]]
        for k in (1, 2):
            shift = sum(weights[f"embedding_{k}_{j}"][classes[j]] for j in range(k))
            hidden = np.maximum(inputs @ weights[f"kernel_{k}"] + weights[f"bias_{k}"] + shift, 0)
            logits = hidden @ weights[f"output_kernel_{k}"] + weights[f"output_bias_{k}"]
            log_p = log_p + log_softmax(logits)[:, classes[k]]
        expected[:, v] = np.exp(log_p)
    # The product leaves out the part combinations that are no token; the head divides by what is left.
    assert (expected.sum(-1) < 1 - 1e-3).all()
    np.testing.assert_allclose(np.asarray(head(inputs)), expected / expected.sum(-1, keepdims=True), rtol=1e-5)
    # Any leading axes: (batch, time, units) as in training.
    np.testing.assert_allclose(np.asarray(head(inputs[:, None]))[:, 0], np.asarray(head(inputs)), rtol=1e-6)


def test_chain_softmax_validates_and_serialises():
    with pytest.raises(ValueError, match="hidden"):
        jazz_model.ChainSoftmax(jazz_model.token_parts(TOKENS), hidden=0)
    with pytest.raises(ValueError, match="parts"):
        jazz_model.ChainSoftmax([[0, 1], [0, 1, 2]])
    config = jazz_model.ChainSoftmax(jazz_model.token_parts(TOKENS), hidden=5).get_config()
    assert config["hidden"] == 5 and config["parts"] == jazz_model.token_parts(TOKENS)


@pytest.mark.parametrize("conditioning", ["none", "changes"])
def test_chain_head_model_loads_in_safe_mode_and_steps_as_it_trains(conditioning, tmp_path):
    import keras

    rng = np.random.default_rng(2)
    model = tiny_model(TOKENS, conditioning, "chain")
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert isinstance(loaded.get_layer("head"), jazz_model.ChainSoftmax)
    tokens = np.array([[0, 3, 5, 1, 2]], "int32")
    conditions = random_conditions(rng, tokens.shape[1])
    inputs = tokens if conditioning == "none" else {"tokens": tokens, "conditions": conditions}
    expected = model.predict_on_batch(inputs)[0]
    np.testing.assert_allclose(loaded.predict_on_batch(inputs)[0], expected, rtol=1e-6)
    step = jazz_model.step_model(loaded)
    states = [np.zeros((1, size), "float32") for size in step.state_sizes]
    for t in range(tokens.shape[1]):
        features = [] if conditioning == "none" else [conditions[:, t]]
        probabilities, *states = step([tokens[:, t], *features, *states])
        np.testing.assert_allclose(np.asarray(probabilities)[0], expected[t], rtol=1e-4, atol=1e-6)


def test_a_chain_head_needs_the_vocabulary():
    with pytest.raises(ValueError, match="vocabulary"):
        jazz_model.build_model(len(TOKENS) + 1, head="chain")
    with pytest.raises(ValueError, match="head"):
        jazz_model.build_model(len(TOKENS) + 1, head="tree")
