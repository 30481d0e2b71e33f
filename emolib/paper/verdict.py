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

import numpy as np
import pandas as pd

from emolib.emotions import ATTRIBUTES
from emolib.paper import mask_inference as mi
from emolib.paper import power as pw
from emolib.paper.claims import CHANCE_FLOOR, CLAIM_TESTS, Evidence, claim_rows, run_evidence
from emolib.stats import POWER_TARGET, decide, holm
from emolib.tables import format_p_value

__all__ = ["CLAIMS", "VERDICTS", "COLUMNS", "POWER_TARGET", "CHANCE_FLOOR", "Evidence", "holm", "decide", "judge", "orient",
           "claim_rows", "error_rates", "verdict_table", "verdict", "run_evidence", "findings", "other_k_sentence",
           "for_display"]

#: The claims of the verdict, in the order of the table.
CLAIMS = {
    "inference": "emotion inference above chance (held-out accuracy minus the majority share, emotions as units)",
    "units_paper": "units that track an attribute, the paper's criterion (q < .01), against its permutation null",
    "units_fwer": "units that track an attribute, family-wise over all units and attributes (global max-tau test)",
    "masks_random": "attribute masks hurt more than layer-matched random masks (extra accuracy lost > 0, masks as units)",
    "masks_sham": "attribute masks hurt more than sham-attribute masks (extra accuracy lost > 0, masks as units)",
    "weights": "damage follows the human attribute weights (rho > 0, attributes as units)",
}
VERDICTS = ("holds", "does not hold", "cannot tell")
COLUMNS = ["claim", "k", "measure", "released_roberta", "released_verdict", "value", "ci_low", "ci_high", "p",
           "p_holm", "power", "paper_at_design", "null_control", "test", "verdict", "reason", "survives_cooccurrence"]
_MASK_CLAIMS = ("masks_random", "masks_sham", "weights")


