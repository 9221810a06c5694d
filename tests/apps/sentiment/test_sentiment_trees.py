"""The treebank reader: every node's phrase and label, the token mapping, duplicate phrases, malformed trees."""

import collections
import json

import pytest
import tensorflow as tf
from conftest import train_tiny

from apps.common.errors import UsageError
from apps.sentiment import data
from apps.sentiment.data import (
    FINE_GROUPS,
    MAX_TREE_WORDS,
    load_task,
    merge_labels,
    parse_tree,
    read_trees,
    tree_examples,
)
from apps.sentiment.model import standardize_ptb

from sentiment_corpus import make_trees, run_cli, write_lines

NBSP = "\xa0"
TREE = f"(1 (2 It) (1 (2 is) (0 (2 n't) (3 (2 -LRB-8{NBSP}1\\/2-RRB-) (4 (2 ``) (4 FUN))))))"
"""A tree in the treebank's own form: case, `-LRB-`, `\\/`, ``` `` ``` and a leaf holding a no-break space."""


def test_every_node_has_its_phrase_and_label_children_first():
    assert parse_tree(TREE, "t:1") == [
        (2, "it"),
        (2, "is"),
        (2, "n't"),
        (2, f"-lrb-8{NBSP}1\\/2-rrb-"),
        (2, "``"),
        (4, "fun"),
        (4, "`` fun"),
        (3, f"-lrb-8{NBSP}1\\/2-rrb- `` fun"),
        (0, f"n't -lrb-8{NBSP}1\\/2-rrb- `` fun"),
        (1, f"is n't -lrb-8{NBSP}1\\/2-rrb- `` fun"),
        (1, f"it is n't -lrb-8{NBSP}1\\/2-rrb- `` fun"),
    ]


def test_phrases_are_in_the_form_the_model_standardises_to():
    """The model lower-cases and PTB-tokenises raw text (`standardize_ptb`): the phrases must already be in that
    form, so that they meet the vocabulary as the sentences do, and the no-break space must stay inside its
    word when the model splits on whitespace."""
    phrases = [phrase for _, phrase in parse_tree(TREE, "t:1")]
    standardised = standardize_ptb(tf.constant(phrases)).numpy()
    assert [text.decode() for text in standardised] == phrases
    root = phrases[-1]
    assert [token.decode() for token in tf.strings.split(standardised[-1]).numpy()] == root.split(" ")
    assert len(root.split(" ")) == 6  # one token per leaf
    # Raw text with the same words standardises to the same tokens.
    raw = standardize_ptb(tf.constant(["It isn't FUN"])).numpy()[0].decode().split()
    assert raw == ["it", "is", "n't", "fun"]


def test_sentences_and_phrases_of_a_file(tmp_path):
    path = write_trees(tmp_path, [TREE, "(3 (3 Good) (2 film))", "(3 (3 Good) (2 film))", ""])
    sentences = tree_examples(path, "sentences")
    assert sentences.labels == [1, 3, 3] and sentences.texts[1:] == ["good film"] * 2  # duplicates kept
    assert sentences.unit == "sentences" and sentences.source == path
    phrases = tree_examples(path, "phrases")
    assert phrases.unit == "phrases"
    pairs = dict(zip(phrases.texts, phrases.labels))
    assert len(pairs) == len(phrases) == 11 + 3  # each distinct phrase once: the repeated tree adds none
    assert pairs["good film"] == 3 and pairs["good"] == 3 and pairs["film"] == 2 and pairs["`` fun"] == 4


def write_trees(tmp_path, lines, name="train.txt"):
    path = tmp_path / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return str(path)


def test_a_duplicate_phrase_gets_its_majority_label_then_the_milder_one(tmp_path):
    assert merge_labels(collections.Counter({1: 542, 2: 55})) == 1
    assert merge_labels(collections.Counter({4: 1, 3: 1})) == 3
    assert merge_labels(collections.Counter({1: 2, 2: 2})) == 2
    assert merge_labels(collections.Counter({1: 1, 3: 1})) == 1
    assert merge_labels(collections.Counter({0: 3, 4: 2, 2: 2})) == 0
    path = write_trees(
        tmp_path,
        [
            "(1 (1 Not) (2 bad))",
            "(2 (2 not) (3 good))",
            "(1 (2 not) (1 bad))",
            "(3 (4 Fun) (2 stuff))",
            "(3 (3 fun) (2 stuff))",
        ],
    )
    phrases = tree_examples(path, "phrases")
    pairs = dict(zip(phrases.texts, phrases.labels))
    # "not": 2 in two trees, 1 in one (written "Not"); "fun": 4 once, 3 once; "bad": 2 once, 1 once.
    assert pairs["not"] == 2 and pairs["fun"] == 3 and pairs["bad"] == 2
    assert pairs["not bad"] == 1 and pairs["not good"] == 2


