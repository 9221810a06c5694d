"""Training throughput of each app's model as its `train` builds and compiles it, against Keras's own layers.

Tables, each measured side by side in one run (variants take turns round after round, so a noisy shared
machine slows them alike; throughputs are medians over rounds, ratios the median of each round's ratio, per wall
second and per CPU second of the process):

- apps: for dinos, jazz and sentiment, the shipped configuration (`saved_models/<app>/config.json`; jazz: its
  windows, vocabulary and head, the `train` defaults otherwise) built by the app's own `build_model` and
  compiled by its own helper with the compile options its `train` defaults to ("app train"), against the same
  model with `keras.layers.LSTM`/`GRU` in place of our layer and Keras's default compile ("keras"), and against
  other compile options the app could take. The data
  are synthetic, of the app's shapes: names padded to the longest (masked), jazz windows, sentences of SST's
  length distribution bucketed by `apps.sentiment.train.make_dataset` (its variants under XLA train as `train
  --jit-compile` does, from ids made in the pipeline in a few fixed lengths: `apps.sentiment.train.IdsInPipeline`).
- cases: our layer with the fused path (`use_fused_bptt=True`) against Keras's generic loop (the same layer with
  `use_fused_bptt=False`) under the same compile, for each masked case: TensorFlow without XLA, TensorFlow with
  XLA (`jit_compile=True, steps_per_execution=10`) and JAX (`KERAS_BACKEND=jax`, in a subprocess).
- floor (TensorFlow only, not part of "all"): for sentiment, Keras's layer against the matrix products that
  training any exact layer of its shapes must do (`matmul_floor`), and with the recurrence's share of the app's
  step, the most any recurrent layer could speed the app up (`speedup_bound`).

    python benchmarks/apps.py                    # both tables, both cells; JSON in benchmarks/results/apps.json
    python benchmarks/apps.py --quick            # LSTM apps' train against Keras, two cases: 4 min at load 9
    python benchmarks/apps.py --part apps --apps dinos --cells gru --rounds 5
    python benchmarks/apps.py --part floor       # sentiment: the most any exact recurrent layer could give it
"""

import argparse
import contextlib
import inspect
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from unittest import mock

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import keras  # noqa: E402

# How the apps may compile a recurrent model: XLA, and several steps per call to cut `fit`'s per-call overhead.
XLA = {"jit_compile": True, "steps_per_execution": 10}
NO_XLA = {"jit_compile": False, "steps_per_execution": 1}
# SST sentences (train and dev): about 19 tokens on average, the longest 52.
SST_MEAN_TOKENS, SST_MAX_TOKENS = 19, 52


def _config(app):
    with open(os.path.join(ROOT, "saved_models", app, "config.json"), encoding="utf-8") as handle:
        return json.load(handle)


def _default(function, name):
    return inspect.signature(function).parameters[name].default


def _keras_recurrent_layer(cell, units, *, use_fused_bptt=False, **kwargs):
    """`apps.common.cells.recurrent_layer` with Keras's own layer: the baseline's model, otherwise the same."""
    del use_fused_bptt
    if cell == "lstm":
        return keras.layers.LSTM(units, **kwargs)
    if cell == "gru":
        return keras.layers.GRU(units, reset_after=True, **kwargs)
    raise ValueError(f"no Keras layer stands for cell {cell!r}")


def _fused(fused):
    """`recurrent_layer` with `use_fused_bptt` forced to `fused`, whatever the app asks for."""
    from apps.common.cells import recurrent_layer

    def make(*args, use_fused_bptt=False, **kwargs):
        return recurrent_layer(*args, use_fused_bptt=fused, **kwargs)

    return make


