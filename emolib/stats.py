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

__all__ = ["paper_q", "bh_q"]


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
