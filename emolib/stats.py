"""Small statistics shared by the analyses: the paper's "FDR" and Benjamini-Hochberg.

The original R code calls ``q = p * N / rank(p)`` "FDR": Benjamini-Hochberg *without* the
cumulative-minimum step, with average ranks for ties, so q can exceed 1 and is not monotone in p.
We compute it exactly (``paper_q``) and report proper BH adjusted p values beside it (``bh_q``).

Example:
    >>> import numpy as np
    >>> from emolib.stats import paper_q, bh_q
    >>> p = np.array([0.01, 0.04, 0.03])
    >>> paper_q(p).round(3).tolist(), bh_q(p).round(3).tolist()
    ([0.03, 0.04, 0.045], [0.03, 0.04, 0.04])
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["paper_q", "bh_q", "POWER_TARGET", "holm", "decide"]


def paper_q(p: np.ndarray) -> np.ndarray:
    """The original's ``p * N / rank(p)`` over all non-NaN entries (average ranks; NaN stays NaN)."""
    p = np.asarray(p, dtype=np.float64)
    q = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    q[ok] = p[ok] * ok.sum() / stats.rankdata(p[ok])
    return q


def bh_q(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p values over all non-NaN entries (monotone, capped at 1)."""
    p = np.asarray(p, dtype=np.float64)
    q = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    q[ok] = stats.false_discovery_control(p[ok], method="bh")
    return q


#: The power a design needs before a verdict may say "does not hold".
POWER_TARGET = 0.8


def holm(p) -> np.ndarray:
    """Holm-adjusted p values (NaN stays NaN and does not count), monotone and capped at 1."""
    p = np.asarray(p, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if ok.size:
        order = ok[np.argsort(p[ok], kind="stable")]
        adjusted = np.maximum.accumulate(p[order] * (ok.size - np.arange(ok.size)))
        out[order] = np.minimum(adjusted, 1.0)
    return out


def decide(p_holm: float, p_shift_holm: float, power: float, alpha: float = 0.05,
           reason: str = "", reference: str = "the paper's effect") -> tuple[str, str]:
    """The verdict and, for "cannot tell", its reason (see the module docstring). A ``reason`` that rules the row out
    (prompts near chance, a descriptive mask size) wins over any test. ``reference`` names the effect that "does not
    hold" rules out, in the reasons."""
    if reason:
        return "cannot tell", reason
    if np.isfinite(p_holm) and p_holm < alpha:
        return "holds", ""
    if np.isfinite(p_shift_holm) and p_shift_holm < alpha:
        if np.isfinite(power) and power >= POWER_TARGET:
            return "does not hold", ""
        return "cannot tell", (f"smaller than {reference}, but the design had power {power:.2f} < "
                               f"{POWER_TARGET} to see it")
    if np.isfinite(power) and power < POWER_TARGET:
        return "cannot tell", f"power {power:.2f} < {POWER_TARGET} to see {reference} at this design"
    if not np.isfinite(power):
        return "cannot tell", "not significant; no design-matched effect of the paper to rule out"
    return "cannot tell", "neither the effect nor its absence is significant"
