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
from scipy import stats

__all__ = ["ConditionTest", "WeightTest", "mask_table", "condition_test", "matched_test", "effective_size",
           "welch_test", "per_emotion_damage", "mean_rho", "weight_test"]


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


def _inverted_interval(p_greater, p_less, estimate: float, scale: float, tail: float) -> tuple[float, float]:
    """The shifts that neither one-sided test rejects at ``tail`` (bisection, 40 steps each side).

    ``p_greater(d)``: p of "the difference minus d is above 0" (its rejection bounds the interval below);
    ``p_less(d)``: the mirror image (bounds it above). ``scale`` sets the search range (20 of it either side).
    """

    def bound(sign: int) -> float:  # sign -1: lower bound, +1: upper bound
        lo, hi = (estimate - 20 * scale, estimate) if sign < 0 else (estimate, estimate + 20 * scale)
        for _ in range(40):
            mid = (lo + hi) / 2
            inside = (p_greater(mid) if sign < 0 else p_less(mid)) > tail
            if sign < 0:
                lo, hi = (lo, mid) if inside else (mid, hi)
            else:
                lo, hi = (mid, hi) if inside else (lo, mid)
        return float((lo + hi) / 2)

    return bound(-1), bound(+1)


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

    low, high = (_inverted_interval(lambda d: float(_p_less(-a, -b, labels, np.array([-d]))[0]),
                                    lambda d: float(_p_less(a, b, labels, np.array([d]))[0]), estimate, scale, tail)
                 if interval else (np.nan, np.nan))
    return ConditionTest(estimate, p, p_shift, low, high, len(a), len(b), float(a.std(ddof=1)), float(b.std(ddof=1)))


def matched_test(attr, controls, shift: float | None = None, n_perm: int = 4999, seed: int = 0,
                 level: float = 0.95, interval: bool = True) -> ConditionTest:
    """Attribute masks against their own layer-matched controls: a stratified permutation test, masks as units.

    Stratum ``a`` holds attribute mask ``a`` and the random masks that copy its layer profile. Under the null each
    attribute mask is one more draw of its stratum (its units chosen at random within its layers), so which mask of
    a stratum is the attribute mask is exchangeable, independently across strata. The statistic is the mean over
    attributes of (attribute mask - mean of its controls); the permutation picks the "attribute" mask of every
    stratum at random. The estimand is these attribute masks (fixed), against random masks of their own profiles.

    Args:
        attr: ``[A]`` mask-level values (accuracy averaged over prompts) of the attribute masks.
        controls: per attribute, the values of its matched controls (at least one each).
        shift: an effect to test against on the other side (``p_shift``); usually None here (see the verdict).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> profile = rng.normal(0.65, 0.05, 14)  # what each layer profile costs
        >>> controls = [p + 0.01 * rng.standard_normal(4) for p in profile]
        >>> test = matched_test(profile - 0.02 + 0.01 * rng.standard_normal(14), controls, n_perm=999)
        >>> round(test.estimate, 3), test.p < 0.01
        (-0.02, True)
    """
    x = np.asarray(attr, dtype=np.float64)
    groups = [np.asarray(c, dtype=np.float64) for c in controls]
    if x.ndim != 1 or len(groups) != len(x) or len(x) < 2 or any(len(g) < 1 for g in groups):
        raise ValueError(f"matched_test needs one value per attribute (at least 2) and at least one control each "
                         f"(got {x.shape} and {[len(g) for g in groups]})")
    rng = np.random.default_rng(seed)
    n_perm = _check_n(n_perm, "n_perm")
    sizes = np.array([len(g) for g in groups])  # [A] controls per stratum
    width = int(sizes.max()) + 1
    pool = np.full((len(x), width), np.nan)  # [A, 1 + D]: column 0 the attribute mask
    for a, g in enumerate(groups):
        pool[a, 1: 1 + len(g)] = g
    picks = np.floor(rng.random((n_perm, len(x))) * (sizes + 1)).astype(int)  # [P, A]

    def statistics(values: np.ndarray) -> np.ndarray:  # [A, 1 + D] -> [1 + P]: observed, then permutations
        total = np.nansum(values, axis=1)  # [A]
        chosen = np.vstack([values[:, 0], np.take_along_axis(values, picks.T, axis=1).T])  # [1 + P, A]
        return np.mean(chosen * (1 + 1 / sizes) - total / sizes, axis=1)

    def p_less(delta: float) -> float:
        values = pool.copy()
        values[:, 0] = x - delta
        t = statistics(values)
        return float((1 + np.sum(t[1:] <= t[0] + 1e-12)) / (1 + n_perm))

    def p_greater(delta: float) -> float:
        values = pool.copy()
        values[:, 0] = x - delta
        t = statistics(values)
        return float((1 + np.sum(t[1:] >= t[0] - 1e-12)) / (1 + n_perm))

    diffs = x - np.array([g.mean() for g in groups])
    estimate = float(diffs.mean())
    p = p_less(0.0)
    p_shift = p_greater(shift) if shift is not None and np.isfinite(shift) else np.nan
    scale = float(np.sqrt(diffs.var(ddof=1) / len(diffs))) or 1e-9
    tail = (1 - level) / 2

    low, high = _inverted_interval(p_greater, p_less, estimate, scale, tail) if interval else (np.nan, np.nan)
    controls_all = np.concatenate(groups)
    return ConditionTest(estimate, p, p_shift, low, high, len(x), len(controls_all), float(x.std(ddof=1)),
                         float(controls_all.std(ddof=1)))


