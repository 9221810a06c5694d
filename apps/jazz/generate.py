"""Generation: sample tokens, realise them over a progression, write MIDI/MusicXML.

Tokens are sampled on either runtime (`apps.common.runtime`): on Keras (`SoloSampler`), the model's one-step
twin (`apps.jazz.model.step_model`) is driven by `apps.common.sampling.Sampler` (a conditioned one by its
`ConditionedSampler`), every step of a batch inside one `tf.function`, the sampled token fed back as the next
input, as in the course's one-to-many inference model; on LiteRT (`LiteRTSoloSampler`), the bundle's `.tflite`
one-step model is driven by the NumPy loop `apps.common.litert.sample`, with the same draws for the same seed.
This module imports TensorFlow only inside `SoloSampler`. Tokens are sampled until their durations fill the
requested bars, realised into pitches over the chords (`apps.jazz.grammar.realise`), and written as a score:
the solo (with chord symbols, which MusicXML keeps and MIDI leaves out) and a band to follow it by, block
chords and a walking bass (`bass_line`); optionally rendered to audio (`apps.jazz.audio`), swung
(`apps.jazz.swing`).

A primer, an opening phrase, is encoded over the chords like a training solo and fed to the model as the
prefix its sampling continues from; the continuation is realised from the primer's last pitch on.
"""

import contextlib
import copy
import fractions
import math
import os
import pathlib
import struct
import tempfile

from apps.common import litert
from apps.common.files import MARKER, atomic_path
from apps.jazz import conditioning, grammar
from apps.jazz.swing import swing_midi

# A jazz blues in F: dominant, diminished, minor and ii-V changes, so the bare command shows them all.
DEFAULT_PROGRESSION = "F7 | Bb7 | F7 | Cm7 F7 | Bb7 | Bdim7 | F7 | D7 | Gm7 | C7 | F7 D7 | Gm7 C7"
ACCOMPANIMENT_ROOT = 48  # C3: chords are voiced upwards from their root in the octave above
BASS_ROOT = 33  # A1: the bass plays each root in A1..G#2, an upright bass's low octave and a half


class _ChunkedSampler:
    """What both runtimes' samplers share: tokens are drawn a chunk at a time until their durations fill the
    bars asked for; chunk a (from 0) is drawn with seed `seed + a`, continuing from the start token, the primer
    and every token drawn so far. A subclass draws one chunk (`draw`).

    Args:
        config: the bundle's config (vocabulary, mean token duration, conditioning).
    """

    def __init__(self, config):
        self.config = config
        self.vocabulary = grammar.Vocabulary(config["vocabulary"])
        self.conditioned = config.get("conditioning", "none") == "changes"
        self.durations = [0] + [grammar.duration_steps(token) for token in self.vocabulary.tokens[1:]]

    def sample(self, quarters, temperature=1.0, seed=0, top_k=0, timeline=None, bar_quarters=4.0, primer=()):
        """Samples tokens until their durations (the primer's included) add up to at least `quarters` quarters.

        Args:
            timeline: the `apps.jazz.chords.Timeline` played over (a conditioned model needs it).
            bar_quarters: the bar length, for the conditioned model's bar position.
            primer: tokens the solo starts with, fed to the model before sampling (one missing from the
                vocabulary as its nearest, `apps.jazz.grammar.Vocabulary.nearest`).

        Returns:
            A list of the sampled token strings (the start token and the primer excluded).
        """
        table = None
        if self.conditioned:
            if timeline is None:
                raise ValueError("a conditioned model samples over a timeline; none was given")
            table = conditioning.step_table(timeline, quarters, bar_quarters)
        # Enough steps for the expected length plus a margin; a short draw continues from where it stopped.
        chunk = int(math.ceil(1.3 * quarters / self.config["mean_token_quarters"])) + 8
        ids = [0] + self.vocabulary.encode(primer).tolist()
        prefix_length = len(ids)
        primer_steps = sum(grammar.duration_steps(token) for token in self.vocabulary.decode(ids[1:]))
        for attempt in range(100):
            ids += self.draw(ids, table, chunk, temperature, top_k, seed + attempt)
            tokens = [token for token in self.vocabulary.decode(ids[prefix_length:]) if token != grammar.START]
            if primer_steps + sum(grammar.duration_steps(token) for token in tokens) >= quarters * grammar.GRID:
                break
        return tokens

    def draw(self, prefix, table, steps, temperature, top_k, seed):
        """The ids of `steps` tokens sampled after the ids `prefix`, over `table`
        (`apps.jazz.conditioning.step_table`, float32 (S, F); None for a token-only model)."""
        raise NotImplementedError


