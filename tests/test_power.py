"""power: variance components recover a simulated design, the power simulation against an analytic approximation,
the paper's effect at a design, and the one-sample t power against statsmodels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from emolib.paper import power as pw


def _masked(rng, n_prompts=60, n_masks=40, mask_sd=0.04, interaction_sd=0.03, n=200):
    prompt = rng.normal(0.7, 0.05, (n_prompts, 1))
    mask = rng.normal(0, mask_sd, (1, n_masks))
    p = np.clip(prompt + mask + rng.normal(0, interaction_sd, (n_prompts, n_masks)), 0.01, 0.99)
    acc = rng.binomial(n, p) / n
    rows = [(f"e{i}", 1, "random", f"draw-{j}", 10, j, acc[i, j]) for i in range(n_prompts) for j in range(n_masks)]
    return pd.DataFrame(rows, columns=["emotion", "seed", "condition", "attribute", "k", "draw", "accuracy"])


def test_variance_components_recover_a_simulated_design():
    comps = pw.variance_components(_masked(np.random.default_rng(0)), 10, 200)
    assert comps["mask"] == pytest.approx(0.04**2, rel=0.35)
    expected_residual = 0.03**2 + np.mean(0.7 * 0.3) / 200  # interaction plus independent example noise
    assert comps["residual"] == pytest.approx(expected_residual, rel=0.2)
    assert comps["n_prompts"] == 60 and comps["n_masks"] == 40
    assert comps["shared"] == 0.0  # the simulated examples are drawn anew for every mask


def test_shared_example_noise_is_measured():
    """Every mask of a prompt scored on the same examples: most of the binomial noise is then a prompt effect."""
    rng = np.random.default_rng(1)
    difficulty = rng.random((60, 200))  # [prompts, examples]
    masks = rng.normal(0, 0.02, 40)
    correct = difficulty[:, None, :] < (0.7 + masks)[None, :, None] + rng.normal(0, 0.05, (60, 40, 200))
    acc = correct.mean(-1)
    rows = [(f"e{i}", 1, "random", f"draw-{j}", 10, j, acc[i, j]) for i in range(60) for j in range(40)]
    masked = pd.DataFrame(rows, columns=["emotion", "seed", "condition", "attribute", "k", "draw", "accuracy"])
    comps = pw.variance_components(masked, 10, 200)
    assert comps["residual"] < comps["binomial"] and comps["shared"] > 0.3


def test_masks_power_matches_the_noncentral_t():
    """Welch's test with equal SDs and many masks: power close to the noncentral t of the pooled test."""
    delta, sd, n_a, n_b, alpha = -0.03, 0.03, 14, 50, 0.05
    se = sd * np.sqrt(1 / n_a + 1 / n_b)
    df = n_a + n_b - 2
    expected = stats.nct.cdf(stats.t.ppf(alpha, df), df, delta / se)
    assert pw.masks_power(delta, sd, sd, n_a, n_b, alpha, n_sim=2000) == pytest.approx(expected, abs=0.04)
    assert pw.masks_power(0.0, sd, sd, n_a, n_b, alpha, n_sim=2000) <= 0.05 + 2.5 * np.sqrt(0.05 * 0.95 / 2000)


def test_mean_power_equals_statsmodels():
    from statsmodels.stats.power import TTestPower

    expected = TTestPower().power(effect_size=0.04 / 0.1, nobs=27, alpha=0.05, alternative="larger")
    assert pw.mean_power(0.04, 0.1, 27) == pytest.approx(expected, rel=1e-6)


def test_weights_design_calibrates_the_expected_rho():
    comps = {"mask": 0.0, "residual": 0.0009, "n_examples": 40.0}
    design = pw.weights_design(-0.4, comps, np.linspace(0.1, 0.5, 14), n_emotions=27)
    from emolib.paper.mask_inference import mean_rho

    damage = pw.simulate_damage(design, 400, np.random.default_rng(3))
    assert float(np.mean(mean_rho(damage, design["z"][None, :]))) == pytest.approx(-0.4, abs=0.03)


def test_the_papers_effect_at_its_own_design_is_its_full_data_value():
    from emolib import human, released
    from emolib.paper.mask_inference import mean_rho, per_emotion_damage

    masked, unmasked = released.masking_frames()
    weights = human.attribute_weights(n_boot=50).set_index("attribute")["tau"]
    full = pw.paper_at_design(masked, unmasked, weights, 4000, n_seeds=12, n_examples=100_000, n_random=14, n_rep=10)
    expected = float(mean_rho(per_emotion_damage(masked, 4000, list(weights.index)), weights.to_numpy()))
    assert full["rho"] == pytest.approx(expected, abs=0.02)
    small = pw.paper_at_design(masked, unmasked, weights, 4000, n_seeds=1, n_examples=40, n_random=50, n_rep=30)
    assert abs(small["rho"]) < abs(full["rho"])  # noise at a small design attenuates the correlation
    with pytest.raises(ValueError, match="no masks at k = 123"):
        pw.paper_at_design(masked, unmasked, weights, 123, 1, 40, 5)
