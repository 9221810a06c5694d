"""Which words decided: a signed score per token for one class of the sentiment model.

Two methods, both over the tokens the model actually read (the first `max_length` of the standardised text):

- Integrated gradients (Sundararajan et al. 2017, "Axiomatic attribution for deep networks"), the default. With
  x the text's word vectors (a model with several embeddings: all of theirs together), x' = 0 the baseline (the same
  tokens, mask and length, each vector zero: the network reads a text of blank words) and f the probability of
  the explained class, token t scores

      φ_t = Σ_d x_td · ∫₀¹ ∂f/∂x_td(x' + α (x − x')) dα,

  the integral by Gauss–Legendre quadrature with `steps` nodes (default 32). The scores are complete: they add
  up to f(x) − f(x') (tested within 1% at 32 nodes), so each is a share of how far the text moved the
  probability away from the blank text's. Through several embeddings (a bundle trained as an ensemble of
  networks, each with its own) the path runs through all of them at once and a token's score sums its shares
  in each, so completeness holds for the averaged answer.
- Occlusion: φ_t = f(x) − f(x without token t), the text read again with that one token dropped. It needs
  no gradients (any model would do), but misses words that back each other up ("bad and boring": dropping
  either leaves the other), which is why integrated gradients is the default.

A positive score pushes towards the explained class (the predicted one unless another is asked for), a
negative one away from it. `Explainer` holds the TensorFlow functions the exported SavedModel's `explain`
signature also calls, so a server answers with the same numbers.
"""

import functools

import keras
import numpy as np
import tensorflow as tf

from apps.common.progress import Progress
from apps.sentiment.config import EXPLAIN_METHODS as METHODS
from apps.sentiment.model import TokenWindow

DEFAULT_STEPS = 32
EXPLAIN_BATCH = 16
"""Texts explained together: integrated gradients runs `steps` copies of each."""


