"""Masking statistics with the mask as the unit of inference.

Every prompt is evaluated under the same 14 attribute masks, the same sham masks and the same random
masks. A test over prompts (a sign flip or a t interval over the 27 prompts) lets the variance between
masks drop out and rejects far too often when masks differ by chance (20-40 % at alpha = .05 in a
simulation of the shipped Gemma design). Here the masks are the units:

- :func:`mask_table`: per mask, its accuracy averaged over the prompts (prompt effects, shared by all
  masks, cancel in any difference between masks).
- :func:`condition_test`: attribute masks against random (or sham) masks: a studentised permutation test
  of the difference of mask means (mask labels permuted, Welch's t as the statistic, so unequal
  variances are allowed), one-sided for "attribute masks hurt more", the same test at a shifted effect
  (the "does not hold" side), and the 95 % interval that inverts it.
- :func:`weight_test`: damage against the human weights. The statistic is the paper's mean over emotions of
  Pearson's r between an emotion's per-attribute damage and the 14 weights (Fisher z averaged). The test
  permutes the weights over the attributes (the attributes are the unit: they are shared by every
  emotion); the interval is a bootstrap over attributes and emotions that also draws the human weights
  from their own subject bootstrap.

Example:
    >>> rng = np.random.default_rng(0)
    >>> attr, rand = 0.60 + 0.02 * rng.standard_normal(14), 0.66 + 0.02 * rng.standard_normal(50)
    >>> test = condition_test(attr, rand, n_perm=999)
    >>> round(test.estimate, 3), test.p < 0.01, test.ci_low < test.estimate < test.ci_high
    (-0.066, True, True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["ConditionTest", "WeightTest", "mask_table", "condition_test", "per_emotion_damage", "mean_rho",
           "weight_test"]


def _check_n(n: int, name: str, minimum: int = 1) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {n!r}")
    return int(n)


def mask_table(masked: pd.DataFrame, k: int | None = None) -> pd.DataFrame:
    """One row per mask (``condition, attribute, k, draw``): ``accuracy`` averaged over the prompts, ``n_prompts``.

    Args:
        masked: the masked rows of a masked evaluation (``emotion, seed, condition, attribute, k, draw,
            accuracy``; no ``"none"`` rows).
        k: keep only this mask size.
    """
    missing = [c for c in ("emotion", "seed", "condition", "attribute", "k", "accuracy") if c not in masked.columns]
    if missing:
        raise ValueError(f"masked lacks columns {missing}")
    table = masked[masked["condition"] != "none"]
    if k is not None:
        table = table[table["k"] == k]
    if "draw" not in table.columns:
        table = table.assign(draw=0)
    prompts = table.groupby(["condition", "attribute", "k", "draw"])[["emotion", "seed"]].apply(
        lambda g: len(g.drop_duplicates()))
    out = table.groupby(["condition", "attribute", "k", "draw"], as_index=False)["accuracy"].mean()
    out["n_prompts"] = prompts.to_numpy()
    if out["n_prompts"].nunique() > 1:
        raise ValueError("every mask must be evaluated on the same prompts")
    return out


@dataclass(frozen=True)
class ConditionTest:
    """Attribute masks against control masks, masks as units (see :func:`condition_test`).

    ``estimate``: mean of ``a`` minus mean of ``b`` (negative: ``a`` hurts more); ``p``: one-sided permutation p
    of H0 "no difference" against "a lower"; ``p_shift``: one-sided p of H0 "the difference is ``shift`` or
    more negative" against "less negative than ``shift``" (NaN without a shift); ``ci_low, ci_high``: the 95 %
    interval that inverts the two-sided test; ``n_a, n_b``: masks; ``sd_a, sd_b``: their SDs.
    """

    estimate: float
    p: float
    p_shift: float
    ci_low: float
    ci_high: float
    n_a: int
    n_b: int
    sd_a: float
    sd_b: float


def _assignments(n_a: int, n_b: int, n_perm: int, seed: int) -> np.ndarray:
    """``[P, n_a + n_b]`` bool: which pooled positions get label a in each permutation (identity first)."""
    rng = np.random.default_rng(seed)
    n = n_a + n_b
    keys = rng.random((n_perm, n))
    out = np.zeros((n_perm + 1, n), dtype=bool)
    out[0, :n_a] = True
    ranks = np.argsort(keys, axis=1)[:, :n_a]
    np.put_along_axis(out[1:], ranks, True, axis=1)
    return out


def _welch(values: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Welch's t of mean(a) - mean(b) for every row of ``labels [P, n]`` (True = a) over ``values [..., n]``.

    Returns ``[..., P]``.
    """
    la = labels.astype(np.float64)
    lb = 1.0 - la
    na, nb = la.sum(1), lb.sum(1)
    sa, sb = values @ la.T, values @ lb.T
    qa, qb = (values**2) @ la.T, (values**2) @ lb.T
    ma, mb = sa / na, sb / nb
    va = np.maximum(qa - sa * ma, 0.0) / np.maximum(na - 1, 1)
    vb = np.maximum(qb - sb * mb, 0.0) / np.maximum(nb - 1, 1)
    se = np.sqrt(va / na + vb / nb)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (ma - mb) / se
    with np.errstate(invalid="ignore"):
        return np.where(se > 0, t, np.sign(ma - mb) * np.inf)


