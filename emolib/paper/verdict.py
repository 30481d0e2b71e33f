"""The verdict: which of the paper's claims hold on a backbone, with tests at the right unit and known error rates.

One row per claim (:data:`CLAIMS`) at the pre-specified mask size (the paper's 4,000 of 36,864 units, as a
fraction of the backbone's units); other evaluated mask sizes are descriptive rows. Each claim has a valid
test (:mod:`emolib.paper.mask_inference`, the searchlight's permutation null), Holm's correction across the
claims, a power from the run's own variance components (:mod:`emolib.paper.power`), and the same rule applied
to released RoBERTa in a column of its own:

- **holds**: the claim's test rejects "no effect" at alpha after Holm;
- **does not hold**: the effect is reliably smaller than the paper's effect re-measured at this design (an
  inferiority test at alpha after Holm) *and* the design had power >= .8 to see that effect;
- **cannot tell**: everything else, with the reason (too little power, neither test significant, no
  design-matched effect for a count, prompts near chance).

Example:
    >>> decide(p_holm=0.01, p_shift_holm=np.nan, power=0.3)
    ('holds', '')
    >>> decide(p_holm=0.4, p_shift_holm=0.01, power=0.9)
    ('does not hold', '')
    >>> decide(p_holm=0.4, p_shift_holm=0.01, power=0.5)[0]
    'cannot tell'
    >>> holm([0.01, 0.04, 0.03]).round(2).tolist()
    [0.03, 0.06, 0.06]
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from emolib.emotions import ATTRIBUTES
from emolib.paper import mask_inference as mi
from emolib.paper import power as pw
from emolib.paper.units import resolve_k
from emolib.profiles import PAPER_UNITS

__all__ = ["CLAIMS", "VERDICTS", "COLUMNS", "POWER_TARGET", "CHANCE_FLOOR", "Evidence", "holm", "decide",
           "claim_rows", "error_rates", "verdict_table", "verdict", "run_evidence", "findings", "other_k_sentence",
           "for_display"]

#: The claims of the verdict, in the order of the table.
CLAIMS = {
    "inference": "emotion inference above chance (dev accuracy minus the majority share, emotions as units)",
    "units_paper": "units that track an attribute, the paper's criterion (q < .01), against its permutation null",
    "units_fwer": "units that track an attribute, family-wise over all units and attributes (global max-tau test)",
    "masks_random": "attribute masks hurt more than layer-matched random masks (masks as units)",
    "masks_sham": "attribute masks hurt more than sham-attribute masks (masks as units)",
    "weights": "damage follows the human attribute weights (mean rho < 0, attributes as units)",
}
VERDICTS = ("holds", "does not hold", "cannot tell")
COLUMNS = ["claim", "k", "measure", "released_roberta", "released_verdict", "value", "ci_low", "ci_high", "p",
           "p_holm", "power", "paper_at_design", "null_control", "test", "verdict", "reason"]
#: The power a design needs before its verdict may say "does not hold".
POWER_TARGET = 0.8
#: Below this mean dev accuracy the prompts hardly solve the task, so masking cannot show a drop.
CHANCE_FLOOR = 0.6
_MASK_CLAIMS = ("masks_random", "masks_sham", "weights")
_TESTS = {
    "inference": "one-sided t over emotions (accuracy minus majority share)",
    "units_paper": "label-permutation p of the paper's unit count",
    "units_fwer": "global max-tau permutation test",
    "masks_random": "studentised permutation of mask labels",
    "masks_sham": "studentised permutation of mask labels",
    "weights": "permutation of the weights over attributes; bootstrap CI",
}


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
           reason: str = "") -> tuple[str, str]:
    """The verdict and, for "cannot tell", its reason (see the module docstring)."""
    if np.isfinite(p_holm) and p_holm < alpha:
        return "holds", ""
    if reason:
        return "cannot tell", reason
    if np.isfinite(p_shift_holm) and p_shift_holm < alpha:
        if np.isfinite(power) and power >= POWER_TARGET:
            return "does not hold", ""
        return "cannot tell", (f"smaller than the paper's effect, but the design had power {power:.2f} < "
                               f"{POWER_TARGET} to see it")
    if np.isfinite(power) and power < POWER_TARGET:
        return "cannot tell", f"power {power:.2f} < {POWER_TARGET} to see the paper's effect at this design"
    if not np.isfinite(power):
        return "cannot tell", "not significant; no design-matched effect of the paper to rule out"
    return "cannot tell", "neither the effect nor its absence is significant"


@dataclass
class Evidence:
    """What one set of results says about the claims (a backbone's run, its null control, or released RoBERTa).

    Attributes:
        accuracy: unmasked dev accuracy per prompt (``emotion, seed, accuracy``).
        chance: the majority share of each prompt's dev task (``emotion, seed, chance``).
        searchlight: a :class:`~emolib.rsa.SearchlightResult` (with a permutation null for the count rows).
        masked: masked rows (``emotion, seed, condition, attribute, k, draw, accuracy``) or None.
        n_examples: dev examples per prompt under the masks.
        n_units: the backbone's units.
    """

    accuracy: pd.DataFrame
    chance: pd.DataFrame
    searchlight: object
    masked: pd.DataFrame | None
    n_examples: float
    n_units: int
    extra: dict = field(default_factory=dict)


def _inference(ev: Evidence) -> dict:
    table = ev.accuracy.merge(ev.chance, on=["emotion", "seed"], how="left")
    above = (table["accuracy"] - table["chance"]).groupby(table["emotion"]).mean().to_numpy()  # [E]
    n = len(above)
    mean, sd = float(above.mean()), float(above.std(ddof=1)) if n > 1 else np.nan
    se = sd / np.sqrt(n) if n > 1 else np.nan
    half = stats.t.ppf(0.975, n - 1) * se if n > 1 else np.nan
    p = float(stats.t.sf(mean / se, n - 1)) if n > 1 and se > 0 else np.nan
    return {"value": float(table["accuracy"].mean()), "excess": mean, "sd": sd, "n": n, "ci_low": mean - half,
            "ci_high": mean + half, "p": p, "chance": float(table["chance"].mean())}


def _counts(ev: Evidence, alpha: float) -> dict[str, dict]:
    result = ev.searchlight
    out = {"units_paper": {"value": int(result.with_correction("paper", 0.01).significant.any(axis=1).sum()),
                           "p": np.nan}, "units_fwer": {"value": np.nan, "p": np.nan}}
    null = getattr(result, "permutation", None)
    if null is not None:
        out["units_paper"]["p"] = null.count_p
        out["units_fwer"] = {"value": int((null.fwer_p_all < alpha).any(axis=1).sum()), "p": null.global_p}
    return out


def _mask_claims(ev: Evidence, k: int, weights: pd.Series, weight_boot: np.ndarray | None, paper: dict | None,
                 n_perm: int, seed: int) -> dict[str, dict]:
    out: dict[str, dict] = {}
    table = mi.mask_table(ev.masked, k)
    attr = table[table["condition"] == "selective"]["accuracy"].to_numpy()
    shift = paper["delta"] if paper else None
    matched = "matched" if (table["condition"] == "matched").any() else "random"
    for claim, condition in (("masks_random", matched), ("masks_sham", "sham")):
        ref = table[table["condition"] == condition]["accuracy"].to_numpy()
        if len(attr) < 2 or len(ref) < 2:
            out[claim] = {"value": np.nan, "p": np.nan, "n_ref": len(ref)}
            continue
        t = mi.condition_test(attr, ref, shift=shift, n_perm=n_perm, seed=seed)
        out[claim] = {"value": t.estimate, "ci_low": t.ci_low, "ci_high": t.ci_high, "p": t.p,
                      "p_shift": t.p_shift, "n_ref": len(ref), "sd": float(np.sqrt((t.sd_a**2 + t.sd_b**2) / 2))}
    damage = mi.per_emotion_damage(ev.masked, k, list(weights.index))
    wt = mi.weight_test(damage, weights.to_numpy(), weight_boot, shift=paper["rho"] if paper else None,
                        n_perm=n_perm, seed=seed)
    out["weights"] = {"value": wt.rho, "ci_low": wt.ci_low, "ci_high": wt.ci_high, "p": wt.p,
                      "p_shift": wt.p_shift}
    return out


def claim_rows(ev: Evidence, weights: pd.Series, weight_boot: np.ndarray | None = None,
               released: tuple | None = None, verdict_k: float = 4000 / PAPER_UNITS, alpha: float = 0.05,
               n_perm: int = 4999, seed: int = 0, with_power: bool = True) -> pd.DataFrame:
    """The verdict rows of one set of results (without the released and null-control columns).

    Args:
        ev: the results.
        weights: the human attribute weights (index: attributes). weight_boot: their bootstrap ``[B, A]``.
        released: ``(masked, unmasked, accuracy_above_chance)`` of released RoBERTa, for the paper's effects
            at this design (None: no power and no "does not hold").
        verdict_k: the pre-specified mask size (fraction of the units, or a count).
    """
    k = resolve_k(verdict_k, ev.n_units)
    inference = _inference(ev)
    counts = _counts(ev, alpha)
    rows = []
    n_claims = len(CLAIMS)
    masked_ks = sorted(int(v) for v in ev.masked.loc[ev.masked["condition"] == "selective", "k"].unique()) \
        if ev.masked is not None else []
    paper = None
    n_seeds = int(ev.accuracy["seed"].nunique())
    if released is not None and ev.masked is not None and masked_ks:
        rel_masked, rel_unmasked, _ = released
        rel_k = min(rel_masked["k"].unique(), key=lambda v: abs(v / PAPER_UNITS - k / ev.n_units))
        n_random = int((ev.masked[(ev.masked["k"] == k)]["condition"] == "random").groupby(
            [ev.masked["emotion"], ev.masked["seed"]]).sum().max()) if k in masked_ks else 0
        masked_seeds = int(ev.masked["seed"].nunique())
        paper = pw.paper_at_design(rel_masked, rel_unmasked, weights, int(rel_k), masked_seeds, int(ev.n_examples),
                                   max(n_random, 1), seed=seed)
    # inference
    delta_inf = released[2] if released is not None else np.nan
    power_inf = pw.mean_power(delta_inf, inference["sd"], inference["n"], alpha / n_claims) if with_power else np.nan
    se = inference["sd"] / np.sqrt(inference["n"]) if inference["n"] > 1 else np.nan
    p_shift_inf = float(stats.t.cdf((inference["excess"] - delta_inf) / se, inference["n"] - 1)) \
        if np.isfinite(delta_inf) and se > 0 else np.nan
    rows.append({"claim": "inference", "k": np.nan, "measure": "mean dev accuracy",
                 "value": inference["value"], "ci_low": inference["chance"] + inference["ci_low"],
                 "ci_high": inference["chance"] + inference["ci_high"], "p": inference["p"], "p_shift": p_shift_inf,
                 "power": power_inf, "paper_at_design": inference["chance"] + delta_inf})
    for claim, measure in (("units_paper", "units (any attribute)"), ("units_fwer", "units (family-wise)")):
        rows.append({"claim": claim, "k": np.nan, "measure": measure, "value": counts[claim]["value"],
                     "ci_low": np.nan, "ci_high": np.nan, "p": counts[claim]["p"], "p_shift": np.nan,
                     "power": np.nan, "paper_at_design": np.nan,
                     "reason": "a count has no design-matched effect of the paper to rule out"})
    at_chance = inference["value"] < CHANCE_FLOOR
    design: dict = {"alpha_row": alpha / n_claims, "n_claims": n_claims}
    for kk in ([k] if k in masked_ks else []) + [v for v in masked_ks if v != k]:
        mask = _mask_claims(ev, kk, weights, weight_boot, paper if kk == k else None, n_perm, seed)
        for claim in _MASK_CLAIMS:
            m = mask[claim]
            row = {"claim": claim, "k": float(kk), "measure": "mean rho" if claim == "weights" else
                   "attribute - control accuracy", "value": m["value"], "ci_low": m.get("ci_low", np.nan),
                   "ci_high": m.get("ci_high", np.nan), "p": m["p"], "p_shift": m.get("p_shift", np.nan),
                   "power": np.nan, "paper_at_design": np.nan}
            if kk != k:
                row["reason"] = "descriptive: not the pre-specified mask size"
            elif at_chance:
                row["reason"] = f"the prompts are near chance (mean dev accuracy < {CHANCE_FLOOR})"
            elif not np.isfinite(m["p"]):
                row["reason"] = "no masks of this kind were evaluated"
            if kk == k and paper is not None:
                row["paper_at_design"] = paper["rho"] if claim == "weights" else paper["delta"]
                if with_power and claim != "weights" and np.isfinite(m.get("sd", np.nan)):
                    row["power"] = pw.masks_power(paper["delta"], m["sd"], 14, m["n_ref"], alpha / n_claims, seed=seed)
                    design[claim] = {"delta": paper["delta"], "sd": m["sd"], "n_a": 14, "n_b": m["n_ref"],
                                     "power": row["power"]}
                elif with_power and claim == "weights":
                    comps = pw.variance_components(ev.masked, kk, ev.n_examples)
                    n_e, n_s = int(ev.masked["emotion"].nunique()), int(ev.masked["seed"].nunique())
                    row["power"] = pw.weights_power(paper["rho"], comps, weights.to_numpy(), n_e, n_s,
                                                    alpha=alpha / n_claims, seed=seed)
                    design[claim] = {"rho": paper["rho"], "components": comps, "weights": weights.to_numpy(),
                                     "n_emotions": n_e, "n_seeds": n_s, "power": row["power"]}
            rows.append(row)
    table = pd.DataFrame(rows)
    if "reason" not in table:
        table["reason"] = ""
    table["reason"] = table["reason"].fillna("")
    main = table["k"].isna() | (table["k"] == k)
    table["p_holm"] = np.nan
    table.loc[main, "p_holm"] = holm(table.loc[main, "p"])
    p_shift_holm = np.full(len(table), np.nan)
    p_shift_holm[main.to_numpy()] = holm(table.loc[main, "p_shift"])
    verdicts = []
    for i, row in table.iterrows():
        if not main.iloc[i]:
            verdicts.append(("descriptive", row["reason"]))
            continue
        forced = row["reason"] if row["claim"] in _MASK_CLAIMS and row["reason"] else ""
        label, reason = decide(row["p_holm"], p_shift_holm[i], row["power"], alpha, forced)
        if label == "cannot tell" and not reason:
            reason = row["reason"]
        if label == "cannot tell" and row["claim"] in ("units_paper", "units_fwer"):
            reason = row["reason"]
        verdicts.append((label, reason))
    table["verdict"] = [v for v, _ in verdicts]
    table["reason"] = [r for _, r in verdicts]
    table["test"] = table["claim"].map(_TESTS)
    table["k"] = table["k"].astype("Int64")
    table.attrs["at_chance"] = bool(at_chance)
    table.attrs["paper_at_design"] = paper
    table.attrs["design"] = design
    table.attrs["chance"] = inference["chance"]
    return table.drop(columns="p_shift")


def error_rates(table: pd.DataFrame, n_sim: int = 200, seed: int = 0) -> pd.DataFrame:
    """How often the rule's masking verdicts err at this table's design: each masking claim simulated under no
    effect and under the paper's effect re-measured at the design (the table's ``attrs["design"]``), judged by
    :func:`decide` at the claim's Bonferroni level (Holm's strictest step, so the real rule errs no more).

    Returns:
        ``claim, truth`` (``"no effect"`` or ``"paper's effect"``) and the share of each verdict.
    """
    design = table.attrs.get("design", {})
    m = design.get("n_claims", len(CLAIMS))
    rng = np.random.default_rng(seed)
    rows = []
    for claim in ("masks_random", "masks_sham"):
        d = design.get(claim)
        if d is None:
            continue
        for truth, delta in (("no effect", 0.0), ("paper's effect", d["delta"])):
            labels = []
            for s in range(n_sim):
                t = mi.condition_test(delta + d["sd"] * rng.standard_normal(d["n_a"]),
                                      d["sd"] * rng.standard_normal(d["n_b"]), shift=d["delta"], n_perm=199,
                                      seed=s, interval=False)
                labels.append(decide(min(1.0, t.p * m), min(1.0, t.p_shift * m), d["power"])[0])
            rows.append((claim, truth, *[np.mean([v == label for v in labels]) for label in VERDICTS]))
    d = design.get("weights")
    if d is not None:
        for truth, rho in (("no effect", 0.0), ("paper's effect", d["rho"])):
            sim = pw.weights_design(rho, d["components"], d["weights"], d["n_emotions"], d["n_seeds"])
            damage = pw.simulate_damage(sim, n_sim, rng)
            labels = []
            for s in range(n_sim):
                t = mi.weight_test(damage[s], d["weights"], shift=d["rho"], n_perm=199, n_boot=200, seed=s)
                labels.append(decide(min(1.0, t.p * m), min(1.0, t.p_shift * m), d["power"])[0])
            rows.append(("weights", truth, *[np.mean([v == label for v in labels]) for label in VERDICTS]))
    return pd.DataFrame(rows, columns=["claim", "truth", *VERDICTS])


def verdict_table(mine: pd.DataFrame, released: pd.DataFrame | None = None,
                  null: pd.DataFrame | None = None) -> pd.DataFrame:
    """Join a backbone's rows with released RoBERTa's (value and verdict) and the null control's value."""
    table = mine.copy()

    def lookup(other: pd.DataFrame | None, column: str) -> list:
        if other is None:
            return [np.nan] * len(table)
        values = []
        for _, row in table.iterrows():
            same = other[other["claim"] == row["claim"]]
            if pd.notna(row["k"]):
                same = same[same["k"].notna()]
                same = same.iloc[(same["k"].astype(float) - float(row["k"])).abs().argsort()[:1]] if len(same) else same
            values.append(same[column].iloc[0] if len(same) else np.nan)
        return values

    table["released_roberta"] = lookup(released, "value")
    table["released_verdict"] = lookup(released, "verdict")
    table["null_control"] = lookup(null, "value")
    out = table[COLUMNS]
    out.insert(1, "statement", out["claim"].map(CLAIMS))
    out.attrs.update(mine.attrs)
    return out


