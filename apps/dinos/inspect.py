"""A look inside the model while it reads one name: the next-character probabilities at every step, the gates
and memory cell of every unit (`layers` `trace`), and the units that follow simple properties of the text.

The recurrent layers are traced one after the other, each reading the previous one's outputs (dropout is off at
inference), so the probabilities and the traced states are those of the same forward pass.
"""

import numpy as np

from apps.common.cli import printable
from apps.common.errors import UsageError
from apps.common.plots import _matplotlib, save_figure
from apps.dinos import data

VOWELS = frozenset("aeiouy")
START = "^"
"""How the start token (the input of the first step) is shown."""
TITLE = "{name!r}: gates and memory cell, units sorted by when they saturate"
"""The heat maps' title, for `name`."""
SATURATED = 0.9
"""|tanh(c⟨t⟩)| from which a unit counts as saturated: units are sorted by the first step they reach it."""


def shown(char):
    """A character as `inspect` shows it: the end of the name as `<end>`, a control character escaped."""
    return "<end>" if char == data.END else printable(char)


def check_name(name, vocab, max_chars):
    """The normalised `name` if the model can read it; `UsageError` otherwise (before TensorFlow loads)."""
    name = data.normalise(name, vocab.keep_case)
    if not name:
        raise UsageError(f"the name is empty: give one of 1 to {max_chars} characters")
    if len(name) > max_chars:
        raise UsageError(f"name {name[:40]!r}... is {len(name):,} characters; the limit is {max_chars}")
    vocab.encode(name)
    return name


def inspect_name(model, vocab, name, top=5):
    """Reads `name` (checked by `check_name`) with `model` and returns what happened at each step.

    Returns:
        A dict: `inputs`, the character read at each step (`START` first); `targets`, the character that
        follows (`data.END` last); `probs` (steps, classes), the model's next-character distribution;
        `p_next` (steps,), the probability it gave the character that follows; `top`, per step the `top`
        likeliest `(character, probability)`; `layers`, per recurrent layer its `trace` (name -> (steps, units)).

    Raises:
        UsageError: a recurrent layer has no `trace` (a `rnn` model).
    """
    from apps.dinos.model import recurrent_layers

    x, y = data.make_arrays([name], vocab)
    probs = np.asarray(model(x, training=False))[0]
    sequence = model.get_layer("embedding")(x)
    traces = []
    for layer in recurrent_layers(model):
        if not hasattr(layer, "trace"):
            raise UsageError(f"inspect reads LSTM and GRU models; this one's {layer.name} is a {type(layer).__name__}")
        steps = layer.trace(sequence)
        traces.append({key: value[0] for key, value in steps.items()})
        sequence = steps["a" if "a" in steps else "c"]
    characters = [vocab.tokens[c + 1] for c in range(vocab.num_classes)]
    order = np.argsort(-probs, axis=-1)[:, :top]
    return {
        "inputs": [START, *name],
        "targets": [characters[c] for c in y[0]],
        "probs": probs,
        "p_next": probs[np.arange(len(y[0])), y[0]],
        "top": [[(characters[c], float(p[c])) for c in row] for row, p in zip(order, probs)],
        "layers": traces,
    }


def features(inputs):
    """Simple properties of the text at each step: `position` (characters read so far, the start token 0) and
    `vowel` (1 for a vowel read, 0 for a consonant, NaN for the start token)."""
    return {
        "position": np.arange(len(inputs), dtype=float),
        "vowel": np.array([np.nan if char == START else float(char.lower() in VOWELS) for char in inputs]),
    }


def correlated_units(cell, feature, count=3):
    """The `count` units of `cell` (steps, units) whose c⟨t⟩ correlates most (Pearson, either sign) with
    `feature` (steps,) over the steps where the feature is defined: `[(unit, r), ...]`, strongest first. Units
    that do not vary have no correlation and are left out."""
    defined = ~np.isnan(feature)
    values, feature = cell[defined], feature[defined]
    if len(feature) < 3 or np.ptp(feature) == 0:
        return []
    centred, f = values - values.mean(axis=0), feature - feature.mean()
    spread = np.sqrt((centred**2).sum(axis=0) * (f**2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(spread > 0, centred.T @ f / spread, np.nan)
    ranked = [unit for unit in np.argsort(-np.abs(np.nan_to_num(r, nan=-1.0))) if not np.isnan(r[unit])]
    return [(int(unit), float(r[unit])) for unit in ranked[:count]]


def saturation_order(cell):
    """Units sorted by the first step at which |tanh(c⟨t⟩)| reaches `SATURATED` (never: last), then by their
    mean c⟨t⟩: units that commit early stack at the top of the heat maps."""
    saturated = np.abs(np.tanh(cell)) >= SATURATED
    first = np.where(saturated.any(axis=0), saturated.argmax(axis=0), len(cell))
    return np.lexsort((cell.mean(axis=0), first))


def units(report, count=3):
    """`[(layer number, feature, [(unit, r), ...]), ...]`: per recurrent layer and `features` of the name, the
    `correlated_units` of its c⟨t⟩."""
    return [
        (number, feature, correlated_units(trace["c"], values, count))
        for number, trace in enumerate(report["layers"], 1)
        for feature, values in features(report["inputs"]).items()
    ]


def plot(report, path, title):
    """Saves `heat_maps` as a PNG at `path` (atomically). Returns `path`, or None without matplotlib."""
    if _matplotlib() is None:
        return None
    return save_figure(heat_maps(report, title), path)


def heat_maps(report, title):
    """Heat maps of every gate and of c⟨t⟩ (units down, steps across, units in `saturation_order`), one row of
    panels per recurrent layer: a matplotlib `Figure` of the object API, safe to draw in any thread (no pyplot
    state)."""
    from matplotlib.figure import Figure

    traces = report["layers"]
    names = [name for name in traces[0] if name not in ("a", "c_tilde")]
    steps = len(report["inputs"])
    figure = Figure(figsize=(1.2 + len(names) * max(2.4, 0.3 * steps), 4.5 * len(traces)))
    axes = figure.subplots(len(traces), len(names), squeeze=False)
    for row, trace in zip(axes, traces):
        order = saturation_order(trace["c"])
        for axis, name in zip(row, names):
            values = trace[name][:, order].T
            if name == "c":
                limit = float(np.abs(values).max()) or 1.0
                image = axis.imshow(
                    values, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest"
                )
            else:
                image = axis.imshow(values, aspect="auto", cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
            axis.set_title({"gamma_u": "Γu", "gamma_f": "Γf", "gamma_o": "Γo", "gamma_r": "Γr", "c": "c⟨t⟩"}[name])
            axis.set_xticks(range(steps), report["inputs"])
            axis.set_ylabel("unit (by saturation)" if axis is row[0] else "")
            figure.colorbar(image, ax=axis, fraction=0.05)
    figure.suptitle(title)
    figure.tight_layout()
    return figure