class SoloSampler(_ChunkedSampler):
    """Samples token sequences from a trained jazz model with Keras.

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

        super().__init__(config)
        self._tf = tf
        if self.conditioned:
            self.sampler = ConditionedSampler(step_model(model), self.durations)
        else:
            self.sampler = Sampler(step_model(model))

    def draw(self, prefix, table, steps, temperature, top_k, seed):
        tf = self._tf
        arguments = (
            tf.constant(steps, tf.int32),
            tf.constant(temperature, tf.float32),
            tf.constant(top_k, tf.int32),
            tf.constant(seed, tf.int32),
        )
        prefix = tf.constant([prefix], tf.int32)
        out = (
            self.sampler(prefix, *arguments)
            if table is None
            else self.sampler(prefix, tf.constant(table[None]), *arguments)
        )
        return out["tokens"][0].numpy().tolist()


class LiteRTSoloSampler(_ChunkedSampler):
    """Samples token sequences as `SoloSampler` does, from the bundle's LiteRT one-step model, without
    TensorFlow: the host loop `apps.common.litert.sample` draws the compiled sampler's uniforms for the same
    seed, so both pick the same tokens (bar a uniform within float rounding of a boundary between two).

    Args:
        step: an `apps.common.litert.StepRunner` of the bundle's `.tflite` file (or any step with its interface).
        config: the bundle's config.
    """

    def __init__(self, step, config):
        super().__init__(config)
        self.step = step

    def draw(self, prefix, table, steps, temperature, top_k, seed):
        tokens, _ = litert.sample(
            self.step,
            prefix,
            steps,
            seed=seed,
            temperature=temperature,
            top_k=top_k,
            conditions=table,
            durations=self.durations,
        )
        return tokens


def fit_to_length(notes, quarters):
    """Drops notes starting at or after `quarters` and cuts the last one at `quarters`."""
    return [
        (offset, min(duration, quarters - offset), midi) for offset, duration, midi in notes if offset < quarters - 1e-9
    ]


def _spans(timeline, quarters):
    """`(start, end, chord)` of each chord of `timeline` sounding before `quarters`."""
    changes = [(offset, item) for offset, item in timeline if offset < quarters]
    ends = [offset for offset, _ in changes[1:]] + [quarters]
    return [(offset, end, item) for (offset, item), end in zip(changes, ends)]


def bass_line(timeline, quarters):
    """A walking bass under `timeline`, `quarters` long: `(offset, duration, midi)` triples, one a beat.

    Each chord's first beat is its root (in `BASS_ROOT`..`BASS_ROOT` + 11), its lowest note; the beats after
    it climb its chord tones; the last beat before the next chord is a semitone from that chord's root, the
    chromatic approach of a walking bass. A chord shorter than a beat gets its root alone.
    """
    changes = _spans(timeline, quarters)
    notes = []
    for index, (offset, end, item) in enumerate(changes):
        root = BASS_ROOT + (item.root - BASS_ROOT) % 12
        tones = sorted(root + (pc - item.root) % 12 for pc in item.pitch_classes)
        beats = [offset] + [float(beat) for beat in range(math.floor(offset) + 1, math.ceil(end))]
        following = changes[index + 1][2] if index + 1 < len(changes) else None
        for position, beat in enumerate(beats):
            if position == 0:
                midi = root
            elif position == len(beats) - 1 and following is not None:
                target = BASS_ROOT + (following.root - BASS_ROOT) % 12
                # Above the chord's root, so that the root stays the lowest note of the chord (MIDI readers,
                # this app's training included, name a chord over its lowest note); nearest the line, not
                # repeating its last note.
                candidates = [m + 12 * (m <= root) for m in (target - 1, target + 1)]
                midi = min(candidates, key=lambda m: (m == notes[-1][2], abs(m - notes[-1][2])))
            else:
                midi = tones[position % len(tones)]
            notes.append((beat, (beats[position + 1] if position + 1 < len(beats) else end) - beat, midi))
    return notes


def build_score(notes, timeline, quarters, tempo, bar_quarters=4.0, title="apps.jazz solo", comp=True):
    """A music21 score, `quarters` long: the solo (notes and chord symbols) and, with `comp`, a band to follow,
    block chords (piano) and a walking bass (`bass_line`), each on its own General MIDI instrument."""
    from music21 import chord, harmony, instrument, metadata, meter, note, pitch, stream
    from music21 import tempo as tempo_module

    score = stream.Score()
    score.metadata = metadata.Metadata(title=title)
    solo, accompaniment, bass = stream.Part(), stream.Part(), stream.Part()
    solo.partName, accompaniment.partName, bass.partName = "Solo", "Chords", "Bass"
    solo.insert(0, instrument.Vibraphone())  # sounds as written, unlike a saxophone or trumpet
    accompaniment.insert(0, instrument.Piano())
    bass.insert(0, instrument.AcousticBass())
    parts = (solo, accompaniment, bass) if comp else (solo,)
    for part in parts:
        part.insert(0, meter.TimeSignature(time_signature(bar_quarters)))
    solo.insert(0, tempo_module.MetronomeMark(number=tempo))
    # coreInsert, then one coreElementsChanged per part: `insert` re-measures the part every time, which makes
    # a long solo quadratic.
    for offset, duration, midi in notes:
        solo.coreInsert(offset, note.Note(midi, quarterLength=duration))
    # Reading a chord symbol, and spelling a chord given as MIDI numbers, take music21 milliseconds each: once
    # per distinct chord, copied at each of its changes.
    spelled = {}
    for offset, end, item in _spans(timeline, quarters):
        if item not in spelled:
            root = ACCOMPANIMENT_ROOT + item.root
            voicing = chord.Chord(sorted(root + (pc - item.root) % 12 for pc in item.pitch_classes))
            spelled[item] = harmony.ChordSymbol(item.figure), [p.nameWithOctave for p in voicing.pitches]
        symbol, names = spelled[item]
        solo.coreInsert(offset, copy.deepcopy(symbol))
        accompaniment.coreInsert(offset, chord.Chord([pitch.Pitch(name) for name in names], quarterLength=end - offset))
    for offset, duration, midi in bass_line(timeline, quarters):
        bass.coreInsert(offset, note.Note(midi, quarterLength=duration))
    for part in parts:
        part.coreElementsChanged()
        score.insert(0, part)
    return score


def time_signature(bar_quarters):
    """A time signature whose bar lasts `bar_quarters` quarter notes: in quarters where the bar is a whole
    number or half of them (`4/4`, `2/4`, `16/4`), else in the eighths, sixteenths, ... it needs (`3/8`, `7/16`)."""
    whole_notes = fractions.Fraction(bar_quarters).limit_denominator(1 << 20) / 4
    numerator, denominator = whole_notes.numerator, whole_notes.denominator
    if 4 % denominator == 0:
        numerator, denominator = numerator * 4 // denominator, 4
    return f"{numerator}/{denominator}"


def write_midi(score, path):
    """Writes the notes and chords of `score` as a Standard MIDI File: a tempo track, then a track a part, each
    on its own channel with its part's General MIDI program. Chord symbols are not sounded (the chords part
    plays them).

    music21's own writer (`score.write("midi")`) compares each note with every earlier one to share out
    channels for microtones, which these scores never hold: minutes for a 1,000-bar solo. This is linear.
    """
    from music21 import defaults, harmony, midi, tempo
    from music21.midi import translate

    ticks = defaults.ticksPerQuarter
    conductor = midi.MidiTrack(1)
    timed = []  # (tick, order, event): at one tick, notes end (order 0) before others start (order 1)
    first = score.parts[0]
    for kind, to_events in (
        (tempo.MetronomeMark, translate.tempoToMidiEvents),
        ("TimeSignature", translate.timeSignatureToMidiEvents),
    ):
        for mark in first.recurse().getElementsByClass(kind):
            timed += [(round(mark.offset * ticks), 1, event) for event in to_events(mark, includeDeltaTime=False)]
    tracks = [_midi_track(conductor, [], timed)]
    channels = [channel for channel in range(1, 17) if channel != 10]  # 10 is General MIDI's drum kit
    for index, (part, channel) in enumerate(zip(score.parts, channels), 2):
        track = midi.MidiTrack(index)
        timed = []
        for element in part.flatten().notes:
            if isinstance(element, harmony.Harmony):
                continue
            start, end = round(element.offset * ticks), round((element.offset + element.quarterLength) * ticks)
            for item in element.pitches:
                timed += [
                    (start, 1, _midi_note(track, channel, item.midi, 90)),
                    (end, 0, _midi_note(track, channel, item.midi, 0)),
                ]
        tracks.append(_midi_track(track, translate.getStartEvents(track, channel, part.getInstrument()), timed))
    midi_file = midi.MidiFile()
    midi_file.ticksPerQuarterNote = ticks
    midi_file.tracks = tracks
    midi_file.open(path, "wb")
    try:
        midi_file.write()
    finally:
        midi_file.close()


def _midi_note(track, channel, pitch, velocity):
    from music21 import midi

    kind = midi.ChannelVoiceMessages.NOTE_ON if velocity else midi.ChannelVoiceMessages.NOTE_OFF
    event = midi.MidiEvent(track, type=kind, channel=channel)
    event.pitch, event.velocity = pitch, velocity
    return event


def _midi_track(track, start_events, timed):
    """`track` holding `start_events`, then the `(tick, order, event)`s of `timed` in time order, then its end."""
    from music21 import midi
    from music21.midi import translate

    events, now = list(start_events), 0
    for tick, _, event in sorted(timed, key=lambda item: item[:2]):
        events += [midi.DeltaTime(track, time=tick - now), event]
        now = tick
    track.events = events + translate.getEndEvents(track)
    track.updateEvents()
    return track


def write_score(score, midi_path, musicxml=False, renderer=None, swing=0.5):
    """Writes `score` as MIDI at `midi_path` (MusicXML and, given a `renderer`, a WAV beside it), all or nothing.

    Args:
        renderer: `apps.jazz.audio.find_renderer`'s result, for the WAV; None for no audio.
        swing: where the off-beat eighths fall in the WAV, as a share of the beat (`apps.jazz.swing`); the MIDI
            and MusicXML stay on the grid.

    Returns:
        The paths written.
    """
    from apps.jazz import audio

    stem = os.path.splitext(midi_path)[0]
    paths = [midi_path] + ([stem + ".musicxml"] if musicxml else []) + ([stem + ".wav"] if renderer else [])
    # Each file's temporary path is made as it is written (a full disk names the file it stopped), and all
    # are renamed into place together when the block ends.
    with contextlib.ExitStack() as stack:
        midi_tmp = stack.enter_context(atomic_path(midi_path))
        write_midi(score, midi_tmp)
        _mark_midi(midi_tmp)
        if musicxml:
            xml_tmp = stack.enter_context(atomic_path(stem + ".musicxml"))
            score.write("musicxml", fp=xml_tmp)
            _mark_musicxml(xml_tmp)
        if renderer:
            wav_tmp = stack.enter_context(atomic_path(stem + ".wav"))
            heard = os.path.join(stack.enter_context(tempfile.TemporaryDirectory(prefix="swing-")), "heard.mid")
            swing_midi(midi_tmp, heard, swing)
            audio.render(heard, wav_tmp, renderer, seconds=score_seconds(score))
            _mark_wav(wav_tmp)
    return paths


def score_seconds(score):
    """How long `score` plays, in seconds, at its first tempo (120 bpm without one)."""
    from music21 import tempo

    mark = score.parts[0].recurse().getElementsByClass(tempo.MetronomeMark).first()
    return float(score.highestTime) * 60 / (mark.number if mark is not None else 120)


# Each file carries `MARKER`, so that the next `generate` may replace it and no other file (`check_output_file`).
def _mark_midi(path):
    """Puts `MARKER` in a text event at the start of the MIDI file's first track."""
    data = pathlib.Path(path).read_bytes()
    start = 14 + 8  # the header chunk, then the first track's `MTrk` and length
    if data[:4] != b"MThd" or data[14:18] != b"MTrk":
        raise ValueError(f"{path} is not a MIDI file as music21 writes one")
    text = MARKER.encode()
    event = b"\x00\xff\x01" + bytes([len(text)]) + text  # delta time 0, meta event "text", a length under 128
    (length,) = struct.unpack(">I", data[18:start])
    pathlib.Path(path).write_bytes(data[:18] + struct.pack(">I", length + len(event)) + event + data[start:])