def effective_size(dropped: np.ndarray, n_units: int) -> float:
    """How many independent masks a set of masks is worth, from how much their units overlap beyond chance.

    If silencing a unit costs roughly the same whichever mask drops it, two masks sharing a share f of their units
    have effects correlated by about the excess overlap ``(f - k/N) / (1 - k/N)`` (random masks of k of N units
    share k/N by chance). With mean excess overlap r over pairs, n masks are worth ``n / (1 + (n - 1) r)``.

    Args:
        dropped: ``[M, n_units]`` bool, True where a mask silences a unit (all masks of one size k).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> independent = np.zeros((14, 1000), bool)
        >>> for row in independent: row[rng.choice(1000, 100, replace=False)] = True
        >>> round(effective_size(independent, 1000), 1), effective_size(np.tile(independent[:1], (14, 1)), 1000)
        (14.0, 1.0)
    """
    d = np.asarray(dropped, dtype=np.float64)
    m = len(d)
    if m < 2:
        return float(m)
    k = d.sum(1).mean()
    chance = k / n_units
    share = (d @ d.T) / k  # [M, M] overlap shares
    excess = (share[~np.eye(m, dtype=bool)] - chance) / (1 - chance)
    r = float(np.clip(excess.mean(), 0.0, 1.0))
    return float(m / (1 + (m - 1) * r))


def welch_test(a, b, n_a: float | None = None, n_b: float | None = None, shift: float | None = None,
               level: float = 0.95) -> ConditionTest:
    """Welch's t test of ``mean(a) - mean(b)`` over masks whose effects may be correlated within a group: each
    group's variance of the mean uses its effective number of masks (:func:`effective_size`) instead of its count.
    p is one-sided (a lower); ``p_shift`` one-sided against ``shift`` (a reliably less damaging than that); the
    interval is the t interval of the same model.

    Example:
        >>> t = welch_test([0.60, 0.62, 0.61, 0.63], [0.66, 0.67, 0.65, 0.68], n_a=2.0, shift=-0.1)
        >>> round(t.estimate, 3), t.p < 0.05, t.p_shift < 0.05
        (-0.05, True, True)
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"welch_test needs at least 2 masks per group (got {len(a)} and {len(b)})")
    na, nb = (n_a or len(a)), (n_b or len(b))
    va, vb = a.var(ddof=1) / na, b.var(ddof=1) / nb
    se = float(np.sqrt(va + vb)) or 1e-12
    df = float((va + vb) ** 2 / (va**2 / max(na - 1, 1e-9) + vb**2 / max(nb - 1, 1e-9))) if va + vb > 0 else 1.0
    estimate = float(a.mean() - b.mean())
    p = float(stats.t.cdf(estimate / se, df))
    p_shift = float(stats.t.sf((estimate - shift) / se, df)) if shift is not None and np.isfinite(shift) else np.nan
    half = float(stats.t.ppf(0.5 + level / 2, df) * se)
    return ConditionTest(estimate, p, p_shift, estimate - half, estimate + half, len(a), len(b),
                         float(a.std(ddof=1)), float(b.std(ddof=1)))


def per_emotion_damage(masked: pd.DataFrame, k: int, attributes) -> np.ndarray:
    """``[emotions, attributes]``: per emotion (averaged over its seeds), accuracy under each attribute's mask minus
    the mean accuracy under the random masks of the same k (the paper's pooled baseline; layer-matched masks where
    no uniform ones were evaluated). The baseline is one number per emotion, so it does not move Pearson's r."""
    table = masked[masked["k"] == k]
    selective = table[table["condition"] == "selective"]
    control = "random" if (table["condition"] == "random").any() else "matched"
    random = table[table["condition"] == control].groupby(["emotion", "seed"])["accuracy"].mean().rename("random")
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
