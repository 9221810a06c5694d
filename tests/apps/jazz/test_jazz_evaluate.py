import random
import time

import numpy as np
import pytest

from apps.jazz import chords, evaluate, grammar

from jazz_scores import tiny_model


def test_statistics_of_a_hand_made_melody():
    timeline, _ = chords.parse_progression("C")
    # C E G: chord tones; D: scale tone; C#: approach tone (a semitone above C); B-flat: other.
    notes = [(0, 1, 60), (1, 1, 64), (2, 1, 67), (3, 0.5, 62), (3.5, 0.5, 70), (4, 1, 61)]
    stats = evaluate.statistics(notes, timeline)
    assert stats["notes"] == 6
    assert stats["chord_tone_share"] == pytest.approx(3 / 6)
    assert stats["scale_tone_share"] == pytest.approx(1 / 6)
    assert stats["approach_tone_share"] == pytest.approx(1 / 6)
    assert stats["other_tone_share"] == pytest.approx(1 / 6)
    assert stats["chord_or_scale_share"] == pytest.approx(4 / 6)
    assert stats["pitch_range"] == {"lowest": 60, "highest": 70, "semitones": 10}
    assert stats["interval_histogram"] == {4: 1, 3: 1, -5: 1, 8: 1, -9: 1}


def test_leaps_beyond_an_octave_are_counted_at_an_octave():
    timeline, _ = chords.parse_progression("C")
    stats = evaluate.statistics([(0, 1, 48), (1, 1, 72), (2, 1, 72)], timeline)
    assert stats["interval_histogram"] == {12: 1, 0: 1}


def test_longest_repeat_and_copy_on_tokens():
    assert evaluate.longest_repeat(list("abcxabcy")) == (3, 0)
    assert evaluate.longest_repeat(list("abcd")) == (0, 0)
    assert evaluate.longest_repeat(list("aaaa")) == (3, 0)  # overlapping occurrences count
    corpus = evaluate.CorpusIndex([list("xabcd"), list("qqq")])
    assert corpus.longest_copy(list("zbcdq")) == (3, 1)
    assert corpus.longest_copy(list("zzz")) == (0, 0)


def test_spans_are_measured_in_bars():
    timeline, _ = chords.parse_progression("Cmaj7")
    # The same bar twice (C E G E, quarters), then a different note: tokens repeat from the second note
    # of bar 1 (+4, +3, -3 windows) to the second note of bar 2.
    bar = [60, 64, 67, 64]
    notes = [(i, 1, midi) for i, midi in enumerate(bar + bar + [72])]
    stats = evaluate.statistics(notes, timeline, corpus=evaluate.CorpusIndex([]))
    # Tokens: C<*>, C+, C+, C-, C-, C+, C+, C-, C+ (windows <+2,+6>, <-6,-2>): "C+ C+ C-" occurs twice.
    assert stats["longest_repeat"] == {"tokens": 3, "bars": 0.75}
    assert stats["longest_copy"] == {"tokens": 0, "bars": 0.0, "sounding_bars": 0.0}
    copied = evaluate.statistics(notes, timeline, corpus=evaluate.CorpusIndex([grammar.encode(notes, timeline)]))
    assert copied["longest_copy"] == {"tokens": 9, "bars": 2.25, "sounding_bars": 2.25}


def test_copied_lengths_per_position():
    corpus = evaluate.CorpusIndex([list("xabcd"), list("qqq")])
    assert corpus.copied_lengths(list("zbcdq")).tolist() == [0, 3, 2, 1, 1]
    assert corpus.copied_lengths(list("qqqq")).tolist() == [3, 3, 2, 1]


def test_a_copied_span_sounds_from_its_first_note_to_its_last():
    rest, note = "R,4", "C,1,<-2,+2>"
    corpus = evaluate.CorpusIndex([[rest, rest, rest, note, note, rest, rest, note]])
    # Four bars of silence match the corpus's three only in part, and silence alone is no copied music.
    assert evaluate.longest_sounding_copy(corpus, [rest] * 4) == 0.0
    assert corpus.longest_copy([rest] * 4)[0] == 3
    # Rests at the edges of a copied span are trimmed; a rest between two copied notes counts.
    assert evaluate.longest_sounding_copy(corpus, [rest, rest, note, note, rest, "R,2"]) == 0.5
    assert evaluate.longest_sounding_copy(corpus, [note, rest, rest, note, rest]) == 2.5


@pytest.mark.slow
def test_a_long_solo_copied_whole_from_the_corpus_is_measured_in_linear_time(monkeypatch):
    rng = random.Random(0)
    vocabulary = ["C,1/2,<*>", "S,1/2,<-2,+2>", "A,1/4,<-1,+1>", "R,1/2", "C,1,<+0,+4>", "R,2"]
    solo = [rng.choice(vocabulary) for _ in range(3000)]
    corpus = evaluate.CorpusIndex([[rng.choice(vocabulary) for _ in range(3000)], solo])
    sounding = [i for i, token in enumerate(solo) if not token.startswith("R")]
    steps = sum(grammar.duration_steps(token) for token in solo[sounding[0] : sounding[-1] + 1])
    durations = []
    duration_steps = grammar.duration_steps
    monkeypatch.setattr(grammar, "duration_steps", lambda token: durations.append(token) or duration_steps(token))
    started = time.monotonic()
    assert corpus.longest_copy(solo) == (3000, 0)
    assert evaluate.longest_sounding_copy(corpus, solo) == steps / grammar.GRID / 4
    assert len(durations) == len(solo)  # each token's duration once, not once for every span holding it
    assert time.monotonic() - started < 60


def test_without_articulation_a_token_is_scored_by_its_other_parts():
    tokens = ["C,1/2,<*>", "C,1/2,<*>;1/6", "C,1/2,<*>;1/12", "R,1/2", "S,1,<+0,+4>"]
    vocabulary = grammar.Vocabulary(tokens)
    model = tiny_model(tokens, head="chain")
    solo = ["C,1/2,<*>;1/6", "R,1/2", "S,1,<+0,+4>", "C,1/2,<*>"]
    whole, _ = evaluate.negative_log_likelihood(model, vocabulary, solo)
    parts, _ = evaluate.negative_log_likelihood(model, vocabulary, solo, articulation=False)
    probabilities = model.predict_on_batch(np.array([[0, *vocabulary.encode(solo)[:-1]]], "int32"))[0]
    twins = [1, 2, 3]  # the three articulations of "C,1/2,<*>"
    expected = [-np.log(probabilities[0, twins].sum()), whole[1], whole[2], -np.log(probabilities[3, twins].sum())]
    np.testing.assert_allclose(parts, expected, rtol=1e-5)
    assert parts[0] < whole[0] and parts[1] == pytest.approx(whole[1])
