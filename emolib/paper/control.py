"""The null-prompt control: the whole pipeline on prompts that learned nothing.

Each null prompt is its trained prompt's shared initialisation moved by a random displacement of the
same length as training moved it (a seeded isotropic Gaussian direction, scaled to the trained
prompt's ``|P - P0|``), with zero training steps. The activations, searchlight, masks, masked
evaluation and statistics then run exactly as for the trained prompts. Whatever the trained prompts
show that these also show is what chance gives: the searchlight's anti-conservative test, the
geometry of random inputs, masks that damage any prompt.

(The literal initialisation alone is no control: it is the same for every emotion, so every unit
RDM would be zero.)

Example:
    >>> from emolib.paper.pipeline import run_paper
    >>> run = run_paper("tiny-llama", "smoke", device="cpu", progress=False)
    >>> control = null_control(run)
    >>> control.store.prompts.shape == run.store.prompts.shape
    True
    >>> bool((control.store.prompts != run.store.prompts).any())
    True
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from emolib import profiles, rsa
from emolib.model.backbones import Backbone
from emolib.paper import manipulation, prompts
from emolib.paper.store import PromptStore

__all__ = ["null_prompts", "NullControl", "null_control", "criteria_table", "correlation_table",
           "searchlight_findings"]

logger = logging.getLogger(__name__)


def null_prompts(backbone: Backbone, store: PromptStore, seed: int = 0) -> torch.Tensor:
    """Untrained prompts ``(K, L, d)``: each trained prompt's initialisation plus a random displacement of
    the trained displacement's norm (seeded; identical for identical ``seed``).

    Example:
        >>> from emolib.model import tiny_backbone
        >>> bb = tiny_backbone("llama")
        >>> s = profiles.settings("prompts", "smoke")
        >>> store = PromptStore(prompts.initial_prompts(bb, s, [1]) + 1.0, pd.DataFrame({"emotion": ["joy"], "seed": [1]}),
        ...                     profile=profiles.as_dict(s))
        >>> moved = null_prompts(bb, store) - prompts.initial_prompts(bb, s, [1])
        >>> round(float(moved.norm()), 3) == round(float(torch.ones_like(moved).norm()), 3)
        True
    """
    settings = prompts.store_settings(store)
    init = prompts.initial_prompts(backbone, settings, store.index["seed"])  # (K, L, d)
    displacement = (store.prompts - init).flatten(1).norm(dim=1)  # (K,)
    noise = torch.randn(init.shape, generator=torch.Generator().manual_seed(int(seed)))
    noise = noise / noise.flatten(1).norm(dim=1).clamp_min(1e-12)[:, None, None]
    return init + noise * displacement[:, None, None]


@dataclass
class NullControl:
    """What the pipeline gives on null prompts (see the module docstring)."""

    store: PromptStore
    activations: np.ndarray  # [K, n_units]
    searchlight: rsa.SearchlightResult
    mask_index: pd.DataFrame
    accuracy: dict[str, pd.DataFrame]  # split -> masked_eval frame (incl. condition "none")
    manipulation: manipulation.ManipulationResult

    def unmasked_accuracy(self) -> pd.DataFrame:
        """The null prompts' dev accuracy without a mask: ``emotion, seed, accuracy``."""
        table = self.accuracy["dev"]
        return table[table["condition"] == "none"][["emotion", "seed", "accuracy"]].reset_index(drop=True)


def null_control(run, backbone: Backbone | None = None, root: str | Path | None = None, seed: int = 0,
                 progress: bool = False) -> NullControl:
    """The null-prompt control of a :class:`~emolib.paper.pipeline.PaperRun` with the same settings (cached).

    The masked evaluation runs on ``run.masking.null_seeds`` (default: the run's masked seeds), on dev, at
    ``run.masking.null_k_values`` (default: the run's mask sizes).
    """
    from emolib.paper import pipeline

    bb = backbone if backbone is not None else run.loaded
    if bb is None:
        raise ValueError("null_control needs the run's backbone: pass backbone= (a PaperRun from run_paper has it)")
    store = run.store
    null_store = PromptStore(null_prompts(bb, store, seed), store.index, profile=store.profile,
                             backbone=store.backbone)
    scorer = prompts.make_scorer(bb, prompts.store_settings(store))
    acts = pipeline.run_activations(bb, null_store, scorer, root)
    null = run.searchlight.permutation  # the same permutation null as the trained run's
    result = pipeline.run_searchlight(acts, null_store.index, bb.units_per_layer, root, run.emotions,
                                      null.n_permutations if null is not None else 0, null.seed if null is not None else 0,
                                      pipeline.activation_inputs(bb, null_store), run.masking.n_sham)
    seeds = run.masking.null_seeds or run.masking.seeds
    masking = profiles.settings("masking", run.masking, seeds=seeds, splits=["dev"],
                                k_values=run.masking.null_k_values or run.masking.k_values, null_k_values=None)
    masks, mask_index = pipeline.build_masks(result, bb.n_units, masking)
    accuracy = pipeline.run_masking(bb, null_store, masks, mask_index, masking, scorer, root, progress)
    table = accuracy["dev"]
    unmasked = table[table["condition"] == "none"][["emotion", "seed", "accuracy"]].reset_index(drop=True)
    masked = table[table["condition"] != "none"].reset_index(drop=True)
    stats = manipulation.analyse(masked, unmasked, run.human_tau, baselines=run.baselines, n_perm=run.masking.n_perm)
    logger.info("null control of %s: %d significant units (paper q)", bb.name,
                int(result.significant.any(axis=1).sum()))
    return NullControl(null_store, acts, result, mask_index, accuracy, stats)


