"""Pictures a person would rather look at than read: training curves and confusion matrices.

matplotlib is the optional extra `plot`; without it these functions warn once and return `None`.
"""

import warnings

from apps.common.files import atomic_path


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        warnings.warn("matplotlib is not installed (pip install 'sequence-models[plot]'): no plot written")
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure, path):
    """Writes a matplotlib `figure` as a PNG to `path` atomically, closes it and returns `path`."""
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=100, format="png")
    plt.close(figure)
    return path


def plot_history(history, path, title="training"):
    """Saves the curves of a Keras `History.history` dict (each metric beside its `val_` twin) as a PNG.

    Returns the path written, or `None` without matplotlib.
    """
    plt = _pyplot()
    if plt is None:
        return None
    metrics = [name for name in history if not name.startswith("val_")]
    figure, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.5), squeeze=False)
    for axis, name in zip(axes[0], metrics):
        epochs = range(1, len(history[name]) + 1)
        axis.plot(epochs, history[name], marker="o", label="train")
        if f"val_{name}" in history:
            axis.plot(epochs, history[f"val_{name}"], marker="o", label="validation")
        axis.set_xlabel("epoch")
        axis.set_ylabel(name)
        axis.grid(alpha=0.3)
        axis.legend()
    figure.suptitle(title)
    figure.tight_layout()
    return save_figure(figure, path)


def plot_confusion_matrix(matrix, labels, path, title="confusion matrix"):
    """Saves a confusion matrix (rows: true label, columns: predicted) with counts in the cells as a PNG."""
    plt = _pyplot()
    if plt is None:
        return None
    figure, axis = plt.subplots(figsize=(1.2 * len(labels) + 2, 1.2 * len(labels) + 1.5))
    image = axis.imshow(matrix, cmap="Blues")
    axis.set_xticks(range(len(labels)), labels)
    axis.set_yticks(range(len(labels)), labels)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    threshold = max(max(row) for row in matrix) / 2 if len(matrix) else 0
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            axis.text(j, i, str(count), ha="center", va="center",
                      color="white" if count > threshold else "black")
    figure.colorbar(image, ax=axis)
    axis.set_title(title)
    figure.tight_layout()
    return save_figure(figure, path)