class Explainer:
    """The parts of a strings -> probabilities sentiment model an explanation needs, and the explaining
    functions.

    Args:
        model: a model of `apps.sentiment.model.build_model`, or `group_classes` of one, as a bundle holds
            it: a `TextVectorization`, a `TokenWindow` and one or more `Embedding`s (several: an ensemble's
            networks averaged).
        steps: Gauss–Legendre nodes of the integrated-gradients integral.

    Example:
        >>> explainer = Explainer(model)
        >>> ids = explainer.token_ids(tf.constant(["not good"]))
        >>> scores, probs, baseline = explainer.integrated_gradients(ids, tf.constant([0]))
    """

    def __init__(self, model, steps=DEFAULT_STEPS):
        if not isinstance(steps, int) or steps < 1:
            raise ValueError(f"Invalid `steps`: expected a positive integer, got {steps!r}")
        windows = [layer for layer in model.layers if isinstance(layer, TokenWindow)]
        vectorizers = [layer for layer in model.layers if isinstance(layer, keras.layers.TextVectorization)]
        self.embeddings = [layer for layer in model.layers if isinstance(layer, keras.layers.Embedding)]
        if len(windows) != 1 or len(vectorizers) != 1 or not self.embeddings:
            raise ValueError(
                "Invalid `model`: expected a sentiment model (one TextVectorization, one "
                "TokenWindow, one or more Embeddings)"
            )
        window, self.vectorizer = windows[0], vectorizers[0]
        self.max_length = window.max_length
        self.standardize = self.vectorizer.get_config()["standardize"]
        if not callable(self.standardize):  # the tokens shown must be the ones the vectorizer made
            raise ValueError(
                f"Invalid `model`: expected its TextVectorization to standardise with a function "
                f"(as `standardize_ptb`), got {self.standardize!r}"
            )
        self.model = model
        self.token_ids = keras.Model(model.inputs, window.output)
        # The same layers from the token ids and the word vectors on: the mask is computed from the ids
        # inside the graph, so the interpolated vectors keep the text's own mask.
        self.from_vectors = keras.Model([window.output] + [layer.output for layer in self.embeddings], model.outputs)
        self.from_ids = keras.Model(window.output, model.outputs)
        nodes, weights = np.polynomial.legendre.leggauss(steps)
        self.steps = steps
        self.alphas = tf.constant((nodes + 1) / 2, tf.float32)
        self.weights = tf.constant(weights / 2, tf.float32)

    def words(self, texts):
        """The standardised words of `texts` as the model reads them: string (batch, time), "" after a text's
        end, as wide as `token_ids`; and each text's number of words before the window cut it."""
        ragged = tf.strings.split(self.standardize(texts))
        width = tf.shape(self.token_ids(texts))[1]
        return ragged.to_tensor("", shape=tf.stack([tf.shape(texts)[0], width])), ragged.row_lengths()

    def vectors(self, ids):
        """Each embedding's word vectors of `ids` (batch, time): a list of (batch, time, embedding_dim)."""
        return [tf.gather(tf.convert_to_tensor(layer.embeddings), ids) for layer in self.embeddings]

    # One trace for every batch: tracing the tape through the recurrent layers costs seconds.
    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int64), tf.TensorSpec([None], tf.int32)])
    def integrated_gradients(self, ids, targets):
        """Integrated-gradients scores of token ids (batch, time) for the classes `targets` (batch,).

        Returns:
            `(scores, probabilities, baseline)`: float32 (batch, time), zero on padding; the model's
            probabilities (batch, classes) for the texts; and f(x') (batch,), the target's probability at the
            all-zero-vector baseline.
        """
        vectors = self.vectors(ids)
        batch, steps = tf.shape(ids)[0], self.steps
        tiled_ids = tf.tile(ids, [steps + 1, 1])
        tiled_targets = tf.tile(targets, [steps + 1])
        # Rows step*batch .. (step+1)*batch - 1 hold node `step`; the last block is the baseline (alpha 0).
        alphas = tf.concat([self.alphas, [0.0]], 0)
        with tf.GradientTape() as tape:
            points = [
                tf.reshape(alphas[:, None, None, None] * x[None], tf.concat([[-1], tf.shape(x)[1:]], 0))
                for x in vectors
            ]
            tape.watch(points)
            probs = self.from_vectors([tiled_ids] + points, training=False)
            chosen = tf.gather(probs, tiled_targets, batch_dims=1)
        scores = 0.0
        for x, gradient in zip(vectors, tape.gradient(chosen, points)):
            gradient = tf.reshape(gradient, tf.concat([[steps + 1], tf.shape(x)], 0))[:steps]
            mean_gradient = tf.tensordot(self.weights, gradient, axes=1)
            scores += tf.reduce_sum(x * mean_gradient, axis=-1)
        scores *= tf.cast(ids != 0, scores.dtype)
        return scores, self.model_probabilities(ids), chosen[steps * batch :]

    def model_probabilities(self, ids):
        """The model's class probabilities (batch, classes) for token ids (batch, time)."""
        return self.from_ids(ids, training=False)

    def occlusion(self, ids, targets):
        """Occlusion scores (NumPy float32 (batch, time)) of token ids for the classes `targets`: the target's
        probability minus that of the text with the token dropped (the later tokens move up one place)."""
        ids, targets = np.asarray(ids), np.asarray(targets)
        batch, time = ids.shape
        variants = np.zeros((batch, time, time), ids.dtype)
        for position in range(time):
            variants[:, position, : time - 1] = np.delete(ids, position, axis=1)
        probs = self.from_ids(np.concatenate([ids, variants.reshape(-1, time)]), training=False).numpy()
        full = probs[np.arange(batch), targets]
        dropped = probs[batch:].reshape(batch, time, -1)[np.arange(batch), :, targets]
        return ((full[:, None] - dropped) * (ids != 0)).astype("float32"), probs[:batch]

    def serve(self, texts):
        """The exported `explain` signature: integrated gradients for the predicted class of each text.

        Returns:
            A dict: `tokens` string (batch, time) ("" after a text's end), `scores` float32 (batch, time),
            `label_ids` int32 (batch,), `probabilities` float32 (batch, classes), `baseline` float32 (batch,)
            and `truncated` bool (batch,): the text had more words than the model reads.
        """
        ids = self.token_ids(texts)
        targets = tf.argmax(self.model_probabilities(ids), axis=-1, output_type=tf.int32)
        scores, probs, baseline = self.integrated_gradients(ids, targets)
        words, lengths = self.words(texts)
        return {
            "tokens": words,
            "scores": scores,
            "label_ids": targets,
            "probabilities": probs,
            "baseline": baseline,
            "truncated": lengths > self.max_length,
        }


