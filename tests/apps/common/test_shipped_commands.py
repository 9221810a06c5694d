"""The shipped bundles answer the commands as they did before the apps shared their CLI template, config and
training code: outputs saved from that version (commit cd03624), through today's command lines and sampler.

`test_bundle.py` holds the models' probabilities; this holds what the commands build on them (sampled names,
scores, labels, sampled solo tokens), so a change in the loaders, samplers or CLIs shows here.
"""

import contextlib
import io
import json

import numpy as np

from apps.common.commands import load_app_bundle
from apps.jazz.chords import parse_progression
from apps.jazz.generate import DEFAULT_PROGRESSION, SoloSampler

from clis import APPS, SHIPPED


def run_json(app, *argv):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert APPS[app]([*argv, "--json"]) == 0
    return json.loads(out.getvalue())


def test_dinos_samples_and_scores_as_before():
    sampled = run_json("dinos", "sample", "-n", "3", "--seed", "3")["names"]
    assert [row["name"] for row in sampled] == ["siberonchosaurus", "alltasaurus", "komerosaurus"]
    np.testing.assert_allclose(
        [row["log_prob"] for row in sampled], [-25.26052474975586, -14.230915069580078, -13.740842819213867], rtol=1e-5
    )
    scored = run_json("dinos", "score", "tyrannosaurus")["names"][0]
    np.testing.assert_allclose(
        [scored["log_prob"], scored["bits_per_char"]], [-8.326606996105049, 0.8580539014794359], rtol=1e-5
    )


def test_sentiment_predicts_as_before():
    (answer,) = run_json("sentiment", "predict", "a gorgeous , witty , moving film .")
    assert (answer["label"], answer["stars"]) == ("very positive", 5)
    np.testing.assert_allclose(answer["probabilities"]["very positive"], 0.8520599, rtol=1e-5)
    np.testing.assert_allclose(answer["probabilities"]["positive"], 0.1469578, rtol=1e-5)


def test_jazz_samples_the_same_tokens_as_before():
    # Recorded from the bundle retrained on 2026-12-08 (conditioned on the changes, a head per token part,
    # articulation learned: it samples over a progression).
    timeline, _ = parse_progression(DEFAULT_PROGRESSION)
    tokens = SoloSampler(*load_app_bundle("jazz", SHIPPED["jazz"])).sample(4, seed=5, timeline=timeline)
    assert tokens[:12] == [
        "A,3/4,<+0,+4>",
        "C,3/4,<-2,+2>",
        "S,1/3,<-10,-6>",
        "A,1/2,<-2,+2>",
        "S,2/3,<+4,+8>",
        "R,1/2",
        "S,1/3,<-6,-2>",
        "R,4/3",
        "C,1/2,<-4,+0>",
        "C,1/3,<-6,-2>",
        "S,1/2,<-4,+0>",
        "A,1/2,<-2,+2>",
    ]
