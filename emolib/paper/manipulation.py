"""The causal manipulation statistics: does silencing attribute units hurt emotion inference?

Method notes 9.5-9.7. The statistics are pure functions on tidy frames (no file I/O), shared by the
reproduction from the released RoBERTa files (:func:`emolib.released.masking_frames`) and by the
per-backbone analyses, which pass their own masked accuracies in the same format:

- ``masked``: one row per (prompt, mask): ``emotion, seed`` (the prompt), ``condition``
  (``"selective"``: the top-k units of one attribute; ``"random"``: k random units), ``attribute``
  (for random masks the label the draw was filed under), ``k`` (units silenced), ``draw`` (which
  random mask of that k; any value for selective masks) and ``accuracy``;
- ``unmasked``: one row per prompt: ``emotion, seed, accuracy``;
- ``human_tau``: the human attribute weights, a Series indexed by attribute.

Two random baselines (:data:`BASELINES`): ``"paper"`` pairs each selective mask with the random mask
carrying the same attribute label and k (the original drew one random mask per label, shared by all
prompts); ``"pooled"`` uses, per prompt, the mean over all random masks (draws) of the same k.

:func:`analyse` computes every table and returns a :class:`ManipulationResult`: the tables shared by
both baselines, and per baseline a :class:`BaselineTables`.

Example:
    >>> from emolib import released
    >>> masked, unmasked = released.masking_frames()
    >>> pairs = paired_differences(masked, baseline="pooled")
    >>> len(paired_tests(pairs, by=["attribute", "k"]))
    98
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
from scipy import stats

from emolib.emotions import ATTRIBUTES
from emolib.stats import bh_q, paper_q

__all__ = [
    "BASELINES",
    "CONDITIONS",
    "BaselineTables",
    "ManipulationResult",
    "select",
    "common_k",
    "accuracy_summary",
    "paired_differences",
    "paired_tests",
    "unimodality",
    "human_correlation",
    "random_mask_damage",
    "analyse",
]

logger = logging.getLogger(__name__)

BASELINES = ("paper", "pooled")
CONDITIONS = ("selective", "random")
_PROMPT = ["emotion", "seed"]
_VALUES = ("selective", "random", "diff")


def _check_baseline(baseline: str) -> str:
    if baseline not in BASELINES:
        raise ValueError(f"unknown baseline {baseline!r}; valid choices: {', '.join(BASELINES)}")
    return baseline


def _check_columns(frame: pd.DataFrame, required: Sequence[str], name: str) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks columns {missing}; expected {list(required)}, got {list(frame.columns)}")


def _check_masked(masked: pd.DataFrame) -> None:
    _check_columns(masked, ["emotion", "seed", "condition", "attribute", "k", "accuracy"], "masked")
    unknown = sorted(set(masked["condition"]) - set(CONDITIONS))
    if unknown:
        raise ValueError(f"unknown condition {unknown[0]!r}; valid choices: {', '.join(CONDITIONS)}")


def _random_draws(rnd: pd.DataFrame) -> pd.Series:
    """The draw of each random row (its ``draw`` column, else its attribute label)."""
    return rnd["draw"] if "draw" in rnd.columns else rnd["attribute"].astype(str)


def select(table: pd.DataFrame, **criteria: object) -> pd.DataFrame:
    """Rows of ``table`` where each column equals the given value; a value that does not occur raises.

    Example:
        >>> select(pd.DataFrame({"k": [1, 2]}), k=2).index.tolist()
        [1]
    """
    rows = pd.Series(True, index=table.index)
    for column, value in criteria.items():
        if column not in table.columns:
            raise ValueError(f"unknown column {column!r}; valid choices: {', '.join(map(str, table.columns))}")
        values = table[column].dropna().unique().tolist()
        try:
            valid = sorted(values)
        except TypeError:
            valid = sorted(values, key=str)
        if value not in valid:
            raise ValueError(f"unknown {column} {value!r}; valid choices: {', '.join(map(str, valid))}")
        rows &= table[column] == value
    return table[rows]


def common_k(masked: pd.DataFrame) -> list[int]:
    """The mask sizes present for both conditions (the original aligns k to this intersection)."""
    _check_masked(masked)
    ks = [set(masked.loc[masked["condition"] == c, "k"]) for c in CONDITIONS]
    common = sorted(int(k) for k in ks[0] & ks[1])
    if not common:
        raise ValueError("no mask size k is shared by the selective and random masks")
    return common


def _check_ks(masked: pd.DataFrame, ks: Sequence[int] | None) -> list[int]:
    valid = common_k(masked)
    if ks is None:
        return valid
    for k in ks:
        if k not in valid:
            raise ValueError(f"unknown k {k!r}; valid choices: {', '.join(map(str, valid))}")
    return list(ks)


def _mean_se(values: pd.core.groupby.SeriesGroupBy) -> pd.DataFrame:
    out = values.agg(["mean", "std", "count"])
    out["se"] = out["std"] / np.sqrt(out["count"])
    return out.drop(columns="std").rename(columns={"count": "n"})


def accuracy_summary(masked: pd.DataFrame, unmasked: pd.DataFrame, ks: Sequence[int] | None = None) -> pd.DataFrame:
    """Mean and SE (sd / sqrt(n), R's ``t.test(x)$stderr``) of accuracy per (k, emotion, condition).

    Conditions: ``"w/o"`` (no mask; over seeds, repeated for every k), ``"random"`` and
    ``"attribute-specific"`` (over all masks of that k x seeds: 14 x 12 = 168 values in the paper).

    Returns:
        Columns ``k, emotion, condition, mean, se, n``.
    """
    ks = _check_ks(masked, ks)
    _check_columns(unmasked, ["emotion", "seed", "accuracy"], "unmasked")
    rows = masked[masked["k"].isin(ks)]
    masked_stats = _mean_se(rows.groupby(["k", "emotion", "condition"])["accuracy"]).reset_index()
    masked_stats["condition"] = masked_stats["condition"].map({"selective": "attribute-specific", "random": "random"})
    base = _mean_se(unmasked.groupby("emotion")["accuracy"]).reset_index()
    without = pd.concat([base.assign(k=k, condition="w/o") for k in ks], ignore_index=True)
    out = pd.concat([without, masked_stats], ignore_index=True)[["k", "emotion", "condition", "mean", "se", "n"]]
    order = {"w/o": 0, "random": 1, "attribute-specific": 2}
    return out.sort_values(["k", "emotion", "condition"], key=lambda s: s.map(order) if s.name == "condition" else s,
                           ignore_index=True)


def paired_differences(masked: pd.DataFrame, baseline: str = "paper") -> pd.DataFrame:
    """Selective vs random accuracy of the same prompt, one row per (prompt, attribute, k).

    Args:
        masked: the tidy masked-accuracy frame (module docstring).
        baseline: ``"paper"`` (the random mask with the same attribute label and k) or ``"pooled"``
            (per prompt, the mean over the random draws of that k; repeated rows of one draw are
            averaged first, so every draw weighs the same).

    Returns:
        Columns ``emotion, seed, attribute, k, selective, random, diff`` (``diff = selective - random``).
    """
    _check_baseline(baseline)
    ks = common_k(masked)
    sel = masked[(masked["condition"] == "selective") & masked["k"].isin(ks)]
    rnd = masked[(masked["condition"] == "random") & masked["k"].isin(ks)]
    sel = sel.groupby(_PROMPT + ["attribute", "k"], as_index=False)["accuracy"].mean()
    if baseline == "paper":
        missing = sorted(set(sel["attribute"]) - set(rnd["attribute"]))
        if missing:
            raise ValueError(f"the paper baseline needs random masks labelled like the selective ones; missing labels "
                             f"{missing}; use baseline='pooled'")
        rnd = rnd.groupby(_PROMPT + ["attribute", "k"], as_index=False)["accuracy"].mean()
        keys = _PROMPT + ["attribute", "k"]
    else:
        rnd = rnd.assign(_draw=_random_draws(rnd))
        per_draw = rnd.groupby(_PROMPT + ["k", "_draw"], as_index=False)["accuracy"].mean()
        rnd = per_draw.groupby(_PROMPT + ["k"], as_index=False)["accuracy"].mean()
        keys = _PROMPT + ["k"]
    pairs = sel.merge(rnd, on=keys, how="inner", suffixes=("_sel", "_rnd"))
    pairs = pairs.rename(columns={"accuracy_sel": "selective", "accuracy_rnd": "random"})
    pairs["diff"] = pairs["selective"] - pairs["random"]
    return pairs[_PROMPT + ["attribute", "k", "selective", "random", "diff"]]


def paired_tests(pairs: pd.DataFrame, by: Sequence[str], alpha: float = 0.05) -> pd.DataFrame:
    """One-sided paired t-tests (H1: selective < random) per group, as R's ``t.test(paired=TRUE)``.

    Args:
        pairs: output of :func:`paired_differences`.
        by: grouping columns, e.g. ``["attribute", "emotion", "k"]``, ``["emotion", "k"]`` or
            ``["attribute", "k"]``.
        alpha: for the two-sided ``1 - alpha`` confidence interval of the mean difference.

    Returns:
        One row per group: ``by``, ``diff`` (mean difference), ``se``, ``t``, ``df``, ``p``
        (one-sided; NaN where the differences are constant, where R stops), ``ci_low``, ``ci_high``
        (two-sided), ``q`` (the paper's p*N/rank(p) within the table) and ``q_bh`` (Benjamini-Hochberg).
    """
    by = list(by)
    _check_columns(pairs, ["diff"], "pairs")
    valid = [c for c in pairs.columns if c not in _VALUES]
    for column in by:
        if column not in valid:
            raise ValueError(f"unknown grouping column {column!r}; valid choices: {', '.join(map(str, valid))}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    grouped = pairs.groupby(by)["diff"].agg(["mean", "std", "count"]).reset_index()
    n = grouped["count"].to_numpy(float)
    se = grouped["std"].to_numpy() / np.sqrt(n)
    ok = se > 0  # NaN (n < 2) and 0 (constant differences) have no test
    t = np.divide(grouped["mean"].to_numpy(), se, out=np.full(len(se), np.nan), where=ok)
    df = n - 1
    half = np.where(ok, stats.t.ppf(1 - alpha / 2, np.maximum(df, 1)) * np.where(ok, se, 0), np.nan)
    out = grouped[by].copy()
    out["diff"], out["se"], out["t"], out["df"] = grouped["mean"], se, t, df
    out["p"] = np.where(ok, stats.t.cdf(t, np.maximum(df, 1)), np.nan)
    out["ci_low"], out["ci_high"] = grouped["mean"] - half, grouped["mean"] + half
    out["q"], out["q_bh"] = paper_q(out["p"].to_numpy()), bh_q(out["p"].to_numpy())
    return out


def _dip(values: np.ndarray) -> tuple[float, float]:
    """R's ``diptest::dip.test(x)``: dip with minimum 1/(2n), interpolated p; p = 1 for n <= 3."""
    import diptest

    values = np.asarray(values, dtype=np.float64)
    if len(values) <= 3:
        return (0.5 / len(values) if len(values) else np.nan), 1.0
    d, p = diptest.diptest(values, allow_zero=False)
    return float(d), float(p)


def unimodality(per_emotion: pd.DataFrame) -> pd.DataFrame:
    """Hartigan's dip test per (k, attribute) over the per-emotion mean differences.

    Args:
        per_emotion: a table with ``attribute, emotion, k, diff`` (e.g. :func:`paired_tests` by
            ``["attribute", "emotion", "k"]``).

    Returns:
        Columns ``k, attribute, D, p, n`` (``diptest``'s table-interpolated p, as R's ``dip.test``;
        NaN differences are dropped).
    """
    _check_columns(per_emotion, ["attribute", "emotion", "k", "diff"], "per_emotion")
    rows = []
    for (k, attribute), group in per_emotion.groupby(["k", "attribute"], sort=True):
        values = group["diff"].dropna().to_numpy(dtype=np.float64)
        rows.append((k, attribute, *_dip(values), len(values)))
    return pd.DataFrame(rows, columns=["k", "attribute", "D", "p", "n"])


def human_correlation(
    per_emotion: pd.DataFrame, human_tau: pd.Series, alpha: float = 0.05
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Do attributes that humans weigh more lose more accuracy when silenced?

    Per (k, emotion): Pearson r between the attribute differences (selective - random) and the human
    attribute weights; Fisher z = atanh(r); per k a two-sided one-sample t-test of z against 0,
    mean rho = tanh(mean z), CI = tanh of the t CI of mean z. A *negative* rho means larger drops
    for attributes with larger human weight (the paper plots -rho).

    Returns:
        ``(per_k, per_emotion_r)``: ``k, mean_rho, t, df, p, ci_low, ci_high, n`` and
        ``k, emotion, r, z``.
    """
    _check_columns(per_emotion, ["attribute", "emotion", "k", "diff"], "per_emotion")
    tau = pd.Series(human_tau, dtype=float)
    unknown = sorted(set(per_emotion["attribute"]) - set(tau.index))
    if unknown:
        raise ValueError(f"unknown attribute {unknown[0]!r} (no human weight); valid choices: "
                         f"{', '.join(map(str, tau.index))}")
    rows = []
    for (k, emotion), group in per_emotion.groupby(["k", "emotion"], sort=True):
        diffs = group.set_index("attribute")["diff"].reindex(tau.index)
        ok = diffs.notna().to_numpy()
        x, y = diffs.to_numpy()[ok], tau.to_numpy()[ok]
        r = stats.pearsonr(x, y).statistic if ok.sum() > 2 and np.ptp(x) > 0 and np.ptp(y) > 0 else np.nan
        rows.append((k, emotion, r))
    per_r = pd.DataFrame(rows, columns=["k", "emotion", "r"])
    with np.errstate(divide="ignore"):
        per_r["z"] = np.arctanh(per_r["r"])
    out = []
    for k, group in per_r.groupby("k", sort=True):
        z = group["z"].dropna().to_numpy()
        if len(z) < 2 or np.ptp(z) == 0:
            out.append((k, np.tanh(z.mean()) if len(z) else np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, len(z)))
            continue
        res = stats.ttest_1samp(z, 0.0)
        low, high = res.confidence_interval(1 - alpha)
        out.append((k, np.tanh(z.mean()), res.statistic, res.df, res.pvalue, np.tanh(low), np.tanh(high), len(z)))
    per_k = pd.DataFrame(out, columns=["k", "mean_rho", "t", "df", "p", "ci_low", "ci_high", "n"])
    return per_k, per_r


def random_mask_damage(masked: pd.DataFrame, unmasked: pd.DataFrame) -> pd.DataFrame:
    """How much each random mask costs, averaged over prompts.

    Returns:
        Columns ``k, attribute`` (the draw's label), ``draw, accuracy, drop`` (unmasked - masked
        accuracy) and ``relative`` (drop / the median drop of the random masks of that k; 1 = a
        typical draw, 5 = five times as damaging).
    """
    _check_masked(masked)
    _check_columns(unmasked, ["emotion", "seed", "accuracy"], "unmasked")
    rnd = masked[masked["condition"] == "random"]
    rnd = rnd.assign(draw=_random_draws(rnd)).merge(unmasked[_PROMPT + ["accuracy"]], on=_PROMPT,
                                                     suffixes=("", "_unmasked"))
    rnd["drop"] = rnd["accuracy_unmasked"] - rnd["accuracy"]
    out = rnd.groupby(["k", "attribute", "draw"], as_index=False)[["accuracy", "drop"]].mean()
    median = out.groupby("k")["drop"].transform("median")
    out["relative"] = out["drop"] / median.where(median != 0)
    return out


@dataclass(frozen=True)
class BaselineTables:
    """The tables of one random baseline (``"paper"`` or ``"pooled"``)."""

    pairs: pd.DataFrame  # paired_differences
    by_attribute_emotion: pd.DataFrame  # paired_tests by attribute, emotion, k
    by_emotion: pd.DataFrame  # paired_tests by emotion, k
    by_attribute: pd.DataFrame  # paired_tests by attribute, k, with human_tau
    unimodality: pd.DataFrame
    correlation: pd.DataFrame  # human_correlation per k
    emotion_r: pd.DataFrame  # human_correlation per (k, emotion)


#: The names of the per-baseline tables (fields of :class:`BaselineTables`).
TABLES = tuple(f.name for f in fields(BaselineTables))


@dataclass(frozen=True)
class ManipulationResult:
    """All tables of the manipulation analysis: ``summary``, ``damage`` and per baseline a :class:`BaselineTables`."""

    summary: pd.DataFrame  # accuracy_summary
    damage: pd.DataFrame  # random_mask_damage
    baselines: dict[str, BaselineTables]

    def table(self, name: str) -> dict[str, pd.DataFrame]:
        """One per-baseline table for every baseline: ``{baseline: frame}`` (what the figures take)."""
        if name not in TABLES:
            raise ValueError(f"unknown table {name!r}; valid choices: {', '.join(TABLES)}")
        return {b: getattr(t, name) for b, t in self.baselines.items()}

    def stacked(self, name: str) -> pd.DataFrame:
        """One per-baseline table of every baseline, stacked with a leading ``baseline`` column."""
        frames = [frame.assign(baseline=b) for b, frame in self.table(name).items()]
        out = pd.concat(frames, ignore_index=True)
        return out[["baseline"] + [c for c in out.columns if c != "baseline"]]


def analyse(masked: pd.DataFrame, unmasked: pd.DataFrame, human_tau: pd.Series,
            baselines: Sequence[str] = BASELINES, n_perm: int = 0, seed: int = 0) -> ManipulationResult:
    """All tables of the manipulation analysis, for each baseline (a :class:`ManipulationResult`).

    With ``n_perm`` > 0, ``by_attribute`` gains ``perm_p`` (a sign-flip test over prompts) and
    ``correlation`` gains ``perm_p, null_low, null_high`` (the human weights permuted across attributes),
    from :mod:`emolib.paper.masking_tests`.
    """
    from emolib.paper.masking_tests import sign_flip_tests, weight_permutation_test

    masked = masked[masked["condition"].isin(CONDITIONS)]  # the paper's two conditions (sham masks are ours)
    baselines = [_check_baseline(b) for b in baselines]
    per_baseline = {}
    for baseline in baselines:
        pairs = paired_differences(masked, baseline)
        per_ae = paired_tests(pairs, ["attribute", "emotion", "k"])
        by_attribute = paired_tests(pairs, ["attribute", "k"]).merge(
            pd.Series(human_tau, dtype=float).rename("human_tau"), left_on="attribute", right_index=True, how="left")
        correlation, emotion_r = human_correlation(per_ae, human_tau)
        if n_perm:
            flips = sign_flip_tests(pairs, ["attribute", "k"], n_perm, seed)[["attribute", "k", "perm_p"]]
            by_attribute = by_attribute.merge(flips, on=["attribute", "k"], how="left")
            weights = weight_permutation_test(per_ae, human_tau, n_perm, seed).drop(columns="mean_rho")
            correlation = correlation.merge(weights, on="k", how="left")
        per_baseline[baseline] = BaselineTables(pairs, per_ae, paired_tests(pairs, ["emotion", "k"]), by_attribute,
                                                unimodality(per_ae), correlation, emotion_r)
    return ManipulationResult(accuracy_summary(masked, unmasked), random_mask_damage(masked, unmasked), per_baseline)
