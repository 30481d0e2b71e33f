"""Tests of emolib.emollm.steering_stats: the alpha chosen on one half, tests and slopes on the other."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emolib.emollm import steering as S
from emolib.emollm import steering_stats as SS


def test_summarise_shifts_statistics():
    rng = np.random.default_rng(0)
    rows = [("d", 0, 2, 1.0, p, 1 + rng.normal()) for p in range(10)]
    rows += [("random", k, 2, 1.0, p, 0.1 * k) for k in range(5) for p in range(10)]
    shifts = pd.DataFrame(rows, columns=["direction", "draw", "layer", "alpha", "prompt", "shift"])
    table = S.summarise_shifts(shifts).set_index("direction")
    x = shifts[shifts.direction == "d"]["shift"]
    half = 2.2621571627409915 * x.std() / np.sqrt(10)  # t(0.975, 9)
    assert table.loc["d", "ci_high"] - table.loc["d", "effect"] == pytest.approx(half)
    assert table.loc["random", "effect"] == pytest.approx(0.2)
    assert table.loc["random", "ci_low"] == pytest.approx(np.percentile([0, 0.1, 0.2, 0.3, 0.4], 2.5))
    best = SS.best_alpha(shifts).iloc[0]
    assert best.alpha == 1.0 and best.p_random == pytest.approx(1 / 6)

def test_best_alpha_prefers_distance_from_random():
    """alpha 2 has the larger shift, but random draws swing as much there; alpha 1 stands out."""
    rng = np.random.default_rng(1)
    rows = []
    for p in range(8):
        rows += [("d", 0, 0, 1.0, p, 1.0 + 0.01 * rng.normal()), ("d", 0, 0, 2.0, p, 3.0 + 0.01 * rng.normal())]
        for k in range(6):
            rows += [("random", k, 0, 1.0, p, 0.01 * (k - 2.5)), ("random", k, 0, 2.0, p, 2.0 * (k - 2.5))]
    shifts = pd.DataFrame(rows, columns=["direction", "draw", "layer", "alpha", "prompt", "shift"])
    best = SS.best_alpha(shifts, seed=0).iloc[0]
    assert best.alpha == 1.0 and best.z > 10 and best.p_random == pytest.approx(1 / 7)
    assert best.n_prompts == 4
    with pytest.raises(ValueError, match="2 prompts"):
        SS.best_alpha(shifts[shifts.prompt == 0])


# --- steering with controls: projection, contrasts, held-out tests, slopes, behaviour ---------------------------------

def _synthetic_shifts(n_draws=200, prompts=8, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for name, slope in (("v", 3.0), ("c", 0.5), ("v (projected)", 2.0)):
        for a in (-1.0, -0.5, 0.0, 0.5, 1.0):
            rows += [(name, 0, 7, a, p, slope * a + 0.3 * a * rng.normal()) for p in range(prompts)]
    for k in range(n_draws):
        s = rng.normal(0, 0.5)
        for a in (-1.0, -0.5, 0.0, 0.5, 1.0):
            rows += [("random", k, 7, a, p, s * a + 0.1 * a * rng.normal()) for p in range(prompts)]
    return pd.DataFrame(rows, columns=["direction", "draw", "layer", "alpha", "prompt", "shift"])

def test_held_out_tests_floor_controls_and_paired_differences():
    shifts = _synthetic_shifts()
    roles = {"c": "contrast", "v (projected)": "projected"}
    half_a, half_b = SS.split_prompts(8, seed=0)
    alphas = SS.choose_alphas(shifts, ["v"], half_a, n_select=20)
    assert alphas == {"v": 1.0}
    tests = SS.held_out_tests(shifts, alphas, half_b, {"v": ["c", "v (projected)"]}, roles)
    assert tests["direction"].tolist() == ["v", "c", "v (projected)"] and set(tests["alpha_of"]) == {"v"}
    v = tests.iloc[0]
    assert v["p_random"] == pytest.approx(1 / 201) and v["n_random"] == 200 and v["n_prompts"] == 4
    # only the contrast competes (the projected version asks which path the effect takes): floor 1 / 2
    assert v["p_controls"] == pytest.approx(1 / 2) and v["n_controls"] == 1
    assert v["control_max"] == pytest.approx(tests.iloc[1]["effect"])
    held = shifts[shifts.prompt.isin(half_b) & (shifts.alpha == 1.0)].pivot_table(index="prompt", columns="direction",
                                                                                   values="shift", aggfunc="mean")
    assert v["vs_projected"] == pytest.approx((held["v"] - held["v (projected)"]).mean())
    assert v["vs_contrasts"] == pytest.approx((held["v"] - held["c"]).mean())
    per_draw = shifts[(shifts.direction == "random") & shifts.prompt.isin(half_b) & (shifts.alpha == 1.0)]
    per_draw = per_draw.groupby("draw")["shift"].mean().to_numpy()
    c = tests.iloc[1]
    assert c["p_random"] == pytest.approx((1 + np.sum(per_draw >= c["effect"])) / 201)
    assert np.isnan(c["p_controls"])  # only the valence row is compared with its controls

def test_dose_slopes_match_a_slow_least_squares_loop():
    shifts = _synthetic_shifts(n_draws=30)
    half_b = [1, 3, 4, 6]
    table = SS.dose_slopes(shifts, half_b, slope_range=0.5).set_index("direction")
    assert table.attrs["alphas"] == [-0.5, 0.5]
    for name in ("v", "c"):
        slopes = []
        for p in half_b:
            rows = shifts[(shifts.direction == name) & (shifts.prompt == p) & (shifts.alpha.abs() <= 0.5)]
            x, y = rows["alpha"].to_numpy()[:, None], rows["shift"].to_numpy()
            slopes.append(np.linalg.lstsq(x, y, rcond=None)[0][0])  # through the origin (alpha 0 adds nothing)
        mean, lo, hi = S._t_interval(np.array(slopes))
        assert table.loc[name, ["slope", "ci_low", "ci_high"]].tolist() == pytest.approx([mean, lo, hi])
    rand = shifts[(shifts.direction == "random") & shifts.prompt.isin(half_b) & (shifts.alpha.abs() == 0.5)]
    draw_slopes = rand.assign(xy=rand.alpha * rand["shift"]).groupby("draw")["xy"].sum() / (4 * 0.5)
    assert table.loc["v", "p_random"] == pytest.approx(1 / 31)  # above every draw: the floor 1 / (n + 1)
    assert table.loc["c", "p_random"] == pytest.approx((1 + np.sum(draw_slopes >= table.loc["c", "slope"])) / 31)
    assert table.loc["v", "random_low"] == pytest.approx(np.percentile(draw_slopes, 2.5))
    with pytest.raises(ValueError, match="no nonzero alpha"):
        SS.dose_slopes(shifts, half_b, slope_range=0.1)
