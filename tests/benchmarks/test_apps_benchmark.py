"""`python benchmarks/apps.py`, run as a user runs it at its smallest (one round of one step): the JSON it writes
says what it timed, and that is what benchmarks/README.md says it times. No timing is asserted."""

import importlib.util
import json
import math
import os

import pytest

from apps.common.bundle import load_bundle

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def shipped(app):
    return os.path.join(ROOT, "saved_models", app)


def shipped_config(app):
    with open(os.path.join(shipped(app), "config.json"), encoding="utf-8") as handle:
        return json.load(handle)


def run_benchmark(out, *argv):
    """`python benchmarks/apps.py *argv --rounds 1 --steps 1 --out out`, in this process; its JSON."""
    spec = importlib.util.spec_from_file_location("benchmark_apps", os.path.join(ROOT, "benchmarks", "apps.py"))
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main([*argv, "--rounds", "1", "--steps", "1", "--out", str(out)]) == 0
    return json.loads(out.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def apps_and_cases(tmp_path_factory):
    out = tmp_path_factory.mktemp("benchmark") / "apps.json"
    return run_benchmark(
        out,
        *("--part", "all", "--cells", "lstm", "--variants", "app train", "no recurrence"),
        *("--cases", "GRU masked, Bidirectional", "--modes", "TF"),
    )


def assert_timed_against(rows, baseline, variants):
    assert [row["variant"] for row in rows] == [baseline, *variants]
    assert rows[0]["ratio"] == rows[0]["cpu_ratio"] == 1.0
    for row in rows:
        values = [row["steps_per_s"], row["steps_per_cpu_s"], row["ratio"], row["cpu_ratio"]]
        assert all(math.isfinite(value) and value > 0 for value in values), row


@pytest.mark.slow
def test_each_apps_train_is_timed_against_the_same_model_with_keras_layers(apps_and_cases):
    """The README's "app train": dinos with the fused path and 10 steps a call, jazz with Keras's loop and 10,
    sentiment with Keras's loop and one, none with XLA; "keras": the same model under Keras's default compile;
    "no recurrence": the same model without its recurrent layers' weights. Dinos and jazz are the shipped
    bundles' size."""
    tables = {table["app"]: table for table in apps_and_cases["apps"]}
    assert sorted(tables) == ["dinos", "jazz", "sentiment"]
    app_train = {"dinos": (True, 10), "jazz": (False, 10), "sentiment": (False, 1)}
    for app, table in tables.items():
        assert table["cell"] == "lstm"
        assert_timed_against(table["rows"], "keras", ["app train", "no recurrence"])
        keras, ours, none = (table["compiled"][name] for name in ("keras", "app train", "no recurrence"))
        assert (ours["fused"], ours["steps_per_execution"]) == app_train[app] and not ours["jit_compile"], app
        assert (keras["fused"], keras["steps_per_execution"], keras["jit_compile"]) == (False, 1, False), app
        assert keras["parameters"] == ours["parameters"] > none["parameters"], app
        assert none["steps_per_execution"] == ours["steps_per_execution"] and not none["fused"], app
    assert tables["dinos"]["compiled"]["app train"]["parameters"] == shipped_config("dinos")["model"]["parameters"]
    assert tables["jazz"]["compiled"]["app train"]["parameters"] == load_bundle(shipped("jazz"))[0].count_params()


@pytest.mark.slow
def test_each_case_times_the_fused_path_against_keras_loop(apps_and_cases):
    (case,) = apps_and_cases["cases"]
    assert (case["case"], case["mode"]) == ("GRU masked, Bidirectional", "TF")
    assert_timed_against(case["rows"], "loop", ["fused"])


@pytest.mark.slow
def test_the_floor_bounds_sentiment_by_amdahls_law(tmp_path):
    """The most any exact recurrent layer could give sentiment: Amdahl's law over the recurrence's share of the
    app's step and how much faster than Keras's layer the matrix products alone run, for a layer of the shipped
    bundle's shapes; skipping the padded rows (a share of the app's bucketed batches) can only raise it."""
    (floor,) = run_benchmark(tmp_path / "floor.json", "--part", "floor", "--cells", "lstm")["floor"]
    share, speedup = floor["recurrent_share_of_step"], floor["layer_speedup_at_most"]
    # Timings on a shared machine: under load the recurrence's measured share can come out at or below zero, so
    # what is checked is the arithmetic, for whatever was measured.
    assert share < 1 and speedup > 0
    assert floor["app_speedup_at_most"] == pytest.approx(1 / (1 - share + share / speedup))
    assert 0 < floor["padded_row_share"] < 0.3
    skipping = 1 / (1 - share + share * (1 - floor["padded_row_share"]) / speedup)
    assert floor["app_speedup_at_most_skipping_padding"] == pytest.approx(skipping)
    assert (skipping > floor["app_speedup_at_most"]) == (share > 0)  # fewer rows help only where recurrence costs
    sentiment = shipped_config("sentiment")
    assert floor["shape"] == {
        "batch": sentiment["batch_size"],
        "steps": floor["shape"]["steps"],
        "features": sentiment["embedding_dim"],
        "units": sentiment["units"],
        "directions": 2 if sentiment["bidirectional"] else 1,
    }