def test_sst2_keeps_the_polar_phrases_grouped(tmp_path):
    path = write_trees(tmp_path, ["(4 (2 a) (4 (3 fine) (4 film)))", "(0 (1 dull) (0 mess))", "(2 (2 so) (2 so))"])
    phrases = tree_examples(path, "phrases", FINE_GROUPS["sst2"])
    assert dict(zip(phrases.texts, phrases.labels)) == {
        "fine": 1,
        "film": 1,
        "fine film": 1,
        "a fine film": 1,
        "dull": 0,
        "mess": 0,
        "dull mess": 0,
    }
    assert tree_examples(path, "sentences", FINE_GROUPS["sst2"]).labels == [1, 0]


def test_load_task_trains_on_phrases_when_the_treebank_is_there(tmp_path):
    write_lines(tmp_path / "stsa.binary.train", [(1, "a fine film")])
    write_lines(tmp_path / "stsa.binary.dev", [(0, "dull")])
    train, dev, names = load_task("sst2", str(tmp_path))
    assert train.unit == "sentences" and train.texts == ["a fine film"]
    (tmp_path / "trees").mkdir()
    write_trees(tmp_path / "trees", ["(4 (2 a) (4 (3 fine) (4 film)))", "(2 (2 so) (2 so))"])
    write_trees(tmp_path / "trees", ["(0 (1 dull) (0 mess))", "(3 (3 good) (2 stuff))"], "dev.txt")
    train, dev, names = load_task("sst2", str(tmp_path))
    assert train.unit == "phrases" and sorted(train.texts) == ["a fine film", "film", "fine", "fine film"]
    assert dev.unit == "sentences" and dev.texts == ["dull mess", "good stuff"] and dev.labels == [0, 1]
    assert names == ["negative", "positive"]
    fine, _, _ = load_task("sst2", str(tmp_path), fine=True)
    assert sorted(zip(fine.texts, fine.labels))[:2] == [("a", 2), ("a fine film", 4)]
    sentences, _, _ = load_task("sst2", str(tmp_path), train_on="sentences")
    assert sentences.texts == ["a fine film"] and sentences.source.endswith("stsa.binary.train")
    with pytest.raises(UsageError, match="--train-on phrases is for --task sst5 and sst2"):
        load_task("file", str(tmp_path / "stsa.binary.train"), train_on="phrases")
    with pytest.raises(UsageError, match="needs the treebank's train.txt and dev.txt"):
        load_task("sst5", str(tmp_path / "trees"), train_on="phrases")


BAD_TREES = {
    "unclosed": ("(2 (2 a) (3 b)\n", ":1: unbalanced parentheses: 1 '(' not closed"),
    "extra_close": ("(2 (2 a) (3 b))\n(2 (2 a) (3 b)))\n", ":2: unbalanced parentheses: the ')' at column 16"),
    "two_trees": ("(2 (2 a) (3 b)) (2 c)\n", ":1: unbalanced parentheses: a second tree starts at column 17"),
    "label_5": ("(2 (2 a) (3 b))\n\n(2 (5 a) (3 b))\n", ":3: label 5 is out of range (expected 0..4)"),
    "label_word": ("(2 (pos a) (3 b))\n", ":1: label 'pos' is not an integer class id"),
    "no_label": ("(2 ((2 a) (3 b)))\n", ":1: expected a label after the '(' at column 4"),
    "two_words": ("(2 (2 a b) (3 c))\n", ":1: a leaf holds one word; 'b' at column 9 is one too many"),
    "empty_leaf": ("(2 (2 a) (3))\n", ":1: the node closed at column 12 has no word"),
    "empty": ("\n \n", " holds no trees"),
}


@pytest.mark.parametrize("name", sorted(BAD_TREES))
def test_malformed_trees_name_the_file_and_line(name, tmp_path):
    content, message = BAD_TREES[name]
    path = tmp_path / "train.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(UsageError) as error:
        read_trees(str(path))
    assert str(error.value).startswith(f"{path}{message}") and "\n" not in str(error.value)


def chain(words):
    """A left-branching tree over `words`: each phrase nests the one before it, as long a chain as can be."""
    tree = f"(2 {words[0]})"
    for word in words[1:]:
        tree = f"(2 {tree} (3 {word}))"
    return tree


