"""`apps.jazz.reference`: histogram overlaps between solos, checked by hand on a toy case."""

import numpy as np
import pytest

from apps.jazz import chords, reference
from apps.jazz.chords import Timeline, parse_chord
from apps.jazz.data import Solo

from jazz_scores import CHORDS, MELODY

C_MAJOR, _ = chords.parse_progression("C")


def solo(notes, timeline=C_MAJOR, length=4.0):
    return Solo("toy", notes, timeline, length=length)


# A: C (a quarter), E, D (eighths). B: C and C# (halves).
A = solo([(0.0, 1.0, 60), (1.0, 0.5, 64), (1.5, 0.5, 62)])
B = solo([(0.0, 2.0, 60), (2.0, 2.0, 61)])


def test_histograms_of_a_hand_made_solo():
    counts = reference.histograms(A.notes, A.timeline, bars=1)
    assert np.flatnonzero(counts["pitch_class"]).tolist() == [0, 2, 4]
    assert counts["tone_type"].tolist() == [2, 1, 0, 0]  # C, E chord tones; D a scale tone
    assert np.flatnonzero(counts["interval"]).tolist() == [12 - 2, 12 + 4]
    assert counts["duration"][5] == 1 and counts["duration"][3] == 2  # 1 in [0.8, 1.1); 0.5 in [0.4, 0.6)
    assert counts["onset"].tolist() == [1, 0, 1, 1, 0, 0, 0, 0]
    assert counts["notes_per_bar"].tolist() == [0, 1] + [0] * 14  # 3 notes: the bin of 2-3
    assert counts["articulation"].tolist() == [0, 0, 0, 0, 0, 2, 0]  # C, E legato; D, the last, not counted


def test_articulation_is_the_sounding_share_of_the_time_to_the_next_onset():
    notes = [
        (0.0, 0.25, 60),  # half of its eighth: [0.5, 0.7)
        (0.5, 0.4, 62),  # 0.8 of its eighth: [0.7, 0.85)
        (1.0, 0.3, 64),  # 0.3 of the quarter and a half to the next note: [0.3, 0.5)
        (2.0, 0.9, 65),  # 0.9 of its quarter: [0.85, 0.95)
        (3.0, 0.5, 67),  # the next onset a bar away: not counted
        (7.0, 0.5, 69),  # next onset beyond the bars compared: counted, legato
        (7.5, 0.5, 67),  # the last: not counted
    ]
    counts = reference.histograms(notes, C_MAJOR, bars=1)
    assert counts["articulation"].tolist() == [0, 1, 1, 1, 1, 0, 0]
    assert reference.histograms(notes, C_MAJOR, bars=2)["articulation"].tolist() == [0, 1, 1, 1, 1, 1, 0]


def test_real_solos_keep_their_own_sounding_lengths():
    # A sixth of a quarter silent before the next note: still there on the grid, not joined to the note.
    real = solo([(0.0, 0.5 - 1 / 6, 60), (0.5, 0.5, 62), (1.0, 1.0, 64)])
    assert reference.real_notes(real)[0] == (0.0, pytest.approx(1 / 3), 60)
    assert reference.ceiling([real, real], bars=1)["articulation"] == 1.0
    counts = reference.histograms(reference.real_notes(real), C_MAJOR, bars=1)
    assert counts["articulation"].tolist() == [0, 0, 1, 0, 0, 1, 0]


def test_overlaps_of_a_two_solo_toy_case_by_hand():
    # The ceiling of two solos compares the first (odd-numbered) with the second (even-numbered).
    result = reference.ceiling([A, B], bars=1)
    expected = {
        "pitch_class": 1 / 3,  # A: 0, 2, 4 a third each; B: 0, 1 a half each -> min at 0
        "tone_type": 1 / 2,  # A: 2/3 chord, 1/3 scale; B: 1/2 chord, 1/2 approach (C# a semitone above C)
        "interval": 0.0,  # A: +4, -2; B: +1
        "duration": 0.0,  # A: 1 and 0.5; B: 2 and 2
        "onset": 1 / 3,  # A: eighths 0, 2, 3; B: eighths 0 and 4
        "notes_per_bar": 1.0,  # 3 and 2 notes share the bin 2-3
        "articulation": 1.0,  # every note but the last legato in both
    }
    for name, value in expected.items():
        assert result[name] == pytest.approx(value), name
    assert result["mean"] == pytest.approx((13 / 6 + 1) / 7)


