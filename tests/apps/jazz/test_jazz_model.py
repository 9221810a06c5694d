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


@pytest.mark.parametrize("cell", ["lstm", "peephole"])
def test_lstms_take_the_fused_bptt_that_pays_under_the_apps_xla_compile(cell):
    assert jazz_model.build_model(20, cell=cell, units=4).get_layer("recurrent").use_fused_bptt is True
