"""The verdict: which of the paper's claims hold on a backbone, beside released RoBERTa and the null control.

One row per claim (:data:`CLAIMS`), with the released-RoBERTa value, this backbone's value with its
interval or p, what the null-prompt control gives (:mod:`emolib.paper.control`), and a verdict:

- **holds**: the effect is there in the claimed direction (p < alpha, or a count above zero) *and*
  beats the null control;
- **does not hold**: the estimate points the other way, the count does not beat the control, or the
  interval excludes the effect the paper found on RoBERTa;
- **cannot tell**: the interval holds both no effect and the paper's effect, or the prompts are so
  close to chance that silencing units cannot show a drop.

Example:
    >>> decide(estimate=-0.3, ci=(-0.5, -0.1), p=0.01, null=0.0, paper=-0.47)
    'holds'
    >>> decide(estimate=-0.05, ci=(-0.6, 0.2), p=0.4, null=0.0, paper=-0.47)
    'cannot tell'
    >>> decide(estimate=-0.05, ci=(-0.3, 0.2), p=0.4, null=0.0, paper=-0.47)  # rules out the paper's -0.47
    'does not hold'
    >>> decide(estimate=0.1, ci=(0.0, 0.2), p=0.9, null=0.0, paper=-0.47)
    'does not hold'
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import stats

from emolib.paper.masking_tests import sign_flip_tests
from emolib.profiles import PAPER_UNITS

__all__ = ["CLAIMS", "VERDICTS", "COLUMNS", "CHANCE_FLOOR", "decide", "claim_values", "verdict", "for_display"]

#: The paper's claims, in the order of the table.
CLAIMS = {
    "inference": "emotion inference above chance (mean dev accuracy)",
    "units_paper": "units that track an attribute, the paper's test (q < .01)",
    "units_fwer": "units that track an attribute, permutation FWER < alpha",
    "selective": "selective units (one attribute only), permutation FWER < alpha",
    "masks": "attribute masks hurt more than random masks (accuracy difference)",
    "weights": "damage follows the human attribute weights (mean rho < 0)",
}
VERDICTS = ("holds", "does not hold", "cannot tell")
COLUMNS = ["claim", "k", "measure", "released_roberta", "value", "ci_low", "ci_high", "p", "null_control",
           "verdict"]
#: Below this mean dev accuracy the prompts hardly solve the task, so masking cannot show a drop.
CHANCE_FLOOR = 0.6


def decide(estimate: float, ci: tuple[float, float], p: float, null: float, paper: float,
           alpha: float = 0.05, direction: int = -1) -> str:
    """The verdict for an effect expected below zero (``direction=-1``) or above it (``+1``).

    ``null``: the null control's estimate, which the effect must beat; ``paper``: the released RoBERTa
    estimate, which a "does not hold" interval must exclude.
    """
    if not np.isfinite(estimate):
        return "cannot tell"
    beats = direction * (estimate - null) > 0 if np.isfinite(null) else True
    if np.isfinite(p) and p < alpha and direction * estimate > 0 and beats:
        return "holds"
    low, high = ci
    wrong_way = direction * estimate <= 0
    excludes_paper = bool(np.isfinite(paper)) and ((direction < 0 and low > paper) or (direction > 0 and high < paper))
    if wrong_way or excludes_paper or not beats:
        return "does not hold"
    return "cannot tell"


def _t_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float, float]:
    """Mean, t interval and one-sided p (mean < 0) of ``values``."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) < 2 or np.std(values) == 0:
        mean = float(values.mean()) if len(values) else np.nan
        return mean, mean, mean, np.nan
    mean, se = values.mean(), values.std(ddof=1) / np.sqrt(len(values))
    half = stats.t.ppf(0.5 + level / 2, len(values) - 1) * se
    return float(mean), float(mean - half), float(mean + half), float(stats.t.cdf(mean / se, len(values) - 1))


def claim_values(accuracy: pd.Series, searchlight, manipulation, alpha: float = 0.05, baseline: str = "pooled",
                 n_perm: int = 2000, seed: int = 0) -> dict[str, object]:
    """The measured value of every claim for one set of results (a backbone, its null control, or RoBERTa).

    Args:
        accuracy: the prompts' unmasked dev accuracies.
        searchlight: a :class:`~emolib.rsa.SearchlightResult` (with a permutation null for the FWER rows).
        manipulation: a :class:`~emolib.paper.manipulation.ManipulationResult` (or None).

    Returns:
        ``{"inference": (mean, low, high), "units_paper": n, "units_fwer": n, "selective": n,
        "masks": {fraction: (mean, low, high, p)}, "weights": {fraction: (rho, low, high, p)}}``; masks
        and weights are keyed by k as a fraction of the units, so backbones of any size line up.
    """
    acc = np.asarray(accuracy, dtype=float)
    mean, low, high, _ = _t_interval(acc)
    out: dict[str, object] = {"inference": (mean, low, high)}
    out["units_paper"] = int(searchlight.with_correction("paper", 0.01).significant.any(axis=1).sum())
    if searchlight.permutation is not None:
        fwer = searchlight.with_correction("fwer", alpha)
        out["units_fwer"] = int(fwer.significant.any(axis=1).sum())
        out["selective"] = int(fwer.selective.sum())
    n_units = len(searchlight.tau)
    out["masks"], out["weights"] = {}, {}
    if manipulation is not None and baseline in manipulation.baselines:
        tables = manipulation.baselines[baseline]
        flips = sign_flip_tests(tables.pairs, ["k"], n_perm, seed).set_index("k")["perm_p"]
        per_prompt = tables.pairs.groupby(["k", "emotion", "seed"])["diff"].mean()
        for k, values in per_prompt.groupby(level="k"):
            m, lo, hi, _ = _t_interval(values.to_numpy())
            out["masks"][round(int(k) / n_units, 4)] = (m, lo, hi, float(flips.loc[k]))
        correlation = tables.correlation.set_index("k")
        for k, row in correlation.iterrows():
            p = float(row["perm_p"]) if "perm_p" in row else float(row["p"]) / 2
            out["weights"][round(int(k) / n_units, 4)] = (float(row["mean_rho"]), float(row["ci_low"]),
                                                          float(row["ci_high"]), p)
    return out