def test_a_solo_against_itself_overlaps_fully():
    timeline = Timeline([(offset, parse_chord(figure)) for offset, figure in CHORDS])
    real = solo(MELODY, timeline, length=13.0)
    result = reference.ceiling([real, real], bars=4)
    assert result == {name: pytest.approx(1.0) for name in [*reference.FEATURES, "mean"]}
    # ... and against a solo shifted by a semitone it does not.
    shifted = solo([(o, d, m + 1) for o, d, m in MELODY], timeline, length=13.0)
    assert reference.ceiling([real, shifted], bars=4)["pitch_class"] < 0.5


def test_overlap_of_empty_histograms():
    assert reference.overlap([0, 0], [0, 0]) == 1.0
    assert reference.overlap([0, 0], [1, 0]) == 0.0
    assert reference.overlap([1, 3], [2, 6]) == pytest.approx(1.0)  # normalised first


def test_notes_beyond_the_bars_are_left_out_and_the_last_is_cut():
    counts = reference.histograms([(0.0, 8.0, 60), (4.0, 1.0, 62)], C_MAJOR, bars=1)
    assert counts["tone_type"].sum() == 1 and counts["duration"][-1] == 1  # 8 quarters cut to 4: still >= 3.2


def test_several_draws_are_pooled_before_the_overlap(monkeypatch):
    from apps.jazz import generate

    # Draw 0 (seed 0) plays A's notes, draw 1 (seed 100) B's; the real solo is A.
    played = {0: A.notes, reference.DRAW_SEED_STRIDE: B.notes}
    monkeypatch.setattr(generate, "generate_solo", lambda generator, timeline, bars, seed, **kw: (played[seed], []))
    result = reference.compare(None, [A], bars=1, draws=2, per_solo=True)
    assert result["by_draw"][0] == {name: pytest.approx(1.0) for name in [*reference.FEATURES, "mean"]}
    assert result["by_draw"][1]["duration"] == 0.0  # A: 1 and 0.5 quarters; B: 2 and 2
    assert result["mean_over_draws"]["duration"] == pytest.approx(0.5)
    # Pooled: 0.5 twice, 1 once, 2 twice (2/5, 1/5, 2/5) against A's (2/3, 1/3, 0).
    assert result["overlaps"]["duration"] == pytest.approx(2 / 5 + 1 / 5)
    assert result["notes"] == {"generated": 2.5, "real": 3}
    assert (
        result["per_solo"]["generated"][0]["duration"]
        == (
            reference.histograms(A.notes, C_MAJOR, 1)["duration"]
            + reference.histograms(B.notes, C_MAJOR, 1)["duration"]
        ).tolist()
    )


def test_bootstrap_difference_of_a_model_with_itself_and_with_the_real_solos():
    solos = [A, B, A, B]
    real = [{k: v.tolist() for k, v in reference.histograms(s.notes, s.timeline, 1).items()} for s in solos]
    swapped = real[1::-1] + real[:1:-1]  # each solo gets another's notes
    same = reference.bootstrap_difference(swapped, swapped, real, rounds=200)
    assert all(spread == {"low": 0.0, "high": 0.0, "share_at_least": 1.0} for spread in same.values())
    better = reference.bootstrap_difference(real, swapped, real, rounds=200)
    assert better["duration"]["share_at_least"] == 1.0 and better["duration"]["high"] > 0
    with pytest.raises(ValueError, match="same solos"):
        reference.bootstrap_difference(real, swapped[:2], real)
