import numpy as np
import pytest

from apps.common.config import record
from apps.jazz import train
from apps.jazz.cli import build_parser
from apps.jazz.config import Hyperparameters

from jazz_scores import make_score


def test_windows_overlap_by_half_and_start_from_the_start_token():
    inputs, targets = train.windows([np.arange(1, 11)], 4)
    np.testing.assert_array_equal(targets, [[1, 2, 3, 4], [3, 4, 5, 6], [5, 6, 7, 8], [7, 8, 9, 10]])
    np.testing.assert_array_equal(inputs, [[0, 1, 2, 3], [0, 3, 4, 5], [0, 5, 6, 7], [0, 7, 8, 9]])
    inputs, targets = train.windows([np.arange(1, 4)], 4)  # shorter than a window
    assert inputs.shape == targets.shape == (0, 4)


def test_feature_windows_are_cut_where_the_token_windows_are():
    ids = np.arange(1, 11)
    features = np.stack([ids * 10, -ids], axis=1).astype("float32")  # (tokens, 2): a token's own features
    _, targets = train.windows([ids], 4)
    cut = train.feature_windows([features], 4)
    assert cut.shape == (4, 4, 2)
    np.testing.assert_array_equal(cut[..., 0], targets * 10)  # each target token with its own features
    np.testing.assert_array_equal(cut[..., 1], -targets)
    assert train.feature_windows([features[:3]], 4).shape[0] == 0


def test_split_holds_out_whole_solos_reproducibly():
    solos = list("abcdefghijklmnopqrst")
    training, validation = train.split_solos(solos, 0.1, seed=0)
    assert len(validation) == 2 and sorted(training + validation) == solos
    assert train.split_solos(solos, 0.1, seed=0) == (training, validation)
    assert train.split_solos(solos, 0.0, seed=0) == (solos, [])
    assert train.split_solos(["only"], 0.1, seed=0) == (["only"], [])


@pytest.fixture(scope="module")
def changes_corpus(tmp_path_factory):
    """Eight solos made with music21 that play one note per chord, C7 and F7 alternating after 1 to 4 beats
    at random: each note lasts until the next change, which a conditioned model is told (the distance to the
    next chord) and a token-only one can only guess (one of four durations)."""
    directory = tmp_path_factory.mktemp("changes")
    rng = np.random.default_rng(0)
    for index in range(8):
        offset, changes, melody = 0.0, [], []
        while offset < 24 * 4:
            length = float(rng.integers(1, 5))
            figure, root = ("C7", 60) if len(changes) % 2 == 0 else ("F7", 65)
            changes.append((offset, figure))
            melody.append((offset, length, root))
            offset += length
        make_score(melody, changes).write("musicxml", fp=str(directory / f"solo{index}.musicxml"))
    return directory


def test_the_conditioned_model_learns_what_the_changes_tell(changes_corpus, tmp_path):
    """Trained from a script, as `train()`: what it is not given has the command line's default."""
    defaults = record(Hyperparameters, vars(build_parser().parse_args(["train", "--midi", "x.mid"])))
    left_out = ("encoding", "head", "cell", "validation_split", "seed")
    perplexity = {}
    for mode in ("changes", "none"):
        config = train.train(
            [str(changes_corpus)],
            str(tmp_path / mode),
            seq_len=8,
            epochs=12,
            batch_size=8,
            units=8,
            embedding_dim=4,
            learning_rate=0.03,
            dropout=0.0,
            verbose=0,
            conditioning_mode=mode,
        )
        assert config["conditioning"] == mode and config["training"]["validation_solos"] == 1
        recorded = {**config, **config["training"]}
        assert {key: recorded[key] for key in left_out} == {key: defaults[key] for key in left_out}
        perplexity[mode] = config["metrics"]["val_perplexity"]
    # Four equally likely durations: a token-only model cannot go below a perplexity of about 4.
    assert perplexity["none"] > 3.0
    assert perplexity["changes"] < 2.0
