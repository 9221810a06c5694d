"""The hyper-parameters of `python -m apps.dinos train`, each declared once (`apps.common.config`).

The learning rate is 2e-3, the one the shipped bundle was trained with (`saved_models/dinos/README.md`), for
the command line and `train()` alike.
"""

import dataclasses

from apps.common.cells import CELLS
from apps.common.cli import fraction, int_in, positive_float
from apps.common.cli import seed as seed_type
from apps.common.config import MAX_BATCH_SIZE, MAX_EMBEDDING_DIM, MAX_EPOCHS, MAX_LAYERS, MAX_UNITS, option

MAX_CHARACTERS = 256
"""Distinct characters of a training name list: the softmax has a class for each (the dinosaurs use 27, Latin-1's
letters fit), and sampling 100,000 names holds 100,000 x that many probabilities at each step."""


@dataclasses.dataclass(frozen=True)
class Hyperparameters:
    """What `apps.dinos.train.train` takes and the bundle's config.json records (`model` and `training`)."""

    cell: str = option("lstm", "recurrent cell", choices=CELLS, section="model")
    units: int = option(128, "state size", type=int_in(1, MAX_UNITS), section="model")
    layers: int = option(1, "stacked layers", type=int_in(1, MAX_LAYERS), section="model")
    embedding_dim: int = option(32, "character embedding size", type=int_in(1, MAX_EMBEDDING_DIM), section="model")
    dropout: float = option(0.1, "dropout rate after every recurrent layer", type=fraction, section="model")
    input_dropout: float = option(
        0.0, "dropout rate of every recurrent layer's inputs, one mask per name", type=fraction, section="model"
    )
    recurrent_dropout: float = option(
        0.0,
        "variational dropout rate of every recurrent layer's state a<t-1>, one mask per name",
        type=fraction,
        section="model",
    )
    embedding_dropout: float = option(
        0.0,
        "rate of whole characters dropped per name: every occurrence of a dropped character embeds to zeros",
        type=fraction,
        section="model",
    )
    epochs: int = option(30, "most epochs", type=int_in(1, MAX_EPOCHS), section="training")
    patience: int = option(
        5, "early stopping: epochs without a better validation loss", type=int_in(1, MAX_EPOCHS), section="training"
    )
    batch_size: int = option(32, "names per step", type=int_in(1, MAX_BATCH_SIZE), section="training")
    learning_rate: float = option(2e-3, "Adam's step size", type=positive_float, section="training")
    clipnorm: float = option(5.0, "gradient clipping by global norm", type=positive_float, section="training")
    ema_momentum: float = option(
        None,
        "validate, checkpoint and keep an exponential moving average of the weights with this momentum "
        "(e.g. 0.99), not the last weights; needs --val-split above 0 (default: off)",
        type=fraction,
        flag="--ema",
        metavar="MOMENTUM",
        section="training",
    )
    val_split: float = option(0.1, "share of distinct names held out for validation", type=fraction, section="training")
    seed: int = option(0, "seeds the split, the weights and dropout", type=seed_type, section="training")
