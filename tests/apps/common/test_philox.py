"""apps.common.philox draws what TensorFlow's stateless uniform draws on CPU, bit for bit, without importing it."""

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.common.philox import stateless_uniform

from clis import REPO

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
SEEDS = [(0, 0), (1, 0), (0, 1), (7, 3), (-1, 0), (0, -1), (-5, -9), (INT32[1], INT32[0]), (INT32[0], INT32[1])]
SEEDS += [(INT32[1], 0), (123456789, -987654321), (2**40 + 3, -(2**50)), (INT64[1], INT64[0])]
SHAPES = [[n] for n in (1, 2, 3, 4, 5, 7, 100, 1001)] + [[3, 5], [7, 1], [2, 501], [0], [4, 0], []]


def assert_same_bits(mine, theirs):
    theirs = np.asarray(theirs)
    assert mine.dtype == np.float32 and mine.shape == theirs.shape, (mine.shape, theirs.shape)
    assert np.array_equal(mine.view(np.uint32), theirs.view(np.uint32))


@pytest.mark.parametrize("seed", SEEDS)
def test_equals_tensorflow_for_every_shape(seed):
    for shape in SHAPES:
        assert_same_bits(stateless_uniform(shape, seed), tf.random.stateless_uniform(shape, seed=seed))


def test_equals_tensorflow_for_the_samplers_seed_pairs():
    """The compiled sampler draws `[batch]` at step t with `seed=tf.stack([seed, t])` of int32 tensors."""
    draw = tf.function(lambda n, s, t: tf.random.stateless_uniform(n, seed=tf.stack([s, t])))
    for s in (0, 7, -3, INT32[1]):
        for t in range(51):
            for n in (1, 5, 100):
                theirs = draw(tf.constant([n]), tf.constant(s, tf.int32), tf.constant(t, tf.int32))
                assert_same_bits(stateless_uniform([n], (np.int32(s), np.int32(t))), theirs)


@settings(max_examples=100, deadline=None)
@given(
    seed=st.tuples(st.integers(*INT64), st.integers(*INT64)),
    shape=st.lists(st.integers(0, 40), max_size=3),
)
def test_equals_tensorflow_for_any_int64_seed(seed, shape):
    assert_same_bits(stateless_uniform(shape, seed), tf.random.stateless_uniform(shape, seed=seed))


def test_a_seed_outside_int64_or_not_a_pair_is_refused():
    for seed in [(2**63, 0), (0, -(2**63) - 1), (1,), (1, 2, 3), (1.5, 2)]:
        with pytest.raises((ValueError, TypeError)):
            stateless_uniform([3], seed)


def test_importing_it_imports_neither_tensorflow_nor_keras():
    script = (
        "import json, sys\n"
        "from apps.common.philox import stateless_uniform\n"
        "stateless_uniform([5], (1, 2))\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras'))[:5]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
