"""`apps.jazz.generate.SoloSampler` over a conditioned model: the compiled loop feeds each step the features of the
running time, the same ones training computes from a solo's tokens."""

import itertools
import time

import numpy as np
import pytest
import tensorflow as tf
from music21 import converter

from apps.jazz import chords, conditioning, data, evaluate, generate, grammar, leadsheet
from apps.jazz import model as jazz_model

TOKENS = ["R,1/2", "C,1/2,<*>", "C,1/3,<+0,+4>", "S,1,<-4,+0>", "A,1/6,<-2,+2>", "C,2,<+2,+6>", "R,4", "X,3/2,<-6,-2>"]


@pytest.fixture(scope="module")
def model():
    return jazz_model.build_model(len(TOKENS) + 1, units=6, embedding_dim=5, conditioning="changes", condition_dim=4)


@pytest.fixture(scope="module")
def generator(model):
    return generate.SoloSampler(
        model, {"vocabulary": TOKENS, "encoding": "grammar", "conditioning": "changes", "mean_token_quarters": 1.0}
    )


@pytest.mark.parametrize("prefix", [[], ["C,1/2,<*>", "R,4", "A,1/6,<-2,+2>"]])
def test_sampled_log_probs_are_the_training_models_with_the_solos_features(model, generator, prefix):
    timeline, _ = chords.parse_progression("Dm7 G7 | Cmaj7 | F7 Bb7 | Ebmaj7")
    # Long enough for the prefix and 12 tokens of up to 4 quarters each: beyond its end the sampler repeats the
    # last row (generate never gets there: it stops once the bars are filled, and the table holds one bar more).
    table = conditioning.step_table(timeline, 64.0)
    ids = [0] + generator.vocabulary.encode(prefix).tolist()
    out = generator.sampler(
        tf.constant([ids, ids]),
        tf.constant(table[None].repeat(2, 0)),
        tf.constant(12),
        tf.constant(1.0),
        tf.constant(0),
        tf.constant(5),
    )
    for row in range(2):
        tokens = prefix + generator.vocabulary.decode(out["tokens"][row].numpy())
        features = conditioning.features(timeline, conditioning.onsets(tokens))
        nll, _ = evaluate.negative_log_likelihood(model, generator.vocabulary, tokens, features)
        assert -nll[len(prefix) :].sum() == pytest.approx(float(out["log_probs"][row]), rel=1e-4, abs=1e-4)


def test_generate_solo_over_a_progression_fills_its_bars(generator):
    timeline, _ = chords.parse_progression("Dm7 G7 | Cmaj7")
    notes, tokens = generate.generate_solo(generator, timeline, 2, seed=3)
    assert sum(grammar.duration_steps(token) for token in tokens) >= 2 * 4 * grammar.GRID
    assert all(0 <= offset < 8 for offset, _, _ in notes)
    again, _ = generate.generate_solo(generator, timeline, 2, seed=3)
    assert again == notes


def test_a_conditioned_generator_needs_a_timeline(generator):
    with pytest.raises(ValueError, match="timeline"):
        generator.sample(8.0)


def test_the_bass_walks_from_each_chords_root_to_the_next():
    timeline, _ = chords.parse_progression("Dm7 G7 | Cmaj7 | F#m7b5 B7 Bbmaj7 | Eb7")
    bass = generate.bass_line(timeline, 16.0)
    starts = {offset: midi for offset, _, midi in bass}
    for offset, item in timeline:
        assert starts[offset] % 12 == item.root  # each chord's root on its first beat
    # One note a beat and one at each change (bar 3's three chords), in the bass register, the line unbroken.
    assert [offset for offset, _, _ in bass] == pytest.approx(
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 8 + 4 / 3, 10, 8 + 8 / 3, 11, 12, 13, 14, 15]
    )
    assert all(
        abs(offset + duration - following) < 1e-9
        for (offset, duration, _), (following, _, _) in itertools.pairwise(bass)
    )
    assert all(generate.BASS_ROOT <= midi < generate.BASS_ROOT + 24 for _, _, midi in bass)
    # Between the roots, Cmaj7's bar climbs its chord tones and its last beat leads a semitone into F#m7b5's root.
    assert [midi % 12 for _, _, midi in bass[4:8]] == [0, 4, 7, 5]
    assert all(timeline.chord_at(offset).tone_type(midi) == "C" for offset, _, midi in bass[5:7])


