"""Counts and extremes quoted in the text about the masking analysis, from its tables.

Pure functions on a :class:`~emolib.paper.manipulation.ManipulationResult` or its tables (no file I/O):
:func:`oriented` puts a test table in the book's sign convention (extra accuracy lost), :func:`significance_counts` counts the significant paired tests per random baseline, and
:func:`worst_draws` finds the most damaging random masks.

Example:
    >>> from emolib import released
    >>> from emolib.paper import manipulation
    >>> masked, unmasked = released.masking_frames()
    >>> damage = manipulation.random_mask_damage(masked, unmasked)
    >>> worst_draws(damage, manipulation.common_k(masked))[["label", "k"]].values.tolist()
    [['other-relativity', 1000], ['anger-face', 1500]]
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from emolib.paper.manipulation import ManipulationResult, select

__all__ = ["SIGNIFICANCE_TABLES", "oriented", "significance_counts", "worst_draws"]

#: short name -> the per-baseline table of :class:`~emolib.paper.manipulation.BaselineTables` it counts
SIGNIFICANCE_TABLES: dict[str, str] = {"emotion": "by_emotion", "attribute_emotion": "by_attribute_emotion"}


def significance_counts(result: ManipulationResult, k: int, alpha: float = 0.05) -> pd.DataFrame:
    """Per random baseline and test table, how many paired tests are significant.

    Args:
        result: the manipulation analysis (:func:`~emolib.paper.manipulation.analyse`).
        k: the mask size of the ``*_k`` counts.
        alpha: threshold on the paper's ``q`` and on Benjamini-Hochberg's ``q_bh``.

    Returns:
        One row per (``baseline``, ``table``), ``table`` a key of :data:`SIGNIFICANCE_TABLES`:
        ``sig_k`` (q < alpha at k) of ``n_k`` tests at k, ``sig`` (q < alpha over all k) of ``n`` tests,
        and ``sig_bh`` (q_bh < alpha over all k).

    Example:
        >>> from emolib import released
        >>> from emolib.paper import manipulation
        >>> masked, unmasked = released.masking_frames()
        >>> tau = pd.Series(0.1, index=masked["attribute"].unique())
        >>> result = manipulation.analyse(masked, unmasked, tau, baselines=["paper"])
        >>> significance_counts(result, k=4000).loc[("paper", "emotion"), ["sig_k", "n_k"]].tolist()
        [20, 27]
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    rows = []
    for baseline, tables in result.baselines.items():
        for name, field in SIGNIFICANCE_TABLES.items():
            table = getattr(tables, field)
            at_k = select(table, k=k)
            rows.append({"baseline": baseline, "table": name, "sig_k": int((at_k["q"] < alpha).sum()),
                         "n_k": len(at_k), "sig": int((table["q"] < alpha).sum()), "n": len(table),
                         "sig_bh": int((table["q_bh"] < alpha).sum())})
    return pd.DataFrame(rows).set_index(["baseline", "table"])


def worst_draws(damage: pd.DataFrame, ks: Sequence[int]) -> pd.DataFrame:
    """The most damaging random mask overall and among the mask sizes ``ks`` compared with selective masks.

    Args:
        damage: :func:`~emolib.paper.manipulation.random_mask_damage`.
        ks: the mask sizes of the comparison (:func:`~emolib.paper.manipulation.common_k`).

    Returns:
        Rows ``all`` and ``compared``: ``label`` (the attribute label the worst draw is filed under),
        ``k``, ``drop`` and ``relative`` of that draw (the first of equal ones), ``over_2`` (draws costing
        more than twice the median draw of their k) and ``n`` (draws).

    Example:
        >>> damage = pd.DataFrame({"k": [10, 10, 10, 20, 20, 20], "attribute": list("abcabc"),
        ...                        "drop": [0.1, 0.1, 0.5, 0.2, 0.2, 0.3],
        ...                        "relative": [1.0, 1.0, 5.0, 1.0, 1.0, 1.5]})
        >>> worst_draws(damage, [20])[["label", "k", "over_2", "n"]].values.tolist()
        [['c', 10, 1, 6], ['c', 20, 0, 3]]
    """
    missing = [c for c in ("k", "attribute", "drop", "relative") if c not in damage.columns]
    if missing:
        raise ValueError(f"damage lacks columns {missing}; expected the columns of random_mask_damage")
    unknown = sorted(set(ks) - set(damage["k"]))
    if unknown:
        raise ValueError(f"unknown k {unknown}; valid choices: {', '.join(map(str, sorted(set(damage['k']))))}")
    rows = {}
    for name, subset in (("all", damage), ("compared", damage[damage["k"].isin(ks)])):
        worst = subset.loc[subset["relative"].idxmax()]
        rows[name] = {"label": str(worst["attribute"]), "k": int(worst["k"]), "drop": float(worst["drop"]),
                      "relative": float(worst["relative"]), "over_2": int((subset["relative"] > 2).sum()),
                      "n": len(subset)}
    return pd.DataFrame.from_dict(rows, orient="index")


def oriented(table: pd.DataFrame) -> pd.DataFrame:
    """A test table of :mod:`emolib.paper.manipulation` in the book's sign convention.

    ``diff`` (attribute minus random accuracy) becomes ``extra_loss`` = random minus attribute (positive: the
    attribute's masks cost more accuracy than random ones); ``mean_rho`` (of ``diff``) and per-emotion ``r``
    become ``rho`` and ``r`` of the extra loss with the human weight (positive: attributes humans weigh more
    lose more). ``t`` and the CI bounds follow (the bounds swap); p and q do not change (the per-emotion and
    per-attribute tests are one-sided for "attribute masks cost more", the correlation test two-sided).

    Example:
        >>> t = pd.DataFrame({"k": [4000], "diff": [-0.05], "t": [-2.0], "ci_low": [-0.08], "ci_high": [-0.02]})
        >>> oriented(t).to_dict("records")
        [{'k': 4000, 'extra_loss': 0.05, 't': 2.0, 'ci_low': 0.02, 'ci_high': 0.08}]
    """
    out = table.copy()
    signed = "diff" if "diff" in out else "mean_rho" if "mean_rho" in out else "r" if "r" in out else None
    if signed is None:
        raise ValueError(f"no signed column (diff, mean_rho or r) in columns {', '.join(map(str, out.columns))}")
    out[signed] = -out[signed]
    if "z" in out:
        out["z"] = -out["z"]
    if "t" in out:
        out["t"] = -out["t"]
    if {"ci_low", "ci_high"} <= set(out.columns):
        out["ci_low"], out["ci_high"] = -table["ci_high"], -table["ci_low"]
    return out.rename(columns={"diff": "extra_loss", "mean_rho": "rho"})
