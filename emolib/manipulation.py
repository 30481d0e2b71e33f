"""The causal manipulation statistics: does silencing attribute units hurt emotion inference?

Pure functions on tidy frames (no file I/O), shared by the reproduction from the released RoBERTa
files and by the per-backbone analyses (method notes 9.7):

- ``masked``: one row per (prompt, mask): ``emotion, seed, condition`` (``"selective"`` or
  ``"random"``), ``attribute`` (for random masks: the label of the draw), ``k``, ``draw``, ``accuracy``;
- ``unmasked``: one row per prompt: ``emotion, seed, accuracy``;
- ``human_tau``: the human attribute weights, a Series indexed by attribute.

Two random baselines: ``"paper"`` pairs each selective mask with the random mask carrying the same
attribute label and k (one random draw per label, shared by all prompts, as the original did);
``"pooled"`` uses the mean over all random masks of the same k for the same prompt.

Example:
    >>> from emolib import manipulation
    >>> masked, unmasked = manipulation.released_frames()
    >>> pairs = manipulation.paired_differences(masked, baseline="paper")
    >>> table = manipulation.paired_tests(pairs, by=["attribute", "k"])
    >>> len(table)
    98
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from emolib.emotions import ATTRIBUTES
from emolib.stats import bh_q, paper_q

__all__ = [
    "BASELINES",
    "released_frames",
    "common_k",
    "accuracy_summary",
    "paired_differences",
    "paired_tests",
    "unimodality",
    "human_correlation",
    "random_mask_damage",
    "analyse",
    "reproduce",
]

logger = logging.getLogger(__name__)

BASELINES = ("paper", "pooled")
_PROMPT = ["emotion", "seed"]


def _check_baseline(baseline: str) -> str:
    if baseline not in BASELINES:
        raise ValueError(f"unknown baseline {baseline!r}; valid choices: {', '.join(BASELINES)}")
    return baseline


def released_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The released RoBERTa masking results as ``(masked, unmasked)`` tidy frames.

    Random masks keep their attribute label (it only numbers the draw: ``draw`` is the label's
    position in ``ATTRIBUTES``); the unmasked accuracy is the released prompt accuracy.
    """
    from emolib import released

    parts = []
    for kind, condition in (("attribute_specific", "selective"), ("random", "random")):
        frame = released.masking_accuracy(kind)
        frame = frame.assign(condition=condition, attribute=frame["attribute"].astype(str))
        frame["draw"] = frame["attribute"].map(ATTRIBUTES.index) if condition == "random" else 0
        parts.append(frame[["emotion", "seed", "condition", "attribute", "k", "draw", "accuracy"]])
    masked = pd.concat(parts, ignore_index=True)
    return masked, released.prompt_accuracy()


def common_k(masked: pd.DataFrame) -> list[int]:
    """The mask sizes present for both conditions (the original aligns k to this intersection)."""
    ks = [set(masked.loc[masked["condition"] == c, "k"]) for c in ("selective", "random")]
    common = sorted(ks[0] & ks[1])
    if not common:
        raise ValueError("no mask size k is shared by the selective and random masks")
    return common


def _mean_se(values: pd.core.groupby.SeriesGroupBy) -> pd.DataFrame:
    out = values.agg(["mean", "std", "count"])
    out["se"] = out["std"] / np.sqrt(out["count"])
    return out.drop(columns="std").rename(columns={"count": "n"})


