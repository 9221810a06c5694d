"""LiteRT (TensorFlow Lite) export shared by the apps: conversion, the interpreter, a NumPy sampler.

A `.tflite` file runs on a phone or a Raspberry Pi with the plain LiteRT runtime, so conversion allows
built-in ops only (no Flex/Select-TF ops) and fails, as a `UsageError`, on a model that needs any other.
Inputs have a fixed batch size of 1: our LSTM then converts to a `WHILE` loop of built-in ops with a free time
dimension, while a free batch size fails inside TensorFlow's list ops ("TensorListReserve requires
element_shape to be static").

The one-step models of the generative apps are driven by a host loop, `sample`, that mirrors
`apps.common.sampling.Sampler` in NumPy. Its uniform draws are the compiled sampler's, computed without
TensorFlow (`draws`, from `apps.common.philox`), so the same seed picks the same tokens on either runtime.

The interpreter is `ai_edge_litert` (extra `litert`); `tf.lite.Interpreter` is deprecated.
"""

import contextlib
import os
import re

import numpy as np

from apps.common import philox, registry
from apps.common.bundle import load_bundle
from apps.common.cli import printable
from apps.common.errors import UsageError
from apps.common.files import MARKER, atomic_path, check_output_file, is_ours

SUFFIX = ".tflite"
FORMATS = ("savedmodel", "litert")
QUANTIZATIONS = ("none", "dynamic")
"""`--quantize`: `dynamic` stores the weights in 8 bits (post-training dynamic-range quantisation)."""
SIGNATURE = "serving_default"


def add_format_arguments(parser):
    """Adds `--format` and `--quantize` to an app's `export` command."""
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="savedmodel",
        help="savedmodel: a directory for TensorFlow; litert: a .tflite file for the LiteRT "
        "runtime (phones, Raspberry Pi), files for the host beside it (default: %(default)s)",
    )
    parser.add_argument(
        "--quantize",
        choices=QUANTIZATIONS,
        default="none",
        help="litert only: dynamic stores the weights in 8 bits, about 3.5 times smaller (default: %(default)s)",
    )


def requested(args):
    """Whether an `export` command asks for LiteRT; `--quantize` without it is a mistake (`UsageError`)."""
    if args.format != "litert" and args.quantize != "none":
        raise UsageError("--quantize applies to --format litert only")
    return args.format == "litert"


def export_command(args, app):
    """Runs `export --format litert`: checks every output path before TensorFlow loads, loads `app`'s bundle,
    converts it with the app's `litert` module (`apps.common.registry`), writes the files and reports them.

    Args:
        args: the parsed arguments (`model`, `out`, `force`, `quantize`).
        app: the app's name, as registered.
    """
    out = check_output_file(args.out, [SUFFIX], force=args.force)
    module = registry.module(app, "litert")
    for path in module.side_paths(out):
        # The files beside a `.tflite` file of ours were written with it: they go with it.
        check_output_file(path, force=args.force, ours=lambda _: is_ours(out))
    model, config = load_bundle(args.model, app=app)
    written = module.export(model, config, out, args.quantize)
    print(
        f"exported {printable(written[0])} ({os.path.getsize(written[0]):,} bytes, ops: "
        f"{' '.join(op_names(written[0]))}); beside it {printable(', '.join(written[1:]))}"
    )


def convert(function, variables, quantize="none"):
    """Converts a traced function to a LiteRT flatbuffer of built-in ops.

    Args:
        function: a `tf.function` with an `input_signature` of fixed batch size, returning a dict of named
            outputs; it becomes the model's one signature, `serving_default`, with the input and output names.
        variables: the Keras variables the function reads; the converter folds them into constants (left
            untracked, they would become resource variables that the interpreter starts as NaN).
        quantize: one of `QUANTIZATIONS`.

    Returns:
        The `.tflite` file's bytes.

    Raises:
        UsageError: the function needs an op outside LiteRT's built-in set (one line naming the op).
    """
    import tensorflow as tf

    if quantize not in QUANTIZATIONS:
        raise ValueError(f"quantize must be one of {QUANTIZATIONS}; got {quantize!r}")
    holder = tf.Module()
    holder.variables_ = [variable.value for variable in variables]
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function.get_concrete_function()], holder)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantize == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    try:
        content = converter.convert()
    except Exception as error:  # noqa: BLE001  the converter raises ConverterError with pages of MLIR diagnostics
        ops = sorted(set(re.findall(r"'(tf\.\w+)' op is neither a custom op nor a flex op", str(error))))
        detail = (
            "needs ops outside LiteRT's built-in set: " + ", ".join(ops)
            if ops
            else (str(error).strip().splitlines() or [type(error).__name__])[0]
        )
        raise UsageError(f"the model cannot be converted to LiteRT: {detail}") from None
    return _marked(content)