def verdict(run, control=None, released: pd.DataFrame | None = None, weight_boot: np.ndarray | None = None,
            released_data: tuple | None = None, alpha: float = 0.05) -> pd.DataFrame:
    """The verdict table of a :class:`~emolib.paper.pipeline.PaperRun` (columns ``statement`` + :data:`COLUMNS`).

    Args:
        run: the backbone's run. control: its :class:`~emolib.paper.control.NullControl` (or None).
        released: released RoBERTa's rows (:func:`emolib.reproduce.released_verdict`), or None.
        weight_boot: the human weights' bootstrap ``[B, 14]`` (None: the weights taken as fixed).
        released_data: ``(masked, unmasked, excess accuracy)`` of released RoBERTa, for the paper's effects
            at this run's design and the powers (:func:`emolib.reproduce.released_design_inputs`).
    """
    weights = run.human_tau.reindex(list(ATTRIBUTES))
    mine = claim_rows(run_evidence(run), weights, weight_boot, released_data, run.masking.verdict_k, alpha,
                      n_perm=run.masking.n_perm)
    null = None
    if control is not None:
        null = claim_rows(run_evidence(run, control), weights, weight_boot, None, run.masking.verdict_k, alpha,
                          n_perm=run.masking.n_perm, with_power=False)
    return verdict_table(mine, released, null)


