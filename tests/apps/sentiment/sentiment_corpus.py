"""A tiny learnable corpus (one "good" or "bad" word among neutral ones) and CLI helpers for the sentiment tests."""

import random

from apps.sentiment.cli import main

POSITIVE = ["good", "great", "wonderful", "excellent", "lovely", "superb"]
NEGATIVE = ["bad", "awful", "terrible", "boring", "dreadful", "dull"]
FILLER = ["the", "movie", "film", "was", "is", "plot", "acting", "really", "quite", "story", "and", "a"]


FINE = [
    ["awful", "dreadful", "abysmal"],
    ["dull", "boring", "flat"],
    ["ordinary", "average", "okay"],
    ["good", "nice", "pleasant"],
    ["superb", "wonderful", "brilliant"],
]
"""Sentiment words of the five SST-5 classes, very negative to very positive."""


TEXTS = ["a wonderful film", "the plot was dreadful and dull", "", "   ", "GOOD!!! (really)", "dull " * 3000]
"""Texts the command line predicts and the exported SavedModels serve: empty, blank, shouting, past any window."""

DECIDED = [
    "the movie was awful and the plot",
    "a really wonderful film and story",
    "the acting is dull",
    "quite a superb plot",
]
"""Toy-corpus texts (label 0 for a negative word, 1 for a positive one) and, below, the word that decides each."""
DECIDING = ["awful", "wonderful", "dull", "superb"]
EXPLAINED = DECIDED + ["", "a boring film"]
"""Texts the exported `explain` signature explains."""


def make_corpus(count, seed, classes=(NEGATIVE, POSITIVE)):
    """`count` (label, text) pairs: label `i` if the one sentiment word is from `classes[i]` (by default 1 for
    a positive word, 0 for a negative one)."""
    rng = random.Random(seed)
    corpus = []
    for index in range(count):
        label = index % len(classes)
        words = rng.choices(FILLER, k=rng.randint(2, 7))
        words.insert(rng.randint(0, len(words)), rng.choice(classes[label]))
        corpus.append((label, " ".join(words)))
    return corpus


def to_binary(corpus):
    """The SST-2 view of a five-class corpus: neutral (2) left out, 0-1 negative (0), 3-4 positive (1)."""
    return [(int(label > 2), text) for label, text in corpus if label != 2]


def write_lines(path, corpus):
    path.write_text("".join(f"{label} {text}\n" for label, text in corpus), encoding="utf-8")
    return str(path)


def run_cli(capsys, *argv):
    """Runs `python -m apps.sentiment *argv` in-process; returns (exit code, stdout, stderr)."""
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def make_trees(count, seed, classes=FINE):
    """`count` treebank lines over `make_corpus` sentences, binarised at random: a node holding the sentiment
    word carries its class, any other node neutral (2). The first word is capitalised, as in the treebank.

    Returns:
        `(lines, phrases)`: the trees in PTB form, and the dict of lower-cased phrase -> label of every node.
    """
    rng = random.Random(seed)
    neutral = len(classes) // 2
    lines, phrases = [], {}

    def tree(words, label):
        phrase = " ".join(words).lower()
        node_label = label if any(word.lower() in classes[label] for word in words) else neutral
        phrases[phrase] = node_label
        if len(words) == 1:
            return f"({node_label} {words[0]})"
        cut = rng.randint(1, len(words) - 1)
        return f"({node_label} {tree(words[:cut], label)} {tree(words[cut:], label)})"

    for label, text in make_corpus(count, seed, classes):
        words = text.split()
        lines.append(tree([words[0].capitalize()] + words[1:], label))
    return lines, phrases
