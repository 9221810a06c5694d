"""`apps.jazz.conditioning`: the features the conditioned model sees, checked step by step on a hand-made
progression."""

import numpy as np
import pytest

from apps.jazz import chords, conditioning, grammar

# Dm7 and G7 share bar 1; Cmaj7 is written again on bar 3 (no change); F7 from bar 4 to the end.
PROGRESSION = "Dm7 G7 | Cmaj7 | Cmaj7 | F7"
D, G, C, F = 2, 7, 0, 5
MINOR_SEVENTH, DOMINANT, MAJOR_SEVENTH = {0, 3, 7, 10}, {0, 4, 7, 10}, {0, 4, 7, 11}


def hot(row, part):
    return set(np.flatnonzero(row[part]).tolist())


@pytest.mark.parametrize(
    "quarters, root, chord, next_root, next_chord, distance, position",
    [
        (0.0, D, MINOR_SEVENTH, 5, DOMINANT, 2, 0),  # Dm7 -> G7 (up a fourth) in two beats
        (1.5, D, MINOR_SEVENTH, 5, DOMINANT, 0, 18),  # half a beat before the change: floor(0.5) = 0
        (2.0, G, DOMINANT, 5, MAJOR_SEVENTH, 2, 24),  # on the change, the new chord sounds
        (3 + 2 / 3, G, DOMINANT, 5, MAJOR_SEVENTH, 0, 44),  # the last triplet eighth of bar 1
        (4.5, C, MAJOR_SEVENTH, 5, DOMINANT, 7, 6),  # the repeated Cmaj7 is no change: F7 in 7.5 beats
        (8.0, C, MAJOR_SEVENTH, 5, DOMINANT, 4, 0),
        (13.25, F, DOMINANT, 0, DOMINANT, 8, 15),  # after the last change: no next chord
        (40.0, F, DOMINANT, 0, DOMINANT, 8, 0),  # far beyond the progression the last chord sounds on
    ],
)
def test_features_of_a_hand_made_progression(quarters, root, chord, next_root, next_chord, distance, position):
    timeline, _ = chords.parse_progression(PROGRESSION)
    step = round(quarters * grammar.GRID)
    (row,) = conditioning.features(timeline, [step])
    assert row.shape == (conditioning.SIZE,) and set(np.unique(row)) <= {0.0, 1.0}
    assert hot(row, conditioning.ROOT) == {root}
    assert hot(row, conditioning.CHORD) == chord
    assert hot(row, conditioning.NEXT_ROOT) == {next_root}
    assert hot(row, conditioning.NEXT_CHORD) == next_chord
    assert hot(row, conditioning.DISTANCE) == {distance}
    assert hot(row, conditioning.POSITION) == {position}


def test_bar_position_follows_the_bar_length():
    timeline, _ = chords.parse_progression("C")
    rows = conditioning.features(timeline, [0, 35, 36, 40], bar_quarters=3.0)
    assert [hot(row, conditioning.POSITION) for row in rows] == [{0}, {35}, {0}, {4}]


def test_a_step_table_row_is_the_features_of_a_token_starting_there():
    timeline, _ = chords.parse_progression(PROGRESSION)
    table = conditioning.step_table(timeline, 16.0)
    assert len(table) == 16 * grammar.GRID + grammar.MAX_STEPS + 1
    steps = np.array([0, 7, 24, 100, 191])
    np.testing.assert_array_equal(table[steps], conditioning.features(timeline, steps))


def test_onsets_are_the_running_sum_of_durations():
    tokens = ["R,1/2", "C,1/3,<*>", "S,1/6,<+0,+4>", "R,4", "A,3/2,<-4,+0>"]
    np.testing.assert_array_equal(conditioning.onsets(tokens), [0, 6, 10, 12, 60])
    assert len(conditioning.onsets([])) == 0