def explain(
    model,
    texts,
    *,
    labels=None,
    method="integrated-gradients",
    target=None,
    steps=DEFAULT_STEPS,
    batch_size=EXPLAIN_BATCH,
    explainer=None,
):
    """Explains the sentiment model's answer for each text: its tokens and a signed score per token.

    Args:
        model: a sentiment model (see `Explainer`); ignored when `explainer` is given.
        texts: list of raw strings.
        labels: the class names (a bundle's `config["labels"]`); default: the class ids as strings.
        method: `"integrated-gradients"` or `"occlusion"` (see the module docstring).
        target: the class to explain, a name or id; default: each text's predicted class.
        steps: Gauss–Legendre nodes of integrated gradients.
        batch_size: texts explained together.
        explainer: an `Explainer` of the model, to reuse its traced functions across calls.

    Returns:
        One dict per text: `text`, `judged` (false for an empty or whitespace-only text, which is not judged,
        as by `predict`: then `tokens` and `scores` are empty and the label fields `None`), `tokens` (the
        standardised words the model read), `scores` (one float per token), `unknown` (per token: not in the
        vocabulary, read as `[UNK]`), `truncated` (the text had more than the model's `max_length` words; the
        rest was not read and is not shown), `words` (the text's number of words), `label`, `label_id`
        (the explained class), `probability` (its probability), `method`, and for integrated gradients
        `steps` and `baseline` (the class's probability at the baseline: the scores add up to
        `probability - baseline`).

    Raises:
        ValueError: an unknown `method` or `target`.

    Example (`saved_models/sentiment-sst2`, scores rounded):
        >>> result = explain(model, ["A dull, lifeless film."], labels=config["labels"])[0]
        >>> result["label"], result["tokens"], result["scores"]
        ('negative', ['a', 'dull', ',', 'lifeless', 'film', '.'], [-0.024, 0.279, -0.029, 0.354, -0.049, 0.026])
        >>> result["probability"], result["baseline"]                   # the scores add up to 0.997 - 0.439
        (0.997, 0.439)
    """
    if method not in METHODS:
        raise ValueError(f"Invalid `method`: expected one of {', '.join(METHODS)}, got {method!r}")
    explainer = explainer or _explainer(model, steps)
    num_classes = explainer.model.output_shape[-1]
    names = list(labels) if labels is not None else [str(index) for index in range(num_classes)]
    if target is not None:
        if target in names:
            target = names.index(target)
        elif not (isinstance(target, (int, np.integer)) and 0 <= target < num_classes):
            raise ValueError(
                f"Invalid `target`: expected a class name ({', '.join(names)}) or an id from 0 to "
                f"{num_classes - 1}, got {target!r}"
            )
    judged = [text for text in texts if text.strip()]
    integral = {"steps": explainer.steps} if method == "integrated-gradients" else {}
    done = []
    with Progress(len(judged), "explaining", "text") as progress:
        for start in range(0, len(judged), batch_size):
            batch = judged[start : start + batch_size]
            done += [
                {"judged": True, **result, "label": names[result["label_id"]], "method": method, **integral}
                for result in _explain_batch(explainer, batch, method, target)
            ]
            progress.update(len(batch))
    explained = iter(done)
    return [{"text": text, **next(explained)} if text.strip() else _unjudged(text, method) for text in texts]


def _unjudged(text, method):
    return {
        "text": text,
        "judged": False,
        "tokens": [],
        "scores": [],
        "unknown": [],
        "truncated": False,
        "words": 0,
        "label": None,
        "label_id": None,
        "probability": None,
        "method": method,
    }


@functools.lru_cache(maxsize=1)
def _explainer(model, steps):
    """The `Explainer` of the last model explained: explaining it again reuses the traced functions, and no
    more than one model is kept alive for it."""
    return Explainer(model, steps)


def _explain_batch(explainer, texts, method, target):
    strings = tf.constant(texts)
    ids = explainer.token_ids(strings)
    probs = explainer.model_probabilities(ids).numpy()
    targets = probs.argmax(axis=1) if target is None else np.full(len(texts), target)
    if method == "integrated-gradients":
        scores, _, baseline = explainer.integrated_gradients(ids, tf.constant(targets, tf.int32))
        scores, baseline = scores.numpy(), baseline.numpy()
    else:
        scores, _ = explainer.occlusion(ids.numpy(), targets)
        baseline = None
    words, lengths = explainer.words(strings)
    ids, words, lengths = ids.numpy(), words.numpy(), lengths.numpy()
    for row, label_id in enumerate(targets):
        count = int(min(lengths[row], explainer.max_length))
        result = {
            "tokens": [word.decode("utf-8") for word in words[row, :count]],
            "scores": [float(score) for score in scores[row, :count]],
            "unknown": [bool(token == 1) for token in ids[row, :count]],
            "truncated": bool(lengths[row] > explainer.max_length),
            "words": int(lengths[row]),
            "label_id": int(label_id),
            "probability": float(probs[row, label_id]),
        }
        if baseline is not None:
            result["baseline"] = float(baseline[row])
        yield result


def confident_errors(model, examples, count, *, labels=None, method="integrated-gradients", steps=DEFAULT_STEPS):
    """The `count` wrong answers the model is surest of on labelled `examples`, explained: the quickest way
    to see what it gets wrong.

    Args:
        model: a sentiment model (see `Explainer`).
        examples: `apps.sentiment.data.Examples` (texts and class ids, already checked against the model).
        count: most errors returned.
        labels, method, steps: as in `explain`.

    Returns:
        Up to `count` dicts of `explain` (for the predicted class), surest first, each with `true_label` and
        `true_label_id` added.
    """
    from apps.sentiment.predict import probabilities

    probs = probabilities(model, examples.texts)
    predicted = probs.argmax(axis=1)
    wrong = np.flatnonzero(predicted != np.asarray(examples.labels, dtype=int))
    chosen = wrong[np.argsort(-probs[wrong, predicted[wrong]], kind="stable")][:count]
    results = explain(model, [examples.texts[index] for index in chosen], labels=labels, method=method, steps=steps)
    names = list(labels) if labels is not None else [str(index) for index in range(probs.shape[1])]
    for index, result in zip(chosen, results):
        result["true_label_id"] = int(examples.labels[index])
        result["true_label"] = names[result["true_label_id"]]
    return results
