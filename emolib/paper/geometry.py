"""What the unit geometry can carry: reliability, the seeds a design needs, and alignment on the human scale.

Chapter-facing numbers for the neurons chapters (released RoBERTa and a chosen backbone):

- :func:`reliability_frame` and :func:`reliability_findings`: how well unit RDMs replicate across seeds, per
  source, and how many seeds a run needs for a reliability of .5 and .8 (Spearman-Brown from the median
  seed-to-seed agreement);
- :func:`held_out_alignment`: the unit that best tracks human similarity, chosen on some seeds and measured on the
  others, and the whole model's RDM, both as a share of the human noise ceiling, beside the model-free baselines;
- :func:`controlled_whole_model`: the whole model's RDM against the human RDMs with and without the label
  co-occurrence partialled out (:func:`emolib.rsa.partial.controlled_rsa`).

Example:
    >>> seeds_needed(0.05, 0.5), seeds_needed(0.05, 0.8), seeds_needed(-0.01, 0.5)
    (19, 76, None)
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from emolib import rsa

__all__ = ["seeds_needed", "reliability_frame", "reliability_findings", "top_units", "cv_comparison",
           "held_out_alignment", "on_the_human_scale", "controlled_whole_model"]


def seeds_needed(r_pair: float, target: float) -> int | None:
    """Seeds whose mean reaches reliability ``target`` when two seeds agree by ``r_pair`` (Spearman-Brown inverted);
    None where the seeds do not agree at all."""
    if not np.isfinite(r_pair) or r_pair <= 0:
        return None
    return int(math.ceil(target * (1 - r_pair) / (r_pair * (1 - target)) - 1e-9))


def reliability_frame(results: Mapping[str, object]) -> pd.DataFrame:
    """``source, unit, r_pair, reliability`` of every unit of every searchlight result that measured it."""
    parts = [r.reliability.assign(source=name, unit=np.arange(len(r.reliability)))
             for name, r in results.items() if getattr(r, "reliability", None) is not None]
    if not parts:
        return pd.DataFrame(columns=["source", "unit", "r_pair", "reliability"])
    return pd.concat(parts, ignore_index=True)[["source", "unit", "r_pair", "reliability", "n_seeds"]]


def reliability_findings(result, alpha: float = 0.05) -> dict[str, float | int | str]:
    """The numbers a Findings box needs about one searchlight's reliabilities: the medians, the median of the units
    past the family-wise level, the seeds averaged, and the seeds a run would need for .5 and .8."""
    rel = result.reliability
    if rel is None:  # one seed: nothing to compare
        return {"r_pair": float("nan"), "reliability": float("nan"), "n_seeds": 1, "seeds_5": "n/a (one seed)",
                "seeds_8": "n/a (one seed)", "fwer_units": 0, "fwer_reliability": float("nan")}
    out: dict[str, float | int | str] = {"r_pair": float(rel["r_pair"].median()),
                                         "reliability": float(rel["reliability"].median()),
                                         "n_seeds": int(rel["n_seeds"].iloc[0])}
    for target in (0.5, 0.8):
        needed = seeds_needed(out["r_pair"], target)
        out[f"seeds_{int(target * 10)}"] = f"{needed:,}" if needed is not None else "no number of seeds"
    if result.permutation is not None:
        passed = (result.permutation.fwer_p_all < alpha).any(axis=1)
        out["fwer_units"] = int(passed.sum())
        out["fwer_reliability"] = float(rel.loc[passed, "reliability"].median()) if passed.any() else float("nan")
    return out


def held_out_alignment(cube: np.ndarray, similarity: pd.Series, ceiling, subjects: np.ndarray | None = None,
                       units_per_layer: int | None = None, n_splits: int = 10, seed: int = 0) -> pd.DataFrame:
    """The human-similarity alignment of the best unit and of the whole model, on seeds not used to choose it.

    Per split of the seeds (leave one seed out with up to four seeds, else ``n_splits`` random halves), the unit
    with the largest tau against ``similarity`` (the subjects' mean RDM) on the training seeds is measured on the
    held-out ones, and so is the whole model's cosine RDM; the results are averaged over splits. ``tau_subjects``
    scores each against every subject's RDM and averages (the noise ceiling's scale), and the shares of the
    ceiling's lower and upper bound use it.

    Returns:
        ``what, tau, tau_subjects, share_of_lower, share_of_upper, n_splits``.
    """
    from emolib.human import subject_mean_tau

    acts = np.asarray(cube, dtype=np.float64)
    n_seeds = acts.shape[1]
    columns = ["what", "tau", "tau_subjects", "share_of_lower", "share_of_upper", "n_splits"]
    if n_seeds < 2:  # one seed: nothing to hold out
        return pd.DataFrame(columns=columns)
    rng = np.random.default_rng(seed)
    if n_seeds <= 4:
        splits = [([s for s in range(n_seeds) if s != held], [held]) for held in range(n_seeds)]
    else:
        halves = [np.sort(rng.permutation(n_seeds)[: n_seeds // 2]) for _ in range(n_splits)]
        splits = [(list(h), [s for s in range(n_seeds) if s not in h]) for h in halves]
    target = np.asarray(similarity, dtype=np.float64)[:, None]
    found = {"best unit (chosen on other seeds)": [], "whole model (held-out seeds)": []}
    for train, test in splits:
        tau_train, _ = rsa.kendall_tau_b(rsa.unit_rdms(acts[:, train]), target)
        best = int(np.nanargmax(tau_train[:, 0]))
        unit_rdm = rsa.unit_rdms(acts[:, test, best: best + 1])  # [pairs, 1]
        found["best unit (chosen on other seeds)"].append(unit_rdm)
        if units_per_layer:
            found["whole model (held-out seeds)"].append(
                rsa.model_rdms(acts[:, test], units_per_layer, "cosine")[["all"]].to_numpy())
    rows = []
    for what, rdms in found.items():
        if not rdms:
            continue
        stacked = np.column_stack(rdms)  # [pairs, splits]
        tau, _ = rsa.kendall_tau_b(stacked, target)
        tau_subjects = subject_mean_tau(stacked, subjects) if subjects is not None else np.full(len(rdms), np.nan)
        rows.append({"what": what, "tau": float(np.nanmean(tau)), "tau_subjects": float(np.nanmean(tau_subjects)),
                     "n_splits": len(rdms)})
    table = pd.DataFrame(rows)
    table["share_of_lower"] = table["tau_subjects"] / ceiling.lower
    table["share_of_upper"] = table["tau_subjects"] / ceiling.upper
    return table[columns]


def on_the_human_scale(baseline_taus: pd.DataFrame, alignment: pd.DataFrame, ceiling,
                       target: str = "similarity") -> pd.DataFrame:
    """Baselines and model results against the individual subjects' similarity RDMs (``tau_subjects``: the noise
    ceiling's scale): ``what, kind, tau, ceiling_low, ceiling_high`` (for
    :func:`emolib.plots.neurons.baselines_figure`)."""
    base = baseline_taus[baseline_taus["target"] == target]
    rows = [{"what": f"baseline: {b}", "kind": "baseline", "tau": t} for b, t in zip(base["baseline"],
                                                                                      base["tau_subjects"])]
    rows += [{"what": w, "kind": "model", "tau": t} for w, t in zip(alignment["what"], alignment["tau_subjects"])]
    table = pd.DataFrame(rows)
    table["ceiling_low"], table["ceiling_high"] = ceiling.lower, ceiling.upper
    return table


def controlled_whole_model(cube: np.ndarray, units_per_layer: int, human_rdms: pd.DataFrame, control: pd.Series,
                           n_perm: int = 1000, seed: int = 0) -> pd.DataFrame:
    """The whole model's cosine RDM (mean over seeds) against every human RDM, without and with ``control``
    partialled out (:func:`emolib.rsa.partial.controlled_rsa`)."""
    from emolib.rsa.partial import controlled_rsa

    model = rsa.model_rdms(cube, units_per_layer, "cosine")[["all"]].rename(columns={"all": "whole model"})
    return controlled_rsa(model, human_rdms, control, n_perm, seed)


def top_units(result, n: int = 10) -> pd.DataFrame:
    """The ``n`` units with the largest tau over all attributes: ``unit, layer`` (1-based, as every page numbers
    layers), ``attribute, tau``, the unit's
    ``reliability`` and tau as a share of its ceiling (``share_of_ceiling``; NaN without a positive reliability)."""
    tau = result.tau.to_numpy()
    flat = np.argsort(np.nan_to_num(tau, nan=-np.inf), axis=None)[::-1][:n]
    units, attributes = np.unravel_index(flat, tau.shape)
    ceiling = result.ceiling_fraction.to_numpy()
    reliability = (result.reliability["reliability"].to_numpy() if result.reliability is not None
                   else np.full(len(tau), np.nan))
    return pd.DataFrame({"unit": units, "layer": units // result.units_per_layer + 1,
                         "attribute": [result.attributes[a] for a in attributes], "tau": tau[units, attributes],
                         "reliability": reliability[units], "share_of_ceiling": ceiling[units, attributes]})


def cv_comparison(cube: np.ndarray, result, targets: pd.DataFrame, alpha: float = 0.01) -> pd.DataFrame:
    """The paper's searchlight beside the same searchlight on cross-validated unit RDMs
    (:func:`emolib.rsa.reliability.cv_unit_rdms`): per attribute, units under the paper's q, the largest tau, and
    the Spearman agreement of the two tau vectors over units."""
    from scipy import stats

    if np.asarray(cube).shape[1] < 2:  # one seed: no cross-validation
        return pd.DataFrame({"note": ["one seed: cross-validated RDMs need at least two"]})
    cv = rsa.searchlight(rsa.cv_unit_rdms(cube), targets, result.units_per_layer, alpha=alpha)
    paper = result.with_correction("paper", alpha)
    agreement = [stats.spearmanr(paper.tau[a], cv.tau[a], nan_policy="omit").statistic for a in paper.attributes]
    return pd.DataFrame({"units (paper's RDM)": paper.significant.sum(), "units (cross-validated)": cv.significant.sum(),
                         "max tau (paper's RDM)": paper.tau.max(), "max tau (cross-validated)": cv.tau.max(),
                         "agreement over units": agreement}, index=pd.Index(paper.attributes, name="attribute"))