def judge(rows: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Holm across the claims at the pre-specified k (the "no effect" p values, and separately the "as large as the
    paper's" ones), then :func:`decide` per row; descriptive rows stay "descriptive".

    Returns:
        ``rows`` with ``p_holm``, ``verdict``, ``reason`` and ``test``.
    """
    table = rows.copy()
    main = ~table["descriptive"].to_numpy(bool)
    table["p_holm"] = np.nan
    table.loc[main, "p_holm"] = holm(table.loc[main, "p"])
    p_shift_holm = np.full(len(table), np.nan)
    p_shift_holm[main] = holm(table.loc[main, "p_shift"])
    labels, reasons = [], []
    for i, row in enumerate(table.itertuples(index=False)):
        if not main[i]:
            labels.append("descriptive")
            reasons.append(row.reason)
            continue
        label, reason = decide(row.p_holm, p_shift_holm[i], row.power, alpha, row.reason)
        if label == "cannot tell" and row.reason_if_not_held and not row.reason:
            reason = row.reason_if_not_held
        labels.append(label)
        reasons.append(reason)
    table["verdict"], table["reason"] = labels, reasons
    table["test"] = table["claim"].map(CLAIM_TESTS)
    table = orient(table)
    if "survives_cooccurrence" in table:  # a control of a claim that holds; nothing to survive otherwise
        moot = (table["verdict"] != "holds") & (table["survives_cooccurrence"] != "n/a")
        table.loc[moot, "survives_cooccurrence"] = "n/a (" + table.loc[moot, "verdict"] + ")"
    return table.drop(columns=["reason_if_not_held"])


def orient(rows: pd.DataFrame) -> pd.DataFrame:
    """The masking claims' numbers in the book's sign convention (:data:`emolib.wording.MASKING_CONVENTION`):
    ``value``, its CI and ``paper_at_design`` of ``masks_random``/``masks_sham`` become the extra accuracy lost
    (control minus attribute accuracy; positive: the attribute masks cost more), those of ``weights`` rho of the
    extra loss with the human weights (positive: heavier attributes lose more). The tests (one-sided for the
    paper's direction) are unchanged; the claim rows compute attribute minus control, so each number flips sign.

    Example:
        >>> rows = pd.DataFrame({"claim": ["masks_random", "inference"], "measure": ["attribute - sham accuracy",
        ...                      "mean test accuracy"], "value": [-0.03, 0.7], "ci_low": [-0.05, 0.6],
        ...                      "ci_high": [-0.01, 0.8], "paper_at_design": [-0.029, 0.8]})
        >>> orient(rows)[["measure", "value", "ci_low", "ci_high", "paper_at_design"]].values.tolist()[0]
        ['extra accuracy lost (sham - attribute)', 0.03, 0.01, 0.05, 0.029]
    """
    table = rows.copy()
    flip = table["claim"].isin(_MASK_CLAIMS).to_numpy()
    if not flip.any():
        return table
    for column in ("value", "paper_at_design"):
        if column in table:
            table.loc[flip, column] = -table.loc[flip, column].astype(float)
    if {"ci_low", "ci_high"} <= set(table.columns):
        low, high = table.loc[flip, "ci_low"].astype(float), table.loc[flip, "ci_high"].astype(float)
        table.loc[flip, "ci_low"], table.loc[flip, "ci_high"] = -high, -low
    if "measure" in table:
        def measure(claim, text):
            if claim == "weights":
                return "rho of the extra loss with the human weights"
            if claim in _MASK_CLAIMS and isinstance(text, str) and text.startswith("attribute - "):
                control = text[len("attribute - "):].removesuffix(" accuracy")
                return f"extra accuracy lost ({control} - attribute)"
            return text
        table["measure"] = [measure(c, t) for c, t in zip(table["claim"], table["measure"])]
    return table


def error_rates(table: pd.DataFrame, n_sim: int = 300, seed: int = 0) -> pd.DataFrame:
    """How often the rule's masking verdicts say what at this table's design: each masking claim whose "does not
    hold" side has a design (the table's ``attrs["design"]``) simulated under no effect and under the paper's effect
    as this design measures it, judged by :func:`decide` at the claim's Bonferroni level (Holm's strictest step,
    so the real rule says "holds" no less often). The simulation uses the same model as the power, so it shows what
    the rule does at this design, not whether that model is right.

    Returns:
        ``claim, truth`` (``"no effect"`` or ``"paper's effect"``) and the share of each verdict.
    """
    design = table.attrs.get("design", {})
    m = design.get("n_claims", len(CLAIMS))
    rng = np.random.default_rng(seed)
    rows = []
    d = design.get("masks_random")
    if d is not None:
        na, nb = max(int(round(d["n_a"])), 2), int(d["n_b"])
        for truth, delta in (("no effect", 0.0), ("paper's effect", d["delta"])):
            labels = []
            for _ in range(n_sim):
                t = mi.welch_test(delta + d["sd_a"] * rng.standard_normal(na), d["sd_b"] * rng.standard_normal(nb),
                                  shift=d["delta"])
                labels.append(decide(min(1.0, t.p * m), min(1.0, t.p_shift * m), d["power"])[0])
            rows.append(("masks_random", truth, *[np.mean([v == label for v in labels]) for label in VERDICTS]))
    d = design.get("weights")
    if d is not None:
        for truth, rho in (("no effect", 0.0), ("paper's effect", d["rho"])):
            sim = pw.weights_design(rho, d["components"], d["weights"], d["n_emotions"], d["n_seeds"],
                                    shared=d["shared"])
            damage = pw.simulate_damage(sim, n_sim, rng)
            labels = []
            for s in range(n_sim):
                t = mi.weight_test(damage[s], d["weights"], shift=d["rho"], n_perm=999, n_boot=1000, seed=s)
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
        released: released RoBERTa judged by the same rule (:func:`emolib.reproduce.released_verdict`), or None.
        weight_boot: the human weights' bootstrap ``[B, 14]`` (None: the weights taken as fixed).
        released_data: ``(masked, unmasked, excess)`` of released RoBERTa, for the paper's effects at this run's
            design and the powers (:func:`emolib.reproduce.released_design_inputs`).
    """
    weights = run.human_tau.reindex(list(ATTRIBUTES))
    mine = judge(claim_rows(run_evidence(run), weights, weight_boot, released_data, run.masking.verdict_k, alpha,
                            n_perm=run.masking.n_perm), alpha)
    null = None
    if control is not None:
        null = judge(claim_rows(run_evidence(run, control), weights, weight_boot, None, run.masking.verdict_k, alpha,
                                n_perm=run.masking.n_perm, with_power=False), alpha)
    return verdict_table(mine, released, null)


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


def for_display(table: pd.DataFrame, part: str = "results") -> pd.DataFrame:
    """The verdict table as a page shows it, in two tables that fit a column: ``"results"`` (the numbers and the
    verdict: counts as integers, other numbers to 3 decimals, the interval in one column, blanks for NaN) and
    ``"reasons"`` (each judged claim's test, the reason for its verdict and the co-occurrence control).

    Example:
        >>> t = pd.DataFrame({"claim": ["units_paper", "masks_random"], "k": pd.array([None, 4000], dtype="Int64"),
        ...                   "value": [20795.0, -0.0241], "ci_low": [np.nan, -0.05], "ci_high": [np.nan, 0.01],
        ...                   "null_control": [14784.0, np.nan], "verdict": ["cannot tell", "holds"]})
        >>> for_display(t)[["k", "value", "95 % CI", "null control"]].values.tolist()
        [['', '20,795', '', '14,784'], ['4,000', '-0.024', '-0.050 to 0.010', '']]
        >>> list(for_display(t, "reasons").columns)
        ['claim', 'k', 'verdict']
    """
    if part not in ("results", "reasons"):
        raise ValueError(f"unknown part {part!r}; valid choices: results, reasons")
    if part == "reasons":
        judged = table[table["verdict"] != "descriptive"] if "verdict" in table else table
        columns = [c for c in ("claim", "k", "verdict", "test", "reason", "survives_cooccurrence") if c in judged]
        out = judged[columns].astype(object).where(judged[columns].notna(), "")
        if "k" in out:
            out["k"] = ["" if pd.isna(k) else f"{int(k):,}" for k in judged["k"]]
        renamed = out.rename(columns={"survives_cooccurrence": "survives the co-occurrence control"})
        return renamed.reset_index(drop=True)
    counts = table["claim"].isin(["units_paper", "units_fwer"])
    columns = [c for c in ("claim", "k", "released_roberta", "released_verdict", "value", "ci_low", "p_holm", "power",
                           "paper_at_design", "null_control", "verdict") if c in table]
    out = table[columns].astype(object)
    for column in ("released_roberta", "value", "p_holm", "power", "paper_at_design", "null_control"):
        if column in out:
            out[column] = [("" if pd.isna(v) else format_p_value(v) if column == "p_holm" else f"{v:,.0f}"
                            if is_count and column in ("released_roberta", "value", "null_control") else f"{v:.3f}")
                           for v, is_count in zip(table[column], counts)]
    if "ci_low" in out:
        out["ci_low"] = ["" if pd.isna(lo) or pd.isna(hi) else f"{lo:.3f} to {hi:.3f}"
                         for lo, hi in zip(table["ci_low"], table["ci_high"])]
    if "k" in out:
        out["k"] = ["" if pd.isna(k) else f"{int(k):,}" for k in table["k"]]
    if "released_verdict" in out:
        out["released_verdict"] = out["released_verdict"].where(table["released_verdict"].notna(), "")
    out = out.replace(r"(?<![\d.])-(0\.0+)(?![\d])", r"\1", regex=True)  # a value rounded to zero has no sign
    return out.rename(columns={"released_roberta": "released RoBERTa", "released_verdict": "released verdict",
                               "null_control": "null control", "ci_low": "95 % CI", "p_holm": "p (Holm)",
                               "paper_at_design": "paper at this design"}).reset_index(drop=True)
