"""RSA with a control RDM partialled out: does a model RDM track a human RDM beyond what a third RDM explains?

A model-free RDM of the task data (which emotions share comments, :mod:`emolib.paper.confounds`) already resembles
human similarity. Two views, both on ranks:

- :func:`partial_kendall`: Kendall's partial tau, ``(t_xy - t_xz t_yz) / sqrt((1 - t_xz^2)(1 - t_yz^2))`` (Kendall
  1942), the effect size beside the raw tau;
- :func:`partial_mantel`: the partial Mantel test (Smouse, Long & Sokal 1986) with Legendre's residual permutation:
  the ranks of the model RDM and of the target are each regressed on a smooth function of the control's ranks (a
  cubic spline with 20 knots at quantiles: a straight line leaves a curved influence of the control in both
  residuals, which then pass for an effect), the correlation of the two residuals is the statistic, and the model's
  residuals are relabelled by emotion permutations (their pairs move together).

The control's influence has to be smooth in its ranks. Measured with the GoEmotions -PMI RDM as the control and
two RDMs that only echo it (``tests/test_partial.py``): at alpha = .05 the test rejects about 4 % of the time when
the echo is linear in the control, about 10 % when it is convex (a straight-line residual: 95 %), and about 15 %
when it is a step (straight line: 100 %). A partialled result is a control, not proof of independence.

:func:`controlled_rsa` gives both for every RDM and target, beside the raw tau.

Example:
    >>> rng = np.random.default_rng(0)
    >>> z = rng.random(351)
    >>> x, y = z + 0.5 * rng.random(351), z + 0.5 * rng.random(351)  # both only echo z
    >>> raw, partial = partial_kendall(x[:, None], y[:, None], z)
    >>> round(float(raw[0, 0]), 2), round(float(partial[0, 0]), 2)  # much of the raw tau was z
    (0.62, 0.2)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from emolib.rsa.permutation import _n_items, emotion_permutations, pair_permutation
from emolib.rsa.rankcorr import kendall_tau_b

__all__ = ["partial_kendall", "partial_mantel", "controlled_rsa", "partial_global_test"]


def partial_kendall(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kendall tau-b of every column of ``x [n, a]`` with every column of ``y [n, b]``, raw and with ``z [n]``
    partialled out. Returns ``(tau [a, b], partial [a, b])``."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    z = np.asarray(z, dtype=np.float64).reshape(-1, 1)
    if not (len(x) == len(y) == len(z)):
        raise ValueError(f"x, y and z need the same rows (got {len(x)}, {len(y)}, {len(z)})")
    t_xy, _ = kendall_tau_b(x, y)
    t_xz, _ = kendall_tau_b(x, z)  # [a, 1]
    t_yz, _ = kendall_tau_b(y, z)  # [b, 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        partial = (t_xy - t_xz * t_yz.T) / np.sqrt((1 - t_xz**2) * (1 - t_yz.T**2))
    return t_xy, partial


def _control_basis(z_ranks: np.ndarray, n_knots: int = 20) -> np.ndarray:
    """An intercept and a cubic B-spline basis of the control's ranks, knots at quantiles: ``[n, 1 + n_knots + 2]``."""
    from sklearn.preprocessing import SplineTransformer

    scaled = (z_ranks - z_ranks.min()) / max(float(np.ptp(z_ranks)), 1e-12)
    spline = SplineTransformer(n_knots=n_knots, degree=3, knots="quantile").fit_transform(scaled[:, None])
    return np.column_stack([np.ones(len(z_ranks)), spline])


