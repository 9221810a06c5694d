import pytest
from jazz_scores import CHORDS, MELODY, make_score


@pytest.fixture
def tiny_score():
    return make_score(MELODY, CHORDS)
