"""Pictures a person would rather look at than read: training curves and confusion matrices.

matplotlib is the optional extra `plot`; without it these functions warn once and return `None`.
"""

import warnings

from apps.common.files import MARKER, atomic_path


def _matplotlib():
    """matplotlib on its file-only backend (Agg), or None with a warning when it is not installed."""
    try:
        import matplotlib
    except ImportError:
        warnings.warn("matplotlib is not installed (pip install 'sequence-models[plot]'): no plot written")
        return None
    matplotlib.use("Agg")
    return matplotlib


def _pyplot():
    if _matplotlib() is None:
        return None
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure, path):
    """Writes a matplotlib `figure` as a PNG to `path` atomically, closes it and returns `path`."""
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=100, format="png", metadata={"Software": MARKER})
    # pyplot keeps each of its figures until closed; a `Figure` of the object API is not pyplot's.
    if figure.canvas.manager is not None:
        import matplotlib.pyplot as plt

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
            axis.text(j, i, str(count), ha="center", va="center", color="white" if count > threshold else "black")
    figure.colorbar(image, ax=axis)
    axis.set_title(title)
    figure.tight_layout()
    return save_figure(figure, path)


def plot_token_scores(rows, path, title="which words decided"):
    """Saves texts as rows of tokens, each on a background shaded by its score, as a PNG.

    Green pushes towards the row's class, red away from it, the deeper the larger |score| (one scale for the
    whole picture, so rows compare); long texts wrap onto further lines.

    Args:
        rows: list of `(heading, tokens, scores)`: a line of text above the row, its token strings and one
            signed float per token.
        path: the PNG to write.
        title: the figure's title.

    Returns the path written, or `None` without matplotlib.
    """
    plt = _pyplot()
    if plt is None:
        return None
    per_line = 90  # characters of tokens on one line of the picture
    lines = []  # (heading or None, [(token, score, start column)])
    for heading, tokens, scores in rows:
        lines.append((heading, []))
        column = 0
        for token, score in zip(tokens, scores):
            if column and column + len(token) > per_line:
                lines.append((None, []))
                column = 0
            lines[-1][1].append((token, score, column))
            column += len(token) + 2
    scale = max([abs(score) for _, tokens, scores in rows for score in scores] + [1e-12])
    colours = plt.get_cmap("RdYlGn")
    height = 0.5 + 0.45 * sum(2 if heading is not None else 1 for heading, _ in lines)
    figure = plt.figure(figsize=(per_line * 0.095 + 0.6, height))
    axis = figure.add_axes([0, 0, 1, 1])
    axis.set_axis_off()
    axis.set_xlim(-1, per_line + 1)
    y = 0
    for heading, tokens in lines:
        if heading is not None:
            y += 1
            axis.text(0, y, heading, fontsize=9, fontweight="bold", va="center")
        y += 1
        for token, score, column in tokens:
            axis.text(
                column,
                y,
                token,
                fontsize=10,
                family="monospace",
                va="center",
                color="white" if abs(score) > 0.6 * scale else "black",
                bbox={"facecolor": colours(0.5 + 0.5 * score / scale), "edgecolor": "none", "pad": 1.5},
            )
    axis.set_ylim(y + 0.8, -0.2)
    axis.text(
        0, 0, f"{title}: green towards the label, red away from it (deepest: ±{scale:.3g})", fontsize=10, va="center"
    )
    return save_figure(figure, path)