def test_the_score_has_a_band_on_its_own_instruments_unless_asked_for_the_solo_alone():
    timeline, _ = chords.parse_progression("Dm7 G7 | Cmaj7")
    notes = [(0.0, 1.0, 65), (1.0, 3.0, 67)]
    score = generate.build_score(notes, timeline, 8.0, 120)
    programs = [part.getInstrument().midiProgram for part in score.parts]
    assert [part.partName for part in score.parts] == ["Solo", "Chords", "Bass"]
    assert len(set(programs)) == 3 and programs[2] in range(32, 40)  # General MIDI's basses
    bass = {n.offset: n.pitch.midi % 12 for n in score.parts[2].flatten().notes}
    assert (bass[0.0], bass[2.0], bass[4.0]) == (2, 7, 0) and len(bass) == 8
    (solo,) = generate.build_score(notes, timeline, 8.0, 120, comp=False).parts
    assert [(n.offset, n.pitch.midi) for n in solo.flatten().getElementsByClass("Note")] == [(0.0, 65), (1.0, 67)]


@pytest.mark.parametrize("keep", [True, False])
def test_a_primer_is_fed_to_the_model_and_continued_from_its_last_note(generator, keep):
    timeline, _ = chords.parse_progression("Dm7 G7 | Cmaj7 | Dm7 G7 | Cmaj7")
    primer = [(0.0, 0.5, 74), (0.5, 0.5, 77), (1.0, 1.5, 72)]
    notes, tokens = generate.generate_solo(generator, timeline, 4, seed=5, primer=primer, keep_primer=keep)
    primer_tokens = grammar.encode(primer, timeline)
    assert tokens[:3] == primer_tokens
    # The continuation is what the sampler draws after the primer, realised from the primer's last pitch.
    prefix = [[0, *generator.vocabulary.encode(primer_tokens)]]
    table = tf.constant(conditioning.step_table(timeline, 16.0)[None])
    steps = int(np.ceil(1.3 * 16)) + 8  # the first draw of `SoloSampler.sample`, long enough here
    drawn = generator.sampler(
        tf.constant(prefix), table, tf.constant(steps), tf.constant(1.0), tf.constant(0), tf.constant(5)
    )
    assert [t for t in generator.vocabulary.decode(drawn["tokens"][0].numpy()) if t != grammar.START] == tokens[3:]
    continuation = grammar.realise(tokens[3:], timeline, seed=5, start=2.5, previous=72)
    assert notes == (primer if keep else []) + generate.fit_to_length(continuation, 16.0)
    assert continuation and continuation[0][0] >= 2.5


def test_a_bundle_without_articulation_plays_legato_and_one_with_it_keeps_the_primers(generator):
    timeline, _ = chords.parse_progression("Dm7 G7 | Cmaj7")
    primer = [(0.0, 1 / 3, 74), (0.5, 1 / 3, 77), (1.0, 1.0, 72)]  # staccato eighths, a sixth of a quarter silent
    # A bundle trained before articulation (no `articulation` in its config): the gaps join their notes.
    notes, tokens = generate.generate_solo(generator, timeline, 2, seed=4, primer=primer, keep_primer=False)
    assert tokens[:2] == ["C,1/2,<*>", "C,1/2,<+2,+6>"]
    assert all(
        round((following - offset - duration) * grammar.GRID) in (0, 6, 48)  # legato, or a rest token after it
        for (offset, duration, _), (following, _, _) in itertools.pairwise(notes)
    )
    articulated = [*TOKENS, "C,1/2,<*>;1/6", "C,1/2,<+2,+6>;1/6"]
    model = jazz_model.build_model(
        len(articulated) + 1, units=6, embedding_dim=5, conditioning="changes", condition_dim=4
    )
    config = {**generator.config, "vocabulary": articulated, "articulation": True}
    _, tokens = generate.generate_solo(generate.SoloSampler(model, config), timeline, 2, seed=4, primer=primer)
    assert tokens[:2] == ["C,1/2,<*>;1/6", "C,1/2,<+2,+6>;1/6"]


