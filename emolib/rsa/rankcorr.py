"""Rank correlations of every column of one matrix with every column of another, vectorised.

Kendall's tau-b follows R's ``cor.test(x, y, method="kendall")`` for n >= 50 (the asymptotic test
with tie-corrected S and variance, no continuity correction), computed for all column pairs at once
from exact sign products. The fast path (``backend="torch"``) turns each column into dense integer
ranks, then, for every item ``j``, multiplies the signs ``sign(r[j+1:] - r[j])`` of a block of
columns with the fixed signs of the other side: float32 sums of -1/0/1 products stay exact below
2**24 (n(n-1)/2 = 61,425 for n = 351), on a CPU or a CUDA GPU. ``backend="numpy"`` is the plain
gather-based reference. Tau-a and Spearman's rho (average ranks) are vectorised the same way.

Example:
    >>> import numpy as np
    >>> from emolib.rsa.rankcorr import kendall_tau_b
    >>> x = np.array([[1.0], [2.0], [3.0], [4.0]]); y = np.array([[1.0], [3.0], [2.0], [4.0]])
    >>> tau, p = kendall_tau_b(x, y)
    >>> round(float(tau[0, 0]), 4)
    0.6667
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from scipy import stats
from tqdm import tqdm

from emolib.device import resolve_device

__all__ = [
    "ALTERNATIVES",
    "BACKENDS",
    "tie_statistics",
    "kendall_s",
    "kendall_tau_b",
    "kendall_tau_a",
    "spearman_rho",
    "single_threaded_ops",
    "sqrt_like_r",
]

logger = logging.getLogger(__name__)

ALTERNATIVES = ("greater", "less", "two-sided")
BACKENDS = ("torch", "numpy")
_MAX_Y_COLUMNS = 1024  # sign matrix of one y block: pairs x 1024 x 4 bytes (~250 MB for n = 351)


def _as_matrix(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"{name} must be 1-D or 2-D [observations, columns], got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} holds NaN or infinite values; remove them first")
    return x


def _check(x: np.ndarray, y: np.ndarray, alternative: str, backend: str = "torch") -> tuple[np.ndarray, np.ndarray]:
    if alternative not in ALTERNATIVES:
        raise ValueError(f"unknown alternative {alternative!r}; valid choices: {', '.join(ALTERNATIVES)}")
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; valid choices: {', '.join(BACKENDS)}")
    x, y = _as_matrix(x, "x"), _as_matrix(y, "y")
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"x and y need the same number of rows, got {x.shape[0]} and {y.shape[0]}")
    if x.shape[0] < 3:
        raise ValueError(f"need at least 3 observations, got {x.shape[0]}")
    return x, y


def tie_statistics(x: np.ndarray) -> dict[str, np.ndarray]:
    """Per column of ``x [n, m]``: sums over tie groups of sizes t of the terms of Kendall's variance.

    Returns ``{"t1": sum t(t-1), "t2": sum t(t-1)(t-2), "t5": sum t(t-1)(2t+5)}``, each ``[m]``.

    Example:
        >>> tie_statistics(np.array([[1.0], [1.0], [2.0]]))["t1"]
        array([2.])
    """
    x = np.asarray(x)
    n, m = x.shape
    s = np.sort(x, axis=0)
    new_group = np.ones_like(s, dtype=bool)
    new_group[1:] = s[1:] != s[:-1]
    group = np.cumsum(new_group, axis=0) - 1 + np.arange(m) * n  # [n, m] global group ids
    t = np.bincount(group.ravel(order="F"), minlength=n * m).reshape(m, n).astype(np.float64)  # [m, n]
    return _tie_terms(t)


def _tie_terms(sizes: np.ndarray | torch.Tensor) -> dict:
    """Tie-group sizes ``[m, groups]`` (0 for unused groups) -> sums of the variance terms, ``[m]`` each."""
    t = sizes
    return {"t1": (t * (t - 1)).sum(1), "t2": (t * (t - 1) * (t - 2)).sum(1), "t5": (t * (t - 1) * (2 * t + 5)).sum(1)}


def _ranks_numpy(x: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Integer ranks of each column of ``x [n, c]`` (ties share one) as exact float32 ``[n, c]``, and ties.

    Ranks are ordinal for columns without ties and dense for the (usually few) columns with ties.
    """
    xt = np.ascontiguousarray(x.T)  # [c, n]
    c, n = xt.shape
    order = np.argsort(xt, axis=1)
    tied = np.diff(np.take_along_axis(xt, order, axis=1), axis=1) == 0  # [c, n-1]
    rank_of_sorted = np.broadcast_to(np.arange(n, dtype=np.float32), (c, n))
    ties = {k: np.zeros(c) for k in ("t1", "t2", "t5")}
    cols = np.flatnonzero(tied.any(1))
    if cols.size:
        new_group = np.ones((cols.size, n), dtype=np.int64)
        new_group[:, 1:] = ~tied[cols]
        dense = np.cumsum(new_group, axis=1) - 1  # [k, n]
        rank_of_sorted = rank_of_sorted.copy()
        rank_of_sorted[cols] = dense
        sizes = np.bincount((dense + n * np.arange(cols.size)[:, None]).ravel(), minlength=n * cols.size)
        for key, value in _tie_terms(sizes.reshape(cols.size, n).astype(np.float64)).items():
            ties[key][cols] = value
    ranks = np.empty((c, n), dtype=np.float32)
    np.put_along_axis(ranks, order, rank_of_sorted, axis=1)
    return np.ascontiguousarray(ranks.T), ties


