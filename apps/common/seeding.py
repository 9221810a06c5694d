"""Reproducibility: one call seeds Python, NumPy and the backend."""

import keras


def set_seed(seed):
    """Seeds every random generator Keras uses (Python's, NumPy's and the backend's)."""
    keras.utils.set_random_seed(seed)
