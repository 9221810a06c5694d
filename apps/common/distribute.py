"""Training on several devices or machines with `tf.distribute`, and mixed precision: one helper for all apps.

An app's `train` command wires it in like this (README: "Training on several GPUs or machines")::

    cli.add_distribute_arguments(train_parser)                  # --distribute, --mixed-precision, --backup-dir

    strategy = distribute.strategy_from_args(args)              # first TensorFlow call of the process
    with strategy.scope():
        model = build_model(...)
        compile_model(model, ...)
    model.fit(distribute.make_dataset(x, y, batch_size, shuffle=True, seed=seed), epochs=epochs,
              callbacks=callbacks + distribute.backup_callbacks(args.backup_dir))
    with distribute.chief_path(out) as path:
        save_bundle(path, distribute.to_float32(model), config)

`batch_size` is the GLOBAL batch: every step consumes that many examples in total, split across the replicas,
so a run gives the same updates (up to float rounding) on one device or on eight.
"""

import contextlib
import json
import math
import os
import shutil
import socket
import tempfile
import time

import keras
import tensorflow as tf

from apps.common import files
from apps.common.cli import STRATEGIES, WORKER_TIMEOUT_S
from apps.common.errors import UsageError
from apps.common.progress import Progress


def strategy_from_args(args):
    """Sets the dtype policy from `args.mixed_precision` and returns the strategy `args.distribute` names.

    Call it before anything else touches TensorFlow: `MultiWorkerMirroredStrategy` configures the runtime's
    collective ops, which it can only do before the runtime starts. Both settings are read from the
    arguments `apps.common.cli.add_distribute_arguments` adds.

    Args:
        args: parsed arguments with `distribute` and `mixed_precision`.

    Returns:
        A `tf.distribute.Strategy` (see `make_strategy`).

    Raises:
        UsageError: `multi-worker` without a valid `TF_CONFIG`, or with a worker that does not answer within
            `args.worker_timeout` seconds.
    """
    strategy = make_strategy(args.distribute, getattr(args, "worker_timeout", WORKER_TIMEOUT_S))
    set_mixed_precision(args.mixed_precision)
    return strategy


def make_strategy(name, worker_timeout=WORKER_TIMEOUT_S):
    """Returns the `tf.distribute` strategy called `name`.

    - `"none"`: the default strategy (one device, no distribution).
    - `"mirrored"`: `tf.distribute.MirroredStrategy` over every local GPU; without a GPU, over the logical CPU
      devices that exist (one unless the program split the CPU with
      `tf.config.set_logical_device_configuration`, as the tests do).
    - `"multi-worker"`: `tf.distribute.MultiWorkerMirroredStrategy` over the cluster that the `TF_CONFIG`
      environment variable describes; every worker runs the same command with its own `TF_CONFIG`. It is
      built once every other worker answers (`wait_for_workers`).

    Args:
        name: one of `STRATEGIES`.
        worker_timeout: `multi-worker`: seconds to wait for the other workers.

    Raises:
        ValueError: an unknown `name`.
        UsageError: `multi-worker` without a valid `TF_CONFIG`, or with a worker that does not answer within
            `worker_timeout` seconds.
        RuntimeError: `multi-worker` after a TensorFlow op already ran in this process.
    """
    if name == "none":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        if tf.config.list_physical_devices("GPU"):
            return tf.distribute.MirroredStrategy()
        # MirroredStrategy() alone takes the GPUs or else only CPU:0, never the other logical CPU devices.
        return tf.distribute.MirroredStrategy([device.name for device in tf.config.list_logical_devices("CPU")])
    if name == "multi-worker":
        config = tf_config()
        if not config.get("cluster"):
            # Without a cluster TF silently trains alone, which is never what the user asked for.
            raise UsageError(
                "--distribute multi-worker needs the TF_CONFIG environment variable with a cluster "
                "and this worker's task (see the README's TF_CONFIG example)"
            )
        wait_for_workers(config, worker_timeout)
        try:
            return _MultiWorkerMirroredStrategy()
        except RuntimeError as error:  # TF's message does not say what the program should do differently
            raise RuntimeError(
                f"{error}: create the multi-worker strategy (distribute.strategy_from_args) "
                "before any TensorFlow op runs, e.g. before tf.data or TextVectorization"
            ) from None
    raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}; got {name!r}")


