"""The label-permutation (Mantel) searchlight against an explicit scipy loop, its invariants and its null."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from emolib.emotions import pairs_to_square, square_to_pairs
from emolib.rsa import unit_rdms
from emolib.rsa.permutation import (
    _int8_works,
    _permutation_counts,
    emotion_permutations,
    false_positive_rates,
    pair_permutation,
    permutation_searchlight,
)
from emolib.rsa.rankcorr import kendall_tau_b

P = 200
SEED = 3


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    """6 unit RDMs (one tied, one a noisy copy of attribute 0) and 3 tied attribute RDMs, [351, *]."""
    rng = np.random.default_rng(11)
    x = unit_rdms(rng.random((27, 3, 6)))
    x[:, 5] = np.round(x[:, 5], 1)  # a unit with ties
    y = np.round(unit_rdms(rng.random((27, 2, 3))) * 5) / 5  # attributes with heavy ties
    x[:, 0] = y[:, 0] + 0.3 * rng.random(351)
    return x, y


@pytest.fixture(scope="module")
def reference(data) -> dict[str, np.ndarray]:
    """scipy's tau-b of every unit with every explicitly relabelled attribute, in a Python loop."""
    x, y = data
    pp = pair_permutation(emotion_permutations(27, P, SEED))  # [P, 351]
    tau = lambda a, b: stats.kendalltau(a, b, variant="b").statistic  # noqa: E731
    obs = np.array([[tau(x[:, u], y[:, a]) for a in range(y.shape[1])] for u in range(x.shape[1])])
    null = np.array([[[tau(x[:, u], y[pp[k], a]) for a in range(y.shape[1])] for u in range(x.shape[1])]
                     for k in range(P)])  # [P, U, A]
    null_max = null.max(1)  # [P, A]
    return {
        "tau": obs, "null_max": null_max,
        "perm_p": (1 + (null >= obs).sum(0)) / (P + 1),
        "fwer_p": (1 + (null_max[:, None, :] >= obs).sum(0)) / (P + 1),
        "fwer_p_all": (1 + (null_max.max(1)[:, None, None] >= obs).sum(0)) / (P + 1),
    }


@pytest.fixture(scope="module")
def result(data):
    return permutation_searchlight(*data, n_permutations=P, seed=SEED, device="cpu")


def test_matches_the_scipy_loop(data, result, reference):
    np.testing.assert_array_equal(result.perm_p, reference["perm_p"])
    np.testing.assert_array_equal(result.fwer_p, reference["fwer_p"])
    np.testing.assert_array_equal(result.fwer_p_all, reference["fwer_p_all"])
    np.testing.assert_allclose(result.null_max, reference["null_max"], rtol=1e-13, atol=0)
    np.testing.assert_allclose(result.tau, reference["tau"], rtol=1e-13, atol=0)
    np.testing.assert_array_equal(result.tau, kendall_tau_b(*data)[0])  # bit-identical to the paper's statistic
    assert result.perm_p[0, 0] == 1 / (P + 1)  # the noisy copy
    assert result.perm_fdr_q.shape == result.perm_p.shape and (result.perm_fdr_q >= result.perm_p).all()
    assert (result.fwer_p_all >= result.fwer_p).all() and (result.fwer_p >= result.perm_p).all()


def test_fp32_kernel_and_chunks_are_identical(data, result):
    chunked = permutation_searchlight(*data, n_permutations=P, seed=SEED, device="cpu", chunk=4, perm_chunk=70,
                                      kernel="fp32")
    for name in ("tau", "perm_p", "fwer_p", "fwer_p_all", "null_max", "n_exceed"):
        np.testing.assert_array_equal(getattr(chunked, name), getattr(result, name), err_msg=name)


def test_int8_kernel_runs_on_the_cpu():
    assert _int8_works("cpu")


