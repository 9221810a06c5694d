"""The hyper-parameters of `python -m apps.jazz train`, each declared once (`apps.common.config`)."""

import dataclasses

from apps.common.cells import CELLS
from apps.common.cli import fraction, int_in, positive_float, refusing_removed
from apps.common.config import MAX_BATCH_SIZE, MAX_EMBEDDING_DIM, MAX_EPOCHS, MAX_UNITS, option
from apps.jazz.conditioning import MODES
from apps.jazz.grammar import ENCODINGS

HEADS = ("joint", "chain")
"""`--head`: `joint`, one logit per token (a `Dense` softmax); `chain`, one head per part conditioned on the
parts before it (`apps.jazz.model.ChainSoftmax`)."""
MAX_SEED = 2**31 - 1000  # the sampler's seeds are int32, and a long solo uses seed, seed + 1, ...
MAX_SEQ_LEN = 1_000
"""Tokens per training window (a solo of the Weimar Jazz Database has about 450)."""


@dataclasses.dataclass(frozen=True)
class Hyperparameters:
    """What `apps.jazz.train.train` takes; the bundle's config.json records the model's at its top and the
    others under `training`."""

    encoding: str = option("grammar", "how notes become tokens", choices=ENCODINGS, section="model")
    articulation: bool = option(
        True,
        "a silence of up to 1/6 of a quarter before the next note is the note's articulation, learned and "
        "played; --no-articulation joins it to the note, and every note sounds until the next",
        type=bool,
        section="model",
    )
    conditioning_mode: str = option(
        "changes",
        "changes: the network sees the sounding and next chord and the bar position at every step; "
        "none: tokens only (with --head joint, the course's model)",
        choices=MODES,
        flag="--conditioning",
        section="model",
        key="conditioning",
    )
    head: str = option(
        "chain",
        "joint: one softmax weight per token; chain: a head per part (type, then duration, then window), each "
        "conditioned on the parts before it",
        type=refusing_removed(
            str,
            {
                "factored": "use chain, the default, which predicts the validation solos better (whole-solo "
                "perplexity 65.6 against 69.9); models trained with factored still load"
            },
        ),
        choices=HEADS,
        section="model",
    )
    cell: str = option("lstm", "recurrent cell", choices=CELLS, section="model")
    units: int = option(64, "state size", type=int_in(1, MAX_UNITS), section="model")
    dropout: float = option(0.1, "rate before the softmax", type=fraction, section="model")
    embedding_dim: int = option(32, "token embedding size", type=int_in(1, MAX_EMBEDDING_DIM), section="model")
    seq_len: int = option(90, "Tx, tokens per training window", type=int_in(1, MAX_SEQ_LEN), section="model")
    epochs: int = option(30, "most epochs", type=int_in(1, MAX_EPOCHS), section="training")
    batch_size: int = option(64, "windows per step", type=int_in(1, MAX_BATCH_SIZE), section="training")
    learning_rate: float = option(5e-3, "Adam's step size", type=positive_float, section="training")
    validation_split: float = option(0.1, "fraction of solos held out", type=fraction, section="training")
    seed: int = option(
        0, "seeds the split, the weights and the shuffling", type=int_in(0, MAX_SEED), section="training"
    )