def test_a_written_solo_reads_back_note_for_note(tmp_path):
    # Sixteenth triplets and twelfths, on the app's grid but not on music21's default MIDI quantisation grid;
    # notes articulated a twelfth and a sixth of a quarter short of the next.
    timeline, _ = chords.parse_progression("Dm7 G7 | Cmaj7 | F7 Bb7 | Ebmaj7")
    tokens = ["C,1/3,<+0,+4>", "A,1/6,<-2,+2>", "C,1/12,<+2,+6>", "X,1/4,<-6,-2>", "S,1/12,<+1,+3>", "R,1/6"] * 3
    tokens += ["C,1/2,<+0,+4>;1/12", "S,1/2,<-2,+2>;1/6", "C,1/3,<+2,+6>;1/12", "R,1/6"]
    notes = grammar.realise(tokens, timeline, seed=1)
    path = str(tmp_path / "solo.mid")
    generate.write_score(generate.build_score(notes, timeline, 16.0, 120), path, musicxml=True)
    (solo, score) = data.load_solos([path, path.replace(".mid", ".musicxml")], progress=False)  # as `evaluate` reads
    assert solo.notes == notes and score.notes == notes
    assert [round(duration * grammar.GRID) for _, duration, _ in notes[-3:]] == [5, 4, 3]
    assert leadsheet.read_primer(path) == notes
    (result,), _ = evaluate.evaluate_solos([solo])
    assert result["notes"] == len(notes)


def _sounding(score):
    """`(offset, duration, pitches)` of every note and chord of each part, and the tempo and metre."""
    parts = [
        [
            (float(n.offset), float(n.quarterLength), tuple(p.midi for p in n.pitches))
            for n in part.flatten().notes
            if "ChordSymbol" not in n.classes
        ]
        for part in score.parts
    ]
    mark = score.recurse().getElementsByClass("MetronomeMark").first()
    return parts, mark.number, score.recurse().getElementsByClass("TimeSignature").first().ratioString


def test_the_midi_file_holds_the_score_as_music21_reads_it_back(tmp_path):
    timeline, _ = chords.parse_progression("Dm7 G7 | Cmaj7 | F#m7b5 B7 | Em7")
    notes = [(0.5 * i, 0.5 if i % 3 else 0.25, 62 + i % 9) for i in range(28)]
    score = generate.build_score(notes, timeline, 16.0, tempo=150, bar_quarters=4.0)
    generate.write_midi(score, str(tmp_path / "take.mid"))
    parts, bpm, metre = _sounding(converter.parse(str(tmp_path / "take.mid")))
    expected, _, _ = _sounding(score)
    assert (bpm, metre) == (150, "4/4")
    assert [len(part) for part in parts] == [28, 6, 16]  # the solo, a chord a change, a bass note a beat
    assert parts == expected


@pytest.mark.slow
def test_a_thousand_bar_take_is_built_and_written_in_seconds(tmp_path):
    timeline, bars = chords.parse_progression(generate.DEFAULT_PROGRESSION)
    timeline = chords.repeat(timeline, bars, 1000)
    notes = [(0.5 * i, 0.5, 60 + i % 12) for i in range(8000)]  # eighth notes throughout: 8,000 of them
    started = time.monotonic()
    score = generate.build_score(notes, timeline, 4000.0, tempo=120)
    generate.write_score(score, str(tmp_path / "long.mid"))
    # Each note compared with every earlier one (music21's MIDI writer) took minutes; the band's chords, spelled
    # by music21 from MIDI numbers one by one, took minutes more.
    assert time.monotonic() - started < 30
    assert (tmp_path / "long.mid").stat().st_size > 8000 * 8


def test_a_long_solos_likelihood_scored_a_slice_of_the_head_at_a_time_is_the_whole_models(model, monkeypatch):
    timeline, _ = chords.parse_progression("Dm7 G7 | Cmaj7 | F7 Bb7 | Ebmaj7")
    tokens = [TOKENS[i] for i in np.random.default_rng(0).integers(0, len(TOKENS), 700)]
    features = conditioning.features(timeline, conditioning.onsets(tokens))
    vocabulary = grammar.Vocabulary(TOKENS)
    ids = vocabulary.encode(tokens)
    inputs = {"tokens": np.array([[0, *ids[:-1]]], "int32"), "conditions": features[None].astype("float32")}
    whole = model.predict_on_batch(inputs)[0][np.arange(len(ids)), ids]
    monkeypatch.setattr(evaluate, "HEAD_STEPS", evaluate.PAD_TOKENS)  # three slices, the last one short
    nll, _ = evaluate.negative_log_likelihood(model, vocabulary, tokens, features)
    np.testing.assert_allclose(nll, -np.log(whole), rtol=1e-5, atol=1e-6)
