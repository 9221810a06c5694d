"""The sentiment classifier as a LiteRT (`.tflite`) model from token ids on, with what a host needs beside it.

`TextVectorization` does not convert to LiteRT (its string ops are not built in), so the `.tflite` file starts
after it, and a host does the standardisation, the split and the vocabulary look-up itself, exactly as
`standardize`, `split` and `token_ids` below (and docs/litert.md) spell out. `export` writes:

- `FILE.tflite`: signature `serving_default`, `token_ids` int32 (1, T) -> `probabilities` float32 (1, classes),
  any T (T = 0 for a text without tokens); tokens after the model's `max_length` are ignored.
- `FILE.vocab.txt`: the vocabulary, one token a line; line i (from 0) is id i. Line 0 (padding) is empty,
  line 1 is `[UNK]`, the id of every word not in the list.
- `FILE.examples.json`: `labels`, `max_length`, and example sentences with their standardised text, token ids
  and the Keras model's probabilities, for a host's tests.

`predict` reads the model and its vocabulary and answers with the Keras model's probabilities (to about 1e-6);
`python -m apps.sentiment predict` answers with it, without importing TensorFlow, when the bundle carries the
file (`apps.common.runtime`).
"""

import json
import re

import numpy as np

from apps.common import litert
from apps.common.progress import track
from apps.sentiment.config import PTB_RULES

PADDING_ID, OOV_ID = 0, 1
EXAMPLES = [
    "There is nothing to like in this movie.",
    "A gorgeous, witty, seductive movie.",
    "It isn't good (at all)!",
    "\"Wow\"... I'd say it's the film we've been waiting for; they'll love it, I'm sure.",
    "Don't   miss\tit:\nthe CAST is Superb?",
    "Café Zoë: naïve über-déjà vu",
    "",
]
"""Sentences that exercise every rule of `standardize` (the last one has no tokens)."""

# TensorFlow's regular expressions are RE2's, whose \w and \b are ASCII: re.ASCII gives Python the same.
_RULES = [(re.compile(pattern, re.ASCII), replacement) for pattern, replacement in PTB_RULES]
_SPLIT = re.compile(r"[ \t\n\v\f\r]+")  # TextVectorization's "whitespace" split: tf.strings.split's ASCII set


def standardize(text):
    """`apps.sentiment.model.standardize_ptb` in Python: lower-case, then the regular-expression rules in order."""
    text = text.lower()
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


def split(text):
    """The tokens of a standardised text: split on ASCII white space (space, \\t, \\n, \\v, \\f, \\r)."""
    return [token for token in _SPLIT.split(text) if token]


def token_ids(text, ids):
    """The model's input for a raw `text`: int32 (1, T), each token's id in `ids` (token -> id), else `OOV_ID`."""
    return np.array([[ids.get(token, OOV_ID) for token in split(standardize(text))]], "int32").reshape(1, -1)


def side_paths(path):
    """The vocabulary and examples files `export` writes beside the `.tflite` file `path`."""
    return [litert.beside(path, litert.VOCABULARY), litert.beside(path, ".examples.json")]


def export(model, config, out, quantize="none"):
    """Writes the classifier of `model` from token ids on to `out` (`.tflite`), its vocabulary and examples.

    Returns:
        The paths written.

    Raises:
        UsageError: the model needs ops outside LiteRT's built-in set.
    """
    import keras
    import tensorflow as tf

    vectorizer = model.get_layer("vectorizer")
    classifier = keras.Model(vectorizer.output, model.output)

    @tf.function(input_signature=[tf.TensorSpec([1, None], tf.int32, name="token_ids")], autograph=False)
    def classify(token_ids):
        return {"probabilities": classifier(token_ids, training=False)}

    content = litert.convert(classify, model.variables, quantize)
    vocabulary = vectorizer.get_vocabulary()
    ids = {token: index for index, token in enumerate(vocabulary)}
    inputs = [token_ids(text, ids) for text in EXAMPLES]
    examples = [
        {
            "text": text,
            "standardized": standardize(text),
            "token_ids": tokens[0].tolist(),
            "probabilities": classifier(tokens, training=False).numpy()[0].tolist(),
        }
        for text, tokens in zip(EXAMPLES, inputs)
    ]
    vocab_path, examples_path = side_paths(out)
    written = {"labels": config["labels"], "max_length": config.get("max_length"), "examples": examples}
    return litert.write_all(
        {
            out: content,
            vocab_path: litert.lines(vocabulary),
            examples_path: json.dumps(written, indent=1, ensure_ascii=False),
        }
    )


def read_vocabulary(path):
    """token -> id, from the vocabulary written beside the `.tflite` file `path`."""
    lines = litert.read_lines(side_paths(path)[0])
    return {token: index for index, token in enumerate(lines) if index != PADDING_ID}


def predict(path, texts):
    """Class probabilities, float32 (len(texts), classes), of raw `texts` from the `.tflite` file `path`, one text
    an invoke (the file's batch size is 1), drawing a progress line on a terminal (`apps.common.progress`)."""
    ids = read_vocabulary(path)
    runner = litert.interpreter(path).get_signature_runner(litert.SIGNATURE)
    classes = int(runner.get_output_details()["probabilities"]["shape"][-1])
    rows = [runner(token_ids=token_ids(text, ids))["probabilities"][0] for text in track(texts, "classifying", "text")]
    return np.array(rows, "float32").reshape(len(texts), classes)
