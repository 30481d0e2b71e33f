"""Noise ceilings of the human similarity RDM against rsatoolbox's leave-one-subject-out definition."""

from __future__ import annotations

import numpy as np
import pytest

from emolib import human
from emolib.human.ceilings import METHODS, NoiseCeiling, noise_ceiling, similarity_ceiling
from emolib.rsa.rankcorr import kendall_tau_b

rsa_rdm = pytest.importorskip("rsatoolbox.rdm")
rsa_inference = pytest.importorskip("rsatoolbox.inference")
from rsatoolbox.util.inference_util import pool_rdm  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:Noise ceiling for tau based on averaged ranks")


def rsatoolbox_ceiling(x: np.ndarray, method: str) -> np.ndarray:
    """rsatoolbox's leave-one-RDM-out ceiling: each RDM is its own group of the default ``index`` descriptor."""
    return np.array(rsa_inference.boot_noise_ceiling(rsa_rdm.RDMs(x), method=method))


def synthetic(n_subjects: int = 8, n_cond: int = 9, noise: float = 1.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pairs = n_cond * (n_cond - 1) // 2
    return rng.normal(size=pairs) + noise * rng.normal(size=(n_subjects, pairs))


@pytest.fixture(scope="module")
def subjects() -> np.ndarray:
    return human.similarity_rdm(individual=True)


def test_the_real_data_are_61_subjects_without_missing_cells(subjects):
    assert subjects.shape == (61, 351)
    assert not np.isnan(subjects).any()  # similarity_rdm filled the missing ratings with pair means
    np.testing.assert_allclose(subjects.mean(0), human.similarity_rdm(), atol=1e-13)


@pytest.mark.parametrize("method", ["kendall", "spearman", "corr"])
def test_real_ceilings_equal_rsatoolbox_boot_noise_ceiling(subjects, method):
    nc = noise_ceiling(subjects, method)
    np.testing.assert_allclose([nc.lower, nc.upper], rsatoolbox_ceiling(subjects, method), rtol=0, atol=1e-12)
    # the per-subject table averages to the bounds
    assert list(nc.subjects.columns) == ["subject", "lower", "upper"] and nc.subjects["subject"].tolist() == list(
        range(1, 62))
    assert nc.subjects["lower"].mean() == pytest.approx(nc.lower, abs=1e-15)
    assert nc.subjects["upper"].mean() == pytest.approx(nc.upper, abs=1e-15)


def test_real_ceilings_pinned(subjects):
    kendall, spearman = noise_ceiling(subjects, "kendall"), noise_ceiling(subjects, "spearman")
    assert (kendall.lower, kendall.upper) == pytest.approx((0.586923035334377, 0.5965493736383682), abs=1e-12)
    assert (spearman.lower, spearman.upper) == pytest.approx((0.739864252894715, 0.7493485586848359), abs=1e-12)
    assert noise_ceiling(subjects, "tau-b").subjects.equals(kendall.subjects)  # one method, two names


def test_per_subject_values_are_rsatoolbox_compare_and_rankcorr_tau_b(subjects):
    rdms = rsa_rdm.RDMs(subjects)
    table = noise_ceiling(subjects, "kendall").subjects
    for s in (0, 37):
        others = rdms.subset("index", np.setdiff1d(np.arange(61), [s]))
        pool = pool_rdm(others, method="kendall")
        assert table["lower"][s] == pytest.approx(rsa_rdm.compare(pool, rdms[s], method="kendall")[0, 0], abs=1e-12)
    # the pools are the mean ranks; the vectorised tau-b of emolib.rsa agrees on every subject
    from scipy.stats import rankdata

    ranks = rankdata(subjects, axis=1)
    some = [0, 12, 37, 60]
    rest = (ranks.sum(0) - ranks[some]) / 60
    lower = np.diag(kendall_tau_b(subjects[some].T, rest.T, backend="numpy")[0])
    upper = kendall_tau_b(subjects.T, ranks.mean(0)[:, None], backend="numpy")[0][:, 0]
    np.testing.assert_allclose(table["lower"][some], lower, atol=1e-12)
    np.testing.assert_allclose(table["upper"], upper, atol=1e-12)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_equals_rsatoolbox_on_synthetic_data(method):
    x = synthetic()
    x[2, :5] = np.round(x[2, :5])  # a few ties
    x[3, 7] = x[3, 8]
    nc = noise_ceiling(x, method)
    np.testing.assert_allclose([nc.lower, nc.upper], rsatoolbox_ceiling(x, method), rtol=0, atol=1e-12)
    assert nc.lower <= nc.upper


def test_lower_is_below_upper_on_the_real_data(subjects):
    for method in ("kendall", "tau-a", "spearman", "rho-a", "corr", "cosine"):
        nc = noise_ceiling(subjects, method)
        assert 0 < nc.lower <= nc.upper < 1, method


@pytest.mark.parametrize("method", ["kendall", "spearman", "corr"])
def test_ceilings_rise_as_the_noise_shrinks(method):
    ceilings = [noise_ceiling(synthetic(20, 12, noise, seed=1), method) for noise in (4.0, 2.0, 1.0, 0.5, 0.25)]
    lower, upper = np.array([c.lower for c in ceilings]), np.array([c.upper for c in ceilings])
    assert np.all(np.diff(lower) > 0) and np.all(np.diff(upper) > 0)
    assert np.all(lower <= upper) and lower[0] < 0.5 < lower[-1]


def test_bootstrap_samples_are_rsatoolbox_ceilings_of_the_same_resamples(subjects):
    nc = noise_ceiling(subjects, "spearman", n_boot=3, seed=5)
    draws = np.random.default_rng(5).integers(0, 61, size=(3, 61))  # the documented draws
    rdms = rsa_rdm.RDMs(subjects)
    ref = [rsa_inference.boot_noise_ceiling(rdms.subsample("index", d), method="spearman") for d in draws]
    np.testing.assert_allclose(nc.boot, ref, rtol=0, atol=1e-12)
    x = synthetic(6, 8)  # few subjects: many duplicates per resample
    nc = noise_ceiling(x, "kendall", n_boot=4, seed=2)
    rdms = rsa_rdm.RDMs(x)
    draws = np.random.default_rng(2).integers(0, 6, size=(4, 6))
    ref = [rsa_inference.boot_noise_ceiling(rdms.subsample("index", d), method="kendall") for d in draws]
    np.testing.assert_allclose(nc.boot, ref, rtol=0, atol=1e-12)


def test_bootstrap_interval_is_seeded_and_ordered():
    x = synthetic(15, 10)
    a, b = (noise_ceiling(x, "kendall", n_boot=50, ci=0.9, seed=1) for _ in range(2))
    np.testing.assert_array_equal(a.boot, b.boot)
    assert a.boot.shape == (50, 2) and a.n_boot == 50 and a.ci == 0.9
    assert a.lower_ci[0] < a.lower_ci[1] and a.upper_ci[0] < a.upper_ci[1]
    assert a.lower_ci[0] < a.lower < a.lower_ci[1] and a.upper_ci[0] < a.upper < a.upper_ci[1]
    assert not np.array_equal(noise_ceiling(x, "kendall", n_boot=50, seed=2).boot, a.boot)
    row = a.as_dict()
    assert row["method"] == "kendall" and row["lower"] == a.lower and row["upper_ci_high"] == a.upper_ci[1]
    plain = noise_ceiling(x, "kendall")
    assert isinstance(plain, NoiseCeiling) and plain.boot is None and plain.lower_ci is None
    assert plain.as_dict()["lower_ci_low"] is None


@pytest.mark.parametrize("method", ["kendall", "spearman", "corr", "cosine"])
def test_cells_missing_for_every_subject_are_dropped_as_rsatoolbox_does(method):
    x = synthetic(7, 9)
    x[:, [3, 20]] = np.nan
    nc = noise_ceiling(x, method)
    np.testing.assert_allclose([nc.lower, nc.upper], rsatoolbox_ceiling(x, method), rtol=0, atol=1e-12)
    assert np.isfinite([nc.lower, nc.upper]).all()


def test_cells_missing_for_some_subjects_only_raise_like_rsatoolbox():
    x = synthetic(7, 9)
    x[2, 5] = np.nan
    with pytest.raises(ValueError, match=r"1 pair cells are NaN for some subjects only \(subjects \[3\]\)"):
        noise_ceiling(x, "spearman")
    with pytest.raises(ValueError, match="different nan positions"):
        rsatoolbox_ceiling(x, "spearman")


def test_bad_method_names_the_valid_choices():
    with pytest.raises(ValueError, match=r"unknown method 'pearson'; valid choices: kendall, tau-b, tau-a, spearman"):
        noise_ceiling(synthetic(), "pearson")


@pytest.mark.parametrize(
    ("x", "match"),
    [
        (np.ones(36), r"must be 2-D \[subjects, pairs\], got shape \(36,\)"),
        (np.ones((3, 9, 9)), r"must be 2-D \[subjects, pairs\], got shape \(3, 9, 9\)"),
        (np.random.default_rng(0).normal(size=(5, 35)), r"n\(n-1\)/2 pair columns .* got 35 columns"),
        (np.random.default_rng(0).normal(size=(5, 1)), r"got 1 columns"),
        (np.random.default_rng(0).normal(size=(1, 36)), "at least 2 subjects"),
    ],
)
def test_bad_shapes_raise(x, match):
    with pytest.raises(ValueError, match=match):
        noise_ceiling(x)


def test_bad_values_and_options_raise():
    x = synthetic()
    bad = x.copy()
    bad[1, 4] = np.inf
    with pytest.raises(ValueError, match="infinite"):
        noise_ceiling(bad)
    flat = x.copy()
    flat[4] = 2.0
    with pytest.raises(ValueError, match=r"subjects \[5\] have constant RDMs"):
        noise_ceiling(flat)
    with pytest.raises(ValueError, match="n_boot must be an integer >= 0, got -1"):
        noise_ceiling(x, n_boot=-1)
    with pytest.raises(ValueError, match=r"ci must lie in \(0, 1\), got 1.5"):
        noise_ceiling(x, n_boot=10, ci=1.5)


def test_similarity_ceiling_is_the_ceiling_of_the_61_subjects(subjects):
    a, b = similarity_ceiling("spearman"), noise_ceiling(subjects, "spearman")
    assert (a.lower, a.upper) == (b.lower, b.upper) and len(a.subjects) == 61
