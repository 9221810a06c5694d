"""Using a trained bundle: predict labels for texts, evaluate on labelled data (the SavedModel: `export`).

`predict` answers with the Keras model or with the bundle's LiteRT model (`apps.sentiment.litert.predict`); only
the Keras functions import TensorFlow, when called, so the LiteRT path never loads it.
"""

import numpy as np

from apps.common.errors import UsageError
from apps.common.progress import keras_progress

PREDICT_BATCH = 256


def probabilities(model, texts, batch_size=PREDICT_BATCH):
    """Class probabilities, float32 (len(texts), classes), for a list of raw strings.

    Args:
        model: the Keras model, or the path of the bundle's `.tflite` file (answered one text at a time by
            `apps.sentiment.litert.predict`, without TensorFlow).
    """
    if isinstance(model, str):
        from apps.sentiment import litert

        return litert.predict(model, list(texts))
    if not texts:
        return np.zeros((0, model.output_shape[-1]), "float32")
    import tensorflow as tf

    batches = tf.data.Dataset.from_tensor_slices(tf.constant(list(texts), tf.string)).batch(batch_size)
    return model.predict(batches, verbose=0, callbacks=[keras_progress("classifying")])


def stars(label_id, num_classes):
    """1-5 stars for a 5-class (SST-5) label id, `None` for any other number of classes."""
    return label_id + 1 if num_classes == 5 else None


def predict(model, config, texts, batch_size=PREDICT_BATCH):
    """Predicts each text's class.

    Args:
        model: as for `probabilities`: the Keras model or the path of the bundle's `.tflite` file.
        config: the bundle's config (`labels`).
        texts: raw strings.

    Returns:
        One dict per text: `text`, `label` (name), `label_id`, `stars` (1-5, or `None` unless 5 classes),
        `probabilities` (label name -> probability) and `judged`. A text of white space only is not judged:
        `judged` is false and `label`, `label_id`, `stars` and `probabilities` are `None` (the model would
        answer with its prior, which reads like a confident opinion about nothing).
    """
    rows = iter(probabilities(model, [text for text in texts if text.strip()], batch_size))
    unjudged = {"label": None, "label_id": None, "stars": None, "probabilities": None, "judged": False}
    return [
        _answer(text, next(rows), config["labels"]) if text.strip() else {"text": text, **unjudged} for text in texts
    ]


def _answer(text, row, names):
    label_id = int(np.argmax(row))
    return {
        "text": text,
        "label": names[label_id],
        "label_id": label_id,
        "stars": stars(label_id, len(names)),
        "probabilities": {name: float(p) for name, p in zip(names, row)},
        "judged": True,
    }


def evaluate(model, config, examples, batch_size=PREDICT_BATCH):
    """Scores the model on labelled `examples`.

    Returns:
        A dict: `accuracy`, `macro_f1` (unweighted mean of the per-class F1), `per_class` (list of dicts with
        `label`, `precision`, `recall`, `f1`, `support`), `confusion` (rows: true class, columns: predicted),
        `labels` and `examples`.

    Raises:
        UsageError: a label outside the model's classes.
    """
    names = config["labels"]
    truth = np.asarray(examples.labels)
    if truth.size and truth.max() >= len(names):
        raise UsageError(
            f"{examples.source}: label {truth.max()} is out of range for this "
            f"{len(names)}-class model (expected 0..{len(names) - 1})"
        )
    import tensorflow as tf

    predicted = probabilities(model, examples.texts, batch_size).argmax(axis=1)
    confusion = tf.math.confusion_matrix(truth, predicted, num_classes=len(names)).numpy()
    true_positives = np.diag(confusion).astype("float64")
    # A class never predicted (or absent) has precision (recall) 0, not NaN, as in scikit-learn's default.
    precision = np.divide(
        true_positives, confusion.sum(axis=0), out=np.zeros(len(names)), where=confusion.sum(axis=0) > 0
    )
    recall = np.divide(true_positives, confusion.sum(axis=1), out=np.zeros(len(names)), where=confusion.sum(axis=1) > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(len(names)), where=precision + recall > 0)
    per_class = [
        {"label": name, "precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for name, p, r, f, s in zip(names, precision, recall, f1, confusion.sum(axis=1))
    ]
    return {
        "examples": int(truth.size),
        "accuracy": float(true_positives.sum() / truth.size),
        "macro_f1": float(f1.mean()),
        "per_class": per_class,
        "confusion": confusion.tolist(),
        "labels": list(names),
    }