def _ranks_torch(x: torch.Tensor) -> tuple[torch.Tensor, dict[str, np.ndarray]]:
    """:func:`_ranks_numpy` on a torch device (dense ranks for every column)."""
    xt = x.T  # [c, n]
    c, n = xt.shape
    s, order = torch.sort(xt, dim=1)
    new_group = torch.ones_like(s, dtype=torch.int64)
    new_group[:, 1:] = (s[:, 1:] != s[:, :-1]).to(torch.int64)
    dense = torch.cumsum(new_group, 1) - 1
    ranks = torch.empty_like(dense).scatter_(1, order, dense)
    sizes = torch.zeros((c, n), dtype=torch.float64, device=x.device).scatter_add_(
        1, dense, torch.ones((c, n), dtype=torch.float64, device=x.device))
    return ranks.T.to(torch.float32).contiguous(), {k: v.cpu().numpy() for k, v in _tie_terms(sizes).items()}


def _block_signs(r: torch.Tensor) -> torch.Tensor:
    """``[columns, pairs]`` signs of all item pairs, block j = ``sign(r[j+1:] - r[j])``."""
    n = r.shape[0]
    return torch.cat([torch.sign(r[j + 1 :] - r[j]) for j in range(n - 1)], dim=0).T.contiguous()


def _s_block(rx: torch.Tensor, sy: torch.Tensor, out: torch.Tensor) -> None:
    """``out [b, c] = sum_j sy_j @ sign(rx[j+1:] - rx[j])``: S of the columns of ``rx [n, c]`` (exact)."""
    n = rx.shape[0]
    buf = torch.empty((n - 1, rx.shape[1]), dtype=torch.float32, device=rx.device)
    out.zero_()
    offset = 0
    for j in range(n - 1):
        m = n - 1 - j
        d = buf[:m]
        torch.sub(rx[j + 1 :], rx[j], out=d)
        d.sign_()  # [m, c] exact -1/0/1
        out.addmm_(sy[:, offset : offset + m], d)  # float32 sums of integers < 2**24: exact
        offset += m