def _rank_residuals(values: np.ndarray, z_ranks: np.ndarray) -> np.ndarray:
    """Ranks of each column of ``values [n, m]`` minus their least-squares fit on a smooth function of the control's
    ranks (:func:`_control_basis`), scaled to unit norm: ``[n, m]``."""
    ranks = stats.rankdata(values, axis=0)
    design = _control_basis(z_ranks)
    beta, *_ = np.linalg.lstsq(design, ranks, rcond=None)
    residual = ranks - design @ beta
    norm = np.linalg.norm(residual, axis=0, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return residual / norm


def partial_mantel(x: np.ndarray, y: np.ndarray, z: np.ndarray, n_perm: int = 1000,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Partial Mantel correlation of ranks (``[a, b]``) of ``x`` and ``y`` given ``z``, and its one-sided (greater)
    residual-permutation p: ``(1 + #{r_pi >= r}) / (1 + n_perm)``; RDMs in the paper's pair order."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    z_ranks = stats.rankdata(np.asarray(z, dtype=np.float64))
    ex, ey = _rank_residuals(x, z_ranks), _rank_residuals(y, z_ranks)  # [n, a], [n, b]
    observed = ex.T @ ey  # [a, b]
    perms = pair_permutation(emotion_permutations(_n_items(len(y)), n_perm, seed))  # [P, n]
    exceed = np.zeros_like(observed)
    for index in perms:
        exceed += (ex[index].T @ ey) >= observed - 1e-12
    return observed, (1 + exceed) / (1 + n_perm)


def controlled_rsa(rdms: pd.DataFrame, targets: pd.DataFrame, control: pd.Series, n_perm: int = 1000,
                   seed: int = 0) -> pd.DataFrame:
    """Every RDM against every target, without and with ``control``: long format ``rdm, target, tau`` (raw Kendall
    tau-b), ``p`` (its one-sided label-permutation p), ``tau_partial`` (Kendall's partial tau, an effect size),
    ``r_partial`` and ``p_partial`` (the partial Mantel correlation of ranks and its residual-permutation p: the test),
    ``p_partial_holm`` (Holm over all rows).

    Args:
        rdms: ``[pairs, a]`` model RDMs. targets: ``[pairs, b]`` human RDMs. control: ``[pairs]`` the RDM to remove.
    """
    x, y = rdms.to_numpy(np.float64), targets.to_numpy(np.float64)
    z = np.asarray(control, dtype=np.float64)
    tau, partial = partial_kendall(x, y, z)
    perms = pair_permutation(emotion_permutations(_n_items(len(y)), n_perm, seed))
    exceed = np.zeros_like(tau)
    for index in perms:
        null, _ = kendall_tau_b(x[index], y)
        exceed += null >= tau - 1e-12
    r_partial, p_partial = partial_mantel(x, y, z, n_perm, seed)
    grid = pd.MultiIndex.from_product([rdms.columns, targets.columns], names=["rdm", "target"])
    from statsmodels.stats.multitest import multipletests

    holm = multipletests(p_partial.ravel(), method="holm")[1]
    return pd.DataFrame({"tau": tau.ravel(), "p": ((1 + exceed) / (1 + n_perm)).ravel(),
                         "tau_partial": partial.ravel(), "r_partial": r_partial.ravel(),
                         "p_partial": p_partial.ravel(), "p_partial_holm": holm}, index=grid).reset_index()


def partial_global_test(unit_rdms: np.ndarray, targets: np.ndarray | pd.DataFrame, control, n_perm: int = 1000,
                        seed: int = 0, alpha: float = 0.05, chunk: int = 4096) -> dict[str, float]:
    """Does any unit track any target beyond the control? The searchlight's global test with the control partialled
    out: the largest partial Mantel correlation (:func:`partial_mantel`) over all units and targets against its
    distribution under the same emotion relabellings of the units' residuals.

    Returns:
        ``max_r`` (the largest partial correlation), ``p`` (its max-statistic permutation p), ``n_units`` (units whose
        own largest partial correlation passes the family-wise level ``alpha``).

    Example:
        >>> from emolib.rsa import unit_rdms
        >>> rng = np.random.default_rng(0)
        >>> z = unit_rdms(rng.random((27, 1, 1)))[:, 0]
        >>> target = z + unit_rdms(rng.random((27, 1, 1)))[:, 0]
        >>> acts = rng.random((27, 1, 30)); acts[:, :, :3] = 5 * acts[:, :, :1]  # 3 units carry the target's own part
        >>> rdms = unit_rdms(acts)
        >>> rdms[:, :3] += 3 * (target - z)[:, None]
        >>> result = partial_global_test(rdms, target[:, None], z, n_perm=99)
        >>> result["p"] < 0.05, result["n_units"] >= 3
        (True, True)
    """
    y = np.asarray(targets, dtype=np.float64)
    z_ranks = stats.rankdata(np.asarray(control, dtype=np.float64))
    ey = _rank_residuals(y, z_ranks)  # [n, b]
    perms = pair_permutation(emotion_permutations(_n_items(len(y)), n_perm, seed))  # [P, n]
    x = np.asarray(unit_rdms, dtype=np.float64)
    best = np.empty(x.shape[1])
    null_max = np.full(n_perm, -np.inf)
    for start in range(0, x.shape[1], chunk):
        ex = np.nan_to_num(_rank_residuals(x[:, start: start + chunk], z_ranks))  # [n, u]
        best[start: start + chunk] = (ex.T @ ey).max(1)
        for i, index in enumerate(perms):
            null_max[i] = max(null_max[i], float((ex[index].T @ ey).max()))
    observed = float(best.max())
    p = float((1 + np.sum(null_max >= observed - 1e-12)) / (1 + n_perm))
    threshold = np.quantile(null_max, 1 - alpha)
    return {"max_r": observed, "p": p, "n_units": int(np.sum(best > threshold))}
