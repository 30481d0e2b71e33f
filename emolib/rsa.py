"""Representational similarity analysis: RDMs and rank correlations, vectorised over many columns.

Kendall's tau-b follows R's ``cor.test(x, y, method="kendall")`` for n >= 50 (the asymptotic test
with tie-corrected S and variance, no continuity correction), computed for every column of ``x``
against every column of ``y`` at once from exact sign products.

Example:
    >>> import numpy as np
    >>> from emolib.rsa import kendall_tau_b
    >>> x = np.array([[1.0], [2.0], [3.0], [4.0]]); y = np.array([[1.0], [3.0], [2.0], [4.0]])
    >>> tau, p = kendall_tau_b(x, y)
    >>> round(float(tau[0, 0]), 4)
    0.6667
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["tie_statistics", "kendall_tau_b"]

ALTERNATIVES = ("greater", "less", "two-sided")


def tie_statistics(x: np.ndarray) -> dict[str, np.ndarray]:
    """Per column of ``x [n, m]``: sums over tie groups of sizes t of the terms of Kendall's variance.

    Returns ``{"t1": sum t(t-1), "t2": sum t(t-1)(t-2), "t5": sum t(t-1)(2t+5)}``, each ``[m]``.
    """
    x = np.asarray(x)
    n, m = x.shape
    s = np.sort(x, axis=0)
    new_group = np.ones_like(s, dtype=bool)
    new_group[1:] = s[1:] != s[:-1]
    group = np.cumsum(new_group, axis=0) - 1 + np.arange(m) * n  # [n, m] global group ids
    t = np.bincount(group.ravel(order="F"), minlength=n * m).reshape(m, n).astype(np.float64)  # [m, n]
    return {"t1": (t * (t - 1)).sum(1), "t2": (t * (t - 1) * (t - 2)).sum(1), "t5": (t * (t - 1) * (2 * t + 5)).sum(1)}


def _signs(x: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    return np.sign(x[i] - x[j]).astype(np.float32)  # [pairs, m], exact -1/0/1


def kendall_tau_b(
    x: np.ndarray, y: np.ndarray, alternative: str = "greater", chunk: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """Kendall tau-b and asymptotic p of every column of ``x`` against every column of ``y``.

    Args:
        x: ``[n, a]`` observations (e.g. 351 RDM entries x units).
        y: ``[n, b]`` observations (e.g. 351 RDM entries x attributes).
        alternative: ``"greater"`` (R's ``alternative="greater"``), ``"less"`` or ``"two-sided"``.
        chunk: columns of ``x`` processed at once (bounds memory: ~ n^2/2 * chunk * 4 bytes).

    Returns:
        ``(tau [a, b], p [a, b])``; constant columns give NaN.
    """
    if alternative not in ALTERNATIVES:
        raise ValueError(f"unknown alternative {alternative!r}; valid choices: {', '.join(ALTERNATIVES)}")
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if y.ndim == 1:
        y = y[:, None]
    n = x.shape[0]
    if y.shape[0] != n:
        raise ValueError(f"x and y need the same number of rows, got {x.shape[0]} and {y.shape[0]}")
    j, i = np.triu_indices(n, 1)
    sy = _signs(y, i, j)  # [pairs, b]
    ny = (sy != 0).sum(0).astype(np.float64)  # n0 - n2 per y column
    ty = tie_statistics(y)
    tau = np.empty((x.shape[1], y.shape[1]))
    z = np.empty_like(tau)
    tx_all = tie_statistics(x)
    v0 = n * (n - 1) * (2 * n + 5)
    for start in range(0, x.shape[1], chunk):
        cols = slice(start, start + chunk)
        sx = _signs(x[:, cols], i, j)  # [pairs, c]
        s = (sx.T @ sy).astype(np.float64)  # [c, b] exact integer sums
        nx = (sx != 0).sum(0).astype(np.float64)
        tx = {k: v[cols] for k, v in tx_all.items()}
        with np.errstate(invalid="ignore", divide="ignore"):
            tau[cols] = s / np.sqrt(np.outer(nx, ny))
            var = (
                (v0 - tx["t5"][:, None] - ty["t5"][None, :]) / 18
                + np.outer(tx["t1"], ty["t1"]) / (2 * n * (n - 1))
                + np.outer(tx["t2"], ty["t2"]) / (9 * n * (n - 1) * (n - 2))
            )
            z[cols] = s / np.sqrt(var)
    const = (np.outer(tx_all["t1"] == n * (n - 1), np.ones(y.shape[1], bool))) | (ty["t1"] == n * (n - 1))[None, :]
    tau[const] = np.nan
    z[const] = np.nan
    if alternative == "greater":
        p = stats.norm.sf(z)
    elif alternative == "less":
        p = stats.norm.cdf(z)
    else:
        p = 2 * stats.norm.sf(np.abs(z))
    return tau, p
