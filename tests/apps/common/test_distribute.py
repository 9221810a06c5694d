"""apps.common.distribute: strategies, mixed precision, chief-only writing, backup and restore.

The tests that need a fresh TensorFlow runtime (two logical CPU devices, a two-worker cluster) run
`distribute_script.py` in subprocesses, each under a timeout; the rest run in-process.
"""

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

import distribute_script as script
import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

import layers
from apps.common import distribute
from apps.common.cli import add_distribute_arguments
from apps.common.errors import UsageError
from apps.common.export import export_saved_model

from clis import assert_usage_error

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "distribute_script.py")
TIMEOUT_S = 240  # one TensorFlow start-up and a few steps; generous because CI machines are shared

# float32 rounding: one-device and two-replica training compute the same sums in a different order (the
# gradient of the global batch is one sum of 8 per-example terms, or two sums of 4 added by an all-reduce),
# so each gradient differs by a few units in the last place (float32 eps = 1.2e-7, weights and gradients
# here are O(1)). Over 12 SGD steps the weights differed by at most 1.2e-7 in our runs; 1e-5 leaves 100x
# margin, while a real fault (a replica's loss not divided by the replica count, a shard seen twice) moves
# the weights by about as much as training does, which the tests check is far more than 1e-5.
FLOAT32_REORDERING_ATOL = 1e-5


@pytest.fixture(autouse=True)
def _restore_keras_globals():
    """Tests that set a mixed-precision policy must not leak it into other tests."""
    policy = keras.config.dtype_policy()
    yield
    keras.config.set_dtype_policy(policy)


@pytest.fixture
def tf_config(monkeypatch):
    """Sets TF_CONFIG for one test: `tf_config(cluster, task_type, index)`."""

    def set_config(cluster, task_type, index):
        monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": task_type, "index": index}}))

    monkeypatch.delenv("TF_CONFIG", raising=False)
    return set_config


def _env(tf_config=None):
    env = {key: value for key, value in os.environ.items() if key != "TF_CONFIG"}
    env.update(
        PYTHONPATH=ROOT,
        TF_CPP_MIN_LOG_LEVEL="3",
        CUDA_VISIBLE_DEVICES="",
        # Two processes share few cores in CI: one thread per kernel keeps them from starving each other.
        TF_NUM_INTRAOP_THREADS="1",
    )
    if tf_config is not None:
        env["TF_CONFIG"] = json.dumps(tf_config)
    return env


