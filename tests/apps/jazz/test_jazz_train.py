import numpy as np

from apps.jazz import train


def test_windows_overlap_by_half_and_start_from_the_start_token():
    inputs, targets = train.windows([np.arange(1, 11)], 4)
    np.testing.assert_array_equal(targets, [[1, 2, 3, 4], [3, 4, 5, 6], [5, 6, 7, 8], [7, 8, 9, 10]])
    np.testing.assert_array_equal(inputs, [[0, 1, 2, 3], [0, 3, 4, 5], [0, 5, 6, 7], [0, 7, 8, 9]])
    inputs, targets = train.windows([np.arange(1, 4)], 4)  # shorter than a window
    assert inputs.shape == targets.shape == (0, 4)


def test_split_holds_out_whole_solos_reproducibly():
    solos = list("abcdefghijklmnopqrst")
    training, validation = train.split_solos(solos, 0.1, seed=0)
    assert len(validation) == 2 and sorted(training + validation) == solos
    assert train.split_solos(solos, 0.1, seed=0) == (training, validation)
    assert train.split_solos(solos, 0.0, seed=0) == (solos, [])
    assert train.split_solos(["only"], 0.1, seed=0) == (["only"], [])