def criteria_table(run, control: NullControl, alpha: float = 0.05) -> pd.DataFrame:
    """Significant units per attribute, trained prompts beside the null control, under each correction
    (the paper's q at .01, BH, and with a permutation null the permutation FDR and the FWER at ``alpha``).

    Returns:
        A frame indexed by attribute (plus ``any attribute`` and ``selective``) with columns
        ``(correction, "trained" | "null")``.
    """
    def counts(result: rsa.SearchlightResult) -> pd.DataFrame:
        names = ["paper"] + (["perm_fdr", "fwer"] if result.permutation is not None else [])
        out = {}
        for name in names:
            judged = result.with_correction(name, 0.01 if name == "paper" else alpha)
            column = judged.significant.sum()
            column.loc["any attribute"] = int(judged.significant.any(axis=1).sum())
            column.loc["selective"] = int(judged.selective.sum())
            out[name] = column.astype(int)
        return pd.DataFrame(out)

    trained, null = counts(run.searchlight), counts(control.searchlight)
    table = pd.concat({"trained": trained, "null": null}, axis=1).swaplevel(axis=1)
    return table[[(c, w) for c in trained.columns for w in ("trained", "null")]].rename_axis("attribute")


def correlation_table(run, control: NullControl, baseline: str = "pooled") -> pd.DataFrame:
    """Mean rho per k (of the extra accuracy lost with the human weights, positive: heavier attributes lose more;
    :func:`emolib.paper.masking_summary.oriented`), trained prompts beside the null control, ``k`` as a column."""
    from emolib.paper.masking_summary import oriented

    trained = oriented(run.manipulation.baselines[baseline].correlation).set_index("k")
    null = oriented(control.manipulation.baselines[baseline].correlation).set_index("k")
    columns = [c for c in ("rho", "ci_low", "ci_high", "p", "perm_p") if c in trained.columns]
    table = pd.concat({"trained": trained[columns], "null": null[columns]}, axis=1)
    return table.reset_index()


def searchlight_findings(run, control: NullControl, alpha: float = 0.05) -> dict[str, float | int]:
    """Plain numbers for a searchlight's findings box: units under the paper's q with the permutation p of that
    count, units at the family-wise level over all units and attributes with the global max-tau p, the global test with
    the label co-occurrence partialled out (``partial_p``; NaN without one), the null prompts' values beside them,
    and the best valence unit's tau."""
    table = criteria_table(run, control, alpha)
    out: dict[str, float | int] = {
        "paper_trained": int(table.loc["any attribute", ("paper", "trained")]),
        "paper_null": int(table.loc["any attribute", ("paper", "null")]),
        "n_units": int(len(run.searchlight.tau)),
    }
    null_perm, control_perm = run.searchlight.permutation, control.searchlight.permutation
    if null_perm is not None:
        out |= {"fwer_trained": int((null_perm.fwer_p_all < alpha).any(axis=1).sum()),
                "fwer_null": int((control_perm.fwer_p_all < alpha).any(axis=1).sum()) if control_perm else 0,
                "count_p": float(null_perm.count_p), "global_p": float(null_perm.global_p),
                "count_p_null": float(control_perm.count_p) if control_perm else float("nan"),
                "global_p_null": float(control_perm.global_p) if control_perm else float("nan"),
                "valence_fwer": int(table.loc["valence", ("fwer", "trained")]),
                "valence_fwer_null": int(table.loc["valence", ("fwer", "null")])}
    for name, result in (("partial_p", run.searchlight), ("partial_p_null", control.searchlight)):
        out[name] = float(result.partial["p"]) if result.partial is not None else float("nan")
    out["best_valence_tau"] = float(run.searchlight.best_unit("valence")["tau"])
    out["best_valence_tau_null"] = float(control.searchlight.best_unit("valence")["tau"])
    return out