def accuracy_summary(masked: pd.DataFrame, unmasked: pd.DataFrame, ks: Sequence[int] | None = None) -> pd.DataFrame:
    """Mean and SE (sd / sqrt(n)) of accuracy per (k, emotion, condition).

    Conditions: ``"w/o"`` (no mask; over seeds, repeated for every k), ``"random"`` and
    ``"attribute-specific"`` (over all masks of that k x seeds: 14 x 12 = 168 values in the paper).

    Returns:
        Columns ``k, emotion, condition, mean, se, n``.
    """
    ks = list(ks) if ks is not None else common_k(masked)
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
        masked: the tidy masked-accuracy frame.
        baseline: ``"paper"`` (the random mask with the same attribute label and k) or ``"pooled"``
            (the mean over all random masks of that k for the prompt).

    Returns:
        Columns ``emotion, seed, attribute, k, selective, random, diff`` (``diff = selective - random``).
    """
    _check_baseline(baseline)
    ks = common_k(masked)
    sel = masked[(masked["condition"] == "selective") & masked["k"].isin(ks)]
    rnd = masked[(masked["condition"] == "random") & masked["k"].isin(ks)]
    sel = sel.groupby(_PROMPT + ["attribute", "k"], as_index=False)["accuracy"].mean()
    if baseline == "paper":
        rnd = rnd.groupby(_PROMPT + ["attribute", "k"], as_index=False)["accuracy"].mean()
        keys = _PROMPT + ["attribute", "k"]
        missing = set(sel["attribute"]) - set(rnd["attribute"])
        if missing:
            raise ValueError(f"the paper baseline needs random masks labelled like the selective ones; missing labels "
                             f"{sorted(missing)}; use baseline='pooled'")
    else:
        rnd = rnd.groupby(_PROMPT + ["k"], as_index=False)["accuracy"].mean()
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
        (one-sided), ``ci_low``, ``ci_high`` (two-sided), ``q`` (the paper's p*N/rank(p) within the
        table) and ``q_bh`` (Benjamini-Hochberg).
    """
    grouped = pairs.groupby(list(by))["diff"].agg(["mean", "std", "count"]).reset_index()
    n = grouped["count"].to_numpy(float)
    se = grouped["std"].to_numpy() / np.sqrt(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = grouped["mean"].to_numpy() / se
    df = n - 1
    half = stats.t.ppf(1 - alpha / 2, df) * se
    out = grouped[list(by)].copy()
    out["diff"], out["se"], out["t"], out["df"] = grouped["mean"], se, t, df
    out["p"] = stats.t.cdf(t, df)
    out["ci_low"], out["ci_high"] = grouped["mean"] - half, grouped["mean"] + half
    out["q"], out["q_bh"] = paper_q(out["p"].to_numpy()), bh_q(out["p"].to_numpy())
    return out


def unimodality(per_emotion: pd.DataFrame) -> pd.DataFrame:
    """Hartigan's dip test per (k, attribute) over the per-emotion mean differences.

    Args:
        per_emotion: a table with ``attribute, emotion, k, diff`` (e.g. :func:`paired_tests` by
            ``["attribute", "emotion", "k"]``).

    Returns:
        Columns ``k, attribute, D, p, n`` (``diptest``'s interpolated p, as R's ``dip.test``).
    """
    import diptest

    rows = []
    for (k, attribute), group in per_emotion.groupby(["k", "attribute"], sort=True):
        d, p = diptest.diptest(group["diff"].to_numpy(dtype=np.float64))
        rows.append((k, attribute, float(d), float(p), len(group)))
    return pd.DataFrame(rows, columns=["k", "attribute", "D", "p", "n"])


def human_correlation(
    per_emotion: pd.DataFrame, human_tau: pd.Series, alpha: float = 0.05
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Do attributes that humans weigh more lose more accuracy when silenced?

    Per (k, emotion): Pearson r between the attribute differences (selective - random) and the human
    attribute weights; Fisher z = atanh(r); per k a two-sided one-sample t-test of z against 0,
    mean rho = tanh(mean z), CI = tanh of the t CI. A *negative* rho means larger drops for
    attributes with larger human weight (the paper plots -rho).

    Returns:
        ``(per_k, per_emotion_r)``: ``k, mean_rho, t, df, p, ci_low, ci_high, n`` and
        ``k, emotion, r, z``.
    """
    tau = human_tau.astype(float)
    rows = []
    for (k, emotion), group in per_emotion.groupby(["k", "emotion"], sort=True):
        diffs = group.set_index("attribute")["diff"].reindex(tau.index)
        ok = diffs.notna().to_numpy()
        x, y = diffs.to_numpy()[ok], tau.to_numpy()[ok]
        r = stats.pearsonr(x, y).statistic if ok.sum() > 2 and np.ptp(x) > 0 and np.ptp(y) > 0 else np.nan
        rows.append((k, emotion, r))
    per_r = pd.DataFrame(rows, columns=["k", "emotion", "r"])
    per_r["z"] = np.arctanh(per_r["r"])
    out = []
    for k, group in per_r.groupby("k", sort=True):
        z = group["z"].dropna().to_numpy()
        if len(z) < 2:
            out.append((k, np.tanh(z.mean()) if len(z) else np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, len(z)))
            continue
        res = stats.ttest_1samp(z, 0.0)
        low, high = res.confidence_interval(1 - alpha)
        out.append((k, np.tanh(z.mean()), res.statistic, res.df, res.pvalue, np.tanh(low), np.tanh(high), len(z)))
    per_k = pd.DataFrame(out, columns=["k", "mean_rho", "t", "df", "p", "ci_low", "ci_high", "n"])
    return per_k, per_r


def random_mask_damage(masked: pd.DataFrame, unmasked: pd.DataFrame) -> pd.DataFrame:
    """How much each random mask costs on average over prompts: ``k, attribute (draw label), draw,
    accuracy, drop`` (drop = unmasked - masked accuracy, averaged over prompts)."""
    rnd = masked[masked["condition"] == "random"].merge(unmasked, on=_PROMPT, suffixes=("", "_unmasked"))
    rnd["drop"] = rnd["accuracy_unmasked"] - rnd["accuracy"]
    return rnd.groupby(["k", "attribute", "draw"], as_index=False)[["accuracy", "drop"]].mean()


def analyse(masked: pd.DataFrame, unmasked: pd.DataFrame, human_tau: pd.Series,
            baselines: Sequence[str] = BASELINES) -> dict[str, pd.DataFrame]:
    """All tables of the manipulation analysis for each baseline, keyed by table name.

    Keys: ``summary``, ``damage``, and per baseline ``b``: ``pairs_b``, ``by_attribute_emotion_b``,
    ``by_emotion_b``, ``by_attribute_b``, ``unimodality_b``, ``correlation_b``, ``emotion_r_b``.
    """
    tables = {"summary": accuracy_summary(masked, unmasked), "damage": random_mask_damage(masked, unmasked)}
    for baseline in map(_check_baseline, baselines):
        pairs = paired_differences(masked, baseline)
        per_ae = paired_tests(pairs, ["attribute", "emotion", "k"])
        tables[f"pairs_{baseline}"] = pairs
        tables[f"by_attribute_emotion_{baseline}"] = per_ae
        tables[f"by_emotion_{baseline}"] = paired_tests(pairs, ["emotion", "k"])
        tables[f"by_attribute_{baseline}"] = paired_tests(pairs, ["attribute", "k"]).merge(
            human_tau.rename("human_tau"), left_on="attribute", right_index=True, how="left")
        tables[f"unimodality_{baseline}"] = unimodality(per_ae)
        tables[f"correlation_{baseline}"], tables[f"emotion_r_{baseline}"] = human_correlation(per_ae, human_tau)
    return tables


def reproduce(out_dir: str | Path, profile: str | None = None, seed: int | None = None) -> list[Path]:
    """Write the manipulation tables of the released RoBERTa results to ``out_dir``.

    Files: ``per_emotion_human_correlation.csv`` (``baseline, k, mean_rho, t, df, p, ci_low, ci_high``),
    ``unimodality.csv`` (``k, attribute, D, p``; paper baseline), ``accuracy_summary.csv``
    (``k, emotion, condition, mean, se``), ``attribute_drop.csv`` (``baseline, k, attribute, diff, t, p, q``).
    ``seed`` seeds the human-weight bootstrap (default 6, as the original).
    """
    from emolib import human
    from emolib.artifacts import atomic_write_csv

    if profile not in (None, "quick", "paper", "smoke"):
        raise ValueError(f"unknown profile {profile!r}; valid choices: quick, paper, smoke")
    out = Path(out_dir)
    weights = human.attribute_weights(n_boot=1000 if profile == "smoke" else 10_000, seed=6 if seed is None else seed)
    masked, unmasked = released_frames()
    tables = analyse(masked, unmasked, weights.set_index("attribute")["tau"])
    correlation = pd.concat([tables[f"correlation_{b}"].assign(baseline=b) for b in BASELINES], ignore_index=True)
    drops = pd.concat([tables[f"by_attribute_{b}"].assign(baseline=b) for b in BASELINES], ignore_index=True)
    files = {
        "per_emotion_human_correlation.csv": correlation[["baseline", "k", "mean_rho", "t", "df", "p", "ci_low", "ci_high"]],
        "unimodality.csv": tables["unimodality_paper"][["k", "attribute", "D", "p"]],
        "accuracy_summary.csv": tables["summary"][["k", "emotion", "condition", "mean", "se"]],
        "attribute_drop.csv": drops[["baseline", "k", "attribute", "diff", "t", "p", "q"]],
    }
    return [atomic_write_csv(frame, out / name) for name, frame in files.items()]