def run_evidence(run, control=None) -> Evidence:
    """The :class:`Evidence` of a run (or of its null control)."""
    from emolib.paper import prompts

    settings = prompts.store_settings(run.store)
    source = control if control is not None else run
    table = source.accuracy["dev"]
    unmasked = table[table["condition"] == "none"][["emotion", "seed", "accuracy"]].reset_index(drop=True)
    masked = table[table["condition"] != "none"].reset_index(drop=True)
    chance = pd.DataFrame([(e, int(s), _majority(prompts.task_split(e, int(s), "dev", settings)["label"]))
                           for e, s in unmasked[["emotion", "seed"]].itertuples(index=False)],
                          columns=["emotion", "seed", "chance"])
    n_examples = float(table["n"].iloc[0]) if "n" in table and len(table) else float(settings.dev_size or 0)
    return Evidence(unmasked, chance, source.searchlight, masked, n_examples, len(run.searchlight.tau))


def _majority(labels: pd.Series) -> float:
    share = float(np.mean(labels))
    return max(share, 1 - share)


def findings(table: pd.DataFrame) -> dict[str, dict]:
    """The verdict's main rows (the pre-specified k) as plain dicts by claim, for a chapter's glued prose;
    ``findings(table)["inference"]["chance"]`` is the mean majority share."""
    main = table[table["verdict"] != "descriptive"]
    out = {row["claim"]: {k: (None if (isinstance(v, float) and np.isnan(v)) or v is pd.NA else v)
                          for k, v in row.items()} for _, row in main.iterrows()}
    for row in out.values():  # NaN-free numbers for glue: missing values as NaN floats again
        for key in ("value", "ci_low", "ci_high", "p", "p_holm", "power", "paper_at_design"):
            if row.get(key) is None:
                row[key] = float("nan")
    if "inference" in out:
        out["inference"]["chance"] = float(table.attrs.get("chance", np.nan))
    return out


