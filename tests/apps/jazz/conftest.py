import pytest

from jazz_scores import CHORDS, MELODY, make_score


@pytest.fixture(scope="session")
def solos_dir(tmp_path_factory):
    """Three tiny two-bar-phrase solos (the same tune in three keys) as MusicXML files."""
    directory = tmp_path_factory.mktemp("solos")
    for i, shift in enumerate((0, 2, 5)):
        melody = [(offset + bars * 13, length, midi + shift) for bars in (0, 1) for offset, length, midi in MELODY]
        make_score(melody, CHORDS).write("musicxml", fp=str(directory / f"solo{i}.musicxml"))
    return directory


@pytest.fixture
def tiny_score():
    return make_score(MELODY, CHORDS)


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    """Solos parsed by a test are cached in a temporary directory, never in the checkout's data/cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JAZZ_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "jazz-cache"))
        yield
