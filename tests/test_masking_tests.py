"""Permutation tests of the masking statistics against slow references."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from emolib.paper.masking_tests import sign_flip_tests, weight_permutation_test


def _pairs(shift: float, n_prompts: int = 10, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [(f"e{i}", 1, a, 100, shift + rng.normal(0, 0.05)) for i in range(n_prompts) for a in ("x", "y", "z")]
    return pd.DataFrame(rows, columns=["emotion", "seed", "attribute", "k", "diff"])


def test_sign_flip_p_approaches_the_exact_permutation_p():
    pairs = _pairs(-0.02, n_prompts=8)
    d = pairs.groupby(["emotion", "seed"])["diff"].mean().to_numpy()
    exact = np.mean([np.mean(np.array(s) * d) <= d.mean() + 1e-12
                     for s in itertools.product([-1, 1], repeat=len(d))])  # all 2^8 sign patterns
    p = sign_flip_tests(pairs, ["k"], n_perm=20_000, seed=1)["perm_p"].item()
    assert p == pytest.approx(exact, abs=0.01)


def test_sign_flip_finds_a_drop_and_not_a_gain():
    assert sign_flip_tests(_pairs(-0.1), ["k"], 999)["perm_p"].item() == pytest.approx(1 / 1000 * 2, abs=0.002)
    assert sign_flip_tests(_pairs(+0.1), ["k"], 999)["perm_p"].item() > 0.99
    by = sign_flip_tests(_pairs(-0.1), ["attribute", "k"], 999)
    assert by["attribute"].tolist() == ["x", "y", "z"] and (by["n_prompts"] == 10).all()
    with pytest.raises(ValueError, match="n_perm must be a positive integer"):
        sign_flip_tests(_pairs(0), ["k"], 0)


def _per_emotion(slope: float, n_emotions: int = 12, seed: int = 0):
    rng = np.random.default_rng(seed)
    tau = pd.Series(np.linspace(0, 0.6, 6), index=list("abcdef"))
    rows = [(a, f"e{i}", 100, slope * t + rng.normal(0, 0.05)) for i in range(n_emotions) for a, t in tau.items()]
    return pd.DataFrame(rows, columns=["attribute", "emotion", "k", "diff"]), tau


def test_weight_permutation_matches_the_mean_fisher_z_and_detects_a_negative_slope():
    per_emotion, tau = _per_emotion(-0.5)
    table = weight_permutation_test(per_emotion, tau, n_perm=999, seed=0)
    z = [np.arctanh(stats.pearsonr(g.set_index("attribute")["diff"].reindex(tau.index), tau).statistic)
         for _, g in per_emotion.groupby("emotion")]
    assert table["mean_rho"].item() == pytest.approx(np.tanh(np.mean(z)), abs=1e-9)
    assert table["perm_p"].item() < 0.01 and table["null_low"].item() < 0 < table["null_high"].item()
    flat = weight_permutation_test(*_per_emotion(0.0), n_perm=999, seed=0)
    assert flat["perm_p"].item() > 0.05
