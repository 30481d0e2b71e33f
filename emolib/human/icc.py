"""Intraclass correlations as ``psych::ICC(x, missing = FALSE, lmer = FALSE)`` computes them.

psych fits the additive two-way ANOVA ``value ~ target + judge`` with ``aov`` on the stacked
targets x judges matrix. ``aov`` drops NA cells, so a matrix padded with NA (the original's 27 x 12
appraisal matrix, where most emotions have 11 respondents) gives sequential (type I) sums of squares
of an unbalanced design, while the F tests and intervals keep the *nominal* degrees of freedom
``n (k - 1)`` and ``(n - 1)(k - 1)`` of the full matrix. :func:`icc` does the same with least
squares on dummy codes; for complete matrices it equals ``pingouin.intraclass_corr``.

Intervals: psych (since 2019) uses ``qf(1 - alpha)`` with ``alpha = .05`` on each side, i.e. 90 %
two-sided intervals printed as its bounds; ``interval="two-sided"`` gives Shrout and Fleiss' 95 %
intervals with ``qf(1 - alpha / 2)`` (as pingouin).

Example:
    >>> import numpy as np
    >>> x = np.array([[1.0, 2, 3], [4, 5, 6], [7, 9, 8], [2, 2, 3]])
    >>> table = icc(x)
    >>> round(float(table.loc["ICC2k", "icc"]), 3)
    0.965
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["anova_two_way", "icc", "INTERVALS"]

INTERVALS = ("psych", "two-sided")


def anova_two_way(x: np.ndarray) -> pd.DataFrame:
    """Sequential ANOVA table of ``value ~ target + judge`` on ``x [targets, judges]`` (NaN cells dropped).

    The judge term is fitted after absorbing the targets (within-target centring), so unbalanced
    designs cost one ``[judges, judges]`` solve.

    Returns:
        DataFrame indexed ``target, judge, residual`` with columns ``df, ss, ms``.
    """
    x = np.asarray(x, dtype=np.float64)
    n, k = x.shape
    target, judge = np.indices((n, k))
    ok = ~np.isnan(x)
    y, target, judge = x[ok], target[ok], judge[ok]
    counts = np.bincount(target, minlength=n).astype(float)
    present = counts > 0
    target_means = np.bincount(target, y, minlength=n) / np.where(present, counts, 1)
    ss_target = float((counts * (target_means - y.mean()) ** 2).sum())
    within = y - target_means[target]  # [obs]
    dummies = (judge[:, None] == np.arange(1, k)).astype(float)  # [obs, k-1]
    sums = np.zeros((n, k - 1))
    np.add.at(sums, target, dummies)
    centred = dummies - (sums / np.where(present, counts, 1)[:, None])[target]  # judge codes within target
    gram, cross = centred.T @ centred, centred.T @ within
    beta = np.linalg.lstsq(gram, cross, rcond=None)[0]
    ss_judge = float(cross @ beta)
    df_target, df_judge = int(present.sum()) - 1, int(np.linalg.matrix_rank(gram))
    df_resid = len(y) - 1 - df_target - df_judge
    df = np.array([df_target, df_judge, df_resid], dtype=float)
    ss = np.array([ss_target, ss_judge, float(within @ within) - ss_judge])
    return pd.DataFrame({"df": df, "ss": ss, "ms": ss / df}, index=["target", "judge", "residual"])


def icc(x: np.ndarray, alpha: float = 0.05, interval: str = "psych") -> pd.DataFrame:
    """The six Shrout-Fleiss ICCs of ``x [targets, judges]`` with psych's F, df, p and bounds.

    Args:
        x: ratings, NaN for missing/padded cells (kept as psych's ``missing = FALSE`` does).
        alpha: psych's ``alpha``.
        interval: ``"psych"`` (``qf(1 - alpha)``, what the original reported) or ``"two-sided"``
            (``qf(1 - alpha / 2)``, a proper 1 - alpha interval).

    Returns:
        DataFrame indexed ``ICC1, ICC2, ICC3, ICC1k, ICC2k, ICC3k`` with columns
        ``icc, F, df1, df2, p, ci_low, ci_high``.
    """
    if interval not in INTERVALS:
        raise ValueError(f"unknown interval {interval!r}; valid choices: {', '.join(INTERVALS)}")
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or min(x.shape) < 2:
        raise ValueError(f"icc needs a targets x judges matrix with at least 2 of each, got shape {x.shape}")
    n, k = x.shape
    table = anova_two_way(x)
    msb, msj, mse = table["ms"]
    within = table.loc[["judge", "residual"]].sum()
    msw = within["ss"] / within["df"]  # psych: (SS_judge + SS_resid) / (df_judge + df_resid)
    icc1 = (msb - msw) / (msb + (k - 1) * msw)
    icc2 = (msb - mse) / (msb + (k - 1) * mse + k * (msj - mse) / n)
    icc3 = (msb - mse) / (msb + (k - 1) * mse)
    icc1k, icc2k, icc3k = (msb - msw) / msb, (msb - mse) / (msb + (msj - mse) / n), (msb - mse) / msb
    f1, f3 = msb / msw, msb / mse
    df1, df1d, df3d = n - 1, n * (k - 1), (n - 1) * (k - 1)
    p1, p3 = stats.f.sf(f1, df1, df1d), stats.f.sf(f3, df1, df3d)
    level = 1 - (alpha if interval == "psych" else alpha / 2)
    f1l, f1u = f1 / stats.f.ppf(level, df1, df1d), f1 * stats.f.ppf(level, df1d, df1)
    f3l, f3u = f3 / stats.f.ppf(level, df1, df3d), f3 * stats.f.ppf(level, df3d, df1)
    fj = msj / mse
    vn = (k - 1) * (n - 1) * (k * icc2 * fj + n * (1 + (k - 1) * icc2) - k * icc2) ** 2
    vd = (n - 1) * k**2 * icc2**2 * fj**2 + (n * (1 + (k - 1) * icc2) - k * icc2) ** 2
    v = vn / vd
    f2u, f2l = stats.f.ppf(level, n - 1, v), stats.f.ppf(level, v, n - 1)
    l2 = n * (msb - f2u * mse) / (f2u * (k * msj + (k * n - k - n) * mse) + n * msb)
    u2 = n * (f2l * msb - mse) / (k * msj + (k * n - k - n) * mse + n * f2l * msb)
    rows = {
        "ICC1": (icc1, f1, df1, df1d, p1, (f1l - 1) / (f1l + k - 1), (f1u - 1) / (f1u + k - 1)),
        "ICC2": (icc2, f3, df1, df3d, p3, l2, u2),
        "ICC3": (icc3, f3, df1, df3d, p3, (f3l - 1) / (f3l + k - 1), (f3u - 1) / (f3u + k - 1)),
        "ICC1k": (icc1k, f1, df1, df1d, p1, 1 - 1 / f1l, 1 - 1 / f1u),
        "ICC2k": (icc2k, f3, df1, df3d, p3, l2 * k / (1 + l2 * (k - 1)), u2 * k / (1 + u2 * (k - 1))),
        "ICC3k": (icc3k, f3, df1, df3d, p3, 1 - 1 / f3l, 1 - 1 / f3u),
    }
    return pd.DataFrame.from_dict(rows, orient="index", columns=["icc", "F", "df1", "df2", "p", "ci_low", "ci_high"])