def _mark_musicxml(path):
    """Names `MARKER` as the software that encoded the MusicXML file (beside music21)."""
    xml = pathlib.Path(path)
    xml.write_text(
        xml.read_text(encoding="utf-8").replace("<encoding>", f"<encoding>\n      <software>{MARKER}</software>", 1),
        encoding="utf-8",
    )


def _mark_wav(path):
    """Appends a RIFF `LIST`/`INFO` chunk whose `ISFT` (software) is `MARKER` to the WAV file."""
    text = MARKER.encode() + b"\x00"
    text += b"\x00" * (len(text) % 2)
    chunk = b"LIST" + struct.pack("<I", 4 + 8 + len(text)) + b"INFO" + b"ISFT" + struct.pack("<I", len(text)) + text
    with open(path, "r+b") as handle:
        if handle.read(4) != b"RIFF":
            raise ValueError(f"{path} is not a WAV file")
        (size,) = struct.unpack("<I", handle.read(4))
        if handle.seek(0, os.SEEK_END) % 2:
            chunk = b"\x00" + chunk  # the pad byte after an odd-sized chunk: RIFF chunks start on even offsets
        handle.write(chunk)
        handle.seek(4)
        handle.write(struct.pack("<I", size + len(chunk)))


def take_paths(path, count):
    """The MIDI file of each of `count` takes: `path` itself for one, else `path`'s stem numbered from 1."""
    if count == 1:
        return [path]
    stem, suffix = os.path.splitext(path)
    return [f"{stem}-{take:0{len(str(count))}d}{suffix}" for take in range(1, count + 1)]


