"""Generation: sample tokens with the one compiled loop, realise them over a progression, write MIDI/MusicXML.

The model's one-step twin (`apps.jazz.model.step_model`) is driven by `apps.common.sampling.Sampler` (a
conditioned one by its `ConditionedSampler`): every step of a batch runs inside one `tf.function`, the sampled
token fed back as the next input, as in the course's one-to-many inference model. Tokens are sampled until their durations fill the requested bars,
realised into pitches over the chords (`apps.jazz.grammar.realise`), and written as a score with two parts:
the solo (with chord symbols, which MusicXML keeps and MIDI leaves out) and a block-chord accompaniment.
"""

import copy
import math
import os

from apps.common.files import atomic_path
from apps.jazz import conditioning, grammar

# A jazz blues in F: dominant, diminished, minor and ii-V changes, so the bare command shows them all.
DEFAULT_PROGRESSION = "F7 | Bb7 | F7 | Cm7 F7 | Bb7 | Bdim7 | F7 | D7 | Gm7 | C7 | F7 D7 | Gm7 C7"
ACCOMPANIMENT_ROOT = 48  # C3: chords are voiced upwards from their root in the octave above


class Generator:
    """Samples token sequences from a trained jazz model.

    A conditioned model (config `conditioning: changes`) is fed, at every step, the features of the running
    time over the progression (`apps.jazz.conditioning.step_table`), looked up inside the compiled loop from
    the sum of the sampled tokens' durations; a bundle without `conditioning` is a token-only model.

    Args:
        model: the training model of a bundle (`apps.jazz.model.build_model`).
        config: the bundle's config (vocabulary, encoding, mean token duration, conditioning).
    """

    def __init__(self, model, config):
        import tensorflow as tf

        from apps.common.sampling import ConditionedSampler, Sampler
        from apps.jazz.model import step_model

        self._tf = tf
        self.config = config
        self.vocabulary = grammar.Vocabulary(config["vocabulary"])
        self.conditioned = config.get("conditioning", "none") == "changes"
        if self.conditioned:
            durations = [0] + [grammar.duration_steps(token) for token in self.vocabulary.tokens[1:]]
            self.sampler = ConditionedSampler(step_model(model), durations)
        else:
            self.sampler = Sampler(step_model(model))

    def sample(self, quarters, temperature=1.0, seed=0, top_k=0, timeline=None, bar_quarters=4.0):
        """Samples tokens until their durations add up to at least `quarters` quarter notes.

        Args:
            timeline: the `apps.jazz.chords.Timeline` played over (a conditioned model needs it).
            bar_quarters: the bar length, for the conditioned model's bar position.

        Returns:
            A list of token strings (the start token excluded).
        """
        tf = self._tf
        table = None
        if self.conditioned:
            if timeline is None:
                raise ValueError("a conditioned model samples over a timeline; none was given")
            table = tf.constant(conditioning.step_table(timeline, quarters, bar_quarters)[None])
        # Enough steps for the expected length plus a margin; a short draw continues from where it stopped.
        chunk = int(math.ceil(1.3 * quarters / self.config["mean_token_quarters"])) + 8
        ids = [0]
        for attempt in range(100):
            arguments = (tf.constant(chunk, tf.int32), tf.constant(temperature, tf.float32),
                         tf.constant(top_k, tf.int32), tf.constant(seed + attempt, tf.int32))
            prefix = tf.constant([ids], tf.int32)
            out = self.sampler(prefix, *arguments) if table is None else self.sampler(prefix, table, *arguments)
            new = out["tokens"][0].numpy().tolist()
            ids += new
            tokens = [token for token in self.vocabulary.decode(ids) if token != grammar.START]
            if sum(grammar.duration_steps(token) for token in tokens) >= quarters * grammar.GRID:
                break
        return tokens


def fit_to_length(notes, quarters):
    """Drops notes starting at or after `quarters` and cuts the last one at `quarters`."""
    return [(offset, min(duration, quarters - offset), midi) for offset, duration, midi in notes
            if offset < quarters - 1e-9]


