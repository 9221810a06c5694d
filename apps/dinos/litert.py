"""The dinosaur-name model as a LiteRT (`.tflite`) one-step model, and a NumPy loop that samples names from it.

`export` writes `FILE.tflite`, the one-step model in class space (class 0 is the end token, class c is token
c + 1), and beside it `FILE.vocab.txt`, the string of each class, one a line (line 0, the end token, is empty).
The file's signature `serving_default`:

    token int32 (1,), state_0 ... float32 (1, units) -> probabilities float32 (1, classes), state_0 ...

with two states (a, c) per LSTM layer and one (a) per GRU or basic RNN layer, in layer order. A host starts
a name by feeding class 0 with zero states, then feeds each sampled class back until it samples class 0 again.
`sample_names` is that loop in NumPy.
"""

from apps.common import litert
from apps.dinos import data


def side_paths(path):
    """The files `export` writes beside the `.tflite` file `path`."""
    return [litert.beside(path, litert.VOCABULARY)]


def export(model, config, out, quantize="none"):
    """Writes the one-step model of `model` to `out` (a `.tflite` path) and its class strings beside it.

    Args:
        model: the training model of a dinos bundle.
        config: the bundle's config (for the vocabulary).
        out: the `.tflite` path; `side_paths(out)` are written too.
        quantize: one of `apps.common.litert.QUANTIZATIONS`.

    Returns:
        The paths written.

    Raises:
        UsageError: the model needs ops outside LiteRT's built-in set.
    """
    from apps.dinos.model import step_model

    content = litert.convert(litert.step_function(step_model(model)), model.variables, quantize)
    classes = ["", *data.Vocabulary.from_config(config["vocabulary"]).tokens[2:]]
    return litert.write_all({out: content, litert.beside(out, litert.VOCABULARY): litert.lines(classes)})


def read_classes(path):
    """The class strings written beside the `.tflite` file `path` (class 0, the end token, is `""`)."""
    return litert.read_lines(litert.beside(path, litert.VOCABULARY))


def sample_names(path, n=1, max_len=30, temperature=1.0, top_k=0, seed=None, uniforms=None):
    """Samples `n` names from the `.tflite` file `path` with NumPy and the LiteRT interpreter.

    Args:
        path: a file written by `export`.
        n: names to sample.
        max_len: the most characters a name gets (one that reaches it is cut there).
        temperature, top_k: as for `apps.common.litert.sample`.
        seed: the compiled sampler's seed, whose draws are used when `uniforms` is not given.
        uniforms: optional float array (n, max_len + 1), the draws of each name's steps.

    Returns:
        A list of `(name, log_prob, ended)`: log_prob in nats, of the name's characters and, when it ended
        before `max_len` characters, of the end token.
    """

    classes = read_classes(path)
    step = litert.StepRunner(path)
    if uniforms is None:
        uniforms = litert.draws(seed, max_len + 1, n)
    names = []
    for row in uniforms[:n]:
        tokens, log_probs = litert.sample(
            step,
            [data.END_CLASS],
            max_len + 1,
            uniforms=row,
            temperature=temperature,
            top_k=top_k,
            end_token=data.END_CLASS,
        )
        ended = tokens[-1] == data.END_CLASS
        kept = len(tokens) if ended else max_len
        names.append(("".join(classes[token] for token in tokens[:kept]), float(log_probs[:kept].sum()), ended))
    return names
