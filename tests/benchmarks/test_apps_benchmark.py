"""`benchmarks/apps.py` times each app's model as the app's `train` builds and compiles it, against the same
model with Keras's layers: these tests check that it does (no timing is asserted)."""

import importlib.util
import inspect
import os

import keras
import numpy as np
import pytest

import layers
from apps.dinos import train as dinos_train
from apps.jazz import train as jazz_train

_PATH = os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks", "apps.py")
_SPEC = importlib.util.spec_from_file_location("benchmark_apps", _PATH)
bench = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bench)

TRAINS = {"dinos": dinos_train.train, "jazz": jazz_train.train}


def _recurrent(model):
    return [layer for layer in model.layers if isinstance(layer, keras.layers.RNN)]


@pytest.mark.parametrize("app", sorted(TRAINS))
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_app_train_is_built_and_compiled_as_the_apps_train_defaults(app, cell):
    defaults = inspect.signature(TRAINS[app]).parameters
    model, fit_args = bench.APPS[app](cell, "app", None, 2)
    assert model.jit_compile == defaults["jit_compile"].default
    assert model.steps_per_execution == defaults["steps_per_execution"].default
    (layer,) = _recurrent(model)
    assert isinstance(layer, layers.LSTM if cell == "lstm" else layers.GRU)
    assert layer.use_fused_bptt == defaults["use_fused_bptt"].default
    assert len(fit_args["y"]) == 2 * fit_args["batch_size"]


def test_dinos_names_are_padded_to_the_longest_and_masked():
    model, fit_args = bench.APPS["dinos"]("lstm", "app", None, 4)
    x = fit_args["x"]
    assert (x == 0).any() and (x[:, -1] != 0).any()  # padded, and one name as long as the batch
    assert model.get_layer("embedding").mask_zero


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_the_baseline_is_the_same_model_with_keras_layers_and_keras_default_compile(cell):
    ours, _ = bench.APPS["dinos"](cell, "app", None, 2)
    theirs, _ = bench.APPS["dinos"](cell, "keras", "keras", 2)
    (layer,) = _recurrent(theirs)
    assert type(layer) is (keras.layers.LSTM if cell == "lstm" else keras.layers.GRU)
    assert layer.recurrent_dropout == _recurrent(ours)[0].recurrent_dropout > 0
    assert theirs.count_params() == ours.count_params()
    assert not theirs.jit_compile and theirs.steps_per_execution == 1


@pytest.mark.parametrize("fused", [True, False])
def test_fused_and_loop_variants_force_the_path(fused):
    model, _ = bench.APPS["jazz"]("gru", "fused" if fused else "loop", bench.XLA, 2)
    assert _recurrent(model)[0].use_fused_bptt is fused and model.jit_compile


def test_sentence_lengths_follow_sst():
    lengths = bench.sentence_lengths(np.random.default_rng(0), 20000)
    assert lengths.min() >= 1 and lengths.max() <= bench.SST_MAX_TOKENS
    assert abs(lengths.mean() - bench.SST_MEAN_TOKENS) < 1