def _marked(content):
    """The flatbuffer `content` with `MARKER` as the model's description (the converter writes "MLIR Converted.")."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    model.description = MARKER.encode()
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


VOCABULARY = ".vocab.txt"
"""The suffix of the token list an app writes beside its `.tflite` file (one token a line, id order)."""


def beside(path, suffix):
    """The file written beside the `.tflite` file `path` with `suffix` in place of `.tflite`."""
    return os.path.splitext(path)[0] + suffix


def read_lines(path):
    """The lines of a file written from `lines`, without their newlines."""
    with open(path, encoding="utf-8", newline="\n") as handle:
        return [line[:-1] for line in handle]


def write_all(contents):
    """Writes every file of `contents` (path -> bytes, or str written as UTF-8) or none of them: each goes to a
    temporary file beside its path, and all are renamed into place only once every one is written."""
    with contextlib.ExitStack() as stack:
        for path, content in contents.items():
            tmp = stack.enter_context(atomic_path(path))
            with open(tmp, "wb") as handle:
                handle.write(content if isinstance(content, bytes) else content.encode("utf-8"))
    return list(contents)


def lines(items):
    """`items` as the text of a file, one a line (what `read_lines` reads back)."""
    return "".join(f"{item}\n" for item in items)


def interpreter(model):
    """A LiteRT interpreter for `model` (a `.tflite` path or its bytes), tensors allocated.

    Raises:
        UsageError: the `ai-edge-litert` package is missing, or the file is not a LiteRT model.
    """
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise UsageError(
            'running a .tflite file needs the ai-edge-litert package: pip install "ai-edge-litert>=2.1,<3"'
        ) from None
    try:
        result = (
            Interpreter(model_content=bytes(model))
            if isinstance(model, (bytes, bytearray))
            else Interpreter(model_path=str(model))
        )
        result.allocate_tensors()
    except ValueError as error:
        raise UsageError(
            f"{model if isinstance(model, str) else 'model'} is not a LiteRT model: "
            f"{str(error).strip().splitlines()[0] if str(error).strip() else 'unreadable'}"
        ) from None
    return result


def op_names(model):
    """The sorted names of the ops a `.tflite` model (path or bytes) runs, in every subgraph (a `WHILE` loop's
    body included), e.g. `['FULLY_CONNECTED', 'WHILE', ...]`; an op outside the built-in set is `CUSTOM`."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.python.schema_util import get_builtin_code_from_operator_code

    if not isinstance(model, (bytes, bytearray)):
        with open(model, "rb") as handle:
            model = handle.read()
    names = {code: name for name, code in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
    parsed = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(model, 0))
    codes = [names[get_builtin_code_from_operator_code(code)] for code in parsed.operatorCodes]
    return sorted({codes[op.opcodeIndex] for graph in parsed.subgraphs for op in graph.operators or []})


class StepRunner:
    """A one-step model in a `.tflite` file: `[token, (conditions,) *states] -> [probabilities, *states]`.

    The file's signature (as `apps.common.litert.step_function` writes it) takes `token` int32 (1,),
    `conditions` float32 (1, F) for a conditioned model, and `state_0`, `state_1`, ... float32 (1, n); it
    returns `probabilities` float32 (1, V) and the new `state_0`, ...

    Args:
        model: path or bytes of the `.tflite` file.
    """

    def __init__(self, model):
        self.runner = interpreter(model).get_signature_runner(SIGNATURE)
        inputs = self.runner.get_input_details()
        self.state_names = sorted(
            (name for name in inputs if name.startswith("state_")), key=lambda name: int(name.split("_")[1])
        )
        self.state_shapes = [tuple(inputs[name]["shape"]) for name in self.state_names]
        self.conditioned = "conditions" in inputs

    def initial_states(self):
        """Zero states, as the compiled sampler starts."""
        return [np.zeros(shape, "float32") for shape in self.state_shapes]

    def __call__(self, token, states, conditions=None):
        """One step: returns `(probabilities (V,) float32, new states)`."""
        feed = {"token": np.asarray([token], "int32"), **dict(zip(self.state_names, states))}
        if self.conditioned:
            feed["conditions"] = np.asarray(conditions, "float32").reshape(1, -1)
        out = self.runner(**feed)
        return out["probabilities"][0], [out[name] for name in self.state_names]