class _MultiWorkerMirroredStrategy(tf.distribute.MultiWorkerMirroredStrategy):
    """`tf.distribute.MultiWorkerMirroredStrategy` that takes the two `reduce` calls Keras 3's `fit` makes.

    Keras 3.15's TensorFlow trainer calls `reduce` in two ways that only `MirroredStrategy` accepts, so that
    `fit` fails under this strategy (keras-team/keras#20585, open; tensorflow/tensorflow#72388, closed unfixed):

    - on the first `(x, y)` batch, a structure, to build the model from its shapes and dtypes ("Attempt to
      convert a value (PerReplica ...) to a Tensor"). Averaging batches over workers would not even be
      defined when a global batch splits unevenly (7 examples on 2 workers), so a structure gets this
      worker's first replica's values: a batch with the right shapes and dtypes, all Keras reads.
    - on every step's scalar metrics, with `axis=0` ("Invalid reduction dimension 0 for input with 0
      dimensions"). For scalars the mean over replicas is the reduction with `axis=None`.

    The multi-worker test in tests/apps/common/test_distribute.py shows when Keras no longer needs this.
    """

    def reduce(self, reduce_op, value, axis):
        if isinstance(value, (tuple, list, dict)):
            return tf.nest.map_structure(lambda leaf: self.experimental_local_results(leaf)[0], value)
        if axis is not None and self.experimental_local_results(value)[0].shape.rank == 0:
            axis = None
        return super().reduce(reduce_op, value, axis)


PROBE_INTERVAL_S = 0.5


def wait_for_workers(config, timeout):
    """Returns once every other chief and worker task of the cluster `config` accepts connections.

    TensorFlow's multi-worker strategy waits for its peers for ever, deaf even to SIGTERM, when one of them is
    never started or its address is wrong. Meanwhile this task's own port is held open here, so that its
    peers, waiting the same way, find it; it is closed just before TensorFlow's server takes the port.

    Args:
        config: the parsed `TF_CONFIG` (`tf_config`), with a `cluster`.
        timeout: seconds to wait.

    Raises:
        UsageError: an address that is not `host:port`, this task's port in use, or a task that did not
            answer within `timeout` seconds (the message names each).
    """
    tasks = _cluster_tasks(config["cluster"])
    mine = task(config)
    waiting = {task: address for task, address in tasks.items() if task != mine}
    start = time.monotonic()
    with _holding_port(tasks.get(mine)), Progress(math.ceil(timeout), "waiting for the other workers", "s") as clock:
        while True:
            waiting = {task: address for task, address in waiting.items() if not _answers(address)}
            if not waiting:
                return
            if time.monotonic() - start >= timeout:
                names = ", ".join(f"{kind} {index} at {host}:{port}" for (kind, index), (host, port) in waiting.items())
                raise UsageError(
                    f"--distribute multi-worker: no answer from {names} within {timeout:g} s (is it started, "
                    "and does every machine have the same TF_CONFIG cluster? See --worker-timeout)"
                )
            time.sleep(PROBE_INTERVAL_S)
            clock.update(int(time.monotonic() - start) - clock.done)


def _cluster_tasks(cluster):
    """`{(kind, index): (host, port)}` of the chief and worker tasks of a `TF_CONFIG` cluster."""
    tasks = {}
    for kind in ("chief", "worker"):
        addresses = cluster.get(kind) or []
        items = addresses.items() if isinstance(addresses, dict) else enumerate(addresses)
        for index, address in items:
            host, _, port = str(address).rpartition(":")
            if not host or not port.isdigit():
                raise UsageError(f"TF_CONFIG: {kind} {index} has the address {address!r}; expected host:port")
            tasks[(kind, int(index))] = (host.strip("[]"), int(port))
    return tasks


def _answers(address):
    try:
        socket.create_connection(address, timeout=PROBE_INTERVAL_S).close()
    except OSError:  # refused, unreachable, a name that does not resolve, no answer in time
        return False
    return True


@contextlib.contextmanager
def _holding_port(address):
    """Listens on the port of `address` (on every interface, as TensorFlow's server will) while the block runs."""
    if address is None:
        yield
        return
    family = socket.AF_INET6 if socket.has_dualstack_ipv6() else socket.AF_INET
    try:
        server = socket.create_server(("", address[1]), family=family, dualstack_ipv6=family == socket.AF_INET6)
    except OSError as error:
        raise UsageError(
            f"--distribute multi-worker: this task's port {address[1]} (TF_CONFIG) is in use: {error.strerror}"
        ) from None
    with server:
        yield


def tf_config():
    """The parsed `TF_CONFIG` environment variable: `{"cluster": ..., "task": ...}`, or `{}` when unset.

    Raises:
        UsageError: `TF_CONFIG` is set but is not a JSON object.
    """
    text = os.environ.get("TF_CONFIG", "").strip()
    if not text:
        return {}
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"TF_CONFIG is not valid JSON: {error}") from None
    if not isinstance(config, dict):
        raise UsageError(f"TF_CONFIG must be a JSON object, got {type(config).__name__}")
    return config


def task(config=None):
    """This process's `(task_type, task_index)` from `config` (default: `TF_CONFIG`); `("worker", 0)` without one."""
    spec = (tf_config() if config is None else config).get("task") or {}
    return spec.get("type", "worker"), int(spec.get("index", 0))