def _p_less(a: np.ndarray, b: np.ndarray, labels: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """One-sided permutation p (a lower than b) after subtracting each shift from ``a``: ``[S]``."""
    values = np.concatenate([a[None, :] - shifts[:, None],
                             np.broadcast_to(b, (len(shifts), len(b)))], axis=1)  # [S, n]
    t = _welch(values, labels)  # [S, P + 1], column 0 observed
    return (np.sum(t[:, 1:] <= t[:, :1] + 1e-12, axis=1) + 1) / t.shape[1]


def condition_test(a, b, shift: float | None = None, n_perm: int = 4999, seed: int = 0,
                   level: float = 0.95, interval: bool = True) -> ConditionTest:
    """Studentised permutation test of ``mean(a) - mean(b)`` with the masks (entries) as units.

    Args:
        a: mask-level values of the attribute masks (e.g. accuracy averaged over prompts).
        b: mask-level values of the control masks (random or sham).
        shift: an effect (negative: a hurts more) to test against on the other side: ``p_shift`` is small
            when the difference is reliably less negative than ``shift`` (the "does not hold" test).
        n_perm: random relabellings of the pooled masks (the same for every shift).
        level: of the interval (by inverting the two-sided test over shifts).
        interval: compute the interval (off: NaN bounds, for fast simulations).
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 1 or b.ndim != 1 or len(a) < 2 or len(b) < 2 or not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError(f"condition_test needs two 1-D samples of at least 2 finite values (got {a.shape}, {b.shape})")
    labels = _assignments(len(a), len(b), _check_n(n_perm, "n_perm"), seed)
    estimate = float(a.mean() - b.mean())
    p = float(_p_less(a, b, labels, np.zeros(1))[0])
    p_shift = np.nan
    if shift is not None and np.isfinite(shift):
        # H0: difference <= shift (as bad as the paper's or worse); small p: a is reliably less damaging
        p_shift = float(_p_less(-a, -b, labels, np.array([-shift]))[0])
    scale = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b)) or 1e-9
    tail = (1 - level) / 2

    def bound(sign: int) -> float:  # sign -1: lower bound, +1: upper bound
        lo, hi = (estimate - 20 * scale, estimate) if sign < 0 else (estimate, estimate + 20 * scale)
        for _ in range(40):
            mid = (lo + hi) / 2
            # lower bound: the largest shift that "a - shift lower than b" rejects; upper: mirror image
            p_mid = (_p_less(-a, -b, labels, np.array([-mid]))[0] if sign < 0
                     else _p_less(a, b, labels, np.array([mid]))[0])
            inside = p_mid > tail
            if sign < 0:
                lo, hi = (lo, mid) if inside else (mid, hi)
            else:
                lo, hi = (mid, hi) if inside else (lo, mid)
        return float((lo + hi) / 2)

    low, high = (bound(-1), bound(+1)) if interval else (np.nan, np.nan)
    return ConditionTest(estimate, p, p_shift, low, high, len(a), len(b), float(a.std(ddof=1)), float(b.std(ddof=1)))


def per_emotion_damage(masked: pd.DataFrame, k: int, attributes) -> np.ndarray:
    """``[emotions, attributes]``: per emotion (averaged over its seeds), accuracy under each attribute's mask minus
    the mean accuracy under the random masks of the same k (the paper's pooled baseline)."""
    table = masked[masked["k"] == k]
    selective = table[table["condition"] == "selective"]
    random = table[table["condition"] == "random"].groupby(["emotion", "seed"])["accuracy"].mean().rename("random")
    diff = selective.join(random, on=["emotion", "seed"])
    diff = diff.assign(diff=diff["accuracy"] - diff["random"])
    wide = diff.groupby(["emotion", "attribute"])["diff"].mean().unstack("attribute").reindex(columns=list(attributes))
    if wide.isna().any().any():
        raise ValueError(f"missing attribute masks at k = {k}: {wide.columns[wide.isna().any()].tolist()}")
    return wide.to_numpy(np.float64)


def mean_rho(damage: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """tanh of the mean Fisher z of Pearson's r between each emotion's damage (rows of ``damage [..., E, A]``)
    and ``weights [..., A]``; emotions whose damage is constant are left out. Returns ``[...]``."""
    d = damage - damage.mean(-1, keepdims=True)
    w = weights - weights.mean(-1, keepdims=True)
    dn = np.sqrt((d**2).sum(-1))  # [..., E]
    wn = np.sqrt((w**2).sum(-1))  # [...]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (d * w[..., None, :]).sum(-1) / (dn * wn[..., None])
    r = np.clip(r, -1 + 1e-12, 1 - 1e-12)
    z = np.where(dn > 0, np.arctanh(r), 0.0)
    counted = (dn > 0).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counted > 0, np.tanh(z.sum(-1) / counted), np.nan)


@dataclass(frozen=True)
class WeightTest:
    """Damage against the human weights (see :func:`weight_test`): ``rho`` (the paper's statistic), ``p``
    (one-sided attribute permutation, H1: negative), ``p_shift`` (one-sided bootstrap p of H0 "rho <= shift",
    small when rho is reliably above the paper's), ``ci_low, ci_high`` (bootstrap percentiles)."""

    rho: float
    p: float
    p_shift: float
    ci_low: float
    ci_high: float
    n_emotions: int
    n_attributes: int


def weight_test(damage: np.ndarray, weights, weight_boot: np.ndarray | None = None, shift: float | None = None,
                n_perm: int = 4999, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> WeightTest:
    """Does the damage of an attribute's mask follow its human weight? Attributes as the unit.

    Args:
        damage: ``[emotions, attributes]`` (:func:`per_emotion_damage`; negative = accuracy lost).
        weights: ``[attributes]`` the human weights (Kendall tau of each attribute with similarity).
        weight_boot: ``[B, attributes]`` bootstrap replicates of the weights (subjects resampled), carried
            into the interval; ``None``: the weights are taken as fixed.
        shift: the paper's rho at this design, for ``p_shift``.

    Example:
        >>> rng = np.random.default_rng(1)
        >>> w = np.linspace(0, 0.4, 14)
        >>> damage = -w[None, :] + 0.05 * rng.standard_normal((27, 14))
        >>> t = weight_test(damage, w, n_perm=999, n_boot=500)
        >>> t.rho < -0.5, t.p < 0.01, t.ci_high < 0
        (True, True, True)
    """
    damage = np.asarray(damage, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if damage.ndim != 2 or damage.shape[1] != len(w) or len(w) < 3:
        raise ValueError(f"damage must be [emotions, {len(w)} attributes] with at least 3 attributes, "
                         f"got {damage.shape}")
    rng = np.random.default_rng(seed)
    observed = float(mean_rho(damage, w))
    perms = np.stack([rng.permutation(len(w)) for _ in range(_check_n(n_perm, "n_perm"))])  # [P, A]
    null = mean_rho(damage[None], w[perms])  # [P]
    p = float((1 + np.sum(null <= observed + 1e-12)) / (1 + n_perm))
    n_e, n_a = damage.shape
    rows = rng.integers(0, n_e, size=(_check_n(n_boot, "n_boot"), n_e))
    cols = rng.integers(0, n_a, size=(n_boot, n_a))
    boot_w = w[None, :] if weight_boot is None else np.asarray(weight_boot, dtype=np.float64)[
        rng.integers(0, len(weight_boot), size=n_boot)]
    if boot_w.shape[-1] != n_a:
        raise ValueError(f"weight_boot must be [B, {n_a}], got {np.shape(weight_boot)}")
    sampled = damage[rows[:, :, None], cols[:, None, :]]  # [B, E, A]
    boot_w = np.broadcast_to(boot_w, (n_boot, n_a))[np.arange(n_boot)[:, None], cols]  # [B, A]
    boot = mean_rho(sampled, boot_w)
    boot = boot[np.isfinite(boot)]
    tail = (1 - level) / 2
    low, high = (np.quantile(boot, [tail, 1 - tail]) if len(boot) else (np.nan, np.nan))
    p_shift = np.nan
    if shift is not None and np.isfinite(shift) and len(boot):
        p_shift = float((1 + np.sum(boot <= shift)) / (1 + len(boot)))
    return WeightTest(observed, p, p_shift, float(low), float(high), n_e, n_a)
