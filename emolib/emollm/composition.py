"""The valence chapter's inference: does the model compose valence with its context, or do probes only read it?

:func:`probe_inference` runs :func:`emolib.emollm.families.family_cv` for E1 (lemma families held out) and E2
(template families held out). Decoding Emo_LLM's label (valence XOR negation) is not evidence of composition: a
probe reads the adjective's own list, negation ignored, just as well when negated templates have a valence axis of
their own, because the training labels set its sign. The claim of the intro's valence row is therefore the
*transfer*: a probe fitted on plain templates, scored on the negated templates of held-out adjective families
against chance (.5), at the layer chosen inside the training families, judged by the verdict's three-way rule
(:data:`~emolib.emollm.families.SMALLEST_GAIN` above chance is the smallest effect of interest). Everything else is
descriptive: the rigorous probe against the additive baseline (which cannot beat the majority share by
construction), against the uncomposed-label probe and against the negation oracle. E3 (in-distribution prompts) is
a memorisation check in a table of its own (:func:`memorisation_table`).

Example:
    >>> import pandas as pd
    >>> gains = pd.DataFrame([{"experiment": "E1", "probe": "transfer", "against": "chance", "rows": "negated",
    ...                        "gain": 0.4, "ci_low": 0.3,
    ...                        "ci_high": 0.5, "p": 0.001, "p_shift": 1.0, "power": 0.9, "n_families": 50,
    ...                        "smallest": 0.1, "verdict": "holds", "reason": ""}])
    >>> valence_row(gains)["verdict"]
    'holds'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from emolib.emollm import families

__all__ = ["VARIANTS", "ProbeInference", "probe_inference", "valence_row", "memorisation_table", "nested_layer"]

#: The variants of the family cross-validation (:mod:`emolib.emollm.families`).
VARIANTS = ("centred", "additive", "oracle", "uncomposed", "transfer")


@dataclass
class ProbeInference:
    """What :func:`probe_inference` computed, per scale."""

    cv: pd.DataFrame  # held-out counts per (scale, experiment, variant, layer, fold, family, negation)
    summary: pd.DataFrame  # accuracies with family-bootstrap intervals (families.family_summary), with ``scale``
    gains: pd.DataFrame  # the rigorous probe against each baseline, paired over families, with the verdict


def probe_inference(data: Mapping[str, Mapping], layers: Sequence[int] | None = None, features: str = "residual",
                    n_splits: int = 5, inner_splits: int = 3, seed: int = 0, n_boot: int = 2000,
                    n_perm: int = 10_000) -> ProbeInference:
    """Family-level cross-validation of each scale of ``data`` (:func:`~emolib.emollm.prompts.probe_data`).

    Returns:
        :class:`ProbeInference`; ``gains`` has one row per (scale, experiment, probe, against, rows = all | negated) at
        the nested layer: ``gain, ci_low, ci_high, p, p_shift, power, n_families, smallest, verdict, reason`` (the
        verdict only on the claim's row: valence, E1, ``transfer`` against ``chance`` on negated templates; the others
        "descriptive").
    """
    cvs, summaries, gains = [], [], []
    kw = {"n_perm": n_perm, "n_boot": n_boot, "seed": seed}
    for scale, d in data.items():
        for experiment in families.GROUPS:
            cv = families.family_cv(d, experiment, features, layers, n_splits, inner_splits, seed, VARIANTS)
            cvs.append(cv.assign(scale=scale))
            summaries.append(families.family_summary(cv, n_boot, seed).assign(scale=scale))
            rows = [("transfer", "chance", "negated", families.chance_gain(cv, "transfer", experiment, **kw))]
            against = ("additive", "uncomposed", "oracle") if experiment == "E1" else ("additive", "uncomposed")
            rows += [("centred", b, part, families.paired_gain(cv, "centred", b, experiment, negated=negated, **kw))
                     for b in against for part, negated in (("all", None), ("negated", True))]
            for probe, baseline, part, gain in rows:
                claim = scale == "valence" and experiment == "E1" and probe == "transfer"
                verdict, reason = families.decide_gain(gain) if claim else ("descriptive", "")
                gains.append({"scale": scale, "experiment": experiment, "probe": probe, "against": baseline,
                              "rows": part, **gain, "verdict": verdict, "reason": reason})
    front = ["scale", "experiment", "variant", "layer"]
    summary = pd.concat(summaries, ignore_index=True)
    return ProbeInference(pd.concat(cvs, ignore_index=True), summary[front + [c for c in summary if c not in front]],
                          pd.DataFrame(gains))


def valence_row(gains: pd.DataFrame) -> pd.Series:
    """The claim's row of :attr:`ProbeInference.gains` (valence, E1, the plain-template probe against chance on
    negated templates)."""
    mask = ((gains["experiment"] == "E1") & (gains["probe"] == "transfer") & (gains["against"] == "chance")
            & (gains.get("scale", pd.Series("valence", index=gains.index)) == "valence"))
    if not mask.any():
        raise ValueError("gains hold no valence E1 row of the transfer against chance")
    return gains[mask].iloc[0]


def nested_layer(cv: pd.DataFrame, scale: str = "valence", experiment: str = "E1", variant: str = "centred") -> int:
    """The layer the inner cross-validation chose most often for ``variant`` (ties: the lower layer)."""
    rows = cv[(cv["scale"] == scale) & (cv["experiment"] == experiment) & (cv["variant"] == variant)
              & (cv["layer"].astype(str) == "nested")]
    if rows.empty:
        raise ValueError(f"cv holds no nested rows of {variant!r} at {scale}, {experiment}")
    per_fold = rows.groupby("fold")["chosen"].first()
    counts = per_fold.value_counts()
    return int(min(counts[counts == counts.max()].index))


def memorisation_table(summary: pd.DataFrame) -> pd.DataFrame:
    """E3 only (in-distribution prompts, drawn by key), from :func:`emolib.emollm.probes.summarise` of the repeated
    grouped splits: each variant's best-layer mean accuracy beside the random-label control, which can only
    memorise adjectives. A memorisation check, not a generalisation test.

    Returns:
        Index (scale, features, variant); columns ``layer`` (the variant's best E3 layer, descriptive), ``accuracy``,
        ``ci_low``, ``ci_high``.
    """
    e3 = summary[(summary["experiment"] == "E3") & (summary["layer"].astype(str) != "all")]
    if e3.empty:
        raise ValueError("summary holds no E3 rows")
    best = e3.loc[e3.groupby(["scale", "features", "variant"], sort=False)["accuracy"].idxmax()]
    return best.set_index(["scale", "features", "variant"])[["layer", "accuracy", "ci_low", "ci_high"]]


def accuracy_table(summary: pd.DataFrame, scale: str = "valence") -> pd.DataFrame:
    """The nested-layer accuracies of one scale as "mean [low, high]" cells: rows (experiment, variant), columns all /
    negated / plain templates."""
    rows = summary[(summary["scale"] == scale) & (summary["layer"].astype(str) == "nested")]
    cell = lambda a, lo, hi: f"{a:.3f} [{lo:.3f}, {hi:.3f}]" if np.isfinite(a) else ""  # noqa: E731
    table = pd.DataFrame({
        "all templates": [cell(*r) for r in rows[["accuracy", "ci_low", "ci_high"]].to_numpy()],
        "negated": [cell(*r) for r in rows[["negated", "negated_low", "negated_high"]].to_numpy()],
        "plain": [cell(*r) for r in rows[["plain", "plain_low", "plain_high"]].to_numpy()],
        "families": rows["n_families"].to_numpy()}, index=pd.MultiIndex.from_frame(rows[["experiment", "variant"]]))
    return table


__all__ += ["accuracy_table"]


def gains_for_display(gains: pd.DataFrame) -> pd.DataFrame:
    """:attr:`ProbeInference.gains` as a narrow table: the gain and its interval in one cell, the verdict with its
    reason.

    Example:
        >>> row = {"scale": "valence", "experiment": "E1", "probe": "transfer", "against": "chance", "rows": "negated",
        ...        "gain": -0.006, "ci_low": -0.047, "ci_high": 0.034, "p": 0.63, "p_shift": 1e-4, "power": 0.99,
        ...        "n_families": 169, "verdict": "does not hold", "reason": ""}
        >>> gains_for_display(pd.DataFrame([row])).iloc[0]["gain [95% CI]"]
        '-0.006 [-0.047, +0.034]'
    """
    table = gains[["scale", "experiment", "probe", "against", "rows"]].copy()
    table["gain [95% CI]"] = [f"{g:+.3f} [{lo:+.3f}, {hi:+.3f}]" for g, lo, hi in
                              gains[["gain", "ci_low", "ci_high"]].to_numpy()]
    table[["p", "p_shift", "power"]] = gains[["p", "p_shift", "power"]].round(4)
    table["families"] = gains["n_families"]
    table["verdict"] = [v + (f" ({r})" if r else "") for v, r in zip(gains["verdict"], gains["reason"].fillna(""))]
    return table


__all__ += ["gains_for_display"]