def is_chief():
    """Whether this process is the chief: the one that writes models, checkpoints and logs.

    That is the task of type `chief` if the cluster has one, otherwise worker 0 (TensorFlow's convention);
    without `TF_CONFIG`, the only process is the chief.
    """
    mine = task()
    return mine[0] == "chief" or mine == ("worker", 0) and "chief" not in (tf_config().get("cluster") or {})


def set_mixed_precision(enabled):
    """Sets Keras's global dtype policy; call it before building the model.

    With `enabled`, layers compute in half precision and keep float32 weights: `mixed_float16` on a GPU (its
    tensor cores; `Model.compile` then wraps the optimizer in a `LossScaleOptimizer`, since float16
    gradients underflow without loss scaling) or `mixed_bfloat16` on a CPU (float16 is slow there, and
    bfloat16 has float32's exponent range, so it needs no loss scaling). Without, `float32`.

    Returns:
        The policy's name.
    """
    name = "float32" if not enabled else "mixed_float16" if tf.config.list_physical_devices("GPU") else "mixed_bfloat16"
    keras.config.set_dtype_policy(name)
    return name


def to_float32(model):
    """A copy of `model` that computes in float32, with the same (float32) weights.

    Mixed precision is a training-time choice, but Keras saves each layer's dtype policy with the model: a
    bundle trained with `mixed_float16` would compute in float16 on a CPU (slow, and some kernels lack it),
    and a step-by-step sampler would round the recurrent states to 16 bits at every call, where they leave
    the layer (a memory cell adding 0.01 per step stalls at 4.0 in bfloat16). Save and export this copy.

    Args:
        model: a Functional or Sequential model, possibly built under a mixed policy.

    Returns:
        The model itself if no layer is mixed, else a new model with every mixed policy replaced by float32
        (nested layers too, e.g. inside `Bidirectional`) and the same weights and vocabularies (of a
        `TextVectorization` or `StringLookup` in the model); not compiled.
    """
    config = keras.saving.serialize_keras_object(model)
    if not _replace_mixed_policies(config):
        return model
    copy = keras.saving.deserialize_keras_object(config)
    copy.set_weights(model.get_weights())
    for layer in model.layers:
        if hasattr(layer, "set_vocabulary"):  # a lookup table (TextVectorization, StringLookup) is not a weight
            copy.get_layer(layer.name).set_vocabulary(layer.get_vocabulary())
    return copy


def _replace_mixed_policies(config):
    """Rewrites every serialised mixed dtype policy in `config` (in place) to float32; whether any was found."""
    if isinstance(config, dict):
        if config.get("class_name") == "DTypePolicy" and config["config"]["name"].startswith("mixed_"):
            config["config"]["name"] = "float32"
            return True
        config = list(config.values())
    # sum, not any: every policy must be rewritten, not only the first.
    return isinstance(config, list) and sum(map(_replace_mixed_policies, config)) > 0


def make_dataset(x, y=None, global_batch_size=32, *, shuffle=False, seed=None, sample_weight=None):
    """A `tf.data.Dataset` of in-memory arrays batched by the GLOBAL batch size, ready for any strategy.

    Keras splits each global batch across the replicas of the strategy in scope; across workers it is
    `sharded`.

    Args:
        x: an array, or a tuple/dict of arrays with the same first dimension.
        y: targets, or `None` (prediction).
        global_batch_size: examples per step over all replicas.
        shuffle: reshuffle every epoch. A run resumed by `BackupAndRestore` then sees other orders than an
            uninterrupted run would (equally valid, not identical).
        seed: the shuffle's seed.
        sample_weight: optional per-example weights.

    Returns:
        A batched, prefetched `tf.data.Dataset` for `model.fit` / `evaluate` / `predict`.
    """
    elements = x if y is None else (x, y) if sample_weight is None else (x, y, sample_weight)
    dataset = tf.data.Dataset.from_tensor_slices(elements)
    if shuffle:
        dataset = dataset.shuffle(int(dataset.cardinality()), seed=seed, reshuffle_each_iteration=True)
    return sharded(dataset.batch(global_batch_size))


def sharded(dataset):
    """`dataset` of global batches, sharded by element across workers (`AutoShardPolicy.DATA`) and prefetched.

    Every worker reads the same examples and keeps its share of each batch: the policy that works for
    in-memory data and for a single file (FILE sharding needs one file per worker).
    """
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)


