"""apps.dinos.evaluate: scoring in chunks gives what one pass over every name gives."""

import numpy as np

from apps.dinos import data, evaluate

from dinos_names import NAMES


def test_scoring_in_chunks_matches_one_pass(loaded, monkeypatch):
    model, config = loaded
    vocab = data.Vocabulary.from_config(config["vocabulary"])
    names = sorted(set(NAMES), key=len)  # the longest names last: chunks are padded to different lengths
    whole, whole_mask = evaluate.token_log_probs(model, vocab, names)
    monkeypatch.setattr(evaluate, "CHUNK", 3)
    chunked, chunked_mask = evaluate.token_log_probs(model, vocab, names)
    np.testing.assert_array_equal(chunked_mask, whole_mask)
    assert whole_mask.sum() == sum(len(name) + 1 for name in names)
    np.testing.assert_allclose(chunked, whole, atol=1e-5)
    assert np.all(chunked[~chunked_mask] == 0)


def test_a_large_vocabulary_scores_fewer_names_a_call(loaded, monkeypatch):
    model, config = loaded
    vocab = data.Vocabulary.from_config(config["vocabulary"])
    names = sorted(set(NAMES), key=len)
    whole, _ = evaluate.token_log_probs(model, vocab, names)
    width = len(names[-1]) + 1
    monkeypatch.setattr(evaluate, "CHUNK_PROBABILITIES", 2 * width * vocab.num_classes)  # two names' worth
    predict, rows = model.predict, []
    monkeypatch.setattr(model, "predict", lambda x, **kwargs: rows.append(len(x)) or predict(x, **kwargs))
    chunked, _ = evaluate.token_log_probs(model, vocab, names)
    assert max(rows) == 2 and sum(rows) == len(names)
    np.testing.assert_allclose(chunked, whole, atol=1e-5)
