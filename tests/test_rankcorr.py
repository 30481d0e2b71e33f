"""Equivalence tests of the vectorised rank correlations against scipy, rsatoolbox and plain loops."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from scipy import stats

from emolib.rsa import rankcorr
from emolib.rsa.rankcorr import kendall_s, kendall_tau_a, kendall_tau_b, spearman_rho


@pytest.fixture(scope="module")
def tied() -> tuple[np.ndarray, np.ndarray]:
    """Heavily tied data: x [60, 30] in 0..5 (column 3 constant), y [60, 4] in 0..3 plus one continuous."""
    rng = np.random.default_rng(7)
    x = rng.integers(0, 6, (60, 30)).astype(float)
    x[:, 3] = 2.0
    x[:, 4] = rng.random(60)
    y = rng.integers(0, 4, (60, 4)).astype(float)
    y[:, 1] = rng.random(60)
    return x, y


def _scipy_tau_b(x: np.ndarray, y: np.ndarray, alternative: str) -> np.ndarray:
    out = np.empty((x.shape[1], y.shape[1], 2))
    for a, b in itertools.product(range(x.shape[1]), range(y.shape[1])):
        res = stats.kendalltau(x[:, a], y[:, b], variant="b", alternative=alternative, method="asymptotic")
        out[a, b] = res.statistic, res.pvalue
    return out


@pytest.mark.parametrize("alternative", ["greater", "less", "two-sided"])
@pytest.mark.parametrize("backend", ["torch", "numpy"])
def test_tau_b_matches_scipy_with_heavy_ties(tied, alternative, backend):
    x, y = tied
    tau, p = kendall_tau_b(x, y, alternative, chunk=7, backend=backend)
    ref = _scipy_tau_b(x, y, alternative)
    np.testing.assert_allclose(tau, ref[..., 0], rtol=0, atol=1e-14, equal_nan=True)
    np.testing.assert_allclose(p, ref[..., 1], rtol=1e-12, atol=1e-15, equal_nan=True)


def test_constant_column_is_nan_and_leaves_others_alone(tied):
    x, y = tied
    tau, p = kendall_tau_b(x, y)
    assert np.isnan(tau[3]).all() and np.isnan(p[3]).all()
    rest = np.delete(np.arange(x.shape[1]), 3)
    tau_rest, p_rest = kendall_tau_b(x[:, rest], y)
    np.testing.assert_array_equal(tau[rest], tau_rest)
    np.testing.assert_array_equal(p[rest], p_rest)
    assert not np.isnan(tau[rest]).any()


def test_s_is_exact_against_a_pair_loop(tied):
    x, y = tied
    s = kendall_s(x[:, :6], y)
    ref = np.zeros((6, y.shape[1]))
    for i, j in itertools.combinations(range(x.shape[0]), 2):
        ref += np.outer(np.sign(x[i, :6] - x[j, :6]), np.sign(y[i] - y[j]))
    np.testing.assert_array_equal(s, ref)


def test_torch_paths_equal_numpy_reference(tied):
    x, y = tied
    s_numpy = kendall_s(x, y, backend="numpy")
    s_threads, tx, ty = rankcorr._s_cpu(x, y, chunk=5)  # the CPU path (thread pool of column blocks)
    s_device, tx2, ty2 = rankcorr._s_device(x, y, chunk=8, device=torch.device("cpu"))  # the GPU code path
    np.testing.assert_array_equal(s_threads, s_numpy)
    np.testing.assert_array_equal(s_device, s_numpy)
    for key in ("t1", "t2", "t5"):
        np.testing.assert_array_equal(tx[key], rankcorr.tie_statistics(x)[key])
        np.testing.assert_array_equal(tx2[key], tx[key])
        np.testing.assert_array_equal(ty2[key], ty[key])


def test_results_do_not_depend_on_chunking_or_orientation(tied, monkeypatch):
    x, y = tied
    tau, p = kendall_tau_b(x, y)
    for chunk in (1, 4, 1000):
        np.testing.assert_array_equal(kendall_tau_b(x, y, chunk=chunk)[0], tau)
    tau_t, p_t = kendall_tau_b(y, x)  # the wider side is swapped internally
    np.testing.assert_array_equal(tau_t, tau.T)
    np.testing.assert_array_equal(p_t, p.T)
    monkeypatch.setattr(rankcorr, "_MAX_Y_COLUMNS", 3)  # y processed in several blocks
    np.testing.assert_array_equal(kendall_tau_b(x, y)[0], tau)


def test_large_s_stays_exact_in_float32():
    """n = 351 like the paper: S up to 61,425 must be exact (float32 sums of integers < 2**24)."""
    x = np.arange(351.0)[:, None] * np.array([1.0, -1.0])
    tau, _ = kendall_tau_b(x, np.arange(351.0))
    np.testing.assert_array_equal(kendall_s(x, np.arange(351.0))[:, 0], [61425.0, -61425.0])
    np.testing.assert_array_equal(tau[:, 0], [1.0, -1.0])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_equals_cpu(tied):
    x, y = tied
    rng = np.random.default_rng(1)
    big = rng.random((351, 3000))
    big[:, 10] = 1.0
    target = rng.integers(0, 9, (351, 14)).astype(float)
    for a, b in ((x, y), (big, target)):
        cpu = kendall_tau_b(a, b, device="cpu")
        gpu = kendall_tau_b(a, b, device="cuda")
        np.testing.assert_array_equal(gpu[0], cpu[0])
        np.testing.assert_array_equal(gpu[1], cpu[1])


def test_tau_a_matches_definition_and_rsatoolbox(tied):
    from rsatoolbox.rdm import RDMs, compare

    x, y = tied
    tau_a = kendall_tau_a(x[:, :5], y[:, :2])
    n0 = x.shape[0] * (x.shape[0] - 1) / 2
    for a, b in itertools.product(range(5), range(2)):
        pairs = itertools.combinations(range(60), 2)
        s = sum(np.sign(x[i, a] - x[j, a]) * np.sign(y[i, b] - y[j, b]) for i, j in pairs)
        assert tau_a[a, b] == pytest.approx(s / n0, abs=1e-15)
    rng = np.random.default_rng(3)
    rdms = rng.integers(0, 5, (4, 351)).astype(float)
    target = rng.random(351)
    ref = compare(RDMs(rdms), RDMs(target[None]), method="tau-a")[:, 0]
    np.testing.assert_allclose(kendall_tau_a(rdms.T, target)[:, 0], ref, atol=1e-14)


@pytest.mark.filterwarnings("ignore::scipy.stats.ConstantInputWarning")
@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_spearman_matches_scipy_with_ties(tied, alternative):
    x, y = tied
    rho, p = spearman_rho(x, y, alternative)
    for a, b in itertools.product(range(x.shape[1]), range(y.shape[1])):
        res = stats.spearmanr(x[:, a], y[:, b], alternative=alternative)
        if a == 3:
            assert np.isnan(rho[a, b]) and np.isnan(res.statistic)
            continue
        assert rho[a, b] == pytest.approx(res.statistic, abs=1e-13)
        assert p[a, b] == pytest.approx(res.pvalue, rel=1e-9, abs=1e-15)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alternative": "bigger"}, "unknown alternative 'bigger'"),
        ({"backend": "jax"}, "unknown backend 'jax'"),
        ({"device": "tpu"}, "unknown device 'tpu'"),
    ],
)
def test_bad_options_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        kendall_tau_b(np.arange(5.0), np.arange(5.0), **kwargs)


def test_bad_data_raise():
    with pytest.raises(ValueError, match="same number of rows"):
        kendall_tau_b(np.arange(5.0), np.arange(6.0))
    with pytest.raises(ValueError, match="NaN"):
        kendall_tau_b(np.array([1.0, np.nan, 3.0]), np.arange(3.0))