def test_a_tree_of_more_words_than_the_limit_is_refused_before_its_phrases_are_built(tmp_path):
    words = [f"w{index}" for index in range(MAX_TREE_WORDS + 1)]
    assert len(parse_tree(chain(words[:-1]), "t:1")) == 2 * MAX_TREE_WORDS - 1
    with pytest.raises(UsageError, match=rf"^t:2: a tree of more than {MAX_TREE_WORDS} words; the limit is 100$"):
        parse_tree(chain(words), "t:2")


def test_the_phrases_of_a_treebank_are_bounded_in_all(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "MAX_PHRASE_WORDS", 10)
    path = tmp_path / "train.txt"
    path.write_text("(3 (2 a) (3 film))\n(2 (2 a) (3 (2 b) (3 c)))\n")  # phrases of 4, then 8 words
    with pytest.raises(UsageError, match=r"train.txt:2: the phrases of the trees up to here hold 12 words in all; "):
        read_trees(str(path))
    monkeypatch.setattr(data, "MAX_PHRASE_WORDS", 12)
    assert len(read_trees(str(path))) == 2


@pytest.fixture(scope="session")
def treebank_dir(tmp_path_factory):
    """An SST directory holding only a toy treebank, `trees/train.txt` (300 trees) and `trees/dev.txt` (75);
    returns it and the phrase -> label dict of the training trees."""
    directory = tmp_path_factory.mktemp("treebank")
    (directory / "trees").mkdir()
    train_lines, phrases = make_trees(300, seed=6)
    write_trees(directory / "trees", train_lines)
    write_trees(directory / "trees", make_trees(75, seed=7)[0], "dev.txt")
    return directory, phrases


def test_train_learns_a_toy_treebank_from_its_phrases(treebank_dir, tmp_path_factory):
    directory, phrases = treebank_dir
    bundle = train_tiny(
        tmp_path_factory,
        "--task",
        "sst5",
        "--data",
        directory,
        "--units",
        8,
        "--embedding-dim",
        8,
        "--max-tokens",
        60,
        "--epochs",
        4,
        "--patience",
        4,
    )
    with open(f"{bundle}/config.json", encoding="utf-8") as handle:
        config = json.load(handle)
    assert config["train_data"] == {
        **config["train_data"],
        "source": "train.txt",
        "unit": "phrases",
        "examples": len(phrases),
    }
    assert config["dev_data"] == {**config["dev_data"], "source": "dev.txt", "unit": "sentences", "examples": 75}
    assert config["dev_accuracy"] >= 0.95


def test_train_on_needs_a_treebank_and_a_task(treebank_dir, tmp_path, capsys):
    directory, _ = treebank_dir
    code, _, err = run_cli(
        capsys, "train", "--task", "sst5", "--data", directory, "--train-on", "sentences", "--out", tmp_path / "bundle"
    )
    assert code == 2 and err.count("\n") == 1 and "stsa.fine.train" in err
    bad = tmp_path / "bad"
    (bad / "trees").mkdir(parents=True)
    write_trees(bad / "trees", ["(2 (2 a) (3 b))", "(2 (2 a) (7 b))"])
    write_trees(bad / "trees", ["(2 (2 a) (3 b))"], "dev.txt")
    code, _, err = run_cli(capsys, "train", "--task", "sst2", "--data", bad, "--out", tmp_path / "bundle")
    assert code == 2 and err.count("\n") == 1
    assert f"{bad / 'trees' / 'train.txt'}:2: label 7 is out of range (expected 0..4)" in err
    assert not (tmp_path / "bundle").exists()


def test_the_texts_of_a_treebank_are_bounded_in_number(tmp_path, monkeypatch):
    path = tmp_path / "train.txt"
    path.write_text("(3 (2 a) (3 film))\n(2 (2 a) (3 (2 b) (3 c)))\n")  # 7 distinct phrases, 2 trees
    monkeypatch.setattr(data, "MAX_EXAMPLES", 6, raising=False)
    with pytest.raises(UsageError, match=r"train.txt: 7 distinct phrases; the limit is 6 examples$"):
        tree_examples(str(path), "phrases")
    assert len(tree_examples(str(path), "sentences")) == 2
    monkeypatch.setattr(data, "MAX_EXAMPLES", 1)
    with pytest.raises(UsageError, match=r"train.txt: 2 trees; the limit is 1 examples$"):
        tree_examples(str(path), "sentences")
    monkeypatch.setattr(data, "MAX_EXAMPLES", 7)
    assert len(tree_examples(str(path), "phrases")) == 7
