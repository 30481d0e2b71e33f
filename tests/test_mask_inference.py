"""mask_inference: the mask-unit test against a loop over the same relabellings, its interval inverts it, the weight
statistic against scipy, the mask table, and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from emolib.paper import mask_inference as mi


def test_condition_test_equals_a_loop_over_the_same_relabellings():
    rng = np.random.default_rng(4)
    a, b = rng.normal(-0.02, 0.03, 14), rng.normal(0, 0.02, 20)
    test = mi.condition_test(a, b, shift=-0.03, n_perm=299, seed=2, interval=False)
    labels = mi._assignments(14, 20, 299, seed=2)
    pooled = np.concatenate([a, b])
    t = [stats.ttest_ind(pooled[row], pooled[~row], equal_var=False).statistic for row in labels]
    assert test.p == pytest.approx((1 + sum(x <= t[0] + 1e-12 for x in t[1:])) / 300)
    shifted = np.concatenate([a + 0.03, b])  # H0: difference = -0.03, H1: less negative
    t = [stats.ttest_ind(shifted[row], shifted[~row], equal_var=False).statistic for row in labels]
    assert test.p_shift == pytest.approx((1 + sum(x >= t[0] - 1e-12 for x in t[1:])) / 300)
    assert test.estimate == pytest.approx(a.mean() - b.mean())


def test_condition_interval_inverts_the_test():
    rng = np.random.default_rng(5)
    a, b = rng.normal(-0.03, 0.02, 14), rng.normal(0, 0.02, 50)
    test = mi.condition_test(a, b, n_perm=999)
    at_low = mi.condition_test(a - test.ci_low, b, n_perm=999, interval=False)
    assert test.ci_low < test.estimate < test.ci_high
    assert abs(at_low.p - 0.975) < 0.02 or abs((1 - at_low.p) - 0.025) < 0.02


def test_weight_statistic_equals_scipy_pearson_and_fisher_mean():
    rng = np.random.default_rng(6)
    damage, w = rng.normal(size=(27, 14)), rng.random(14)
    expected = np.tanh(np.mean([np.arctanh(stats.pearsonr(row, w).statistic) for row in damage]))
    assert mi.mean_rho(damage, w) == pytest.approx(expected)


def test_mask_table_averages_each_mask_over_the_prompts():
    masked = pd.DataFrame({"emotion": ["joy", "fear"] * 3, "seed": 1, "condition": ["selective"] * 2 + ["random"] * 4,
                           "attribute": ["valence"] * 2 + ["draw-0"] * 2 + ["draw-1"] * 2, "k": 10,
                           "draw": [0, 0, 0, 0, 1, 1], "accuracy": [0.5, 0.7, 0.6, 0.8, 0.9, 0.7]})
    table = mi.mask_table(masked)
    assert table.set_index("attribute")["accuracy"].to_dict() == pytest.approx(
        {"valence": 0.6, "draw-0": 0.7, "draw-1": 0.8})
    assert (table["n_prompts"] == 2).all()
    with pytest.raises(ValueError, match="same prompts"):
        mi.mask_table(masked.iloc[:-1])


def test_per_emotion_damage_is_attribute_minus_mean_random():
    masked = pd.DataFrame({"emotion": ["joy"] * 4, "seed": 1, "condition": ["selective", "selective", "random", "random"],
                           "attribute": ["valence", "arousal", "draw-0", "draw-1"], "k": 10, "draw": [0, 0, 0, 1],
                           "accuracy": [0.5, 0.6, 0.7, 0.9]})
    np.testing.assert_allclose(mi.per_emotion_damage(masked, 10, ["valence", "arousal"]), [[-0.3, -0.2]])
    with pytest.raises(ValueError, match="missing attribute masks"):
        mi.per_emotion_damage(masked, 10, ["valence", "control"])


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="at least 2 finite"):
        mi.condition_test([0.1], [0.2, 0.3])
    with pytest.raises(ValueError, match="n_perm"):
        mi.condition_test([0.1, 0.2], [0.2, 0.3], n_perm=0)
    with pytest.raises(ValueError, match="attributes"):
        mi.weight_test(np.zeros((3, 4)), np.arange(5.0))