def generate_solo(
    generator, timeline, measures, temperature=1.0, seed=0, bar_quarters=4.0, top_k=0, primer=None, keep_primer=True
):
    """Samples and realises a solo of `measures` bars over `timeline`.

    Args:
        primer: `(offset, duration, midi)` triples the solo opens with (`apps.jazz.leadsheet.read_primer`),
            continued by the model; None to start from nothing.
        keep_primer: play the primer's notes; else the solo rests where the primer was and the continuation
            keeps its place over the chords.

    Returns:
        `(notes, tokens)`: `(offset, duration, midi)` triples and the tokens they came from (the primer's
        first).
    """
    quarters = measures * bar_quarters
    encoding = generator.config["encoding"]
    articulation = generator.config.get("articulation", False)  # bundles trained before it play legato
    primer_tokens = grammar.encode(primer, timeline, encoding, articulation) if primer else []
    start = sum(grammar.duration_steps(token) for token in primer_tokens) / grammar.GRID
    previous = grammar.quantise(primer)[-1][2] if primer else None
    tokens = generator.sample(
        quarters,
        temperature=temperature,
        seed=seed,
        top_k=top_k,
        timeline=timeline,
        bar_quarters=bar_quarters,
        primer=primer_tokens,
    )
    notes = grammar.realise(tokens, timeline, encoding=encoding, seed=seed, start=start, previous=previous)
    if primer and keep_primer:
        notes = sorted(primer) + notes
    return fit_to_length(notes, quarters), primer_tokens + tokens
