"""The dinosaur-name model as a LiteRT (`.tflite`) one-step model, and a NumPy loop that samples names from it.

`export` writes `FILE.tflite`, the one-step model in class space (class 0 is the end token, class c is token
c + 1), and beside it `FILE.vocab.txt`, the string of each class, one a line (line 0, the end token, is empty).
The file's signature `serving_default`:

    token int32 (1,), state_0 ... float32 (1, units) -> probabilities float32 (1, classes), state_0 ...

with two states (a, c) per LSTM layer and one (a) per GRU or basic RNN layer, in layer order. A host starts
a name by feeding class 0 with zero states, then feeds each sampled class back until it samples class 0 again.
`sample_names` is that loop in NumPy.

A bundle carries the same files (`apps.common.runtime.LITERT_FILE` and its vocabulary): `sample` and `score`
answer on them, without TensorFlow, with `NameSampler` and `score_names`, which give the names and
log-probabilities of `apps.dinos.sample.NameSampler` and `apps.dinos.evaluate.score_names`.
"""

import numpy as np

from apps.common import litert
from apps.dinos import data
from apps.dinos.sample import draw_names


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


def _forced(step, classes):
    """Feeds `classes` to `step` from zero states: `(log_prob, probs, states)`, the log-probability in nats of
    `classes[1:]` (each given the ones before it) and the probabilities and states after the last one."""
    log_prob, probs, states = 0.0, None, step.initial_states()
    for token in classes:
        if probs is not None:
            log_prob += _log(probs[token])
        probs, states = step(token, states)
    return log_prob, probs, states


def _log(probability):
    # Floored as `apps.dinos.evaluate.token_log_probs` floors it: a probability rounded to 0 scores -690.8.
    return float(np.log(max(float(probability), 1e-300)))


class _FromPrefix:
    """`step` as `litert.sample` drives it from a name's prefix: the steps through the start token and the
    prefix, the same for every name, run once.

    `litert.sample(self, [self.last], ...)` starts from `initial_states()`, a marker for "before the last
    prefix class", and its first step returns the probabilities and states computed here.

    Args:
        step: a `litert.StepRunner`.
        classes: the start class, then the prefix's classes.
    """

    def __init__(self, step, classes):
        self.step = step
        self.last = classes[-1]
        self.log_prob, *self.first = _forced(step, classes)
        self.start = object()

    def initial_states(self):
        return self.start

    def __call__(self, token, states):
        return self.first if states is self.start else self.step(token, states)


class NameSampler:
    """`apps.dinos.sample.NameSampler` on a LiteRT file, one name at a time: the same names for the same seed.

    Row r of a round's batch draws `litert.draws(round_seed, steps, rows)[r]`, what the compiled sampler's row r
    draws, and the rows are read in order until enough names are accepted.

    Args:
        path: the `.tflite` file (a bundle's `apps.common.runtime.LITERT_FILE`), its vocabulary beside it.
        config: the bundle's config (vocabulary, `max_len`, `seen_digests`).
    """

    def __init__(self, path, config):
        self.step = litert.StepRunner(path)
        self.classes = read_classes(path)
        self.config = config
        self.vocab = data.Vocabulary.from_config(config["vocabulary"])
        self.seen = set(config.get("seen_digests", ()))

    def sample_rows(self, rows, prefix="", max_len=None, temperature=1.0, top_k=0, seed=0):
        """The rows of `apps.dinos.sample.NameSampler.sample_batch(rows, ...)`, one at a time: yields
        `(name, log_prob, ended)` for row 0, 1, ... of the batch (log_prob of what was sampled after the prefix).
        """
        prefix, start, steps = self._start(prefix, max_len)
        options = dict(temperature=temperature, top_k=top_k, end_token=data.END_CLASS)
        for uniforms in litert.draws(seed, steps, rows):
            tokens, log_probs = litert.sample(start, [start.last], steps, uniforms=uniforms, **options)
            ended = tokens[-1] == data.END_CLASS
            yield (
                prefix + "".join(self.classes[token] for token in tokens[: len(tokens) - ended]),
                log_probs.sum(),
                ended,
            )

    def sample(self, n, prefix="", max_len=None, temperature=1.0, top_k=0, seed=0, novel=False):
        """As `apps.dinos.sample.NameSampler.sample`: a list of `(name, log_prob)`.

        Raises:
            UsageError: the prefix holds unknown characters or is too long, or too few names qualified.
        """
        _, start, _ = self._start(prefix, max_len)
        return draw_names(
            lambda rows, seed: self.sample_rows(rows, prefix, max_len, temperature, top_k, seed),
            n,
            seed,
            novel,
            self.seen,
            start.log_prob,
            max_len or self.config["max_len"],
        )

    def _start(self, prefix, max_len):
        """`(prefix, start, steps)`: the normalised prefix, its `_FromPrefix` and the steps sampled after it."""
        max_len = max_len or self.config["max_len"]
        prefix, ids = self.vocab.encode_prefix(prefix, max_len)
        # The name may use all max_len characters and still needs one step to emit its end token.
        return prefix, _FromPrefix(self.step, [data.END_CLASS] + [i - 1 for i in ids]), max_len - len(prefix) + 1


def score_names(path, vocab, names):
    """As `apps.dinos.evaluate.score_names`, teacher-forced through the `.tflite` file `path`: log P(name) in
    nats for each of `names`, end token included (float64 array)."""
    step = litert.StepRunner(path)
    scores = np.zeros(len(names))
    for i, name in enumerate(names):
        log_prob, probs, _ = _forced(step, [data.END_CLASS] + [token - 1 for token in vocab.encode(name)])
        scores[i] = log_prob + _log(probs[data.END_CLASS])
    return scores