def _run_script(*args):
    result = subprocess.run(
        [sys.executable, SCRIPT, *map(str, args)],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert result.returncode == 0, result.stderr[-3000:]


def _free_ports(n):
    """n distinct free TCP ports on 127.0.0.1 (all held open while choosing, so they differ)."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(n)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _assert_same_weights(actual, expected, atol, moved_from=None):
    assert len(actual) == len(expected)
    for i, (a, e) in enumerate(zip(actual, expected)):
        np.testing.assert_allclose(a, e, rtol=0, atol=atol, err_msg=f"weight {i}")
        if moved_from is not None:
            assert np.abs(e - moved_from[i]).max() > 100 * atol, f"weight {i} barely trained: test too weak"


# --- arguments, TF_CONFIG, policies: fast, in-process ---------------------------------------------------


def test_arguments_defaults_and_choices():
    parser = argparse.ArgumentParser()
    add_distribute_arguments(parser)
    args = parser.parse_args([])
    assert (args.distribute, args.mixed_precision, args.backup_dir) == ("none", False, None)
    args = parser.parse_args(["--distribute", "multi-worker", "--mixed-precision", "--backup-dir", "b"])
    assert (args.distribute, args.mixed_precision, args.backup_dir) == ("multi-worker", True, "b")
    with pytest.raises(SystemExit):
        parser.parse_args(["--distribute", "tpu"])


def test_strategies_without_a_cluster(tf_config):
    assert distribute.make_strategy("none") is tf.distribute.get_strategy()
    mirrored = distribute.make_strategy("mirrored")
    assert isinstance(mirrored, tf.distribute.MirroredStrategy)
    assert mirrored.num_replicas_in_sync == len(tf.config.list_logical_devices("CPU"))
    with pytest.raises(UsageError, match="TF_CONFIG"):
        distribute.make_strategy("multi-worker")
    with pytest.raises(ValueError, match="strategy must be one of"):
        distribute.make_strategy("tpu")


def test_strategy_from_args_sets_the_policy():
    args = argparse.Namespace(distribute="none", mixed_precision=True)
    distribute.strategy_from_args(args)
    expected = "mixed_float16" if tf.config.list_physical_devices("GPU") else "mixed_bfloat16"
    assert keras.config.dtype_policy().name == expected
    distribute.strategy_from_args(argparse.Namespace(distribute="none", mixed_precision=False))
    assert keras.config.dtype_policy().name == "float32"


def test_mixed_float16_compile_adds_loss_scaling():
    """Keras wraps the optimizer in a LossScaleOptimizer for mixed_float16 (the GPU policy) by itself."""
    keras.config.set_dtype_policy("mixed_float16")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(), "mse")
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)


def test_to_float32_copies_a_mixed_model_with_nested_layers():
    keras.config.set_dtype_policy("mixed_bfloat16")
    tokens = keras.Input((None,), dtype="int32")
    h = keras.layers.Embedding(10, 4, mask_zero=True)(tokens)
    h = keras.layers.Bidirectional(layers.LSTM(5, peephole=True, return_sequences=True))(h)
    mixed = keras.Model(tokens, keras.layers.Dense(3, activation="softmax")(layers.GRU(5)(h)))
    keras.config.set_dtype_policy("float32")
    full = distribute.to_float32(mixed)
    policies = [layer.dtype_policy.name for layer in full.layers[1:]]
    policies += [full.layers[2].forward_layer.cell.dtype_policy.name, full.layers[2].backward_layer.dtype_policy.name]
    assert set(policies) == {"float32"}
    _assert_same_weights(full.get_weights(), mixed.get_weights(), 0)
    x = np.random.default_rng(0).integers(1, 10, (4, 7))
    # bfloat16 keeps 8 significant bits: probabilities agree to a few units of 2^-8.
    np.testing.assert_allclose(full.predict(x, verbose=0), mixed.predict(x, verbose=0), atol=2e-2)
    assert distribute.to_float32(full) is full


def test_to_float32_keeps_the_vocabulary_of_a_text_vectorization():
    keras.config.set_dtype_policy("mixed_bfloat16")
    vectorizer = keras.layers.TextVectorization(max_tokens=6, name="words")
    vectorizer.adapt(["good film", "bad film", "good plot"])
    text = keras.Input((1,), dtype="string")
    mixed = keras.Model(text, keras.layers.Dense(2)(keras.layers.Embedding(6, 3)(vectorizer(text))))
    keras.config.set_dtype_policy("float32")
    full = distribute.to_float32(mixed)
    assert full is not mixed and full.get_layer("words").get_vocabulary() == vectorizer.get_vocabulary()
    sentences = np.array([["good film"], ["bad plot"]])
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(full.get_layer("words")(sentences)),
        keras.ops.convert_to_numpy(vectorizer(sentences)),
    )


def test_chief_is_worker_0_or_the_chief_task(tf_config):
    assert distribute.is_chief() and distribute.task() == ("worker", 0)
    tf_config({"worker": ["a:1", "b:2"]}, "worker", 0)
    assert distribute.is_chief()
    tf_config({"worker": ["a:1", "b:2"]}, "worker", 1)
    assert not distribute.is_chief() and distribute.task() == ("worker", 1)
    tf_config({"chief": ["c:0"], "worker": ["a:1"]}, "worker", 0)
    assert not distribute.is_chief()
    tf_config({"chief": ["c:0"], "worker": ["a:1"]}, "chief", 0)
    assert distribute.is_chief()


def test_malformed_tf_config_is_a_cli_error(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", "{cluster")
    with pytest.raises(UsageError, match="not valid JSON"):
        distribute.is_chief()


def test_a_worker_that_never_answers_is_one_line_naming_it(tf_config, tmp_path, capsys):
    mine, closed = _free_ports(2)
    tf_config({"worker": [f"127.0.0.1:{mine}", f"127.0.0.1:{closed}"]}, "worker", 0)
    names = tmp_path / "names.txt"
    names.write_text("aardonyx\nabelisaurus\nbrachiosaurus\nceratops\n")
    argv = ["train", "--data", str(names), "--out", str(tmp_path / "model"), "--distribute", "multi-worker"]
    started = time.monotonic()
    assert_usage_error(
        capsys, "dinos", [*argv, "--worker-timeout", "1"], f"no answer from worker 1 at 127.0.0.1:{closed} within 1 s"
    )
    assert time.monotonic() - started < 10
    assert not (tmp_path / "model").exists()


def test_a_worker_that_starts_later_is_waited_for_and_finds_this_one(tf_config):
    mine, late = _free_ports(2)
    config = {"cluster": {"worker": [f"127.0.0.1:{mine}", f"127.0.0.1:{late}"]}, "task": {"type": "worker", "index": 0}}
    found, stop = [], threading.Event()

    def start_late():
        time.sleep(1)
        # The late worker looks for this one in turn: its port answers while it waits.
        with socket.create_connection(("127.0.0.1", mine), timeout=5):
            found.append(True)
        with socket.create_server(("127.0.0.1", late)):
            stop.wait(10)

    peer = threading.Thread(target=start_late, daemon=True)
    peer.start()
    started = time.monotonic()
    try:
        distribute.wait_for_workers(config, timeout=20)
    finally:
        stop.set()
        peer.join()
    assert 1 <= time.monotonic() - started < 10 and found == [True]


def test_only_the_chief_keeps_what_it_writes(tf_config, tmp_path):
    target = str(tmp_path / "bundle")
    tf_config({"worker": ["a:1", "b:2"]}, "worker", 1)
    with distribute.chief_path(target) as path:
        assert path != target and os.path.basename(path) == "bundle"
        os.makedirs(path)
        scratch = os.path.dirname(path)
    assert not os.path.exists(scratch) and not os.path.exists(target)
    assert distribute.backup_callbacks(str(tmp_path / "backup"))[0].backup_dir == str(tmp_path / "backup-worker-1")
    tf_config({"worker": ["a:1", "b:2"]}, "worker", 0)
    with distribute.chief_path(target) as path:
        assert path == target
    assert distribute.backup_callbacks(str(tmp_path / "backup"))[0].backup_dir == str(tmp_path / "backup")
    assert distribute.backup_callbacks(None) == []


def test_dataset_batches_globally_and_shards_by_data():
    x, y = script.data()
    dataset = distribute.make_dataset(x, y, 8, shuffle=True, seed=1)
    batches = list(dataset)
    assert [len(b[0]) for b in batches] == [8, 8, 8, 8]
    assert sorted(np.concatenate([b[1] for b in batches])) == sorted(y)
    assert dataset.options().experimental_distribute.auto_shard_policy == tf.data.experimental.AutoShardPolicy.DATA


# --- the "Must show" ----------------------------------------------------------------------------


@pytest.mark.slow
def test_mirrored_on_two_logical_cpus_matches_one_device(tmp_path):
    out = tmp_path / "weights.npz"
    _run_script("mirrored", out)
    saved = np.load(out)
    assert int(saved["replicas"]) == 2
    count = sum(key.startswith("single_") for key in saved)
    get = lambda name: [saved[f"{name}_{i}"] for i in range(count)]  # noqa: E731
    _assert_same_weights(get("mirrored"), get("single"), FLOAT32_REORDERING_ATOL, moved_from=get("initial"))


@pytest.mark.slow
def test_two_workers_on_localhost_train_and_the_chief_saves(tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    out, backup = tmp_path / "out", tmp_path / "backup"
    workers = [
        subprocess.Popen(
            [sys.executable, SCRIPT, "worker", str(out), str(backup)],
            cwd=ROOT,
            env=_env({"cluster": cluster, "task": {"type": "worker", "index": i}}),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    try:
        outputs = [worker.communicate(timeout=TIMEOUT_S) for worker in workers]
    finally:
        for worker in workers:  # a worker left waiting for its dead peer would block forever
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    for worker, (stdout, stderr) in zip(workers, outputs):
        assert worker.returncode == 0, stderr[-3000:]
    reports = [dict(re.findall(r"(\w+)=(\S+)", stdout)) for stdout, _ in outputs]
    assert [r["chief"] for r in reports] == ["True", "False"]
    assert all(r["replicas"] == "2" and r["epochs"] == str(script.EPOCHS) for r in reports)
    assert reports[0]["weights"] == reports[1]["weights"]
    # Only the chief's files remain; both backups were removed once training completed.
    assert sorted(os.listdir(tmp_path)) == ["out"]
    assert sorted(os.listdir(out)) == ["model.keras", "weights.npz"]

    model = keras.saving.load_model(out / "model.keras", safe_mode=True)
    trained = list(np.load(out / "weights.npz").values())
    _assert_same_weights(model.get_weights(), trained, 0)
    # Two workers with a global batch of 8 take the same steps as one device with batches of 8.
    single = script.build_model()
    initial = single.get_weights()
    script.fit(single)
    _assert_same_weights(trained, single.get_weights(), FLOAT32_REORDERING_ATOL, moved_from=initial)


class _Killed(Exception):
    pass


class _KillAfterEpoch(keras.callbacks.Callback):
    """Stops training like a crash (an exception, so no `on_train_end` clean-up) once an epoch has ended."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise _Killed


@pytest.mark.slow
def test_killed_run_resumes_to_the_uninterrupted_weights(tmp_path):
    backup = str(tmp_path / "backup")
    killed_after = 1  # zero-based: the second epoch ends, is backed up, and the run dies
    with pytest.raises(_Killed):
        script.fit(
            script.build_model(), callbacks=[*distribute.backup_callbacks(backup), _KillAfterEpoch(killed_after)]
        )
    with open(os.path.join(backup, "training_metadata.json"), encoding="utf-8") as handle:
        assert json.load(handle)["epoch"] == killed_after + 1

    # A new model with other initial weights: everything that counts must come from the backup.
    resumed = script.build_model(seed=123)
    history = script.fit(resumed, callbacks=distribute.backup_callbacks(backup))
    assert len(history.history["loss"]) == script.EPOCHS - killed_after - 1
    assert not os.path.exists(backup)
    uninterrupted = script.build_model()
    initial = uninterrupted.get_weights()
    script.fit(uninterrupted)
    # Same operations on the same values in the same order (weights, SGD momenta and the step count are all
    # restored), so the weights agree to the last bit; 1e-6 only allows for a kernel splitting its work over
    # threads differently.
    _assert_same_weights(resumed.get_weights(), uninterrupted.get_weights(), 1e-6, moved_from=initial)


@pytest.mark.slow
def test_mixed_bfloat16_savedmodel_runs_on_cpu_without_cudnn_ops(tmp_path):
    distribute.set_mixed_precision(True)
    model = script.build_model()
    assert (
        model.get_layer("lstm").compute_dtype == "bfloat16" and model.get_layer("lstm").cell.kernel.dtype == "float32"
    )
    losses = script.fit(model, epochs=2).history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]

    module = tf.Module()
    module.model = model
    serve = tf.function(
        lambda x: {"probabilities": model(x, training=False)},
        input_signature=[tf.TensorSpec((None, script.STEPS, script.FEATURES), tf.float32)],
    )
    path = str(tmp_path / "savedmodel")
    export_saved_model(module, path, {"serving_default": serve}, app="dinos")

    saved = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as handle:
        saved.ParseFromString(handle.read())
    graph = saved.meta_graphs[0].graph_def
    nodes = list(graph.node) + [node for function in graph.library.function for node in function.node_def]
    ops = {node.op for node in nodes}
    assert not [op for op in ops if "cudnn" in op.lower()]
    assert any(node.attr["DstT"].type == tf.bfloat16.as_datatype_enum for node in nodes if node.op == "Cast")

    keras.config.set_dtype_policy("float32")
    x, _ = script.data()
    with tf.device("/CPU:0"):
        served = tf.saved_model.load(path).signatures["serving_default"](tf.constant(x))["probabilities"]
    # Both sides compute in bfloat16, but on a CPU with native bfloat16 instructions (avx512_bf16) oneDNN
    # fuses the SavedModel's graph differently from predict's and rounds at other points: they agree to a few
    # bfloat16 steps (2^-8 relative), not bit for bit (with TF_ENABLE_ONEDNN_OPTS=0 they agree to 1e-6).
    np.testing.assert_allclose(served.numpy(), model.predict(x, verbose=0), atol=1e-2)