def _nearest(table: Mapping[float, tuple], fraction: float) -> tuple | None:
    if not table:
        return None
    key = min(table, key=lambda k: abs(k - fraction))
    return table[key] if abs(key - fraction) < 0.01 else None


def verdict(run, control=None, released: Mapping[str, object] | None = None, alpha: float = 0.05) -> pd.DataFrame:
    """The verdict table of a :class:`~emolib.paper.pipeline.PaperRun` (columns :data:`COLUMNS`).

    Args:
        run: the backbone's run. control: its :class:`~emolib.paper.control.NullControl` (or None).
        released: :func:`claim_values` of the released RoBERTa results (or None).
    """
    dev = run.frames("dev")[1]["accuracy"]
    mine = claim_values(dev, run.searchlight, run.manipulation, alpha)
    null = (claim_values(control.unmasked_accuracy()["accuracy"], control.searchlight, control.manipulation, alpha)
            if control is not None else {})
    ref = released or {}
    rows = []
    m, lo, hi = mine["inference"]
    null_acc = null.get("inference", (np.nan,) * 3)[0]
    ref_acc = ref.get("inference", (np.nan,) * 3)[0]
    p_acc = _one_sample_p(dev, 0.5)
    rows.append(("inference", np.nan, "mean dev accuracy", ref_acc, m, lo, hi, p_acc, null_acc,
                 decide(m - 0.5, (lo - 0.5, hi - 0.5), p_acc, null_acc - 0.5 if np.isfinite(null_acc) else np.nan,
                        ref_acc - 0.5 if np.isfinite(ref_acc) else np.nan, alpha, direction=+1)))
    at_chance = m < CHANCE_FLOOR
    for key, measure in (("units_paper", "units (any attribute)"), ("units_fwer", "units (any attribute)"),
                         ("selective", "selective units")):
        if key not in mine:
            continue
        value, control_value = mine[key], null.get(key, np.nan)
        ok = value > 0 and (not np.isfinite(control_value) or value > control_value)
        rows.append((key, np.nan, measure, ref.get(key, np.nan), value, np.nan, np.nan, np.nan, control_value,
                     "holds" if ok else "does not hold"))
    for key, measure in (("masks", "selective - random accuracy"), ("weights", "mean rho")):
        for fraction, (est, low, high, p) in sorted(mine[key].items()):
            k = int(round(fraction * PAPER_UNITS))
            control_row = _nearest(null.get(key, {}), fraction)
            ref_row = _nearest(ref.get(key, {}), fraction)
            control_value = control_row[0] if control_row else np.nan
            ref_value = ref_row[0] if ref_row else np.nan
            label = "cannot tell" if at_chance else decide(est, (low, high), p, control_value, ref_value, alpha)
            rows.append((key, k, measure, ref_value, est, low, high, p, control_value, label))
    table = pd.DataFrame(rows, columns=COLUMNS)
    table.insert(1, "statement", table["claim"].map(CLAIMS))
    table["k"] = table["k"].astype("Int64")
    table.attrs["at_chance"] = bool(at_chance)
    return table


def _one_sample_p(values: pd.Series, reference: float) -> float:
    values = np.asarray(values, dtype=float)
    if len(values) < 2 or np.std(values) == 0:
        return np.nan
    return float(stats.ttest_1samp(values, reference, alternative="greater").pvalue)


def for_display(table: pd.DataFrame) -> pd.DataFrame:
    """The verdict table as a page shows it: counts as integers, other numbers to 3 decimals, blanks for NaN.

    Example:
        >>> t = pd.DataFrame({"claim": ["units_paper", "masks"], "k": pd.array([None, 1500], dtype="Int64"),
        ...                   "value": [20795.0, -0.0241], "null_control": [14784.0, np.nan]})
        >>> for_display(t)[["k", "value", "null control"]].values.tolist()
        [['', '20,795', '14,784'], ['1,500', '-0.024', '']]
    """
    counts = table["claim"].isin(["units_paper", "units_fwer", "selective"])
    out = table.drop(columns="claim").astype(object)
    for column in ("released_roberta", "value", "ci_low", "ci_high", "p", "null_control"):
        if column in out:
            out[column] = [("" if pd.isna(v) else f"{v:,.0f}" if is_count else f"{v:.3f}")
                           for v, is_count in zip(table[column], counts)]
    if "k" in out:
        out["k"] = ["" if pd.isna(k) else f"{int(k):,}" for k in table["k"]]
    return out.rename(columns={"released_roberta": "released RoBERTa", "null_control": "null control",
                               "ci_low": "CI low", "ci_high": "CI high"})