@contextlib.contextmanager
def single_threaded_ops() -> Iterator[int]:
    """Run torch ops single-threaded (small ops thrash a shared CPU otherwise); yield the old thread count."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield threads
    finally:
        torch.set_num_threads(threads)


def _s_torch(x: np.ndarray, y: np.ndarray, chunk: int | None, device: torch.device) -> tuple[np.ndarray, dict, dict]:
    """S [a, b] = sum over item pairs of sign(dx) * sign(dy), exact, with torch on ``device``; tie statistics."""
    if y.shape[1] > x.shape[1]:  # keep the narrow side's signs in memory
        s, ty, tx = _s_torch(y, x, chunk, device)
        return s.T, tx, ty
    logger.info("Kendall S of %d x %d columns (n = %d) on %s", x.shape[1], y.shape[1], x.shape[0], device)
    if device.type == "cpu":
        return _s_cpu(x, y, chunk or 1024)
    return _s_device(x, y, chunk or 32768, device)


def _s_device(x: np.ndarray, y: np.ndarray, chunk: int, device: torch.device) -> tuple[np.ndarray, dict, dict]:
    """The GPU path: ranks and sign products on ``device``, one column block after another."""
    a, b = x.shape[1], y.shape[1]
    rx, tx = _ranks_torch(torch.as_tensor(x, device=device))  # [n, a]
    ry, ty = _ranks_torch(torch.as_tensor(y, device=device))  # [n, b]
    out = torch.empty((b, a), dtype=torch.float32, device=device)
    for y0 in range(0, b, _MAX_Y_COLUMNS):
        sy = _block_signs(ry[:, y0 : y0 + _MAX_Y_COLUMNS])  # [b', pairs]
        for x0 in range(0, a, chunk):
            _s_block(rx[:, x0 : x0 + chunk], sy, out[y0 : y0 + _MAX_Y_COLUMNS, x0 : x0 + chunk])
    return out.T.double().cpu().numpy(), tx, ty


def _s_cpu(x: np.ndarray, y: np.ndarray, chunk: int) -> tuple[np.ndarray, dict, dict]:
    """The CPU path: single-threaded torch ops, column blocks spread over a thread pool."""
    a, b = x.shape[1], y.shape[1]
    ry, ty = _ranks_numpy(y)
    tx = {k: np.empty(a) for k in ("t1", "t2", "t5")}
    out = torch.empty((b, a), dtype=torch.float32)  # [b, a]
    y_blocks = range(0, b, _MAX_Y_COLUMNS)
    with single_threaded_ops() as threads:  # small ops thrash a shared CPU when each is multi-threaded
        signs = [_block_signs(torch.from_numpy(ry[:, y0 : y0 + _MAX_Y_COLUMNS])) for y0 in y_blocks]

        def work(x0: int) -> None:
            rx, ties = _ranks_numpy(x[:, x0 : x0 + chunk])  # [n, c]; numpy sorts release the GIL
            for key, value in ties.items():
                tx[key][x0 : x0 + chunk] = value
            rx = torch.from_numpy(rx)
            for k, y0 in enumerate(y_blocks):
                _s_block(rx, signs[k], out[y0 : y0 + _MAX_Y_COLUMNS, x0 : x0 + chunk])

        starts = range(0, a, chunk)
        with ThreadPoolExecutor(max_workers=max(1, min(threads, len(starts)))) as pool:
            list(tqdm(pool.map(work, starts), total=len(starts), desc="Kendall S", unit="block",
                      leave=False, **({"disable": True} if len(starts) < 256 else {})))  # shown only for > ~250,000 columns
    return out.T.double().numpy(), tx, ty


def _s_numpy(x: np.ndarray, y: np.ndarray, chunk: int | None) -> np.ndarray:
    """The reference: gather the pair signs of ``chunk`` columns at a time and multiply (float32, exact)."""
    n = x.shape[0]
    j, i = np.triu_indices(n, 1)
    sy = np.sign(y[i] - y[j]).astype(np.float32)  # [pairs, b]
    s = np.empty((x.shape[1], y.shape[1]))
    chunk = chunk or 256
    for start in range(0, x.shape[1], chunk):
        sx = np.sign(x[i, start : start + chunk] - x[j, start : start + chunk]).astype(np.float32)  # [pairs, c]
        s[start : start + chunk] = sx.T @ sy
    return s


def kendall_s(
    x: np.ndarray, y: np.ndarray, chunk: int | None = None, device: str | torch.device | None = None,
    backend: str = "torch",
) -> np.ndarray:
    """Kendall's S (concordant minus discordant pairs) of every column of ``x`` with every column of ``y``.

    Args:
        x: ``[n, a]`` observations; y: ``[n, b]`` observations.
        chunk: columns processed at once (bounds memory); ``None`` picks one for the device.
        device: torch device (``None``: CUDA when available, else CPU); backend: ``"torch"`` or ``"numpy"``.

    Returns:
        ``S [a, b]`` as float64 holding exact integers.

    Example:
        >>> kendall_s(np.arange(4.0), np.array([1.0, 3.0, 2.0, 4.0]))
        array([[4.]])
    """
    return _kendall_s_ties(*_check(x, y, "greater", backend), chunk, device, backend)[0]


def _kendall_s_ties(x: np.ndarray, y: np.ndarray, chunk: int | None, device: str | torch.device | None,
                    backend: str) -> tuple[np.ndarray, dict, dict]:
    if backend == "numpy":
        return _s_numpy(x, y, chunk), tie_statistics(x), tie_statistics(y)
    return _s_torch(x, y, chunk, resolve_device(device))


def kendall_tau_b(
    x: np.ndarray, y: np.ndarray, alternative: str = "greater", chunk: int | None = None,
    device: str | torch.device | None = None, backend: str = "torch",
) -> tuple[np.ndarray, np.ndarray]:
    """Kendall tau-b and asymptotic p of every column of ``x`` against every column of ``y``.

    The arithmetic follows R: ``cor()`` gives tau = 2S / (sqrt(2 n_x) * sqrt(2 n_y)) (n_x, n_y: untied
    pairs), and ``cor.test()`` rebuilds S = tau * sqrt((T0 - T1)(T0 - T2)), z = S / sqrt(Var S).

    Args:
        x: ``[n, a]`` observations (e.g. 351 RDM entries x units).
        y: ``[n, b]`` observations (e.g. 351 RDM entries x attributes).
        alternative: ``"greater"`` (R's ``alternative="greater"``), ``"less"`` or ``"two-sided"``.
        chunk: columns of ``x`` processed at once (``None``: chosen for the device).
        device: torch device for ``backend="torch"`` (``None``: CUDA when available, else CPU).
        backend: ``"torch"`` (fast) or ``"numpy"`` (the slow reference).

    Returns:
        ``(tau [a, b], p [a, b])``; constant columns give NaN.
    """
    x, y = _check(x, y, alternative, backend)
    n = x.shape[0]
    s, tx, ty = _kendall_s_ties(x, y, chunk, device, backend)
    n0 = n * (n - 1) / 2
    nx, ny = n0 - tx["t1"] / 2, n0 - ty["t1"] / 2  # untied pairs
    v0 = n * (n - 1) * (2 * n + 5)
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = np.clip(2 * s / np.outer(sqrt_like_r(2 * nx), sqrt_like_r(2 * ny)), -1.0, 1.0)
        s_r = tau * np.sqrt(np.outer(nx, ny))
        var = (
            (v0 - tx["t5"][:, None] - ty["t5"][None, :]) / 18
            + np.outer(tx["t1"], ty["t1"]) / (2 * n * (n - 1))
            + np.outer(tx["t2"], ty["t2"]) / (9 * n * (n - 1) * (n - 2))
        )
        z = s_r / np.sqrt(var)
    constant = (nx == 0)[:, None] | (ny == 0)[None, :]
    tau[constant] = np.nan
    z[constant] = np.nan
    return tau, _p_from_z(z, alternative)


def sqrt_like_r(v: np.ndarray) -> np.ndarray:
    """``(double) sqrtl(v)``: R's ``cor()`` takes the Kendall norms' square roots in long double."""
    if np.finfo(np.longdouble).nmant >= 63:
        return np.sqrt(v.astype(np.longdouble)).astype(np.float64)
    return np.sqrt(v)


def _p_from_z(z: np.ndarray, alternative: str) -> np.ndarray:
    if alternative == "greater":
        return stats.norm.sf(z)
    if alternative == "less":
        return stats.norm.cdf(z)
    return 2 * stats.norm.sf(np.abs(z))


def kendall_tau_a(
    x: np.ndarray, y: np.ndarray, chunk: int | None = None, device: str | torch.device | None = None,
    backend: str = "torch",
) -> np.ndarray:
    """Kendall tau-a ``S / (n(n-1)/2)`` (ties count as neither concordant nor discordant), ``[a, b]``.

    Constant columns give 0 (no concordant or discordant pairs), as in rsatoolbox.

    Example:
        >>> kendall_tau_a(np.array([1.0, 1.0, 2.0]), np.array([1.0, 2.0, 3.0]))
        array([[0.66666667]])
    """
    x, y = _check(x, y, "greater", backend)
    n = x.shape[0]
    return kendall_s(x, y, chunk, device, backend) / (n * (n - 1) / 2)


def spearman_rho(x: np.ndarray, y: np.ndarray, alternative: str = "two-sided") -> tuple[np.ndarray, np.ndarray]:
    """Spearman's rho (Pearson r of average ranks) and its t-test p, as ``scipy.stats.spearmanr``.

    Returns:
        ``(rho [a, b], p [a, b])``; constant columns give NaN.

    Example:
        >>> rho, p = spearman_rho(np.arange(5.0), np.array([1.0, 2.0, 2.0, 4.0, 5.0]))
        >>> round(float(rho[0, 0]), 4)
        0.9747
    """
    x, y = _check(x, y, alternative)
    n = x.shape[0]

    def standardised_ranks(v: np.ndarray) -> np.ndarray:
        r = stats.rankdata(v, axis=0)
        r -= r.mean(0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return r / np.sqrt((r**2).sum(0))

    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.clip(standardised_ranks(x).T @ standardised_ranks(y), -1.0, 1.0)
        t = rho * np.sqrt((n - 2) / ((1.0 - rho) * (1.0 + rho)))
    dist = stats.t(n - 2)
    if alternative == "greater":
        p = dist.sf(t)
    elif alternative == "less":
        p = dist.cdf(t)
    else:
        p = 2 * dist.sf(np.abs(t))
    return rho, p