def build_score(notes, timeline, quarters, tempo, bar_quarters=4.0, title="apps.jazz solo"):
    """A music21 score: the solo (notes and chord symbols) and a block-chord accompaniment, `quarters` long."""
    from music21 import chord, harmony, instrument, metadata, meter, note, stream
    from music21 import tempo as tempo_module

    score = stream.Score()
    score.metadata = metadata.Metadata(title=title)
    solo, accompaniment = stream.Part(), stream.Part()
    solo.partName, accompaniment.partName = "Solo", "Chords"
    solo.insert(0, instrument.Vibraphone())  # sounds as written, unlike a saxophone or trumpet
    accompaniment.insert(0, instrument.Piano())
    for part in (solo, accompaniment):
        part.insert(0, meter.TimeSignature(f"{int(round(bar_quarters))}/4"))
    solo.insert(0, tempo_module.MetronomeMark(number=tempo))
    for offset, duration, midi in notes:
        solo.insert(offset, note.Note(midi, quarterLength=duration))
    changes = [(offset, item) for offset, item in timeline if offset < quarters]
    ends = [offset for offset, _ in changes[1:]] + [quarters]
    for (offset, item), end in zip(changes, ends):
        solo.insert(offset, harmony.ChordSymbol(item.figure))
        root = ACCOMPANIMENT_ROOT + item.root
        pitches = sorted(root + (pc - item.root) % 12 for pc in item.pitch_classes)
        accompaniment.insert(offset, chord.Chord(pitches, quarterLength=end - offset))
    score.insert(0, solo)
    score.insert(0, accompaniment)
    return score


def write_score(score, midi_path, musicxml=False):
    """Writes `score` as MIDI at `midi_path` (and MusicXML beside it), all or nothing.

    Returns:
        The paths written.
    """
    from music21 import harmony

    paths = [midi_path] + ([os.path.splitext(midi_path)[0] + ".musicxml"] if musicxml else [])
    # music21's MIDI writer sounds chord symbols as long chords in the solo track: the MIDI gets a copy
    # without them (the accompaniment part plays the chords).
    midi_score = copy.deepcopy(score)
    for part in midi_score.parts:
        part.removeByClass(harmony.ChordSymbol)
    with atomic_path(paths[0]) as midi_tmp:
        if musicxml:
            with atomic_path(paths[1]) as xml_tmp:
                score.write("musicxml", fp=xml_tmp)
                midi_score.write("midi", fp=midi_tmp)
        else:
            midi_score.write("midi", fp=midi_tmp)
    return paths


def generate_solo(generator, timeline, measures, temperature=1.0, seed=0, bar_quarters=4.0, top_k=0):
    """Samples and realises a solo of `measures` bars over `timeline`.

    Returns:
        `(notes, tokens)`: `(offset, duration, midi)` triples and the tokens they came from.
    """
    quarters = measures * bar_quarters
    tokens = generator.sample(quarters, temperature=temperature, seed=seed, top_k=top_k, timeline=timeline,
                              bar_quarters=bar_quarters)
    notes = grammar.realise(tokens, timeline, encoding=generator.config["encoding"], seed=seed)
    return fit_to_length(notes, quarters), tokens



def export_sampler(model, config, path, force=False):
    """Exports the token sampler as a SavedModel in `path` that runs with TensorFlow alone.

    Signatures: `sample(prefix, steps, temperature, top_k, seed)` -> `{tokens, log_probs}` (see
    `apps.common.sampling.Sampler`; id 0 is the start token) and `vocabulary()` -> `{tokens}`, the token
    string of each id. A conditioned model's `sample` also takes `conditions` (batch, S, F), the features of
    each grid step of the progression (`apps.jazz.conditioning.step_table`), as in
    `apps.common.sampling.ConditionedSampler`.
    """
    import tensorflow as tf

    from apps.common.export import export_saved_model

    generator = Generator(model, config)
    tokens = tf.constant(generator.vocabulary.tokens)
    vocabulary = tf.function(lambda: {"tokens": tokens}, input_signature=[])
    generator.sampler.vocabulary = vocabulary
    export_saved_model(generator.sampler, path, {"sample": generator.sampler.__call__, "vocabulary": vocabulary},
                       app="jazz", force=force)
