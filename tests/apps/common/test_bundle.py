"""The shipped bundles load in safe mode and answer exactly as when they were made.

The expected probabilities were read from the bundles themselves (2026-12-01; jazz's again on 2026-12-02, when it
was retrained conditioned on the changes, and again that day with a head per token part, and on 2026-12-08 with
articulation; sentiment's and
sentiment-sst2's on 2026-12-02, each retrained with 128 units) and must be read again whenever a bundle is
retrained; any other change (a layer's code, a fused path, the loader) must leave them as they are.
"""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from apps.common.bundle import load_bundle
from apps.dinos import data as dinos_data
from apps.jazz import conditioning
from apps.jazz.chords import parse_progression
from apps.jazz.generate import DEFAULT_PROGRESSION

from clis import SHIPPED

SENTENCES = ["a gorgeous , witty , moving film .", "a dull , boring mess ."]
EXPECTED = {
    # P(next character | "tyrannosaurus"[:t]) at steps 0, 5 and 13 (the end), the first five classes.
    "dinos": [
        [0.003513665, 0.1160358, 0.04604087, 0.07697811, 0.05427739],
        [0.001242888, 0.002817463, 0.002043757, 0.01028589, 0.00628521],
        [0.9998425, 7.707648e-06, 4.765245e-07, 6.875313e-06, 1.7564e-06],
    ],
    # P(next token) after tokens 0 5 and 0 5 17 42 3 99 over the default blues, onsets every half beat, the
    # first five ids.
    "jazz": [
        [2.320658e-07, 0.05067309, 0.01590038, 0.1073025, 0.007106226],
        [3.893495e-07, 0.05909446, 0.005073222, 0.04013854, 0.00373078],
    ],
    "sentiment": [
        [1.356997e-05, 5.28773e-05, 0.0009159282, 0.1469578, 0.8520599],
        [0.7906204, 0.191472, 0.0173764, 0.0004731169, 5.805335e-05],
    ],
    "sentiment-sst2": [[0.0002428683, 0.9997571], [0.9992784, 0.0007216243]],
}


def answers(name):
    model, config = load_bundle(os.path.join(os.path.dirname(SHIPPED["dinos"]), name), app=name.split("-")[0])
    if name == "dinos":
        x, _ = dinos_data.make_arrays(["tyrannosaurus"], dinos_data.Vocabulary.from_config(config["vocabulary"]))
        return model.predict(x, verbose=0)[0, [0, 5, 13], :5]
    if name == "jazz":
        timeline, _ = parse_progression(DEFAULT_PROGRESSION)
        conditions = conditioning.features(timeline, np.arange(6) * 6)[None]
        inputs = {"tokens": np.array([[0, 5, 17, 42, 3, 99]]), "conditions": conditions}
        return model.predict(inputs, verbose=0)[0, [1, 5], :5]
    return model(tf.constant(SENTENCES)).numpy()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shipped_bundle_answers_as_recorded(name):
    np.testing.assert_allclose(answers(name), EXPECTED[name], rtol=1e-4, atol=1e-6)


def test_a_fresh_process_loads_a_bundle_whose_app_registers_layers():
    # Nothing imported but the loader: it imports the app's model module, whose layers safe mode looks up.
    code = "from apps.common.bundle import load_bundle; print(type(load_bundle(%r)[0].get_layer('head')).__name__)"
    result = subprocess.run(
        [sys.executable, "-c", code % SHIPPED["jazz"]],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        cwd=os.path.dirname(os.path.dirname(SHIPPED["jazz"])),
    )
    assert result.stdout.strip() == "ChainSoftmax", result.stderr[-2000:]
