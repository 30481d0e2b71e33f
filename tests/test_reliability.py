"""rsa.reliability: unit-RDM reliability against a loop with scipy, Spearman-Brown, the tau ceiling, CV RDMs."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest
from scipy import stats

from emolib.emotions import pair_indices
from emolib.rsa import reliability as rel
from emolib.rsa import unit_rdms


def test_pairwise_agreement_equals_a_scipy_loop():
    rng = np.random.default_rng(0)
    acts = rng.random((27, 3, 7))
    acts[:, :, :3] += rng.random((27, 1, 3))  # three units with a stable geometry
    table = rel.unit_reliability(acts)
    for u in range(7):
        rdms = [unit_rdms(acts[:, s, u: u + 1])[:, 0] for s in range(3)]
        expected = np.mean([stats.spearmanr(rdms[a], rdms[b]).statistic for a, b in combinations(range(3), 2)])
        assert table["r_pair"][u] == pytest.approx(expected, abs=1e-12)
        assert table["reliability"][u] == pytest.approx(3 * expected / (1 + 2 * expected))
    assert table["method"].eq("Spearman-Brown").all()
    assert table["reliability"][:3].min() > table["reliability"][3:].max()


def test_split_halves_with_four_or_more_seeds_and_noise_has_none():
    rng = np.random.default_rng(1)
    noise = rng.random((27, 6, 50))
    table = rel.unit_reliability(noise, n_splits=5)
    assert table["method"].eq("split halves").all() and table["n_seeds"].eq(6).all()
    assert abs(table["reliability"].median()) < 0.1


def test_spearman_brown_and_the_ceiling():
    assert rel.spearman_brown(0.5, 1) == pytest.approx(0.5)
    assert rel.spearman_brown(0.2, 4) == pytest.approx(0.8 / 1.6)
    r = 0.6
    x = np.random.default_rng(2).multivariate_normal([0, 0], [[1, r], [r, 1]], 20000)
    assert rel.tau_ceiling(r**2) == pytest.approx(stats.kendalltau(x[:, 0], x[:, 1]).statistic, abs=0.02)


def test_cross_validated_rdms_equal_a_loop_and_ignore_noise():
    rng = np.random.default_rng(3)
    acts = rng.random((27, 3, 2))
    i, j = pair_indices(27)
    expected = np.zeros((351, 2))
    for s, t in ((s, t) for s in range(3) for t in range(3) if s != t):
        expected += (acts[i, s] - acts[j, s]) * (acts[i, t] - acts[j, t])
    np.testing.assert_allclose(rel.cv_unit_rdms(acts), expected / 6)
    noise = rng.standard_normal((27, 8, 200))
    assert abs(rel.cv_unit_rdms(noise).mean()) < 0.02  # the plain RDM of noise is far from 0
    assert unit_rdms(noise).mean() > 0.5
    with pytest.raises(ValueError, match="seeds >= 2"):
        rel.cv_unit_rdms(acts[:, :1])


def test_split_halves_equal_a_loop_over_the_same_splits():
    from itertools import combinations as combos

    rng = np.random.default_rng(5)
    acts = rng.random((27, 4, 3))
    acts[:, :, 0] += rng.random((27, 1))
    table = rel.unit_reliability(acts, n_splits=10)
    splits = [c for c in combos(range(4), 2) if 0 in c]  # 3 splits of 4 seeds: all are used
    for u in range(3):
        r_half = []
        for a in splits:
            b = [s for s in range(4) if s not in a]
            ra = unit_rdms(acts[:, list(a), u: u + 1])[:, 0]
            rb = unit_rdms(acts[:, b, u: u + 1])[:, 0]
            r_half.append(stats.spearmanr(ra, rb).statistic)
        expected = 2 * np.mean(r_half) / (1 + np.mean(r_half))
        assert table["reliability"][u] == pytest.approx(expected, abs=1e-12)