def other_k_sentence(ks, k: int) -> str:
    """What the page can say about mask sizes other than the pre-specified ``k``.

    Example:
        >>> other_k_sentence([4000], 4000)
        'This run evaluated only the pre-specified k = 4,000, so the figures across k show one point; the paper swept nine k.'
        >>> other_k_sentence([1500, 4000, 6000], 4000)
        'Besides the pre-specified k = 4,000 this run evaluated k = 1,500 and 6,000; those rows are descriptive.'
    """
    others = [int(v) for v in ks if int(v) != int(k)]
    if not others:
        return (f"This run evaluated only the pre-specified k = {int(k):,}, so the figures across k show one point; "
                "the paper swept nine k.")
    listed = ", ".join(f"{v:,}" for v in others[:-1]) + (" and " if len(others) > 1 else "") + f"{others[-1]:,}"
    return f"Besides the pre-specified k = {int(k):,} this run evaluated k = {listed}; those rows are descriptive."


def for_display(table: pd.DataFrame) -> pd.DataFrame:
    """The verdict table as a page shows it: counts as integers, other numbers to 3 decimals, blanks for NaN.

    Example:
        >>> t = pd.DataFrame({"claim": ["units_paper", "masks_random"], "k": pd.array([None, 4000], dtype="Int64"),
        ...                   "value": [20795.0, -0.0241], "null_control": [14784.0, np.nan]})
        >>> for_display(t)[["k", "value", "null control"]].values.tolist()
        [['', '20,795', '14,784'], ['4,000', '-0.024', '']]
    """
    counts = table["claim"].isin(["units_paper", "units_fwer"])
    out = table.drop(columns="claim").astype(object)
    for column in ("released_roberta", "value", "ci_low", "ci_high", "p", "p_holm", "power", "paper_at_design",
                   "null_control"):
        if column in out:
            out[column] = [("" if pd.isna(v) else f"{v:,.0f}" if is_count and column in
                            ("released_roberta", "value", "null_control") else f"{v:.3f}")
                           for v, is_count in zip(table[column], counts)]
    if "k" in out:
        out["k"] = ["" if pd.isna(k) else f"{int(k):,}" for k in table["k"]]
    return out.rename(columns={"released_roberta": "released RoBERTa", "released_verdict": "released verdict",
                               "null_control": "null control", "ci_low": "CI low", "ci_high": "CI high",
                               "p_holm": "p (Holm)", "paper_at_design": "paper at this design"})