def test_pair_permutation_relabels_and_is_a_bijection():
    perms = emotion_permutations(27, 20, seed=1)
    pp = pair_permutation(perms)  # [20, 351]
    np.testing.assert_array_equal(np.sort(pp, axis=1), np.broadcast_to(np.arange(351), pp.shape))
    np.testing.assert_array_equal(pair_permutation(np.arange(27)), np.arange(351))
    rdm = np.random.default_rng(0).random(351)
    square = pairs_to_square(rdm)
    for perm, index in zip(perms, pp):
        np.testing.assert_array_equal(rdm[index], square_to_pairs(square[np.ix_(perm, perm)]))
    np.testing.assert_array_equal(pair_permutation(perms[0]), pp[0])


def test_identity_permutation_leaves_tau_unchanged(data):
    x, y = data
    n0 = 351 * 350 / 2
    tau, _ = kendall_tau_b(x, y)
    den = 2 * n0 * np.ones_like(tau)  # any positive denominators: the counts only compare S
    identity = np.tile(np.arange(351), (5, 1))
    s_obs, n_exceed, null_max, _ = _permutation_counts(x, y, identity, den, np.ones(tau.shape, bool),
                                                       torch.device("cpu"), None, None, "auto")
    assert (n_exceed == 5).all()  # S_pi == S_obs for every unit and attribute
    np.testing.assert_array_equal(null_max, np.broadcast_to((2 * s_obs / den).max(0), null_max.shape))
    np.testing.assert_array_equal(y[pair_permutation(np.arange(27))], y)


def test_seeds(data, result):
    again = permutation_searchlight(*data, n_permutations=P, seed=SEED, device="cpu")
    np.testing.assert_array_equal(again.perm_p, result.perm_p)
    np.testing.assert_array_equal(again.null_max, result.null_max)
    other = permutation_searchlight(*data, n_permutations=P, seed=SEED + 1, device="cpu")
    assert not np.array_equal(other.perm_p, result.perm_p)
    assert not np.array_equal(emotion_permutations(27, 5, 0), emotion_permutations(27, 5, 1))
    assert other.seed == SEED + 1 and other.n_permutations == P


def test_planted_unit_and_uniform_null():
    rng = np.random.default_rng(5)
    units = unit_rdms(rng.random((27, 2, 300)))  # [351, 300] independent random units
    attribute = unit_rdms(rng.random((27, 2, 1)))
    units[:, 0] = attribute[:, 0]  # planted
    res = permutation_searchlight(units, attribute, n_permutations=99, seed=0, device="cpu")
    assert res.perm_p[0, 0] == 1 / 100 and res.fwer_p[0, 0] == 1 / 100 and res.tau[0, 0] == 1.0
    null_p = res.perm_p[1:, 0]
    assert abs(null_p.mean() - 0.5) < 0.06
    assert stats.kstest(null_p, "uniform").pvalue > 1e-3
    assert 0.01 <= (null_p <= 0.1).mean() <= 0.2


def test_constant_rdms_give_nan():
    rng = np.random.default_rng(2)
    units = unit_rdms(rng.random((27, 2, 4)))
    units[:, 1] = 1.0
    attributes = np.column_stack([unit_rdms(rng.random((27, 2, 1)))[:, 0], np.zeros(351)])
    res = permutation_searchlight(units, attributes, n_permutations=20, device="cpu")
    assert np.isnan(res.tau[1]).all() and np.isnan(res.perm_p[1]).all() and np.isnan(res.fwer_p[:, 1]).all()
    assert np.isnan(res.null_max[:, 1]).all() and np.isfinite(res.null_max[:, 0]).all()
    assert np.isfinite(res.perm_p[[0, 2, 3], 0]).all() and np.isfinite(res.fwer_p_all[[0, 2, 3], 0]).all()


