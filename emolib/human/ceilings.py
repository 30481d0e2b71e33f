"""Noise ceilings of the human similarity-judgment RDM, as rsatoolbox defines them.

rsatoolbox's leave-one-out ceiling (``rsatoolbox.inference.boot_noise_ceiling``, which
``eval_fixed`` and the bootstrap evaluations call) compares every subject's RDM with a *pooled* RDM:

- **lower** bound: each subject against the pool of the *other* subjects (leave one out);
- **upper** bound: each subject against the pool of *all* subjects (the subject included);

each bound is the unweighted mean over subjects. The pool is rsatoolbox's ``pool_rdm``, the RDM a
method scores best, and not always the plain mean: for the rank methods (``kendall``/``tau-b``,
``tau-a``, ``spearman``, ``rho-a``) it is the mean of the subjects' *ranks* (average ranks for ties),
for ``corr`` the mean of their z-scored vectors (population SD), for ``cosine`` the mean of the vectors
divided by their root mean square. The comparison is rsatoolbox's ``compare`` with the same method
name: ``kendall`` = ``tau-b`` (scipy's tie-corrected tau), ``tau-a`` (S / (n(n-1)/2)), ``spearman``
(Pearson r of average ranks), ``rho-a`` (12 S_xy / (n^3 - n) on centred ranks), ``corr`` (Pearson),
``cosine``. Here everything is vectorised over subjects; Kendall's S comes from exact pair signs.

The rank pool differs a little from the plain mean RDM (:func:`~emolib.human.space.similarity_rdm`):
against plain means the Kendall bounds of the 61 subjects would be 0.5876 / 0.5967 instead of
rsatoolbox's 0.5869 / 0.5965.

**Missing cells.** ``similarity_rdm(individual=True)`` has none: it fills each of the 133 missing
ratings (41 subjects, 110 of the 351 pairs; 0.6% of the cells) with that pair's mean over subjects, as
the original did, so these ceilings are those of the imputed data. For other input rsatoolbox's rules
hold: a cell that is NaN for *every* subject is dropped (rsatoolbox's NaN-aware ranks and means then
equal dropping it); a cell NaN for only *some* subjects raises ``ValueError``, as rsatoolbox does
(its ``compare`` refuses RDMs with "different nan positions"), so impute or drop such cells first.

**Bootstrap.** ``n_boot`` resamples the subjects with replacement, as ``eval_bootstrap_rdm`` does,
and applies the same definition to each sample: a duplicated subject counts in the pools as often as it
was drawn, leaving it out removes all its copies, and each bound averages over the distinct subjects
drawn. The interval is the percentile interval of the resampled bounds.

Example:
    >>> import numpy as np
    >>> from emolib.human.ceilings import noise_ceiling
    >>> rng = np.random.default_rng(0)
    >>> signal = rng.normal(size=45)  # one RDM of 10 conditions, 45 pairs
    >>> subjects = signal + rng.normal(scale=1.0, size=(12, 45))  # 12 noisy subjects
    >>> nc = noise_ceiling(subjects, "spearman")
    >>> bool(0 < nc.lower < nc.upper < 1), nc.subjects.shape
    (True, (12, 3))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["METHODS", "NoiseCeiling", "noise_ceiling", "similarity_ceiling", "subject_mean_tau"]

#: rsatoolbox's comparison names (``rsatoolbox.rdm.compare``); ``kendall`` and ``tau-b`` are the same.
METHODS = ("kendall", "tau-b", "tau-a", "spearman", "rho-a", "corr", "cosine")
_RANKED = ("kendall", "tau-b", "tau-a", "spearman", "rho-a")


@dataclass(frozen=True, eq=False)
class NoiseCeiling:
    """Lower and upper noise ceiling of a set of subject RDMs under one comparison method.

    Attributes:
        method: the rsatoolbox comparison name.
        lower: mean over subjects of each subject vs the pool of the others (leave one out).
        upper: mean over subjects of each subject vs the pool of all subjects.
        subjects: per subject ``subject`` (1-based row of the input), ``lower``, ``upper``.
        n_boot: bootstrap resamples of the subjects (0: none).
        ci: coverage of the percentile intervals (``None`` without a bootstrap).
        lower_ci: percentile interval of ``lower`` over the resamples, or ``None``.
        upper_ci: percentile interval of ``upper`` over the resamples, or ``None``.
        boot: ``[n_boot, 2]`` resampled (lower, upper), or ``None``.
    """

    method: str
    lower: float
    upper: float
    subjects: pd.DataFrame
    n_boot: int = 0
    ci: float | None = None
    lower_ci: tuple[float, float] | None = None
    upper_ci: tuple[float, float] | None = None
    boot: np.ndarray | None = None

    def as_dict(self) -> dict[str, float | str | None]:
        """One row for a table: method, lower, upper and the interval bounds (``None`` without them)."""
        lo, up = self.lower_ci or (None, None), self.upper_ci or (None, None)
        return {"method": self.method, "lower": self.lower, "upper": self.upper,
                "lower_ci_low": lo[0], "lower_ci_high": lo[1], "upper_ci_low": up[0], "upper_ci_high": up[1]}


def noise_ceiling(
    subject_rdms: np.ndarray, method: str = "kendall", n_boot: int = 0, ci: float = 0.95, seed: int = 0,
) -> NoiseCeiling:
    """Lower and upper noise ceiling of ``[subjects, pairs]`` RDMs, as rsatoolbox's ``boot_noise_ceiling``.

    Args:
        subject_rdms: ``[subjects, pairs]`` RDM vectors (pairs = n(n-1)/2 for n conditions), one row per
            subject; at least 2 subjects.
        method: one of :data:`METHODS` (rsatoolbox's names): ``"kendall"`` (= ``"tau-b"``), ``"tau-a"``,
            ``"spearman"``, ``"rho-a"``, ``"corr"`` (Pearson) or ``"cosine"``.
        n_boot: resamples of the subjects with replacement for the percentile intervals (0: none); for
            Kendall on the 61 subjects each costs ~0.1 s on a busy 2-core CPU, the other methods ~1 ms.
        ci: coverage of the intervals, in (0, 1).
        seed: seed of ``np.random.default_rng``; sample b draws rows
            ``default_rng(seed).integers(0, subjects, (n_boot, subjects))[b]``.

    Returns:
        A :class:`NoiseCeiling`: ``lower``, ``upper``, the per-subject table and the intervals.

    Raises:
        ValueError: for an unknown method, an input that is not ``[subjects >= 2, n(n-1)/2]``, infinite
            values, NaN in some subjects' cells but not all, a constant subject RDM, or bad
            ``n_boot`` / ``ci``.

    Example:
        >>> x = np.array([[1.0, 2, 3, 4, 5, 6], [2, 1, 3, 4, 6, 5], [1, 3, 2, 6, 4, 5]])  # 3 subjects, 4 conditions
        >>> nc = noise_ceiling(x, "kendall")
        >>> round(nc.lower, 4), round(nc.upper, 4)
        (0.6493, 0.7778)
        >>> nc.subjects.round(4).to_dict("list")
        {'subject': [1, 2, 3], 'lower': [0.8944, 0.5521, 0.5013], 'upper': [1.0, 0.7333, 0.6]}
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; valid choices: {', '.join(METHODS)}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 0:
        raise ValueError(f"n_boot must be an integer >= 0, got {n_boot!r}")
    if not 0 < ci < 1:
        raise ValueError(f"ci must lie in (0, 1), got {ci!r}")
    x = _checked(subject_rdms)
    k = x.shape[0]
    prepared = _Prepared(x, method)
    lower, upper = prepared.ceilings(np.ones(k, dtype=np.int64))
    subjects = pd.DataFrame({"subject": np.arange(1, k + 1), "lower": lower, "upper": upper})
    result = {"method": method, "lower": float(lower.mean()), "upper": float(upper.mean()), "subjects": subjects}
    if n_boot:
        draws = np.random.default_rng(seed).integers(0, k, size=(n_boot, k))
        boot = np.empty((n_boot, 2))
        for b, draw in enumerate(draws):
            low_b, up_b = prepared.ceilings(np.bincount(draw, minlength=k))
            boot[b] = low_b.mean(), up_b.mean()
        q = np.quantile(boot, [(1 - ci) / 2, (1 + ci) / 2], axis=0)  # [2, 2]: quantile x (lower, upper)
        result |= {"n_boot": int(n_boot), "ci": float(ci), "boot": boot,
                   "lower_ci": (float(q[0, 0]), float(q[1, 0])), "upper_ci": (float(q[0, 1]), float(q[1, 1]))}
    return NoiseCeiling(**result)


def similarity_ceiling(method: str = "kendall", n_boot: int = 0, ci: float = 0.95, seed: int = 0) -> NoiseCeiling:
    """:func:`noise_ceiling` of the 61 subjects' similarity-judgment RDMs (``similarity_rdm(individual=True)``).

    Args:
        method: one of :data:`METHODS`; the paper compares RDMs with ``"kendall"`` (tau-b).
        n_boot, ci, seed: as :func:`noise_ceiling`.
    """
    from emolib.human.space import similarity_rdm

    return noise_ceiling(similarity_rdm(individual=True), method, n_boot=n_boot, ci=ci, seed=seed)


def subject_mean_tau(rdms, subject_rdms: np.ndarray | None = None) -> np.ndarray:
    """Kendall tau-b of each model RDM (columns of ``rdms [pairs, m]``) with each subject's RDM, averaged over the
    subjects: the scale of the noise ceiling (which scores each subject against the others), so a model's share of
    the ceiling is this value over the ceiling, not its tau with the subjects' mean RDM (a less noisy target).

    Args:
        rdms: ``[pairs, m]`` (or ``[pairs]``) model RDMs in the subjects' pair order.
        subject_rdms: ``[subjects, pairs]`` (default: the 61 similarity-judgment RDMs).

    Example:
        >>> from emolib.human.space import similarity_rdm
        >>> subjects = similarity_rdm(individual=True)
        >>> mean = subjects.mean(0)
        >>> float(subject_mean_tau(mean)[0]) < 0.7  # the group mean against individuals: near the ceiling
        True
    """
    from emolib.rsa.rankcorr import kendall_tau_b

    if subject_rdms is None:
        from emolib.human.space import similarity_rdm

        subject_rdms = similarity_rdm(individual=True)
    x = np.asarray(rdms, dtype=np.float64)
    x = x[:, None] if x.ndim == 1 else x
    subjects = np.asarray(subject_rdms, dtype=np.float64)
    tau, _ = kendall_tau_b(x, subjects.T)  # [m, subjects]
    return np.nanmean(tau, axis=1)


def _checked(subject_rdms: np.ndarray) -> np.ndarray:
    """Validate ``[subjects, pairs]``; drop the cells NaN for every subject (as rsatoolbox's NaN handling)."""
    x = np.asarray(subject_rdms, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"subject_rdms must be 2-D [subjects, pairs], got shape {x.shape}")
    k, p = x.shape
    n = int(round((1 + np.sqrt(1 + 8 * p)) / 2))
    if p < 3 or n * (n - 1) // 2 != p:
        raise ValueError(f"subject_rdms needs n(n-1)/2 pair columns for n >= 3 conditions, got {p} columns "
                         f"(shape {x.shape}); pass RDM vectors, e.g. scipy's squareform of each matrix")
    if k < 2:
        raise ValueError(f"need at least 2 subjects (rows) for a leave-one-out ceiling, got {k}")
    if np.isinf(x).any():
        raise ValueError("subject_rdms holds infinite values")
    missing = np.isnan(x)
    partial = missing.any(0) & ~missing.all(0)
    if partial.any():
        rows = np.flatnonzero(missing[:, partial].any(1)) + 1
        raise ValueError(f"{int(partial.sum())} pair cells are NaN for some subjects only (subjects "
                         f"{rows[:10].tolist()}{' ...' if len(rows) > 10 else ''}); rsatoolbox refuses RDMs "
                         "with different NaN positions: impute them first (similarity_rdm uses each pair's "
                         "mean over subjects) or drop those cells for everyone")
    x = x[:, ~missing.all(0)]
    if x.shape[1] < 2:
        raise ValueError(f"fewer than 2 pair cells are not NaN, got {x.shape[1]}")
    constant = np.flatnonzero(np.ptp(x, axis=1) == 0) + 1
    if constant.size:
        raise ValueError(f"subjects {constant.tolist()} have constant RDMs: no correlation is defined")
    return x


class _Prepared:
    """The per-subject vectors the pools average, and what the comparisons need of the subjects."""

    def __init__(self, x: np.ndarray, method: str) -> None:
        self.method = method
        p = x.shape[1]
        if method in _RANKED:
            # pool_rdm's vectors are the ranks; rsatoolbox divides sums of ranks by a count, which keeps
            # their order and ties (sums of half-integers are exact), so the rank methods use the sums
            self.pooled = stats.rankdata(x, axis=1)
        elif method == "corr":
            centred = x - x.mean(1, keepdims=True)
            self.pooled = centred / centred.std(1, keepdims=True)
        else:  # cosine
            self.pooled = x / np.sqrt((x**2).mean(1, keepdims=True))
        if method in ("kendall", "tau-b", "tau-a"):
            # Kendall needs only the signs of the pools' cell differences, and a pool of differences is
            # the difference of the pools: pool the rank differences of all cell pairs. They are
            # half-integers, and so are their count-weighted sums, |sum| <= subjects * (cells - 1); float32
            # holds these exactly below 2 ** 23, and sums of signs below 2 ** 24, at half the traffic
            j, i = np.triu_indices(p, 1)
            exact32 = x.shape[0] * p < 2**23 and j.size < 2**24
            dtype = np.float32 if exact32 else np.float64
            self.signs = np.sign(x[:, i] - x[:, j]).astype(dtype)  # [subjects, cell pairs]
            self.untied = np.count_nonzero(self.signs, axis=1).astype(np.float64)
            self.pooled = (self.pooled[:, i] - self.pooled[:, j]).astype(dtype)
        elif method in ("spearman", "rho-a"):
            self.subject_unit = _unit(self.pooled, centre=True)  # the subjects' ranks, centred (and scaled)
            self.subject_centred = self.pooled - self.pooled.mean(1, keepdims=True)
        else:
            self.subject_unit = _unit(x, centre=method == "corr")

    def ceilings(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per distinct subject drawn (``counts > 0``, in row order): similarity with the pool without it
        (all its copies) and with the pool of all draws; pools weight each subject by its count."""
        rows = np.flatnonzero(counts)
        weights = counts[rows].astype(self.pooled.dtype)
        total = weights @ self.pooled[rows]  # pool of all draws (times the number of draws)
        if rows.size == 1:  # rsatoolbox's leave-one-out with one group trains and tests on everything
            rest, rest_n = total[None, :], weights
        else:  # [drawn, ...] pools of the others
            rest, rest_n = total[None, :] - weights[:, None] * self.pooled[rows], weights.sum() - weights
        if self.method not in _RANKED:  # means, as pool_rdm
            rest, total = rest / rest_n[:, None], total / weights.sum()
        return self._similarity(rows, rest), self._similarity(rows, total[None, :])

    def _similarity(self, rows: np.ndarray, pools: np.ndarray) -> np.ndarray:
        """Similarity of subject ``rows[s]`` with ``pools[s]`` (or with the one pool given), ``[len(rows)]``."""
        method = self.method
        if method in ("kendall", "tau-b", "tau-a"):  # pools: [m, cell pairs] pooled rank differences
            pool_signs = np.sign(pools)
            s = _rowwise(self.signs[rows], pool_signs).astype(np.float64)  # S: concordant - discordant
            untied_pool = np.count_nonzero(pool_signs, axis=1)
            if method == "tau-a":
                tau = s / self.signs.shape[1]
            else:  # tau-b: S over the geometric mean of the untied pair counts, as scipy's kendalltau
                with np.errstate(invalid="ignore", divide="ignore"):
                    tau = s / np.sqrt(self.untied[rows] * untied_pool)
            return np.clip(tau, -1.0, 1.0)
        if method in ("spearman", "rho-a"):
            ranks = stats.rankdata(pools, axis=1)
            if method == "spearman":
                return _rowwise(self.subject_unit[rows], _unit(ranks, centre=True))
            n = ranks.shape[1]
            centred = ranks - ranks.mean(1, keepdims=True)
            return _rowwise(self.subject_centred[rows], centred) * 12 / (n**3 - n)
        return _rowwise(self.subject_unit[rows], _unit(pools, centre=method == "corr"))


def _unit(v: np.ndarray, centre: bool) -> np.ndarray:
    """Rows of ``v`` (centred first if asked) scaled to unit length; zero rows stay zero (rsatoolbox's 0)."""
    if centre:
        v = v - v.mean(1, keepdims=True)
    norm = np.sqrt(np.einsum("ij,ij->i", v, v))[:, None]
    return np.divide(v, norm, out=np.zeros_like(v), where=norm > 0)


def _rowwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-by-row dot products of ``a [m, p]`` with ``b [m, p]`` or with ``b [1, p]``."""
    return a @ b[0] if b.shape[0] == 1 and a.shape[0] != 1 else np.einsum("ij,ij->i", a, b)
