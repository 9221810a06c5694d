"""`sample` and `score` on the bundle's LiteRT model: the names, log-probabilities and scores of the Keras path
for the same seed, `--runtime` and its refusals, and a process that answers without importing TensorFlow."""

import json
import os
import shutil
import subprocess
import sys
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from apps.common import litert
from apps.common.bundle import save_bundle
from apps.common.sampling import Sampler
from apps.dinos import data, evaluate
from apps.dinos import litert as dinos_litert
from apps.dinos import sample as keras_sample
from apps.dinos.cli import main
from apps.dinos.model import build_model

from dinos_names import NAMES

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

VOCAB = data.Vocabulary.from_names([name.lower() for name in NAMES])
SEEN = [data.name_digest(a + b) for a in ["", *VOCAB.characters] for b in VOCAB.characters]
"""Every name of one or two characters counts as a training name: `--novel` refuses many short names."""
CONFIG = {"app": "dinos", "vocabulary": VOCAB.get_config(), "max_len": 12, "seen_digests": SEEN}
OPTIONS = [  # prefix, max_len, temperature, top_k, novel
    ("", None, 1.0, 0, False),
    ("br", 7, 0.6, 4, False),
    ("", 4, 1.8, 0, True),
    ("e", None, 1.0, 6, True),
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny untrained model whose head favours the end class (names of a few characters), saved with its
    LiteRT files and without them: `(model, bundle with LiteRT, bundle without)`."""
    keras.utils.set_random_seed(0)
    model = build_model(len(VOCAB), units=8, embedding_dim=4)
    head = model.get_layer("head")
    head.bias.assign(np.eye(VOCAB.num_classes, dtype="float32")[data.END_CLASS] * 1.5)
    root = tmp_path_factory.mktemp("runtime")
    with_litert, without = str(root / "litert"), str(root / "keras")
    save_bundle(with_litert, model, CONFIG, litert=True)
    save_bundle(without, model, CONFIG)
    return model, with_litert, without


def refused(capsys, argv, fragment):
    """Asserts that `argv` ends with exit code 2 and one line on stderr holding `fragment`."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err and "Traceback" not in err, err


def run_json(capsys, argv):
    assert main([*argv, "--json"]) == 0
    captured = capsys.readouterr()
    return json.loads(captured.out), captured.err


class KerasTable(keras.Model):
    """A step model whose probabilities are row `previous class` of `table`, for the compiled sampler."""

    def __init__(self, table):
        super().__init__()
        self.table = tf.constant(table)
        self.condition_encoder = None
        self.state_sizes = [1]

    def token_table(self, vocab_size):
        return None

    def call(self, inputs, training=False, token_table=None):
        token, state = inputs
        return [tf.gather(self.table, token), state]


class NumpyTable:
    """The same table as a LiteRT `StepRunner` answers."""

    def __init__(self, table):
        self.table = table

    def initial_states(self):
        return [np.zeros((1, 1), "float32")]

    def __call__(self, token, states):
        return self.table[token], states


@pytest.fixture(scope="module")
def on_a_table(tiny):
    """The two runtimes' samplers, both driven by one table of probabilities (one compiled sampler for all)."""
    model, bundle, _ = tiny
    table = np.random.default_rng(0).dirichlet(np.full(VOCAB.num_classes, 0.5), VOCAB.num_classes)
    table[:, data.END_CLASS] += 0.15
    table = (table / table.sum(axis=1, keepdims=True)).astype("float32")
    on_keras = keras_sample.NameSampler(model, CONFIG)
    on_keras.sampler = Sampler(KerasTable(table), end_token=data.END_CLASS)
    on_litert = dinos_litert.NameSampler(os.path.join(bundle, "model.tflite"), CONFIG)
    on_litert.step = NumpyTable(table)
    return on_keras, on_litert


@pytest.mark.parametrize("prefix, max_len, temperature, top_k, novel", OPTIONS)
def test_fed_the_same_probabilities_both_runtimes_pick_the_same_names(
    on_a_table, prefix, max_len, temperature, top_k, novel
):
    on_keras, on_litert = on_a_table
    for seed in range(3):
        options = dict(prefix=prefix, max_len=max_len, temperature=temperature, top_k=top_k, seed=seed)
        rows = list(on_litert.sample_rows(50, **options))
        names, log_probs, ended = on_keras.sample_batch(50, **options)
        assert [name for name, _, _ in rows] == names
        assert [done for _, _, done in rows] == ended.tolist()
        np.testing.assert_allclose([log_prob for _, log_prob, _ in rows], log_probs, atol=1e-5)
        # Over the rounds (the novel names of at most 4 characters need several): the same names.
        expected = [name for name, _ in on_keras.sample(40, novel=novel, **options)]
        assert [name for name, _ in on_litert.sample(40, novel=novel, **options)] == expected


def first_difference(on_keras, on_litert, n, seed, novel, **options):
    """The rounds of the Keras path's `sample(n, ...)` again, each row compared with LiteRT's: `(round's seed,
    row, Keras's name, LiteRT's name)` of the first row that differs, or None."""
    differing = []

    def compared(rows, seed):
        keras_rows = zip(*on_keras.sample_batch(rows, seed=seed, **options))
        for row, (a, b) in enumerate(zip(keras_rows, on_litert.sample_rows(rows, seed=seed, **options))):
            if not differing and (a[0], a[2]) != (b[0], b[2]):
                differing.append((seed, row, a[0], b[0]))
            yield a

    keras_sample.draw_names(compared, n, seed, novel, on_keras.seen)
    return differing[0] if differing else None


def near_tie(step, prefix, name, other, seed, row, max_len, temperature, top_k):
    """How near a tie the step where `name` and `other` part is (row `row` of a batch sampled with `seed`): the
    distance of its draw from the nearest boundary of the cumulative weights, or with top-k, if smaller, the gap
    between the k-th and the next likeliest character's probabilities (which characters are drawn from)."""
    t = next((i for i, (a, b) in enumerate(zip(name + "\n", other + "\n")) if a != b), len(name))
    _, probs, _ = dinos_litert._forced(step, [data.END_CLASS] + [i - 1 for i in VOCAB.encode(name[:t])])
    probs = probs.astype("float64")
    weights = probs ** (1 / temperature)
    top_k_gap = np.inf
    if 0 < top_k < len(probs):
        ranked = np.sort(probs)[::-1]
        weights[probs < ranked[top_k - 1]] = 0
        top_k_gap = ranked[top_k - 1] - ranked[top_k]
    cumulative = np.cumsum(weights) / weights.sum()
    uniform = litert.draws(seed, max_len - len(prefix) + 1, row + 1)[row, t - len(prefix)]
    return min(float(np.abs(cumulative[:-1] - (1 - uniform)).min()), top_k_gap)


@pytest.mark.slow
def test_over_20_seeds_both_runtimes_sample_the_same_names(tiny):
    model, bundle, _ = tiny
    on_keras = keras_sample.NameSampler(model, CONFIG)
    on_litert = dinos_litert.NameSampler(os.path.join(bundle, "model.tflite"), CONFIG)
    for seed in range(20):
        prefix, max_len, temperature, top_k, novel = OPTIONS[seed % len(OPTIONS)]
        options = dict(prefix=prefix, max_len=max_len, temperature=temperature, top_k=top_k)
        expected = on_keras.sample(12, seed=seed, novel=novel, **options)
        got = on_litert.sample(12, seed=seed, novel=novel, **options)
        if [name for name, _ in got] == [name for name, _ in expected]:
            np.testing.assert_allclose([lp for _, lp in got], [lp for _, lp in expected], atol=1e-5)
            continue
        # A different name must come from a draw within 1e-5 of a boundary between two characters' cumulative
        # probabilities, where the runtimes' last bits of probability decide.
        difference = first_difference(on_keras, on_litert, 12, seed, novel, **options)
        assert difference, f"seed {seed}: {got} on LiteRT, {expected} on Keras, yet every row is the same"
        round_seed, row, keras_name, litert_name = difference
        gap = near_tie(
            on_litert.step,
            prefix,
            keras_name,
            litert_name,
            round_seed,
            row,
            max_len or CONFIG["max_len"],
            temperature,
            top_k,
        )
        assert gap < 1e-5, f"seed {seed}, row {row}: {keras_name!r} on Keras, {litert_name!r} on LiteRT, no tie"
        warnings.warn(f"seed {seed}, row {row}: {keras_name!r} or {litert_name!r}, a near tie ({gap:.1e})")


def test_scores_agree_to_1e_5(tiny, capsys):
    model, bundle, without = tiny
    rng = np.random.default_rng(0)
    names = [name.lower() for name in NAMES] + ["".join(rng.choice(VOCAB.characters, length)) for length in (1, 40)]
    np.testing.assert_allclose(
        dinos_litert.score_names(os.path.join(bundle, "model.tflite"), VOCAB, names),
        evaluate.score_names(model, VOCAB, names),
        atol=1e-5,
    )
    on_litert, _ = run_json(capsys, ["score", "--model", bundle, *names[:3]])
    on_keras, _ = run_json(capsys, ["score", "--model", without, *names[:3]])
    assert (on_litert["runtime"], on_keras["runtime"]) == ("litert", "keras")
    for a, b in zip(on_litert["names"], on_keras["names"]):
        assert a["name"] == b["name"] and a["log_prob"] == pytest.approx(b["log_prob"], abs=1e-5)


def test_auto_answers_on_keras_for_a_bundle_without_litert_with_the_same_names(tiny, capsys):
    _, bundle, without = tiny
    argv = ["sample", "-n", "5", "--seed", "3", "--prefix", "a", "--verbose"]
    on_litert, err = run_json(capsys, [*argv, "--model", bundle])
    assert err == "runtime: litert\n"
    on_keras, err = run_json(capsys, [*argv, "--model", without])
    assert err == "runtime: keras\n"
    assert on_keras["runtime"] == "keras" and on_litert["runtime"] == "litert"
    assert [row["name"] for row in on_litert["names"]] == [row["name"] for row in on_keras["names"]]
    np.testing.assert_allclose(
        [row["log_prob"] for row in on_litert["names"]], [row["log_prob"] for row in on_keras["names"]], atol=1e-5
    )


@pytest.mark.parametrize("command", [["sample"], ["score", "abel"]])
def test_runtime_litert_without_a_litert_model_or_with_an_altered_one_is_one_line(tiny, tmp_path, capsys, command):
    _, bundle, without = tiny
    refused(capsys, [*command, "--model", without, "--runtime", "litert"], "has no LiteRT model")
    altered = str(tmp_path / "altered")
    shutil.copytree(bundle, altered)
    with open(os.path.join(altered, "model.tflite"), "ab") as handle:
        handle.write(b"\0")
    for runtime in ("auto", "litert"):
        refused(capsys, [*command, "--model", altered, "--runtime", runtime], "does not match")
    assert main([*command, "--model", altered, "--runtime", "keras"]) == 0


@pytest.mark.slow
def test_auto_leaves_a_big_job_to_keras(tiny, capsys):
    _, bundle, _ = tiny
    small, err = run_json(capsys, ["sample", "--model", bundle, "-n", "1000", "--seed", "0", "--verbose"])
    assert (small["runtime"], err) == ("litert", "runtime: litert\n")
    big, err = run_json(capsys, ["sample", "--model", bundle, "-n", "30000", "--seed", "0", "--verbose"])
    assert (big["runtime"], err) == ("keras", "runtime: keras\n")
    assert [row["name"] for row in big["names"][:1000]] == [row["name"] for row in small["names"]]


CHILD = """
import atexit, json, runpy, sys
atexit.register(lambda: print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras")))))
runpy.run_module("apps.dinos", run_name="__main__", alter_sys=True)
"""


@pytest.mark.parametrize(
    "argv, err", [(["sample", "-n", "3", "--seed", "3", "--verbose"], "runtime: litert\n"), (["score", "abel"], "")]
)
def test_a_process_answering_on_litert_imports_no_tensorflow_and_prints_nothing_on_stderr(argv, err):
    # `python -m apps.dinos ...` on the shipped bundle, the start-up filter and all; the modules it imported
    # are printed at exit, after its own output.
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *argv, "--json"], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert (done.returncode, done.stderr) == (0, err)
    output, heavy = done.stdout.rsplit("\n", 2)[:2]
    assert json.loads(output)["runtime"] == "litert"
    assert json.loads(heavy) == []