def test_frame_names_attributes(data):
    x, y = data
    res = permutation_searchlight(x, pd.DataFrame(y, columns=["a", "b", "c"]), n_permutations=10, device="cpu")
    frame = res.frame("perm_p")
    assert list(frame.columns) == ["a", "b", "c"] and frame.shape == (6, 3)
    with pytest.raises(ValueError, match="unknown field 'p'.*valid choices"):
        res.frame("p")


def test_false_positive_rates():
    table = false_positive_rates(n_sims=500, n_permutations=199, alphas=(0.01, 0.05), dims=(1,), seed=0,
                                 device="cpu")
    assert list(table.columns) == ["dims", "alpha", "test", "rate", "ci_low", "ci_high", "n_sims"]
    assert len(table) == 4
    for row in table.itertuples():
        assert row.ci_low <= row.rate <= row.ci_high
        if row.test == "paper":
            assert row.ci_low > row.alpha  # anti-conservative
        else:
            assert row.ci_low <= row.alpha <= row.ci_high


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_permutations": 0}, "n_permutations must be an integer >= 1, got 0"),
        ({"n_permutations": 2.5}, "n_permutations must be an integer"),
        ({"chunk": 0}, "chunk must be an integer >= 1"),
        ({"device": "gpu"}, "unknown device 'gpu'; valid choices"),
        ({"kernel": "bf16"}, "unknown kernel 'bf16'; valid choices: auto, int8, fp32"),
    ],
)
def test_bad_arguments(data, kwargs, message):
    x, y = data
    with pytest.raises(ValueError, match=message):
        permutation_searchlight(x, y, **{"n_permutations": 10, "device": "cpu", **kwargs})


def test_bad_inputs(data):
    x, y = data
    with pytest.raises(ValueError, match="same pairs"):
        permutation_searchlight(x, y[:-1], 10, device="cpu")
    with pytest.raises(ValueError, match="350 rows is not a number of pairs"):
        permutation_searchlight(x[:-1], y[:-1], 10, device="cpu")
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="unit_rdms holds NaN"):
        permutation_searchlight(bad, y, 10, device="cpu")
    with pytest.raises(ValueError, match="permutations of 0..2"):
        pair_permutation(np.array([0, 0, 2]))
    with pytest.raises(ValueError, match="n_items must be an integer >= 3"):
        emotion_permutations(2, 10)
    with pytest.raises(ValueError, match="alphas must be levels"):
        false_positive_rates(10, 10, alphas=(1.5,))


def test_the_paper_count_under_each_permutation_equals_a_slow_reference():
    """The per-permutation count of units past the paper's q < .01 (any attribute) equals recomputing the
    searchlight (R's cor.test p, the paper's p N / rank(p)) on each relabelled attribute RDM."""
    from emolib.rsa import unit_rdms
    from emolib.rsa.permutation import paper_count
    from emolib.stats import paper_q

    rng = np.random.default_rng(0)
    acts = rng.random((27, 2, 120))
    acts[:, :, :10] += np.linspace(0, 1, 27)[:, None, None]  # 10 units that track a gradient
    x = unit_rdms(acts)
    y = np.column_stack([unit_rdms(np.linspace(0, 1, 27)[:, None, None])[:, 0], rng.random(351)])
    result = permutation_searchlight(x, y, 12, seed=3, device="cpu")
    _, p = kendall_tau_b(x, y)
    assert result.obs_count == int((paper_q(p) < 0.01).any(axis=1).sum()) > 0
    for i, index in enumerate(pair_permutation(emotion_permutations(27, 12, seed=3))):
        _, p_pi = kendall_tau_b(x, y[index])
        assert result.null_count[i] == int((paper_q(p_pi) < 0.01).any(axis=1).sum())
    assert result.count_p == (1 + np.sum(result.null_count >= result.obs_count)) / 13
    z = np.random.default_rng(1).normal(1.0, 1.5, (300, 4))
    from scipy import stats
    assert paper_count(z) == int((paper_q(stats.norm.sf(z)) < 0.01).any(axis=1).sum())
