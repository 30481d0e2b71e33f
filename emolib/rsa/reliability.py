"""How reliable a unit's RDM is: the agreement of its emotion geometry across prompt seeds.

The searchlight ranks each unit by the tau of its RDM, averaged over seeds, with an attribute RDM. If the seeds
disagree about a unit's geometry, that mean is mostly noise and so is its rank. :func:`unit_reliability` measures,
per unit, the mean Spearman correlation between the 351-pair RDMs of two seeds (``r_pair``) and the reliability of
the mean over all S seeds: by Spearman-Brown, ``S r / (1 + (S - 1) r)``, or with at least four seeds from split
halves (the correlation of two half-means, stepped up to S). :func:`tau_ceiling` is the largest tau a unit of that
reliability can reach against a noiseless target (on the Pearson scale the ceiling is sqrt(reliability); Kendall's
tau of a normal pair with correlation r is (2/pi) arcsin r). :func:`cv_unit_rdms` computes the RDMs across seeds, so
that noise cannot push two emotions apart.

Example:
    >>> rng = np.random.default_rng(0)
    >>> signal = rng.random((27, 1, 5))
    >>> acts = signal + 0.05 * rng.standard_normal((27, 4, 5))   # [emotions, seeds, units]: reliable units
    >>> rel = unit_reliability(acts)
    >>> bool((rel["reliability"] > 0.9).all()), rel["method"].iloc[0]
    (True, 'split halves')
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats

from emolib.rsa.rdms import unit_rdms

__all__ = ["spearman_brown", "unit_reliability", "tau_ceiling", "cv_unit_rdms"]


def spearman_brown(r, factor: float):
    """The reliability of a mean of ``factor`` parallel measurements whose pairwise correlation is ``r``.

    Example:
        >>> round(float(spearman_brown(0.033, 12)), 2)
        0.29
    """
    r = np.asarray(r, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return factor * r / (1 + (factor - 1) * r)


def _ranked(rdms: np.ndarray) -> np.ndarray:
    """Per column, the ranks of an RDM ``[pairs, units]``, centred and scaled to unit norm (NaN for constant ones)."""
    ranks = stats.rankdata(rdms, axis=0)
    ranks -= ranks.mean(0, keepdims=True)
    norm = np.sqrt((ranks**2).sum(0, keepdims=True))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(norm > 0, ranks / norm, np.nan)


def unit_reliability(activations: np.ndarray, n_splits: int = 20, seed: int = 0, chunk: int = 4096) -> pd.DataFrame:
    """Per unit, the seed-to-seed agreement of its RDM and the reliability of its mean over seeds.

    Args:
        activations: ``[emotions, seeds, units]`` (emotions in the RDMs' order).
        n_splits: random split halves when there are at least four seeds (all of them if fewer exist).
        chunk: units per block (memory).

    Returns:
        One row per unit: ``r_pair`` (mean Spearman over seed pairs), ``reliability`` (of the mean over all seeds),
        ``method`` (``"Spearman-Brown"`` or ``"split halves"``), ``n_seeds``.
    """
    acts = np.asarray(activations, dtype=np.float64)
    if acts.ndim != 3 or acts.shape[1] < 2:
        raise ValueError(f"activations must be [emotions, seeds >= 2, units], got shape {acts.shape}")
    n_seeds, n_units = acts.shape[1], acts.shape[2]
    rng = np.random.default_rng(seed)
    halves = []
    if n_seeds >= 4:
        every = [c for c in combinations(range(n_seeds), n_seeds // 2) if 0 in c]  # each split once
        picks = every if len(every) <= n_splits else [every[i] for i in rng.choice(len(every), n_splits, replace=False)]
        halves = [(list(a), [s for s in range(n_seeds) if s not in a]) for a in picks]
    r_pair = np.empty(n_units)
    reliability = np.empty(n_units)
    for start in range(0, n_units, chunk):
        block = acts[:, :, start: start + chunk]  # [E, S, u]
        ranked = np.stack([_ranked(unit_rdms(block[:, s, :])) for s in range(n_seeds)])  # [S, pairs, u]
        pairs = [np.nansum(ranked[a] * ranked[b], axis=0) for a, b in combinations(range(n_seeds), 2)]
        r_pair[start: start + chunk] = np.mean(pairs, axis=0)
        if halves:
            r_half = [np.nansum(_ranked(unit_rdms(block[:, a, :])) * _ranked(unit_rdms(block[:, b, :])), axis=0)
                      for a, b in halves]
            reliability[start: start + chunk] = spearman_brown(np.mean(r_half, axis=0), 2.0)
        else:
            reliability[start: start + chunk] = spearman_brown(r_pair[start: start + chunk], n_seeds)
    method = "split halves" if halves else "Spearman-Brown"
    return pd.DataFrame({"r_pair": r_pair, "reliability": reliability, "method": method, "n_seeds": n_seeds})


def tau_ceiling(reliability) -> np.ndarray:
    """The largest Kendall tau a unit RDM of this reliability can reach against a noiseless target:
    ``(2 / pi) arcsin(sqrt(reliability))`` (NaN where the reliability is not positive).

    Example:
        >>> tau_ceiling([1.0, 0.25, -0.1]).round(3).tolist()
        [1.0, 0.333, nan]
    """
    r = np.asarray(reliability, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.where(r > 0, 2 / np.pi * np.arcsin(np.sqrt(np.clip(r, 0, 1))), np.nan)


def cv_unit_rdms(activations: np.ndarray) -> np.ndarray:
    """Cross-validated unit RDMs ``[pairs, units]``: per emotion pair, the mean over ordered pairs of different seeds of
    the product of the two seeds' activation differences. Its expectation is the squared true difference; noise
    that is independent across seeds adds nothing (a pure-noise unit averages 0, and may go negative).

    Example:
        >>> acts = np.random.default_rng(1).random((27, 3, 4))
        >>> cv_unit_rdms(acts).shape
        (351, 4)
    """
    acts = np.asarray(activations, dtype=np.float64)
    if acts.ndim != 3 or acts.shape[1] < 2:
        raise ValueError(f"activations must be [emotions, seeds >= 2, units], got shape {acts.shape}")
    n_seeds = acts.shape[1]
    from emolib.emotions import pair_indices

    i, j = pair_indices(acts.shape[0])
    diff = acts[i] - acts[j]  # [pairs, S, U]
    total = diff.sum(1)
    return (total**2 - (diff**2).sum(1)) / (n_seeds * (n_seeds - 1))