def test_case_models_differ_only_in_the_path():
    fused = bench.case_model("GRU masked, Bidirectional", True, {})
    loop = bench.case_model("GRU masked, Bidirectional", False, {})
    wrapper = next(layer for layer in fused.layers if isinstance(layer, keras.layers.Bidirectional))
    assert wrapper.forward_layer.use_fused_bptt and wrapper.backward_layer.use_fused_bptt
    assert fused.count_params() == loop.count_params()
    x = bench.case_data(1)["x"]
    loop.set_weights(fused.get_weights())
    np.testing.assert_allclose(fused.predict(x, verbose=0), loop.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_sentiment_trains_from_strings_as_the_app_and_from_ids_in_fixed_lengths_under_xla():
    from apps.sentiment import train as sentiment_train

    defaults = inspect.signature(sentiment_train.train).parameters
    app, _ = bench.APPS["sentiment"]("lstm", "app", None, 2)
    assert app.inputs[0].dtype == "string"
    assert app.jit_compile == defaults["jit_compile"].default
    assert app.steps_per_execution == defaults["steps_per_execution"].default
    model, fit_args = bench.APPS["sentiment"]("lstm", "fused", bench.XLA, 2)
    # As `train --jit-compile`: ids from the pipeline, each batch in one of a few lengths XLA compiles once.
    assert model.jit_compile and model.inputs[0].dtype == "int64"
    (wrapper,) = [layer for layer in model.layers if isinstance(layer, keras.layers.Bidirectional)]
    assert wrapper.forward_layer.use_fused_bptt and wrapper.backward_layer.use_fused_bptt
    widths = {int(ids.shape[1]) for ids, _ in fit_args["x"].take(6)}
    assert widths <= set(sentiment_train.IdsInPipeline(app).lengths)
    assert app.count_params() == model.count_params()


def test_jazz_has_the_shipped_windows_and_head():
    model, fit_args = bench.APPS["jazz"]("lstm", "app", None, 2)
    shipped = bench._config("jazz")
    assert fit_args["y"].shape[1] == shipped["seq_len"]
    head = {"factored": "FactoredSoftmax", "chain": "ChainSoftmax"}.get(shipped.get("head"), "Dense")
    assert type(model.get_layer("head")).__name__ == head


@pytest.mark.parametrize("app", ["jazz", "sentiment"])
def test_no_recurrence_removes_only_the_recurrence(app):
    """The ceiling's model: the app's, every recurrent layer (both directions of a `Bidirectional`) a per-step
    Dense, compiled as the app compiles."""
    model, _ = bench.APPS[app]("lstm", "none", None, 2)
    app_model, _ = bench.APPS[app]("lstm", "app", None, 2)
    replaced = [layer for layer in model.layers if isinstance(layer, bench.NoRecurrence)]
    replaced += [layer.forward_layer for layer in model.layers if isinstance(layer, keras.layers.Bidirectional)]
    assert replaced and all(isinstance(layer, bench.NoRecurrence) for layer in replaced)
    assert not _recurrent(model)
    kept = [
        layer.name for layer in model.layers if not isinstance(layer, (bench.NoRecurrence, keras.layers.Bidirectional))
    ]
    assert kept == [
        layer.name
        for layer in app_model.layers
        if not isinstance(layer, (keras.layers.RNN, keras.layers.Bidirectional))
    ]
    assert model.jit_compile == app_model.jit_compile


def test_sentiment_fused_app_compile_trains_from_strings_with_the_fused_path(monkeypatch):
    """Strings in buckets of changing length, as the app trains: Keras traces the step with the time axis
    unknown from the second length on, and the fused path must still run there (both directions)."""
    from layers import _bptt

    lengths = []
    real = _bptt.sequence

    def spy(recurrence, x, *args, **kwargs):
        lengths.append(x.shape[1])
        return real(recurrence, x, *args, **kwargs)

    monkeypatch.setattr(_bptt, "sequence", spy)
    model, fit_args = bench.APPS["sentiment"]("lstm", "fused", None, 4)
    assert model.inputs[0].dtype == "string"
    model.fit(**{**fit_args, "steps_per_epoch": 4}, epochs=1, verbose=0)
    assert lengths and None in lengths


def test_speedup_bound_is_amdahls_law():
    assert bench.speedup_bound(0.5, 2.0) == pytest.approx(4 / 3)
    assert bench.speedup_bound(0.75, 1.0) == pytest.approx(1.0)
    assert bench.speedup_bound(0.6, 1e9) == pytest.approx(2.5)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_matmul_floor_makes_the_products_of_each_directions_gradient(cell):
    """The floor computes, per direction, x·W, dU, dW and dx of the layer's shapes (the sequential products
    feed dU and dW), so it cannot skip any product that training the layer needs."""
    batch, steps, features, units, gates = 3, 5, 4, 6, bench.GATES[cell]
    directions = bench.matmul_floor(batch, steps, features, units, gates, 2)()
    assert len(directions) == 2
    for projected, d_recurrent, d_kernel, dx in directions:
        assert tuple(projected.shape) == (batch * steps, gates * units)
        assert tuple(d_recurrent.shape) == (units, gates * units)
        assert tuple(d_kernel.shape) == (features, gates * units)
        assert tuple(dx.shape) == (batch * steps, features)
        assert np.abs(d_recurrent.numpy()).sum() > 0
    keras_grads = bench.keras_layer_step(cell, batch, steps, features, units, 2)()
    assert [tuple(g.shape) for g in keras_grads[1:3]] == [(features, gates * units), (units, gates * units)]


def test_padded_row_share_comes_from_the_apps_buckets(monkeypatch):
    from apps.sentiment import train as sentiment_train

    bucketed = bench.padded_row_share(batches=40)
    assert 0.0 < bucketed < 0.3
    monkeypatch.setattr(sentiment_train, "BUCKET_BOUNDARIES", [1000])  # one bucket: padded to each batch's longest
    assert bench.padded_row_share(batches=40) > bucketed + 0.2
