"""Permutation tests of the masking statistics: they hold without assuming normal, independent prompts.

- :func:`sign_flip_tests`: does silencing an attribute's units cost more than silencing random units?
  Per group (e.g. attribute and k), the per-prompt differences ``selective - random`` are averaged
  over the group's rows of each prompt; under the null each prompt's mean difference is as likely
  positive as negative, so the null distribution flips their signs at random. One-sided p for a
  drop: ``(1 + #{null mean <= observed mean}) / (1 + P)``.
- :func:`weight_permutation_test`: is the damage larger for attributes humans weigh more? The human
  weights are permuted across the attributes (the same permutation for every emotion), the per-emotion
  Pearson r recomputed, and the mean Fisher z compared; one-sided p for a negative mean rho.

Example:
    >>> rng = np.random.default_rng(0)
    >>> pairs = pd.DataFrame({"emotion": np.repeat(["joy", "fear", "grief", "love"], 2), "seed": 1,
    ...                       "attribute": ["valence", "arousal"] * 4, "k": 10, "diff": -0.1 + 0.01 * rng.random(8)})
    >>> sign_flip_tests(pairs, ["k"], n_perm=199)["perm_p"].tolist()  # 4 prompts: the floor is 1/16 = 0.0625
    [0.07]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["sign_flip_tests", "weight_permutation_test"]


def _check_n(n_perm: int) -> int:
    if isinstance(n_perm, bool) or not isinstance(n_perm, (int, np.integer)) or n_perm < 1:
        raise ValueError(f"n_perm must be a positive integer, got {n_perm!r}")
    return int(n_perm)


def sign_flip_tests(pairs: pd.DataFrame, by: Sequence[str], n_perm: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Sign-flip permutation test of the mean ``diff`` (selective - random) per group, prompts as units.

    Args:
        pairs: :func:`emolib.paper.manipulation.paired_differences` (``emotion, seed, attribute, k, diff``).
        by: grouping columns, e.g. ``["attribute", "k"]`` or ``["k"]``.
        n_perm: random sign patterns (the same ones for every group of the same size).

    Returns:
        ``by`` columns, ``diff`` (mean over prompts of their mean difference), ``n_prompts``, ``perm_p``
        (one-sided, H1: a drop).
    """
    n_perm = _check_n(n_perm)
    missing = [c for c in [*by, "emotion", "seed", "diff"] if c not in pairs.columns]
    if missing:
        raise ValueError(f"pairs lacks columns {missing}; expected paired_differences' columns")
    per_prompt = pairs.groupby([*by, "emotion", "seed"], as_index=False)["diff"].mean()
    rng = np.random.default_rng(seed)
    signs: dict[int, np.ndarray] = {}
    rows = []
    for key, group in per_prompt.groupby(list(by), sort=True):
        d = group["diff"].to_numpy(np.float64)  # [n]
        if len(d) not in signs:
            signs[len(d)] = rng.choice([-1.0, 1.0], size=(n_perm, len(d)))  # [P, n]
        null = signs[len(d)] @ d / len(d)  # [P]
        observed = d.mean()
        p = (1 + np.sum(null <= observed + 1e-12)) / (1 + n_perm)
        rows.append((*(key if isinstance(key, tuple) else (key,)), observed, len(d), p))
    return pd.DataFrame(rows, columns=[*by, "diff", "n_prompts", "perm_p"])


def weight_permutation_test(per_emotion: pd.DataFrame, human_tau: pd.Series, n_perm: int = 2000,
                            seed: int = 0) -> pd.DataFrame:
    """Permutation test of the human-weight correlation over attribute labels, per k.

    Args:
        per_emotion: ``attribute, emotion, k, diff`` (paired tests by attribute, emotion and k).
        human_tau: the human weight of each attribute.
        n_perm: permutations of the weights across the attributes.

    Returns:
        ``k, mean_rho`` (tanh of the mean Fisher z), ``perm_p`` (one-sided: H1 negative), ``null_low,
        null_high`` (2.5 / 97.5 percentiles of the null mean rho).
    """
    n_perm = _check_n(n_perm)
    tau = pd.Series(human_tau, dtype=float)
    rng = np.random.default_rng(seed)
    perms = np.stack([rng.permutation(len(tau)) for _ in range(n_perm)])  # [P, A]
    rows = []
    for k, group in per_emotion.groupby("k", sort=True):
        wide = group.pivot_table(index="emotion", columns="attribute", values="diff").reindex(columns=tau.index)
        x = wide.to_numpy(np.float64)  # [E, A]
        keep = ~np.isnan(x).any(axis=1) & (np.nanstd(x, axis=1) > 0)
        x = x[keep]
        if len(x) < 2:
            rows.append((k, np.nan, np.nan, np.nan, np.nan))
            continue
        xc = (x - x.mean(1, keepdims=True)) / x.std(1, keepdims=True)  # [E, A] z-scored rows
        y = tau.to_numpy()

        def mean_z(weights: np.ndarray) -> np.ndarray:  # weights [..., A] -> mean Fisher z [...]
            w = (weights - weights.mean(-1, keepdims=True)) / weights.std(-1, keepdims=True)
            r = np.clip(np.einsum("ea,...a->...e", xc, w) / x.shape[1], -1 + 1e-12, 1 - 1e-12)
            return np.arctanh(r).mean(-1)

        observed = float(mean_z(y))
        null = mean_z(y[perms])  # [P]
        p = (1 + np.sum(null <= observed + 1e-12)) / (1 + n_perm)
        lo, hi = np.tanh(np.percentile(null, [2.5, 97.5]))
        rows.append((k, float(np.tanh(observed)), float(p), float(lo), float(hi)))
    return pd.DataFrame(rows, columns=["k", "mean_rho", "perm_p", "null_low", "null_high"])
