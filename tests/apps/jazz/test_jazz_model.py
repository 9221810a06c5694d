import numpy as np
import pytest

from apps.jazz import model as jazz_model


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
