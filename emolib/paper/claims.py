"""The measured value of every claim of the paper, each with its test at its own unit, for the verdict.

:func:`claim_rows` turns one set of results (:class:`Evidence`: a backbone's run, its null control or released
RoBERTa) into one row per claim with the estimate, its interval, the p of "no effect", the p of "as large as the
paper's effect" (the "does not hold" side, where the paper measured that contrast), the power of that design to see
the paper's effect, and the paper's effect as this design would measure it. :mod:`emolib.paper.verdict` corrects
the p values across claims and decides.

- **inference**: held-out (test) accuracy minus each task's majority share, emotions as the units (seeds
  averaged), one-sided t; the prompts were selected on dev, so dev accuracy would be optimistic.
- **units_paper / units_fwer**: the paper's count and the global max-tau test against the label-permutation null
  (a "holds" says some unit tracks some attribute; it does not validate the count itself).
- **masks_random**: each attribute mask against random masks with its own layer profile, a stratified
  permutation (:func:`~emolib.paper.mask_inference.matched_test`); its "does not hold" side compares the attribute
  masks with uniform random masks, the contrast the paper measured, with the attribute masks' overlap counted
  (:func:`~emolib.paper.mask_inference.welch_test`).
- **masks_sham**: attribute masks against sham-attribute masks (same selection, shuffled meaning), both sides'
  overlaps counted; the paper ran no sham masks, so this claim can hold or not be told, never "not hold".
- **weights**: the attribute permutation of the human weights, bootstrap interval (attributes, emotions, raters).

Example:
    >>> sorted(CLAIM_TESTS)
    ['inference', 'masks_random', 'masks_sham', 'units_fwer', 'units_paper', 'weights']
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from emolib.paper import mask_inference as mi
from emolib.paper import power as pw
from emolib.paper.units import resolve_k
from emolib.profiles import PAPER_UNITS

__all__ = ["CLAIM_TESTS", "Evidence", "claim_rows", "run_evidence", "majority_share"]

#: What tests each claim (the table's ``test`` column).
CLAIM_TESTS = {
    "inference": "one-sided t over emotions (test accuracy minus majority share)",
    "units_paper": "label-permutation p of the paper's unit count",
    "units_fwer": "global max-tau permutation test",
    "masks_random": "stratified permutation against layer-matched controls",
    "masks_sham": "Welch t over masks, overlap-adjusted",
    "weights": "permutation of the weights over attributes; bootstrap CI",
}
#: Below this mean accuracy the prompts hardly solve the task, so masking cannot show a drop.
CHANCE_FLOOR = 0.6


@dataclass
class Evidence:
    """What one set of results says about the claims (a backbone's run, its null control, or released RoBERTa).

    Attributes:
        accuracy: unmasked accuracy per prompt (``emotion, seed, accuracy``) on ``split``.
        chance: the majority share of each prompt's task on that split (``emotion, seed, chance``).
        searchlight: a :class:`~emolib.rsa.SearchlightResult` (with a permutation null for the count rows).
        masked: masked rows (``emotion, seed, condition, attribute, k, draw, accuracy``) or None.
        n_examples: examples per prompt under the masks.
        n_units: the backbone's units.
        effective: per mask condition, how many independent masks it is worth (:func:`mask_inference.effective_size`).
        split: which split ``accuracy`` is on.
    """

    accuracy: pd.DataFrame
    chance: pd.DataFrame
    searchlight: object
    masked: pd.DataFrame | None
    n_examples: float
    n_units: int
    effective: dict = field(default_factory=dict)
    split: str = "test"


def majority_share(labels) -> float:
    """What always giving the more frequent answer scores on a task.

    Example:
        >>> majority_share([1, 0, 0, 0])
        0.75
    """
    share = float(np.mean(labels))
    return max(share, 1 - share)


def _inference(ev: Evidence, paper_excess: float, alpha_row: float) -> dict:
    table = ev.accuracy.merge(ev.chance, on=["emotion", "seed"], how="left")
    above = (table["accuracy"] - table["chance"]).groupby(table["emotion"]).mean().to_numpy()  # [E]
    n = len(above)
    mean = float(above.mean())
    sd = float(above.std(ddof=1)) if n > 1 else np.nan
    se = sd / np.sqrt(n) if n > 1 else np.nan
    ok = n > 1 and se > 0
    half = stats.t.ppf(0.975, n - 1) * se if ok else np.nan
    chance = float(table["chance"].mean())
    return {"claim": "inference", "k": np.nan, "measure": f"mean {ev.split} accuracy",
            "value": float(table["accuracy"].mean()), "ci_low": chance + mean - half, "ci_high": chance + mean + half,
            "p": float(stats.t.sf(mean / se, n - 1)) if ok else np.nan,
            "p_shift": float(stats.t.cdf((mean - paper_excess) / se, n - 1)) if ok and np.isfinite(paper_excess)
            else np.nan,
            "power": pw.mean_power(paper_excess, sd, n, alpha_row) if np.isfinite(paper_excess) else np.nan,
            "paper_at_design": chance + paper_excess, "chance": chance}


def _counts(ev: Evidence, alpha: float) -> list[dict]:
    result = ev.searchlight
    null = getattr(result, "permutation", None)
    reason = ("a count has no design-matched effect of the paper to rule out" if null is not None
              else "no permutation null was run")
    paper = {"claim": "units_paper", "measure": "units (any attribute, paper's q < .01)",
             "value": int(result.with_correction("paper", 0.01).significant.any(axis=1).sum()),
             "p": null.count_p if null is not None else np.nan}
    fwer = {"claim": "units_fwer", "measure": "units (family-wise over units and attributes)",
            "value": int((null.fwer_p_all < alpha).any(axis=1).sum()) if null is not None else np.nan,
            "p": null.global_p if null is not None else np.nan}
    partial = getattr(result, "partial", None)
    survives = "n/a"
    if partial is not None:  # the global test with the label co-occurrence partialled out (read if the claim holds)
        survives = f"{'yes' if partial['p'] < alpha else 'no'} (max partial r {partial['max_r']:.3f}, p = {partial['p']:.3f})"
    paper["survives_cooccurrence"] = "n/a"
    fwer["survives_cooccurrence"] = survives
    return [{**row, "k": np.nan, "reason_if_not_held": reason} for row in (paper, fwer)]


def _mask_rows(ev: Evidence, k: int, weights: pd.Series, weight_boot, paper: dict | None, alpha_row: float,
               n_perm: int, seed: int, with_power: bool, descriptive: bool, n_boot: int = 2000
               ) -> tuple[list[dict], dict]:
    masked = ev.masked[ev.masked["k"] == k]
    table = mi.mask_table(masked)
    by = {c: table[table["condition"] == c] for c in ("selective", "sham", "matched", "random")}
    attr = by["selective"].set_index("attribute")["accuracy"].reindex(list(weights.index))
    n_eff = ev.effective.get("selective", float(len(attr)))
    rows, design = [], {}
    comps = pw.variance_components(masked, k, ev.n_examples) if with_power and not descriptive else None

    # attribute masks against random masks: matched (holds side), uniform (the paper's contrast, "does not hold")
    row = {"claim": "masks_random", "measure": "attribute - layer-matched random accuracy"}
    uniform = by["random"]["accuracy"].to_numpy()
    shift = paper["delta"] if paper is not None else None
    if len(by["matched"]):
        controls = [by["matched"][by["matched"]["attribute"] == a]["accuracy"].to_numpy() for a in attr.index]
        t = mi.matched_test(attr.to_numpy(), controls, n_perm=n_perm, seed=seed)
    elif len(uniform) >= 2:
        row["measure"] = "attribute - uniform random accuracy"
        t = mi.welch_test(attr.to_numpy(), uniform, n_a=n_eff)
    else:
        t = None
    if t is not None:
        row |= {"value": t.estimate, "ci_low": t.ci_low, "ci_high": t.ci_high, "p": t.p}
    if len(uniform) >= 2 and shift is not None and not descriptive:
        side = mi.welch_test(attr.to_numpy(), uniform, n_a=n_eff, shift=shift)
        row |= {"p_shift": side.p_shift, "paper_at_design": shift, "uniform_difference": side.estimate}
        if with_power:
            row["power"] = pw.masks_power(shift, side.sd_a, side.sd_b, n_eff, len(uniform), alpha_row, seed=seed)
            design["masks_random"] = {"delta": shift, "sd_a": side.sd_a, "sd_b": side.sd_b, "n_a": n_eff,
                                      "n_b": len(uniform), "power": row["power"]}
    elif t is not None and not descriptive:
        row["reason_if_not_held"] = ("no uniform random masks: the paper's contrast, needed to rule its effect "
                                     "out, was not measured")
    rows.append(row)

    # attribute masks against sham-attribute masks: no effect of the paper to rule out
    row = {"claim": "masks_sham", "measure": "attribute - sham accuracy"}
    if len(by["sham"]) >= 2:
        t = mi.welch_test(attr.to_numpy(), by["sham"]["accuracy"].to_numpy(), n_a=n_eff,
                          n_b=ev.effective.get("sham", float(len(by["sham"]))))
        row |= {"value": t.estimate, "ci_low": t.ci_low, "ci_high": t.ci_high, "p": t.p,
                "reason_if_not_held": "the paper ran no sham masks: no effect of the paper to rule out"}
    else:
        row["reason_if_not_held"] = "no sham masks were evaluated"
    rows.append(row)

    # damage against the human weights
    damage = mi.per_emotion_damage(masked, k, list(weights.index))
    wt = mi.weight_test(damage, weights.to_numpy(), weight_boot, shift=paper["rho"] if paper else None,
                        n_perm=n_perm, n_boot=n_boot, seed=seed)
    row = {"claim": "weights", "measure": "mean rho", "value": wt.rho, "ci_low": wt.ci_low, "ci_high": wt.ci_high,
           "p": wt.p, "p_shift": wt.p_shift if not descriptive else np.nan}
    if paper is not None and not descriptive:
        row["paper_at_design"] = paper["rho"]
        if with_power:
            shared = pw.between_mask_variance(masked, k, "sham", comps["residual"])
            if not np.isfinite(shared):  # no shams: the attribute masks' own spread (it includes any real effect)
                shared = pw.between_mask_variance(masked, k, "selective", comps["residual"])
            n_e, n_s = int(masked["emotion"].nunique()), int(masked["seed"].nunique())
            row["power"] = pw.weights_power(paper["rho"], comps, weights.to_numpy(), n_e, n_s, alpha=alpha_row,
                                            seed=seed, shared=shared)
            design["weights"] = {"rho": paper["rho"], "components": comps, "weights": weights.to_numpy(),
                                 "n_emotions": n_e, "n_seeds": n_s, "shared": shared, "power": row["power"]}
    rows.append(row)
    return [{**r, "k": float(k)} for r in rows], design


def claim_rows(ev: Evidence, weights: pd.Series, weight_boot: np.ndarray | None = None,
               released: tuple | None = None, verdict_k: float = 4000 / PAPER_UNITS, alpha: float = 0.05,
               n_perm: int = 4999, seed: int = 0, with_power: bool = True, paper: dict | None = None,
               powers: dict | None = None, n_boot: int = 2000) -> pd.DataFrame:
    """One row per claim of one set of results (before Holm and the decision; :func:`emolib.paper.verdict.judge`).

    Args:
        ev: the results.
        weights: the human attribute weights (index: attributes). weight_boot: their bootstrap ``[B, A]``.
        released: ``(masked, unmasked, excess)`` of released RoBERTa (:func:`emolib.reproduce.released_design_inputs`),
            for the paper's effects at this design; None: no power and no "does not hold".
        verdict_k: the pre-specified mask size (fraction of the units, or a count); other evaluated sizes are
            descriptive rows.
        paper: the paper's effects at this design, if already known (``delta``, ``rho``; skips recomputing them).
        powers: the power of each claim, if already known (claim -> power; skips the power simulations).

    Returns:
        Columns ``claim, k, measure, value, ci_low, ci_high, p, p_shift, power, paper_at_design, reason`` (``reason``:
        why the row could only be "cannot tell" if it does not hold), ``descriptive``; ``attrs``: ``design`` (what
        :func:`emolib.paper.verdict.error_rates` simulates), ``paper_at_design``, ``chance``, ``at_chance``.
    """
    k = resolve_k(verdict_k, ev.n_units)
    n_claims = len(CLAIM_TESTS)
    alpha_row = alpha / n_claims  # Holm's strictest step: the power is never overstated by the correction
    selective_ks = (sorted(int(v) for v in ev.masked.loc[ev.masked["condition"] == "selective", "k"].unique())
                    if ev.masked is not None else [])
    if paper is None and released is not None and k in selective_ks:
        rel_masked, rel_unmasked, _ = released
        rel_k = int(min(rel_masked["k"].unique(), key=lambda v: abs(v / PAPER_UNITS - k / ev.n_units)))
        at_k = ev.masked[ev.masked["k"] == k]
        n_random = int((at_k["condition"] == "random").groupby([at_k["emotion"], at_k["seed"]]).sum().max())
        shared = pw.variance_components(at_k, k, ev.n_examples)["shared"]
        paper = pw.paper_at_design(rel_masked, rel_unmasked, weights, rel_k, int(at_k["seed"].nunique()),
                                   int(ev.n_examples), max(n_random, 1), seed=seed, shared=shared)
    excess = released[2] if released is not None else np.nan
    inference = _inference(ev, excess, alpha_row)
    rows = [inference, *_counts(ev, alpha)]
    design: dict = {"alpha_row": alpha_row, "n_claims": n_claims}
    at_chance = inference["value"] < CHANCE_FLOOR
    for kk in ([k] if k in selective_ks else []) + [v for v in selective_ks if v != k]:
        mask_rows, mask_design = _mask_rows(ev, kk, weights, weight_boot, paper if kk == k else None, alpha_row,
                                            n_perm, seed, with_power and powers is None, descriptive=kk != k,
                                            n_boot=n_boot)
        for row in mask_rows:
            if kk != k:
                row["reason"] = "descriptive: not the pre-specified mask size"
            elif at_chance:
                row["reason"] = f"the prompts are near chance (mean accuracy < {CHANCE_FLOOR})"
        rows += mask_rows
        design |= mask_design
    table = pd.DataFrame(rows)
    for column in ("ci_low", "ci_high", "p", "p_shift", "power", "paper_at_design"):
        if column not in table:
            table[column] = np.nan
    if powers:
        main_k = table["k"].isna() | (table["k"] == k)
        for claim, value in powers.items():
            table.loc[main_k & (table["claim"] == claim), "power"] = value
    for column in ("reason", "reason_if_not_held"):
        table[column] = table[column].fillna("") if column in table else ""
    table["survives_cooccurrence"] = (table["survives_cooccurrence"].fillna("n/a") if "survives_cooccurrence" in table
                                      else "n/a")
    table["descriptive"] = table["k"].notna() & (table["k"] != k)
    table["k"] = table["k"].astype("Int64")
    table.attrs.update({"design": design, "paper_at_design": paper, "chance": inference["chance"],
                        "at_chance": bool(at_chance), "verdict_k": k})
    return table


def run_evidence(run, control=None, split: str = "test") -> Evidence:
    """The :class:`Evidence` of a :class:`~emolib.paper.pipeline.PaperRun` (or of its null control): the inference
    claim on ``split`` (test: the prompts were selected on dev), the masks' effective sizes from their overlap."""
    from emolib.paper import pipeline, prompts

    settings = prompts.store_settings(run.store)
    source = control if control is not None else run
    table = source.accuracy["dev"]
    masked = table[table["condition"] != "none"].reset_index(drop=True)
    accuracy = source.store.accuracy
    accuracy = accuracy[accuracy["split"] == split][["emotion", "seed", "accuracy"]].reset_index(drop=True)
    if accuracy.empty:  # a null store has no accuracies of its own: the masked evaluation's unmasked row
        accuracy = table[table["condition"] == "none"][["emotion", "seed", "accuracy"]].reset_index(drop=True)
        split = "dev (under the masks)"
        eval_settings = pipeline.masked_settings(run.store, run.masking)
        chance_split = "dev"
    else:
        eval_settings, chance_split = settings, split
    chance = pd.DataFrame([(e, int(s), majority_share(prompts.task_split(e, int(s), chance_split, eval_settings)["label"]))
                           for e, s in accuracy[["emotion", "seed"]].itertuples(index=False)],
                          columns=["emotion", "seed", "chance"])
    n_units = len(run.searchlight.tau)
    k = resolve_k(run.masking.verdict_k, n_units)
    masks, index = pipeline.build_masks(source.searchlight, n_units, run.masking)
    dropped = ~masks.numpy()
    effective = {c: mi.effective_size(dropped[(index["condition"] == c).to_numpy() & (index["k"] == k).to_numpy()],
                                      n_units)
                 for c in ("selective", "sham") if ((index["condition"] == c) & (index["k"] == k)).sum() > 1}
    n_examples = float(table["n"].iloc[0]) if "n" in table and len(table) else float(settings.dev_size or 0)
    return Evidence(accuracy, chance, source.searchlight, masked, n_examples, n_units, effective, split)