def fit_inputs(x, y, batch_size, validation=None, *, strategy=None, seed=None):
    """`model.fit` keyword arguments that feed in-memory arrays, shuffled every epoch.

    Without a strategy, the arrays themselves with `batch_size` and `shuffle=True` (how one-device training
    has always been fed, so its seeded runs stay as they were); under a strategy, `make_dataset` pipelines
    batched by the global `batch_size` and sharded across workers.

    Args:
        x, y: training inputs and targets.
        batch_size: the global batch size.
        validation: `(x_val, y_val)` or `None`.
        strategy: the `tf.distribute` strategy the model was built under, or `None`.
        seed: the shuffle's seed under a strategy (without one, `fit` shuffles from the global seed).

    Returns:
        A dict to pass as `model.fit(**inputs, epochs=..., ...)`.
    """
    if strategy is None:
        return {"x": x, "y": y, "batch_size": batch_size, "shuffle": True, "validation_data": validation}
    return {
        "x": make_dataset(x, y, batch_size, shuffle=True, seed=seed),
        "shuffle": False,
        "validation_data": make_dataset(*validation, batch_size) if validation else None,
    }


@contextlib.contextmanager
def chief_path(path):
    """Yields where this process should write `path`: `path` on the chief, a throw-away path elsewhere.

    Under `MultiWorkerMirroredStrategy` every worker runs the same code, and saving may need all of them to
    take part (reading distributed variables), so every worker saves; only the chief's copy is kept. The
    others write into a temporary directory that is deleted when the block ends, so they never race the
    chief for `path` (Keras's documented multi-worker saving pattern).

    Example::

        with chief_path("saved_models/toy") as path:
            save_bundle(path, model, config)
    """
    if is_chief():
        yield path
        return
    task_type, task_index = task()
    scratch = tempfile.mkdtemp(prefix=f"{task_type}-{task_index}-")
    try:
        yield os.path.join(scratch, os.path.basename(os.path.normpath(path)) or "output")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def backup_callbacks(backup_dir):
    """`[keras.callbacks.BackupAndRestore]` backing up to `backup_dir` every epoch, or `[]` without a directory.

    When a run is interrupted (a worker killed, a machine preempted), rerunning the same command restores the
    weights, the optimizer state and the epoch counter and continues where the last epoch ended; the backup
    is deleted when training completes. Keras 3's callback writes from every process, so workers other than
    the chief back up to their own directory beside it (`<backup_dir>-<type>-<index>`), each restoring its
    own copy of the same synchronous state: the directories never collide, on a shared disk or not.

    Args:
        backup_dir: a directory used for nothing else, or `None`.
    """
    if not backup_dir:
        return []
    if not is_chief():
        task_type, task_index = task()
        backup_dir = f"{os.path.normpath(backup_dir)}-{task_type}-{task_index}"
    return [BackupAndRestore(backup_dir)]


class BackupAndRestore(keras.callbacks.BackupAndRestore):
    """Keras's callback, whose failure to resume (a damaged backup, or one of a model of another shape) is
    a `UsageError` naming the directory, not a traceback (`files.check_work_dirs` finds most such backups
    before TensorFlow loads; this catches what only loading the weights reveals), and whose backup is
    replaced only by a complete one.

    h5py reports a write that failed for want of space only as ignored errors while it frees its objects
    (the process may crash later), and Keras writes the backup in place: so the free space is checked
    before each backup (a full disk is a `UsageError`), and each file is written beside its name and renamed
    onto it. (`_save_model` is Keras 3.15's hook; its `double_checkpoint`, which the apps do not use, is
    left out.)
    """

    def _save_model(self):
        needed = _backup_bytes(self.model, self._weights_path)
        existing = self.backup_dir
        while not os.path.isdir(existing):  # nothing is made until the backup fits
            existing = os.path.dirname(os.path.abspath(existing))
        free = shutil.disk_usage(existing).free
        if free < needed:
            raise UsageError(
                f"no space left on device writing {self._weights_path} ({needed:,} bytes needed, {free:,} free)"
            )
        with files.atomic_path(self._weights_path, suffix=".weights.h5") as tmp:
            self.model.save_weights(tmp)
        with files.atomic_file(self._training_metadata_path, encoding="utf-8") as handle:
            json.dump({"epoch": self._current_epoch, "batch": self._last_batch_seen}, handle)

    def on_train_begin(self, logs=None):
        try:
            super().on_train_begin(logs)
        except (OSError, ValueError, KeyError, TypeError) as error:
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise UsageError(
                f"--backup-dir {self.backup_dir}: training cannot resume from it ({reason[:200]}): delete the "
                "directory to start afresh, or choose another"
            ) from None


def _backup_bytes(model, path):
    """Bytes the backup of `model` at `path` takes: the last one's size, else its variables' with room for
    HDF5's bookkeeping (about 1.2 KiB a variable)."""
    if os.path.isfile(path):
        return os.path.getsize(path)
    variables = [*model.weights, *(model.optimizer.variables if model.optimizer else ())]
    return sum(variable.numpy().nbytes + 4096 for variable in variables) + 65536
