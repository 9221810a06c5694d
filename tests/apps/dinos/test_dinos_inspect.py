"""`python -m apps.dinos inspect`: the shipped model reading a name, step by step, and its heat maps."""

import os
import re

import matplotlib.image
import numpy as np
import pytest

from apps.dinos import inspect as look
from apps.dinos.cli import main

SHIPPED = os.path.join(os.path.dirname(__file__), "..", "..", "..", "saved_models", "dinos")
NAME = "Tyrannosaurus"


@pytest.mark.slow
def test_inspect_prints_every_steps_next_characters_and_units_and_writes_heat_maps(tmp_path, capsys):
    png = tmp_path / "look.png"
    assert main(["inspect", NAME, "--plot", str(png), "--top", "3", "--model", SHIPPED]) == 0
    lines = capsys.readouterr().out.splitlines()
    steps = [line.split() for line in lines[1 : len(NAME) + 2]]
    assert [row[0] for row in steps] == ["^", *NAME.lower()]
    assert [row[1] for row in steps] == [*NAME.lower(), "<end>"]
    for read, target, p_next, *top in steps:
        shown = dict(zip(top[::2], map(float, top[1::2])))
        assert len(shown) == 3 and list(shown.values()) == sorted(shown.values(), reverse=True)
        assert 0 <= float(p_next) <= 1 and sum(shown.values()) <= 1.002
        if target in shown:
            assert shown[target] == float(p_next)
    for feature in ("position", "vowel"):
        [line] = [line for line in lines if line.strip().startswith(f"layer 1, {feature}:")]
        r = [float(value) for value in re.findall(r"r=([+-][0-9.]+)", line)]
        assert len(r) == 3 and all(abs(value) <= 1 for value in r) and r == sorted(r, key=abs, reverse=True)
    image = matplotlib.image.imread(png)
    height, width = image.shape[:2]
    assert 300 <= height < width <= 4000, (width, height)
    pixels = image[..., :3].reshape(-1, 3)
    assert len(np.unique(np.round(pixels, 2), axis=0)) > 200  # colour maps, not a blank or flat picture
    assert (pixels.min(axis=1) < 0.9).mean() > 0.3  # mostly painted, not white


def test_plot_is_refused_over_a_file_this_program_did_not_write(tmp_path, capsys):
    mine = tmp_path / "mine.png"
    mine.write_bytes(b"the user's picture")
    assert main(["inspect", NAME, "--plot", str(mine), "--model", SHIPPED]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "not written by this program" in err
    assert mine.read_bytes() == b"the user's picture"


def test_correlated_units_are_the_strongest_pearson_correlations_either_sign():
    rng = np.random.default_rng(0)
    feature = np.arange(8.0)
    cell = rng.standard_normal((8, 6))
    cell[:, 4] = -2 * feature + 0.1 * rng.standard_normal(8)
    cell[:, 1] = 0.5  # does not vary: no correlation
    expected = sorted(
        ((unit, np.corrcoef(cell[:, unit], feature)[0, 1]) for unit in (0, 2, 3, 4, 5)), key=lambda u: -abs(u[1])
    )
    units = look.correlated_units(cell, feature, count=3)
    assert [unit for unit, _ in units] == [unit for unit, _ in expected[:3]] and units[0][0] == 4
    np.testing.assert_allclose([r for _, r in units], [r for _, r in expected[:3]], atol=1e-12)
    assert look.correlated_units(cell, np.full(8, np.nan)) == []


def test_units_are_ordered_by_the_step_they_saturate():
    cell = np.array([[0.0, 3.0, 0.0], [2.0, 3.0, 0.1], [2.0, 3.0, 0.2]])
    assert look.saturation_order(cell).tolist() == [1, 0, 2]
