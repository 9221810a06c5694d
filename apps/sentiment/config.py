"""Model options the command line offers, kept free of TensorFlow so that arguments are checked before it loads."""

import dataclasses

from apps.common.cells import CELLS
from apps.common.cli import fraction, int_in, positive_float
from apps.common.cli import seed as seed_type
from apps.common.config import MAX_BATCH_SIZE, MAX_EMBEDDING_DIM, MAX_EPOCHS, MAX_LAYERS, MAX_UNITS, option

POOLINGS = ("last", "mean", "max")
DEFAULT_MAX_LENGTH = 100
"""Tokens kept per text. The longest SST train/dev sentence has 52 tokens; anything beyond 100 is cut off."""
EXPLAIN_METHODS = ("integrated-gradients", "occlusion")
"""How `apps.sentiment.explain` scores tokens; the first is the default."""
DEFAULT_EMBEDDING_DIM = 64
"""Word vector size without pretrained vectors (with them: theirs)."""
MAX_TOKENS = 200_000
"""Vocabulary size (`--max-tokens`), and the most words `--extra-vocabulary` adds beyond it (GloVe 6B has 400,000)."""
MAX_LENGTH = 1_000
"""Tokens kept per text (`--max-length`)."""
MAX_CLASSES = 1_000
"""Classes of a labelled file (`--num-classes`, and the largest label + 1 where it is inferred)."""
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
    units: int = option(64, "units per direction", type=int_in(1, MAX_UNITS))
    num_layers: int = option(
        1, "stacked recurrent layers", type=int_in(1, MAX_LAYERS), flag="--layers", metavar="N", key="layers"
    )
    bidirectional: bool = option(True, "read the text both ways", type=bool)
    pooling: str = option("last", "classify from the last state, or the mean or max over the tokens", choices=POOLINGS)
    embedding_dim: int = option(
        None,
        f"word vector size (default: that of --embeddings, else {DEFAULT_EMBEDDING_DIM})",
        type=int_in(1, MAX_EMBEDDING_DIM),
    )
    freeze_embeddings: bool = option(False, "keep the word vectors as initialised instead of training them", type=bool)
    extra_vocabulary: int = option(
        0,
        "with --embeddings: add the N most frequent of its words that the training texts lack to the "
        "vocabulary (beyond --max-tokens), so that words unseen in training keep a meaning at predict time; "
        "each costs embedding-dim x 4 bytes",
        type=int_in(1, MAX_TOKENS),
        metavar="N",
    )
    max_tokens: int = option(
        10000, "vocabulary size, padding and unknown-word ids included", type=int_in(1, MAX_TOKENS)
    )
    max_length: int = option(
        DEFAULT_MAX_LENGTH, "tokens kept per text, the rest is cut off", type=int_in(1, MAX_LENGTH)
    )
    dropout: float = option(0.5, "dropout rate", type=fraction)
    word_dropout: float = option(0.5, "share of words dropped while training", type=fraction)
    learning_rate: float = option(1e-3, "Adam's step size", type=positive_float)
    epochs: int = option(20, "most epochs", type=int_in(1, MAX_EPOCHS))
    batch_size: int = option(32, "examples per step", type=int_in(1, MAX_BATCH_SIZE))
    patience: int = option(3, "stop after this many epochs without a better dev accuracy", type=int_in(1, MAX_EPOCHS))
    seed: int = option(0, "seeds the initialisation, dropout and shuffling", type=seed_type)
