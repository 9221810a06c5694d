"""Model options the command line offers, kept free of TensorFlow so that arguments are checked before it loads."""

POOLINGS = ("last", "mean", "max")
DEFAULT_MAX_LENGTH = 100
"""Tokens kept per text. The longest SST train/dev sentence has 52 tokens; anything beyond 100 is cut off."""
EXPLAIN_METHODS = ("integrated-gradients", "occlusion")
"""How `apps.sentiment.explain` scores tokens; the first is the default."""
