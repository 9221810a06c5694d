"""Dinosaurus Island: a character-level language model that invents dinosaur names.

Commands (`python -m apps.dinos --help`): train, sample, score, evaluate, export, download. The pretrained
model lives in `saved_models/dinos`.
"""

from apps.common.registry import register

register("dinos", __name__)
