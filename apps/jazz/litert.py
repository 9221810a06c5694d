"""The jazz model as a LiteRT (`.tflite`) one-step model, and a NumPy loop that samples tokens from it.

`export` writes `FILE.tflite` and beside it `FILE.vocab.txt`, the grammar token of each id, one a line (line 0
is the start token `<start>`; a token's second comma-separated field is its duration in quarter notes, and a
suffix `;<silence>` the part of it a note is silent: `apps.jazz.grammar`). The
file's signature `serving_default`:

    token int32 (1,), [conditions float32 (1, F),] state_0, state_1 float32 (1, units)
        -> probabilities float32 (1, tokens), state_0, state_1

`conditions` only for a chord-conditioned model (`train --conditioning changes`): the features
(`apps.jazz.conditioning.features`, F = `conditioning.SIZE`) of the onset of the token being predicted, the sum
of the durations of the tokens fed so far. A host feeds the start token with zero states, then each sampled
token; `sample_tokens` is that loop in NumPy, and `apps.jazz.grammar.realise` turns the tokens into notes.
"""

from apps.common import litert
from apps.jazz import conditioning, grammar


def side_paths(path):
    """The files `export` writes beside the `.tflite` file `path`."""
    return [litert.beside(path, litert.VOCABULARY)]


def export(model, config, out, quantize="none"):
    """Writes the one-step model of `model` (token-only or chord-conditioned) to `out` and its tokens beside it.

    Returns:
        The paths written.

    Raises:
        UsageError: the model needs ops outside LiteRT's built-in set.
    """
    from apps.jazz.model import is_conditioned, step_model

    size = conditioning.SIZE if is_conditioned(model) else None
    content = litert.convert(litert.step_function(step_model(model), size), model.variables, quantize)
    tokens = grammar.Vocabulary(config["vocabulary"]).tokens
    return litert.write_all({out: content, litert.beside(out, litert.VOCABULARY): litert.lines(tokens)})


def read_tokens(path):
    """The token strings written beside the `.tflite` file `path`, id order."""
    return litert.read_lines(litert.beside(path, litert.VOCABULARY))


def sample_tokens(
    path, steps, timeline=None, quarters=None, bar_quarters=4.0, temperature=1.0, top_k=0, seed=None, uniforms=None
):
    """Samples `steps` tokens after the start token from the `.tflite` file `path` (NumPy and LiteRT).

    Args:
        path: a file written by `export`.
        steps: tokens to sample.
        timeline, quarters, bar_quarters: a conditioned model's progression (`apps.jazz.chords.Timeline`),
            the length covered and the bar length, as for `apps.jazz.generate.SoloSampler.sample`.
        temperature, top_k, seed, uniforms: as for `apps.common.litert.sample`.

    Returns:
        The sampled token strings.
    """
    tokens = read_tokens(path)
    step = litert.StepRunner(path)
    table = durations = None
    if step.conditioned:
        if timeline is None or quarters is None:
            raise ValueError("a conditioned model samples over a timeline and a length; none was given")
        table = conditioning.step_table(timeline, quarters, bar_quarters)
        durations = [0] + [grammar.duration_steps(token) for token in tokens[1:]]
    ids, _ = litert.sample(
        step,
        [0],
        steps,
        uniforms=uniforms,
        seed=seed,
        temperature=temperature,
        top_k=top_k,
        conditions=table,
        durations=durations,
    )
    return [tokens[index] for index in ids]