@keras.saving.register_keras_serializable(package="benchmarks")
class NoRecurrence(keras.layers.Layer):
    """A per-step Dense(units, tanh) where the app has a recurrent layer: the model's training step without any
    recurrence, so its speed is the most that any recurrent layer, however fast, could give the app (Amdahl)."""

    def __init__(self, units, return_sequences=True, go_backwards=False, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.dense = keras.layers.Dense(units, activation="tanh")
        self.return_sequences = return_sequences
        self.go_backwards = go_backwards  # `Bidirectional` copies the layer with it flipped
        self.return_state = self.stateful = False
        self.supports_masking = True

    def build(self, input_shape):
        self.dense.build(input_shape)

    def call(self, x, mask=None, initial_state=None, training=None):
        del initial_state, training
        y = self.dense(x)
        return y if self.return_sequences else y[:, 0 if self.go_backwards else -1]

    def compute_mask(self, x, mask=None):
        return mask if self.return_sequences else None

    def compute_output_shape(self, input_shape):
        steps = (input_shape[1],) if self.return_sequences else ()
        return (input_shape[0], *steps, self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "return_sequences": self.return_sequences,
            "go_backwards": self.go_backwards,
        }


def _no_recurrence(cell, units, *, return_sequences=True, name=None, **kwargs):
    del cell, kwargs
    return NoRecurrence(units, return_sequences, name=name)


@contextlib.contextmanager
def _layer_maker(module, kind):
    """Builds the app's model with its own recurrent layers (`kind` "app"), Keras's ("keras"), ours with the
    fused path forced on ("fused") or off ("loop"), or none at all ("none": `NoRecurrence`)."""
    if kind == "app":
        yield
        return
    if kind == "none":
        maker = _no_recurrence
    else:
        maker = _keras_recurrent_layer if kind == "keras" else _fused(kind == "fused")
    with mock.patch.object(module, "recurrent_layer", maker):
        yield


# --- the apps ------------------------------------------------------------------------------------------------


def dinos_setup(cell, layer_kind, compile_args, steps):
    """(model, fit arguments) of the shipped dinos configuration on random names of its length histogram."""
    from apps.common.training import compile_language_model
    from apps.dinos import data
    from apps.dinos import model as dinos_model
    from apps.dinos import train as dinos_train

    config = _config("dinos")
    hyper, training = dict(config["model"]), config["training"]
    hyper.pop("parameters")
    hyper["cell"] = cell
    lengths = [int(k) for k, count in config["training_lengths"].items() for _ in range(count)]
    rng = np.random.default_rng(0)
    letters = np.array(config["vocabulary"]["characters"])
    batch = training["batch_size"]
    names = ["".join(rng.choice(letters, size=rng.choice(lengths))) for _ in range(steps * batch)]
    vocab = data.Vocabulary(config["vocabulary"]["characters"])
    x, y = data.make_arrays(names, vocab)
    with _layer_maker(dinos_model, layer_kind):
        model = dinos_model.build_model(
            len(vocab), seed=0, use_fused_bptt=_default(dinos_train.train, "use_fused_bptt"), **hyper
        )
    if compile_args is None:  # as `train` compiles by default
        compile_args = {name: _default(dinos_train.train, name) for name in ("jit_compile", "steps_per_execution")}
    if compile_args == "keras":
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    else:
        compile_language_model(
            model,
            training["learning_rate"],
            training["clipnorm"],
            ema_momentum=training["ema_momentum"],
            **compile_args,
        )
    return model, {"x": x, "y": y, "batch_size": batch, "shuffle": False}


def jazz_setup(cell, layer_kind, compile_args, steps):
    """(model, fit arguments) of jazz's `train` defaults on random windows (tokens and chord features)."""
    from apps.common.training import compile_language_model
    from apps.jazz import conditioning
    from apps.jazz import config as jazz_config
    from apps.jazz import model as jazz_model
    from apps.jazz import train as jazz_train

    defaults, shipped = jazz_config.Hyperparameters(), _config("jazz")
    num_tokens = len(shipped["vocabulary"]) + 1
    batch, seq_len = defaults.batch_size, shipped["seq_len"]
    rng = np.random.default_rng(0)
    y = rng.integers(1, num_tokens, size=(steps * batch, seq_len)).astype("int32")
    tokens = np.concatenate([np.zeros_like(y[:, :1]), y[:, :-1]], axis=1)
    x = tokens
    if defaults.conditioning_mode == "changes":
        features = rng.random((steps * batch, seq_len, conditioning.SIZE)).astype("float32")
        x = {"tokens": tokens, "conditions": features}
    with _layer_maker(jazz_model, layer_kind):
        model = jazz_model.build_model(
            num_tokens,
            cell=cell,
            units=defaults.units,
            embedding_dim=defaults.embedding_dim,
            dropout=defaults.dropout,
            seed=0,
            conditioning=defaults.conditioning_mode,
            use_fused_bptt=_default(jazz_train.train, "use_fused_bptt"),
            head=shipped.get("head", "joint"),
            token_strings=shipped["vocabulary"],
        )
    if compile_args == "keras":
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    else:
        if compile_args is None:
            compile_args = {name: _default(jazz_train.train, name) for name in ("jit_compile", "steps_per_execution")}
        compile_language_model(model, defaults.learning_rate, 1.0, **compile_args)  # `train` clips at 1.0
    return model, {"x": x, "y": y, "batch_size": batch, "shuffle": False}


def sentence_lengths(rng, count):
    """Token counts of SST-like sentences: mean about `SST_MEAN_TOKENS`, at most `SST_MAX_TOKENS`, at least 1."""
    lengths = rng.gamma(4.0, SST_MEAN_TOKENS / 4.0, size=count).round().astype(int)
    return np.clip(lengths, 1, SST_MAX_TOKENS)


def sentiment_setup(cell, layer_kind, compile_args, steps):
    """(model, fit arguments) of the shipped SST-5 configuration on random sentences, bucketed as in training."""
    from apps.sentiment import model as sentiment_model
    from apps.sentiment import train as sentiment_train
    from apps.sentiment.data import Examples

    config = _config("sentiment")
    rng = np.random.default_rng(0)
    words = np.array([f"w{i}" for i in range(config["vocabulary_size"])])
    # Zipf-like word frequencies, so that the vocabulary adapted on them is as large as the shipped one.
    weights = 1.0 / np.arange(1, len(words) + 1)
    weights /= weights.sum()
    count = max(steps * config["batch_size"], 4096)
    texts = [" ".join(rng.choice(words, size=n, p=weights)) for n in sentence_lengths(rng, count)]
    labels = rng.integers(0, config["num_classes"], size=count).tolist()
    examples = Examples(texts, labels, "synthetic")
    vectorizer = sentiment_model.make_vectorizer(texts, config["max_tokens"])
    with _layer_maker(sentiment_model, layer_kind):
        model = sentiment_model.build_model(
            vectorizer,
            config["num_classes"],
            cell=cell,
            units=config["units"],
            num_layers=config["layers"],
            bidirectional=config["bidirectional"],
            embedding_dim=config["embedding_dim"],
            dropout=config["dropout"],
            word_dropout=config["word_dropout"],
            pooling=config["pooling"],
            max_length=config["max_length"],
        )
    if compile_args is None:
        compile_args = {name: _default(sentiment_train.train, name) for name in ("jit_compile", "steps_per_execution")}
    to_ids = None
    if compile_args != "keras" and compile_args["jit_compile"]:
        # As `train` does under XLA: ids made in the pipeline, padded to a few fixed lengths.
        to_ids = sentiment_train.IdsInPipeline(model)
        model = to_ids.model
    dataset = sentiment_train.make_dataset(examples, config["batch_size"], shuffle_seed=0, to_ids=to_ids)
    if compile_args == "keras":
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    else:
        sentiment_train.compile_model(model, config["learning_rate"], **compile_args)
    return model, {"x": dataset, "steps_per_epoch": steps}


APPS = {"dinos": dinos_setup, "jazz": jazz_setup, "sentiment": sentiment_setup}

# name -> (layer kind, compile arguments: None as the app's `train` by default, "keras" Keras's default)
APP_VARIANTS = {
    "keras": ("keras", "keras"),
    "app train": ("app", None),
    "ours loop": ("loop", NO_XLA),
    "ours loop spe10": ("loop", {"jit_compile": False, "steps_per_execution": 10}),
    "ours fused": ("fused", NO_XLA),
    "ours fused, app compile": ("fused", None),
    "keras XLA": ("keras", XLA),
    "ours loop XLA": ("loop", XLA),
    "ours fused XLA": ("fused", XLA),
    # The ceiling: the app's model and compile without a recurrence.
    "no recurrence": ("none", None),
}


def steps_per_second(model, fit_args, steps):
    """(steps per wall second, steps per CPU second of this process) of one `fit` call of `steps` steps."""
    wall, cpu = time.perf_counter(), time.process_time()
    model.fit(**fit_args, epochs=1, verbose=0)
    return steps / (time.perf_counter() - wall), steps / (time.process_time() - cpu)


def calls_per_second(function, steps):
    """(calls per wall second, calls per CPU second of this process) of `steps` calls of `function`."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        function()
    return steps / (time.perf_counter() - wall), steps / (time.process_time() - cpu)


def paired(setups, rounds, steps, baseline, timer=steps_per_second):
    """Times each of `setups` (name -> arguments of `timer`: by default (model, fit arguments)) once per round,
    in turn; rows of medians."""
    for setup in setups.values():  # compile and warm up outside the timed rounds
        timer(*setup, steps)
    samples = {name: [] for name in setups}
    for index in range(rounds):
        # Every other round in reverse, so that no variant always follows the same one.
        order = list(setups) if index % 2 == 0 else list(reversed(setups))
        for name in order:
            samples[name].append(timer(*setups[name], steps))
    return [
        {
            "variant": name,
            "steps_per_s": statistics.median(wall for wall, _ in samples[name]),
            "steps_per_cpu_s": statistics.median(cpu for _, cpu in samples[name]),
            "ratio": statistics.median(a[0] / b[0] for a, b in zip(samples[name], samples[baseline])),
            "cpu_ratio": statistics.median(a[1] / b[1] for a, b in zip(samples[name], samples[baseline])),
            "samples_wall_cpu": samples[name],
        }
        for name in setups
    ]


def _described(model):
    """What the JSON records of a timed model: how it was compiled, whether a recurrent layer takes the fused path,
    and its size (the variants of one table are the same model but for "no recurrence")."""
    recurrent = []
    for layer in model.layers:
        recurrent += (
            [layer.forward_layer, layer.backward_layer] if isinstance(layer, keras.layers.Bidirectional) else [layer]
        )
    return {
        "jit_compile": bool(model.jit_compile),
        "steps_per_execution": model.steps_per_execution,
        "fused": any(getattr(layer, "use_fused_bptt", False) for layer in recurrent),
        "parameters": model.count_params(),
    }


def run_apps(apps, cells, variants, rounds, steps):
    tables = []
    for app in apps:
        for cell in cells:
            names = ["keras"] + [name for name in variants if name != "keras"]
            setups = {}
            for name in names:
                kind, compile_args = APP_VARIANTS[name]
                keras.utils.set_random_seed(0)
                setups[name] = APPS[app](cell, kind, compile_args, steps)
            compiled = {name: _described(model) for name, (model, _) in setups.items()}
            rows = paired(setups, rounds, steps, "keras")
            tables.append({"app": app, "cell": cell, "compiled": compiled, "rows": rows})
            _print_table(f"{app} --cell {cell}", rows, compiled)
    return tables


# --- the cases: fused path against Keras's loop under the same compile ----------------------------------------

CASES = {
    "LSTM masked": ("lstm", {}, False),
    "LSTM masked, recurrent dropout": ("lstm", {"dropout": 0.25, "recurrent_dropout": 0.25}, False),
    "LSTM masked, Bidirectional": ("lstm", {}, True),
    "GRU reset_after=True masked": ("gru", {"reset_after": True}, False),
    "GRU reset_after=False masked": ("gru", {"reset_after": False}, False),
    "GRU simplified masked": ("gru", {"reset_gate": False}, False),
    "GRU masked, recurrent dropout": ("gru", {"reset_after": True, "recurrent_dropout": 0.25}, False),
    "GRU masked, Bidirectional": ("gru", {"reset_after": True}, True),
}
CASE_SHAPE = {"T": 24, "D": 32, "H": 64, "B": 32}  # a dinos-sized batch of padded sequences


def case_model(case, fused, compile_args):
    import layers

    cell, options, bidirectional = CASES[case]
    shape = CASE_SHAPE
    inputs = keras.Input((shape["T"], shape["D"]))
    layer_class = layers.LSTM if cell == "lstm" else layers.GRU
    layer = layer_class(shape["H"], return_sequences=True, use_fused_bptt=fused, seed=0, **options)
    if bidirectional:
        layer = keras.layers.Bidirectional(layer)
    outputs = keras.layers.Dense(1)(layer(keras.layers.Masking(0.0)(inputs)))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="mse", **compile_args)
    return model


def case_data(steps):
    """Right-padded sequences of 1 to T steps (names, sentences), zeros where padded."""
    shape = CASE_SHAPE
    rng = np.random.default_rng(0)
    x = rng.normal(size=(steps * shape["B"], shape["T"], shape["D"])).astype("float32")
    lengths = rng.integers(1, shape["T"] + 1, size=len(x))
    x[np.arange(shape["T"])[None, :] >= lengths[:, None]] = 0.0
    y = rng.normal(size=(len(x), shape["T"], 1)).astype("float32")
    return {"x": x, "y": y, "batch_size": shape["B"], "shuffle": False}


def run_cases_here(cases, modes, rounds, steps):
    """Fused against loop for each case under each compile mode this process's backend offers."""
    compiles = {"TF": {}, "TF XLA": XLA, "JAX": XLA}
    data = case_data(steps)
    results = []
    for mode in modes:
        for case in cases:
            keras.utils.set_random_seed(0)
            setups = {
                "loop": (case_model(case, False, compiles[mode]), data),
                "fused": (case_model(case, True, compiles[mode]), data),
            }
            rows = paired(setups, rounds, steps, "loop")
            results.append({"case": case, "mode": mode, "rows": rows})
            fused = rows[1]
            print(
                f"{mode:7s} {case:32s} fused/loop {fused['ratio']:5.2f}x wall {fused['cpu_ratio']:5.2f}x cpu",
                flush=True,
            )
    return results


def run_cases(cases, modes, rounds, steps):
    here = [mode for mode in modes if mode != "JAX"]
    results = run_cases_here(cases, here, rounds, steps) if here else []
    if "JAX" in modes:
        command = [sys.executable, os.path.abspath(__file__), "--jax-child", "--rounds", str(rounds)]
        command += ["--steps", str(steps), "--cases", *cases]
        env = {**os.environ, "KERAS_BACKEND": "jax"}
        child = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if child.returncode != 0:
            print(f"JAX run failed:\n{child.stderr[-3000:]}", file=sys.stderr)
        else:
            lines = child.stdout.splitlines()
            print("\n".join(lines[:-1]), flush=True)
            results += json.loads(lines[-1])
    return results


# --- the floor: how fast could an exact recurrent layer be at all? --------------------------------------------

# A batch of the bucket that holds SST's mean sentence (`apps.sentiment.train.BUCKET_BOUNDARIES`): 14 to 19 tokens.
FLOOR_LENGTHS = (14, 19)
GATES = {"lstm": 4, "gru": 3}


def matmul_floor(batch, steps, features, units, gates, directions):
    """A `tf.function` doing only the matrix products that training any exact recurrent layer of these shapes
    must do, and nothing else (no element-wise work, no masks): per direction, x·W for all steps at once, `steps`
    products a·U one after the other (each needs the previous state), `steps` products dz·Uᵀ one after the other
    backwards, then dU, dW and dx as one large product each. Its time is a floor for the layer's forward and
    backward pass: a layer that reached it would run as fast as this CPU multiplies such matrices."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(batch * steps, features)).astype("float32"))
    weights = [
        (
            tf.constant(rng.normal(size=(features, gates * units)).astype("float32")),
            # Scaled so that the state neither dies out nor blows up over the steps: products of zeros or of
            # subnormal numbers would time something else.
            tf.constant((rng.normal(size=(units, gates * units)) / np.sqrt(gates * units)).astype("float32")),
        )
        for _ in range(directions)
    ]
    start = tf.constant(rng.normal(size=(batch, units)).astype("float32"))

    def one_direction(kernel, recurrent_kernel):
        projected = tf.matmul(x, kernel)

        def forward(t, a, zs):
            z = tf.matmul(a, recurrent_kernel)
            return t + 1, z[:, :units], zs.write(t, z)

        _, _, zs = tf.while_loop(lambda t, *_: t < steps, forward, (0, start, tf.TensorArray(tf.float32, steps)))
        states = tf.reshape(zs.stack()[..., :units], (-1, units))

        def backward(t, da, dzs):
            dz = tf.concat([da] * gates, axis=-1)
            return t + 1, tf.matmul(dz, recurrent_kernel, transpose_b=True), dzs.write(t, dz)

        _, _, dzs = tf.while_loop(lambda t, *_: t < steps, backward, (0, start, tf.TensorArray(tf.float32, steps)))
        dz_rows = tf.reshape(dzs.stack(), (-1, gates * units))
        d_recurrent = tf.matmul(states, dz_rows, transpose_a=True)
        d_kernel = tf.matmul(x, dz_rows, transpose_a=True)
        dx = tf.matmul(dz_rows, kernel, transpose_b=True)
        return projected, d_recurrent, d_kernel, dx

    @tf.function(jit_compile=False)
    def run():
        return [one_direction(*pair) for pair in weights]  # the directions are independent: TF may overlap them

    return run


def keras_layer_step(cell, batch, steps, features, units, directions):
    """A `tf.function`: forward and backward of Keras's own layer (its weights and the inputs), on right-padded,
    masked sequences of `FLOOR_LENGTHS` tokens, without XLA (TensorFlow's generic loop, as Keras runs on a CPU)."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(batch, steps, features)).astype("float32"))
    lengths = rng.integers(FLOOR_LENGTHS[0], FLOOR_LENGTHS[1] + 1, size=batch)
    mask = tf.constant(np.arange(steps)[None, :] < lengths[:, None])
    layer = keras.layers.LSTM(units) if cell == "lstm" else keras.layers.GRU(units)
    if directions == 2:
        layer = keras.layers.Bidirectional(layer)
    layer.build((batch, steps, features))
    probe = tf.constant(rng.normal(size=(batch, directions * units)).astype("float32"))

    @tf.function(jit_compile=False)
    def run():
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(layer(x, mask=mask, training=True) * probe)
        return tape.gradient(loss, [x, *layer.trainable_variables])

    return run


def padded_row_share(batches=300):
    """Of the rows (sentence, step) of the batches sentiment trains on (SST-like sentences in the app's own
    buckets, `make_dataset`), the share that is padding: what a layer that skipped padded rows would save."""
    import tensorflow as tf

    from apps.sentiment import train as sentiment_train
    from apps.sentiment.data import Examples

    lengths = sentence_lengths(np.random.default_rng(0), 20000)
    examples = Examples([" ".join(["w"] * n) for n in lengths], [0] * len(lengths), "synthetic")
    dataset = sentiment_train.make_dataset(examples, _config("sentiment")["batch_size"], shuffle_seed=0)
    real = padded = 0
    for texts, _ in dataset.take(batches):
        words = tf.strings.split(texts).row_lengths().numpy()
        real, padded = real + words.sum(), padded + words.max() * len(words)
    return 1.0 - real / padded


def speedup_bound(recurrent_share, layer_speedup):
    """Amdahl: the most a step whose recurrent layer takes `recurrent_share` of its time can gain when that
    layer runs `layer_speedup` times as fast."""
    return 1.0 / (1.0 - recurrent_share + recurrent_share / layer_speedup)


def run_floor(cells, rounds, steps):
    """For sentiment: Keras's layer against the matmul floor (how much faster any exact layer could be), the
    recurrent layer's share of the app's step (Keras's layers against "no recurrence"), and so the most any
    recurrent layer could give the app, in one run."""
    config = _config("sentiment")
    batch, units, features = config["batch_size"], config["units"], config["embedding_dim"]
    directions, length = 1 + bool(config["bidirectional"]), FLOOR_LENGTHS[1]
    padding = padded_row_share()
    print(f"padding: {padding:.0%} of the rows of the app's bucketed batches", flush=True)
    results = []
    for cell in cells:
        timed = {
            "keras layer": (keras_layer_step(cell, batch, length, features, units, directions),),
            "matmul floor": (matmul_floor(batch, length, features, units, GATES[cell], directions),),
        }
        layer_rows = paired(timed, rounds, steps, "keras layer", timer=calls_per_second)
        layer_speedup = layer_rows[1]["ratio"]
        setups = {}
        for name in ("keras", "no recurrence"):
            kind, compile_args = APP_VARIANTS[name]
            keras.utils.set_random_seed(0)
            setups[name] = sentiment_setup(cell, kind, compile_args, steps)
        rows = paired(setups, rounds, steps, "keras")
        share = 1.0 - 1.0 / rows[1]["ratio"]  # of Keras's step, the part the recurrence takes
        bound = speedup_bound(share, layer_speedup)
        result = {
            "cell": cell,
            "shape": {"batch": batch, "steps": length, "features": features, "units": units, "directions": directions},
            "keras_layer_ms": 1000 / layer_rows[0]["steps_per_s"],
            "matmul_floor_ms": 1000 / layer_rows[1]["steps_per_s"],
            "layer_speedup_at_most": layer_speedup,
            "recurrent_share_of_step": share,
            "app_speedup_at_most": bound,
            "padded_row_share": padding,
            "app_speedup_at_most_skipping_padding": speedup_bound(share, layer_speedup / (1.0 - padding)),
            "layer_rows": layer_rows,
            "apps_rows": rows,
        }
        results.append(result)
        print(
            f"\nsentiment --cell {cell}: Keras's layer {result['keras_layer_ms']:.2f} ms, matmul floor "
            f"{result['matmul_floor_ms']:.2f} ms: an exact layer at most {layer_speedup:.2f}x as fast\n"
            f"  the recurrence takes {share:.0%} of Keras's step (no recurrence: {rows[1]['ratio']:.2f}x), so any "
            f"recurrent layer gives the app at most {bound:.2f}x ({result['app_speedup_at_most_skipping_padding']:.2f}x "
            "if it also skipped the padded rows)",
            flush=True,
        )
    return results


# --- output -----------------------------------------------------------------------------------------------------


def _print_table(title, rows, compiled):
    print(f"\n{title}")
    print(f"{'variant':18s} {'XLA':>4s} {'steps/s':>8s} {'ratio':>6s} {'steps/cpu-s':>12s} {'ratio':>6s}")
    for row in rows:
        xla = "yes" if compiled[row["variant"]]["jit_compile"] else "no"
        print(
            f"{row['variant']:18s} {xla:>4s} {row['steps_per_s']:8.2f} {row['ratio']:5.2f}x "
            f"{row['steps_per_cpu_s']:12.2f} {row['cpu_ratio']:5.2f}x",
            flush=True,
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--part",
        choices=["apps", "cases", "floor", "all"],
        default="all",
        help="floor (not in all): sentiment's bound from the matmul floor",
    )
    parser.add_argument("--apps", nargs="+", choices=list(APPS), default=list(APPS))
    parser.add_argument("--cells", nargs="+", choices=["lstm", "gru"], default=["lstm", "gru"])
    parser.add_argument(
        "--variants",
        nargs="+",
        choices=list(APP_VARIANTS),
        default=list(APP_VARIANTS),
        help="apps table ('keras' always)",
    )
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--modes", nargs="+", choices=["TF", "TF XLA", "JAX"], default=["TF", "TF XLA", "JAX"])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=40, help="training steps per round (one fit call)")
    parser.add_argument(
        "--quick", action="store_true", help="3 rounds of 20 steps: each app's train against Keras (LSTM), two cases"
    )
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results", "apps.json"))
    parser.add_argument("--jax-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.steps, args.cells, args.variants = 3, 20, ["lstm"], ["app train"]
        args.cases = ["LSTM masked, recurrent dropout", "GRU masked, Bidirectional"]
    if args.jax_child:
        results = run_cases_here(args.cases, ["JAX"], args.rounds, args.steps)
        print(json.dumps(results))
        return 0

    load = os.getloadavg()
    print(f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; {args.rounds} rounds x {args.steps} steps")
    results = {
        "keras": keras.__version__,
        "machine": f"{platform.machine()} {os.cpu_count()} cpus",
        "load_average_start": load,
        "rounds": args.rounds,
        "steps": args.steps,
    }
    if args.part in ("apps", "all"):
        results["apps"] = run_apps(args.apps, args.cells, args.variants, args.rounds, args.steps)
    if args.part in ("cases", "all"):
        print(f"\ncases: {CASE_SHAPE}, fused path against Keras's loop, same compile")
        results["cases"] = run_cases(args.cases, args.modes, args.rounds, args.steps)
    if args.part == "floor":
        results["floor"] = run_floor(args.cells, args.rounds, args.steps)
    results["load_average_end"] = os.getloadavg()
    print(f"\nload average at the end {results['load_average_end'][0]:.1f}")
    from apps.common.files import atomic_file

    with atomic_file(args.out, encoding="utf-8") as handle:
        json.dump(results, handle, indent=2)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
