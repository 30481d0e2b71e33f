"""The book's summary: the intro's findings table, filled from this build's own verdict.

The backbone chapters *record* what they concluded (:func:`record`): the paper's verdict table of
``backbone_silencing`` and the valence probe of ``valence_arousal``. Under ``emolib book`` the record goes to
``findings.json`` in the build folder, and the intro, which ``emolib book`` executes after every other chapter,
*reads* it (:func:`recorded`) to fill its last column. Outside a book build nothing is recorded and that column
says :data:`PENDING`, so a page never shows a result that this build did not compute.

Example:
    >>> table = intro_table()
    >>> table.shape  # claims x (paper, released data, chosen backbone)
    (7, 3)
    >>> table.iloc[1:, -1].eq(PENDING).all()  # the human row is not a model claim
    np.True_
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from emolib.artifacts import atomic_write_text
from emolib.findings import human_findings

__all__ = ["PENDING", "CLAIM_ROWS", "record", "recorded", "verdict_cells", "structure_cell", "vectors_cell", "valence_cell", "intro_table",
           "released_summary", "backbone_header", "backbone_summary"]

logger = logging.getLogger(__name__)

#: what the backbone column says where this build has no verdict for a claim
PENDING = "pending: run the backbone chapters (`emolib book`)"
#: the file, in the build folder (``EMOLIB_BUILD_DIR``), that chapters record their conclusions in
RECORD_FILE = "findings.json"
#: the intro's rows: id -> (claim with its chapter, what the paper reports)
CLAIM_ROWS = {
    "human": ("Human attributes: the 14 RDMs follow from the raw ratings ({doc}`chapter <human_space>`)",
              "released RDMs"),
    "structure": ("The model's geometry of the 27 emotions resembles human similarity judgments "
                  "({doc}`chapter <backbone_neurons>`; emotion vectors: {doc}`chapter <valence_arousal>`)",
                  "yes, unit by unit (its first claim); the whole-model RDM and the emotion vectors are this book's "
                  "additions"),
    "inference": ("Soft prompts on the frozen model learn to infer each emotion ({doc}`chapter <prompt_tuning>`)",
                  "yes (RoBERTa prompts well above chance)"),
    "units": ("Units whose RDM tracks an attribute ({doc}`chapter <backbone_neurons>`)",
              "units selective for attributes (counts not in the method notes)"),
    "masks": ("Silencing attribute units hurts more than random units ({doc}`chapter <backbone_silencing>`)", "yes"),
    "weights": ("Damage follows the attribute's human weight ({doc}`chapter <backbone_silencing>`)",
                "yes (rho of the extra accuracy lost with the weight > 0)"),
    "valence": ("This book's test of Emo_LLM's probes: negation flips the model's own valence axis, so a probe of "
                "plain templates reads negated ones "
                "({doc}`chapter <valence_arousal>`)",
                "Emo_LLM: probes decode valence and arousal"),
}


def _record_path() -> Path | None:
    build = os.environ.get("EMOLIB_BUILD_DIR")
    return Path(build) / RECORD_FILE if build else None


def record(section: str, cells: Mapping[str, str], backbone: str, profile: str) -> None:
    """Record a chapter's conclusions (claim id -> text) for the intro; a no-op outside ``emolib book``.

    Sections of one build merge; recording a section again replaces it. Returns nothing, so a chapter cell that
    ends with it shows no output (a returned path would print the build machine's staging folder on the page).
    """
    path = _record_path()
    if path is None:
        return
    current = recorded() or {}
    current[section] = {"backbone": str(backbone), "profile": str(profile), "cells": dict(cells)}
    atomic_write_text(path, json.dumps(current, indent=2))
    logger.info("recorded %s for the summary in %s", section, path)


def recorded() -> dict[str, dict] | None:
    """What this build's chapters recorded (``{section: {"backbone", "profile", "cells"}}``), or None."""
    path = _record_path()
    if path is None or not path.exists():
        return None
    return json.loads(path.read_text())


def backbone_header(records: Mapping[str, Mapping] | None) -> str:
    """The backbone column's header: the recorded backbone and profile, e.g. ``gemma3-270m (standard)``."""
    runs = sorted({f"{r['backbone']} ({r['profile']})" for r in (records or {}).values()})
    return "chosen backbone: " + ", ".join(runs) if runs else "chosen backbone"


def _k(value: object) -> str:
    return f"k = {int(value):,}" if pd.notna(value) else ""


def _p(value: object) -> str:
    return "p n/a" if pd.isna(value) else f"Holm p = {float(value):.3f}" if float(value) >= 0.001 else "Holm p < 0.001"


def verdict_cells(table: pd.DataFrame) -> dict[str, str]:
    """The intro's cells for the claims of a verdict table (:func:`emolib.paper.verdict.verdict`): the verdict of
    each claim at the pre-specified k, its value, Holm p and power (descriptive rows are left out).

    Example:
        >>> table = pd.DataFrame({"claim": ["inference", "units_paper", "units_fwer", "masks_random", "masks_sham"],
        ...     "k": [None, None, None, 4000, 4000], "value": [0.71, 20795, 8, -0.024, -0.01],
        ...     "ci_low": [0.66, None, None, -0.04, -0.03], "ci_high": [0.76, None, None, -0.008, 0.01],
        ...     "p_holm": [1e-9, 0.09, 0.02, 0.004, 0.4], "power": [1.0, None, None, 0.9, 0.5],
        ...     "null_control": [0.52, 14784, 1, 0.0, 0.0], "verdict": ["holds", "cannot tell", "holds", "holds",
        ...     "cannot tell"]})
        >>> print(verdict_cells(table)["units"])
        **holds** (family-wise): 8 units (Holm p = 0.020; null prompts: 1); the paper's q: 20,795 units, **cannot tell** (Holm p = 0.090; null prompts: 14,784)
    """
    table = table[table["verdict"] != "descriptive"] if "verdict" in table else table
    rows = {claim: group.iloc[0] for claim, group in table.groupby("claim", sort=False)}
    cells: dict[str, str] = {}

    def power(r) -> str:
        return "" if pd.isna(r.get("power")) else f"; power {float(r['power']):.2f}"

    if "inference" in rows:
        r = rows["inference"]
        measure = r["measure"] if isinstance(r.get("measure"), str) else "mean accuracy"
        null = f"; null prompts {r['null_control']:.3f}" if pd.notna(r.get("null_control")) else ""
        cells["inference"] = (f"**{r['verdict']}**: {measure} {r['value']:.3f} ({r['ci_low']:.3f} to "
                              f"{r['ci_high']:.3f}; {_p(r['p_holm'])}){null}")
    parts = []
    if "units_fwer" in rows:
        r = rows["units_fwer"]
        n = int(r["value"]) if pd.notna(r["value"]) else 0
        null = f"; null prompts: {int(r['null_control']):,}" if pd.notna(r.get("null_control")) else ""
        parts.append(f"**{r['verdict']}** (family-wise): {n:,} unit{'' if n == 1 else 's'} ({_p(r['p_holm'])}{null})")
    if "units_paper" in rows:
        r = rows["units_paper"]
        null = f"; null prompts: {int(r['null_control']):,}" if pd.notna(r.get("null_control")) else ""
        parts.append(f"the paper's q: {int(r['value']):,} units, **{r['verdict']}** ({_p(r['p_holm'])}{null})")
    if parts:
        cells["units"] = "; ".join(parts)
    masks = []
    for claim, against in (("masks_random", "random"), ("masks_sham", "sham")):
        if claim in rows and pd.notna(rows[claim]["value"]):  # released RoBERTa has no sham masks
            r = rows[claim]
            k = f"k = {int(r['k']):,}, " if pd.notna(r.get("k")) else ""
            masks.append(f"vs {against}: **{r['verdict']}** ({k}extra accuracy lost {r['value']:+.3f}, {_p(r['p_holm'])}"
                         f"{power(r)})")
    if masks:
        cells["masks"] = "; ".join(masks)
    if "weights" in rows:
        r = rows["weights"]
        cells["weights"] = (f"**{r['verdict']}** (rho {r['value']:+.2f}, {r['ci_low']:+.2f} to {r['ci_high']:+.2f}; "
                            f"{_p(r['p_holm'])}{power(r)})")
    return cells


def structure_cell(controlled: pd.DataFrame, pmi_tau: float) -> dict[str, str]:
    """The intro's structure cell from the whole model's RDM against human similarity, without and with the label
    co-occurrence partialled out (:func:`emolib.paper.geometry.controlled_whole_model`), beside the co-occurrence alone.

    Example:
        >>> row = pd.DataFrame({"target": ["similarity"], "tau": [0.07], "p": [0.029], "tau_partial": [0.057],
        ...                     "p_partial": [0.304]})
        >>> print(structure_cell(row, 0.394)["structure"])
        prompts (whole model): τ = 0.070 (p = 0.029, emotion labels permuted); without the label co-occurrence τ = 0.057 (p = 0.304); the co-occurrence alone: τ = 0.394
    """
    from emolib.wording import format_p

    r = controlled.set_index("target").loc["similarity"]
    return {"structure": f"prompts (whole model): τ = {r['tau']:.3f} ({format_p(float(r['p']), 1e-3)}, emotion labels "
                         f"permuted); without the label co-occurrence τ = {r['tau_partial']:.3f} "
                         f"({format_p(float(r['p_partial']), 1e-3)}); the co-occurrence alone: τ = {pmi_tau:.3f}"}


def vectors_cell(rsa_row: Mapping, headline: pd.DataFrame, layer: int, n_layers: int) -> dict[str, str]:
    """The intro's emotion-vector cell: the RSA with human similarity at the headline ``layer`` (0-based, shown
    1-based) and PC1 against human valence with its bootstrap interval.

    Example:
        >>> head = pd.DataFrame({"pc": ["PC1"], "human_scale": ["valence"], "r": [0.49], "ci_low": [-0.04],
        ...                      "ci_high": [0.81]})
        >>> print(vectors_cell({"r": 0.311, "p_perm": 0.0005}, head, 12, 18)["structure_vectors"])
        emotion vectors of GoEmotions comments (layer 13 of 18): τ = 0.311 (p < 0.001, labels permuted); PC1 against human valence r = 0.49 (-0.04 to 0.81)
    """
    from emolib.wording import format_p

    pc1 = headline.query("pc == 'PC1' and human_scale == 'valence'").iloc[0]
    return {"structure_vectors": f"emotion vectors of GoEmotions comments (layer {layer + 1} of {n_layers}): "
                                 f"τ = {float(rsa_row['r']):.3f} ({format_p(float(rsa_row['p_perm']), 1e-3)}, labels "
                                 f"permuted); PC1 against human valence r = {pc1['r']:.2f} ({pc1['ci_low']:.2f} to "
                                 f"{pc1['ci_high']:.2f})"}


def valence_cell(facts: Mapping[str, float | str]) -> dict[str, str]:
    """The intro's valence cell from the chapter's claim (:func:`emolib.findings.valence_findings`): a probe fitted on
    plain templates, read on the negated templates of held-out adjective families, by the verdict's three-way rule.

    Example:
        >>> valence_cell({"verdict": "does not hold", "reason": "", "transfer": 0.47, "gain_low": -0.07,
        ...               "gain_high": 0.01, "p_text": "p = 0.900", "n_families": 169, "centred": 0.982,
        ...               "uncomposed": 0.987})["valence"]
        "**does not hold** (plain-to-negated transfer 0.470, 0.430 to 0.510, p = 0.900, 169 families; the probe reads Emo_LLM's label at 0.982 and the adjective's own list at 0.987)"
    """
    reason = f"; {facts['reason']}" if facts.get("reason") else ""
    return {"valence": f"**{facts['verdict']}** (plain-to-negated transfer {facts['transfer']:.3f}, "
                       f"{0.5 + float(facts['gain_low']):.3f} to {0.5 + float(facts['gain_high']):.3f}, "
                       f"{facts['p_text']}, {facts['n_families']} families; the probe reads Emo_LLM's label at "
                       f"{facts['centred']:.3f} and the adjective's own list at {facts['uncomposed']:.3f}{reason})"}


def intro_table(released_facts: Mapping[str, Mapping[str, float]] | None = None,
                records: Mapping[str, Mapping] | None = None) -> pd.DataFrame:
    """The intro's findings table: each claim, what the paper says, our released-data reproduction and the
    chosen backbone's result as this build's chapters recorded it (:data:`PENDING` where absent).

    Args:
        released_facts: :func:`released_summary`; missing entries read "see the chapter".
        records: :func:`recorded` (or None).
    """
    n = (released_facts or {}).get("searchlight", {})
    h = (released_facts or {}).get("human", {})
    acc = (released_facts or {}).get("inference", {})
    rel = (released_facts or {}).get("verdict", {})
    see = "see the chapter"
    released = {
        "human": f"{h['n_reliable']} of {h['n_attributes']} attributes reliable; strongest weight: {h['top']}"
        if h else see,
        "structure": (released_facts or {}).get("structure", {}).get("structure", see).replace("prompts (whole model)",
                                                                                          "RoBERTa's prompts"),
        "inference": f"mean dev accuracy {acc['mean']:.3f} of the {acc['n']} released prompts" if acc else see,
        "units": f"{n['paper_any']:,} of {n['n_units']:,} units significant (paper's q; the permutation FWER in "
        "the {doc}`chapter <neurons_released>`)" if n else see,
        "masks": rel.get("masks", see) + (" ({doc}`chapter <silencing_released>`)" if rel else ""),
        "weights": rel.get("weights", see),
        "valence": "not applicable (no released model)",
    }
    cells: dict[str, str] = {"human": "the same human data (not a model claim)"}
    for section in (records or {}).values():
        cells.update(section["cells"])
    structure = "; ".join(cells.pop(key) for key in ("structure", "structure_vectors") if key in cells)
    if structure:
        cells["structure"] = structure
    table = pd.DataFrame([(claim, paper, released[key], cells.get(key, PENDING))
                          for key, (claim, paper) in CLAIM_ROWS.items()],
                         columns=["claim", "paper", "released-data reproduction", backbone_header(records)])
    return table.set_index("claim")


def backbone_summary(records: Mapping[str, Mapping] | None = None) -> pd.DataFrame:
    """The model claims of :func:`intro_table` with the chosen backbone's column only (the coverage page).

    Example:
        >>> backbone_summary().shape  # the six model claims x the backbone column
        (6, 1)
    """
    table = intro_table(records=records)
    return table.iloc[1:, [-1]]


def released_summary(profile: str = "quick", bootstrap_seed: int = 6, alpha: float = 0.01) -> dict[str, dict]:
    """The released-data facts the intro's table reads: human, prompt accuracy, searchlight (paper's q) and
    silencing.

    Uses the cached released searchlight (:func:`emolib.reproduce.released_searchlight`) and the human
    weights of ``profile``'s bootstrap; the silencing statistics use the observed weights only.
    """
    from emolib import human, profiles, released, reproduce

    from emolib.emotions import PAPER_ORDER
    from emolib.paper import confounds, geometry

    weights = human.attribute_weights(n_boot=profiles.settings("human", profile).n_boot, seed=bootstrap_seed)
    acts = released.activations(order=PAPER_ORDER)
    controlled = geometry.controlled_whole_model(acts.values, acts.units_per_layer,
                                                 released.human_rdms()[["similarity"]],
                                                 confounds.cooccurrence_rdms()["-PMI"])
    pmi_tau = float(confounds.baseline_table(confounds.cooccurrence_rdms()[["-PMI"]], released.human_rdms()[["similarity"]])
                    .iloc[0]["tau"])
    reliability = human.attribute_reliability(interval="psych")
    searchlight = reproduce.released_searchlight().with_correction("paper", alpha)
    accuracy = released.prompt_accuracy()["accuracy"]  # the released prompts' best dev accuracies
    return {"human": human_findings(human.attribute_rdms("recomputed"), released.attribute_distances(),
                                    reliability, weights),
            "structure": structure_cell(controlled, pmi_tau),
            "inference": {"mean": float(np.mean(accuracy)), "n": int(len(accuracy))},
            "searchlight": {"paper_any": int((searchlight.n_significant > 0).sum()),
                            "n_units": int(len(searchlight.tau))},
            "verdict": verdict_cells(reproduce.released_verdict())}
