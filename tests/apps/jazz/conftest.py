import pytest
from jazz_scores import CHORDS, MELODY, make_score


@pytest.fixture
def tiny_score():
    return make_score(MELODY, CHORDS)


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    """Solos parsed by a test are cached in a temporary directory, never in the checkout's data/cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JAZZ_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "jazz-cache"))
        yield