def step_function(step_model, conditions_size=None):
    """The `tf.function` that `convert` turns into a one-step `.tflite` file (the signature `StepRunner` reads).

    Args:
        step_model: an `apps.common.sampling.StepModel`.
        conditions_size: F, the features per step of a conditioned step model; `None` for a token-only one.
    """
    import tensorflow as tf

    specs = [tf.TensorSpec([1], tf.int32, name="token")]
    if conditions_size is not None:
        specs.append(tf.TensorSpec([1, conditions_size], tf.float32, name="conditions"))
    specs += [tf.TensorSpec([1, size], tf.float32, name=f"state_{i}") for i, size in enumerate(step_model.state_sizes)]

    @tf.function(input_signature=specs, autograph=False)
    def step(*inputs):
        outputs = step_model(list(inputs), training=False)
        return {"probabilities": outputs[0], **{f"state_{i}": state for i, state in enumerate(outputs[1:])}}

    return step


def sample(
    step,
    prefix,
    steps,
    uniforms=None,
    seed=None,
    temperature=1.0,
    top_k=0,
    end_token=None,
    conditions=None,
    durations=None,
):
    """Samples one sequence from a one-step model, as `apps.common.sampling.Sampler` does for one row.

    The prefix is fed first; then, at step t, the token is the first whose cumulative weight reaches
    (1 - u_t) times the total, the weights being the probabilities raised to 1/temperature, zero outside the
    `top_k` likeliest. After `end_token` the sequence stops.

    Args:
        step: a `StepRunner` (or any callable `(token, states, conditions) -> (probabilities, states)` with
            `initial_states()`).
        prefix: the tokens fed first (a start token alone is a prefix of length 1).
        steps: the most tokens sampled after the prefix.
        uniforms: the draws u_0, u_1, ... in [0, 1), at least `steps` of them; `None`: `draws(seed, steps)[0]`,
            the compiled sampler's for a batch's first row.
        temperature: > 0; below 1 sharpens the distribution, above 1 flattens it.
        top_k: sample among the k likeliest tokens only (0: all).
        end_token: the id that ends a sequence (included in the result), or `None`.
        conditions: for a conditioned model, float32 (S, F): row s holds the features of a token whose onset
            is s time steps after the start, as for `apps.common.sampling.ConditionedSampler`.
        durations: for a conditioned model, each token's duration in time steps.

    Returns:
        `(tokens, log_probs)`: the sampled ids (list) and each one's log-probability under the unmodified
        distribution (float64 array).

    Example:

        tokens, log_probs = sample(StepRunner("names.tflite"), [0], 30, seed=7, end_token=0)
    """
    if uniforms is None:
        uniforms = draws(seed, steps)[0]
    uniforms = np.asarray(uniforms, "float64")
    if len(uniforms) < steps:
        raise ValueError(f"{steps} steps need as many uniform draws; got {len(uniforms)}")
    states, onset = step.initial_states(), 0

    def advance(token, states, onset):
        if conditions is None:
            return (*step(token, states), onset)
        onset += int(durations[token])
        return (*step(token, states, conditions[min(onset, len(conditions) - 1)]), onset)

    for token in prefix:
        probs, states, onset = advance(int(token), states, onset)
    tokens, log_probs = [], []
    for t in range(steps):
        weights = _tempered_top_k(probs.astype("float32"), temperature, top_k)
        cumulative = np.cumsum(weights, dtype="float32")
        target = np.float32(1.0 - np.float32(uniforms[t])) * cumulative[-1]
        token = int(np.searchsorted(cumulative, target, side="left"))
        tokens.append(token)
        log_probs.append(np.log(probs[token], dtype="float64"))
        if token == end_token:
            break
        probs, states, onset = advance(token, states, onset)
    return tokens, np.array(log_probs, "float64")


def draws(seed, steps, rows=1):
    """The uniform draws of the compiled sampler (`apps.common.sampling.Sampler`) with seed `seed`: float32
    (rows, steps), row r's draw at step t being element r of `tf.random.stateless_uniform([batch], seed=[seed, t])`
    for any batch of more than r rows (Philox fills a vector element by element, so the first r + 1 elements do not
    depend on its length)."""
    return np.stack([philox.stateless_uniform([rows], (seed, t)) for t in range(steps)], axis=1).reshape(rows, steps)


def _tempered_top_k(probs, temperature, top_k):
    """As `apps.common.sampling._tempered_top_k`, in NumPy: scaled by the largest before the power, so that a
    low temperature cannot underflow every weight."""
    weights = probs
    if temperature != 1.0:
        with np.errstate(divide="ignore"):  # a probability of exactly 0 gets weight exp(-inf) = 0, as in TensorFlow
            weights = np.exp(np.log(probs / probs.max()) / np.float32(temperature))
    if 0 < top_k < len(probs):
        weights = np.where(probs < np.sort(probs)[-top_k], 0.0, weights).astype("float32")
    return weights
