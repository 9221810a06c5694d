"""`NameSampler.sample_batch` decodes the whole batch at once: the same names as row by row."""

import numpy as np
import pytest

from apps.dinos import data
from apps.dinos.sample import NameSampler


@pytest.mark.parametrize("prefix, max_len, temperature", [("", None, 1.0), ("st", 5, 2.0), ("a", 2, 0.5)])
def test_batch_decoding_matches_decode_classes(loaded, prefix, max_len, temperature):
    model, config = loaded
    sampler = NameSampler(model, config)
    names, log_probs, ended = sampler.sample_batch(200, prefix, max_len, temperature, seed=3)
    classes = [data.END_CLASS] + [i - 1 for i in sampler.vocab.encode(prefix)]
    steps = (max_len or config["max_len"]) - len(prefix) + 1
    out = sampler.sampler(np.array([classes] * 200, "int32"), steps, temperature, 0, 3)
    decoded = [sampler.vocab.decode_classes(row) for row in out["tokens"].numpy()]
    assert names == [prefix + name for name, _ in decoded]
    assert ended.dtype == bool and ended.tolist() == [done for _, done in decoded]
    np.testing.assert_array_equal(log_probs, out["log_probs"].numpy())
    if max_len:
        assert not ended.all()  # names cut at max_len were decoded too


def test_an_empty_batch(loaded):
    names, log_probs, ended = NameSampler(*loaded).sample_batch(0)
    assert names == [] and log_probs.shape == ended.shape == (0,)
