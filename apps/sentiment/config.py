"""Model options the command line offers, kept free of TensorFlow so that arguments are checked before it loads."""

import dataclasses

from apps.common.cells import CELLS
from apps.common.cli import fraction, positive_float, positive_int
from apps.common.cli import seed as seed_type
from apps.common.config import option

POOLINGS = ("last", "mean", "max")
DEFAULT_MAX_LENGTH = 100
"""Tokens kept per text. The longest SST train/dev sentence has 52 tokens; anything beyond 100 is cut off."""
EXPLAIN_METHODS = ("integrated-gradients", "occlusion")
"""How `apps.sentiment.explain` scores tokens; the first is the default."""
DEFAULT_EMBEDDING_DIM = 64
"""Word vector size without pretrained vectors (with them: theirs)."""
PTB_RULES = (
    (r"\(", " -lrb- "),
    (r"\)", " -rrb- "),
    ('"', " '' "),
    # Clitics are separate tokens in PTB: "isn't" -> "is n't", "it's" -> "it 's".
    (r"(\w)(n't)\b", r"\1 \2"),
    (r"(\w)('s|'re|'ve|'ll|'d|'m)\b", r"\1 \2"),
    # Sentence punctuation stands alone, but an ellipsis stays one token as in SST.
    (r"(\.\.\.|[.,!?;:])", r" \1 "),
    (r"[\t\n\f\r ]+", " "),
)
"""The regular-expression rules that `apps.sentiment.model.standardize_ptb` applies in order after lower-casing,
and `apps.sentiment.litert.standardize` in Python for a LiteRT host. They are RE2's (TensorFlow's), whose \\w
and \\b are ASCII (Python's with `re.ASCII`); the white space class is RE2's \\s spelt out."""


@dataclasses.dataclass(frozen=True)
class Hyperparameters:
    """What `apps.sentiment.train.train` takes and the bundle's config.json records (at its top).

    The defaults are the command line's (word dropout 0.5 included), for scripts and the CLI alike.
    """

    cell: str = option("lstm", "recurrent cell", choices=CELLS)
    units: int = option(64, "units per direction", type=positive_int)
    num_layers: int = option(
        1, "stacked recurrent layers", type=positive_int, flag="--layers", metavar="N", key="layers"
    )
    bidirectional: bool = option(True, "read the text both ways", type=bool)
    pooling: str = option("last", "classify from the last state, or the mean or max over the tokens", choices=POOLINGS)
    members: int = option(
        1,
        "train N networks side by side (own embeddings, same vocabulary) and answer with the "
        "mean of their probabilities",
        type=positive_int,
        flag="--ensemble",
        metavar="N",
    )
    embedding_dim: int = option(
        None, f"word vector size (default: that of --embeddings, else {DEFAULT_EMBEDDING_DIM})", type=positive_int
    )
    freeze_embeddings: bool = option(False, "keep the word vectors as initialised instead of training them", type=bool)
    extra_vocabulary: int = option(
        0,
        "with --embeddings: add the N most frequent of its words that the training texts lack to the "
        "vocabulary (beyond --max-tokens), so that words unseen in training keep a meaning at predict time; "
        "each costs embedding-dim x 4 bytes",
        type=positive_int,
        metavar="N",
    )
    max_tokens: int = option(10000, "vocabulary size, padding and unknown-word ids included", type=positive_int)
    max_length: int = option(DEFAULT_MAX_LENGTH, "tokens kept per text, the rest is cut off", type=positive_int)
    dropout: float = option(0.5, "dropout rate", type=fraction)
    word_dropout: float = option(0.5, "share of words dropped while training", type=fraction)
    learning_rate: float = option(1e-3, "Adam's step size", type=positive_float)
    epochs: int = option(20, "most epochs", type=positive_int)
    batch_size: int = option(32, "examples per step", type=positive_int)
    patience: int = option(3, "stop after this many epochs without a better dev accuracy", type=positive_int)
    seed: int = option(0, "seeds the initialisation, dropout and shuffling", type=seed_type)
