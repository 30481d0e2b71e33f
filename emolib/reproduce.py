"""Every result table as CSV, and the computations on the authors' released files.

``emolib reproduce TARGET --out DIR`` calls :func:`reproduce`, which validates the options of the
target (:data:`TARGETS`: each names the options it takes) and writes its tables:

- ``human``: the human emotion space from the raw ratings;
- ``searchlight``: the paper's neuron tables from the released RoBERTa activations;
- ``manipulation``: the masking statistics from the released masking accuracies;
- ``backbone``: the paper re-run on a backbone (prompts, searchlight, masking, statistics);
- ``valence``: Emo_LLM's probes, emotion vectors and steering on a causal backbone.

:func:`released_searchlight` and :func:`released_manipulation` are the reproduction-from-released-data
computations the chapters call too. :func:`train_grid` is ``emolib train``.

Example:
    >>> sorted(TARGETS)
    ['backbone', 'human', 'manipulation', 'searchlight', 'valence']
    >>> reproduce("searchlight", "/tmp/out", seeds=[1])
    Traceback (most recent call last):
    ...
    ValueError: emolib reproduce searchlight does not take --seeds; it takes: --profile, --permutations, --seed, --device
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from emolib import human, profiles, rcompat, released, rsa
from emolib.artifacts import artifact, atomic_write_csv, data_fingerprint
from emolib.device import resolve_device
from emolib.emotions import PAPER_ORDER, PAPER_SEEDS
from emolib.versions import version

__all__ = ["TARGETS", "Target", "reproduce", "released_searchlight", "released_manipulation", "released_evidence", "released_design_inputs", "released_verdict",
           "train_grid",
           "MANIPULATION_COLUMNS"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    """One ``emolib reproduce`` target: the function that writes its files and the options it takes."""

    name: str
    write: Callable[..., list[Path]]
    options: tuple[str, ...]
    description: str


# ------------------------------------------------------------------------------- released data


def released_searchlight(
    exclude: Iterable[tuple[str, int]] = (), attribute_rdms: pd.DataFrame | None = None, emulate_r: bool = True,
    root: str | Path | None = None, permutations: int = 0, seed: int = 0, device: str | torch.device | None = "auto",
) -> rsa.SearchlightResult:
    """The paper's searchlight on the released RoBERTa activations, cached as an artifact.

    Follows the original R pipeline bit for bit (:mod:`emolib.rcompat`): activations as the doubles
    ``fread`` parsed from the CSVs, emotions in the paper's order, unit RDMs = ``rowMeans`` over the
    12 seeds of |a_i - a_j|, stored by ``fwrite`` (15 significant digits) and read back, Kendall tau-b
    against the released attribute RDMs (``dist_emotional_PCs.csv``).

    Args:
        exclude: ``(emotion, seed)`` prompts to leave out (e.g. :data:`emolib.released.OUTLIER_PROMPTS`).
        attribute_rdms: ``[351, attributes]`` RDMs (default: the released ones).
        emulate_r: reproduce R's parsing, averaging and CSV round trip (else plain float64 from the
            correctly rounded CSV values).
        root: artifact root (default ``$EMOLIB_ARTIFACTS`` or ``.emolib``).
        permutations, seed: a label-permutation null of that many emotion permutations
            (:func:`emolib.rsa.permutation.permutation_searchlight`); 0: none, as the paper.
        device: where the tau-b kernels run (``"auto"``: a CUDA GPU when there is one).
    """
    from emolib.paper.pipeline import load_searchlight, save_searchlight

    targets = released.attribute_distances() if attribute_rdms is None else attribute_rdms
    exclude = sorted((str(e), int(s)) for e, s in exclude)
    valid = rsa.prompt_mask(PAPER_ORDER, PAPER_SEEDS, exclude)
    inputs = {"data": data_fingerprint(), "exclude": exclude, "emulate_r": emulate_r, "version": version("searchlight-released"),
              **({"permutations": int(permutations), "seed": int(seed)} if permutations else {}),
              "targets": hashlib.sha256(pd.util.hash_pandas_object(targets).to_numpy().tobytes()
                                        + "|".join(map(str, targets.columns)).encode()).hexdigest()[:16]}
    art = artifact("searchlight-released", inputs, root=root)
    cached = art.reuse(load_searchlight)
    if cached is not None:
        return cached
    try:
        acts = released.activations(order=PAPER_ORDER)  # float32 [27, 12, 36864]
        if emulate_r:
            values = rcompat.parse_float32_as_r(acts.values)  # the doubles fread parsed from the CSVs
        else:
            import numpy as np

            values = np.asarray(acts.values.astype(str), dtype=np.float64)  # correctly rounded CSV values
        rdms = rsa.unit_rdms(values, valid=valid, emulate_r=emulate_r)  # [351, 36864]
        result = rsa.searchlight(rdms, targets, acts.units_per_layer, device=str(resolve_device(device)),
                                 permutations=permutations, seed=seed)
        import dataclasses

        if not exclude:  # (with prompts left out, the seed-to-seed agreement would not match the ranked RDMs)
            result = dataclasses.replace(result, reliability=rsa.unit_reliability(values, n_splits=10))
        if permutations:
            from emolib.paper.pipeline import cooccurrence_global_test

            result = dataclasses.replace(result, partial=cooccurrence_global_test(rdms, targets, PAPER_ORDER,
                                                                                  permutations, seed))
    except BaseException:
        art.release()
        raise
    with art.writing(n_units=rdms.shape[1]) as folder:
        save_searchlight(result, folder)
    return result


def released_manipulation(human_tau: pd.Series, n_perm: int = 0, seed: int = 0):
    """:func:`emolib.paper.manipulation.analyse` of the released masking accuracies (both baselines);
    ``n_perm`` > 0 adds the permutation tests (:mod:`emolib.paper.masking_tests`)."""
    from emolib.paper import manipulation

    masked, unmasked = released.masking_frames()
    return manipulation.analyse(masked, unmasked, human_tau, n_perm=n_perm, seed=seed)


def released_evidence(permutations: int = 1000):
    """Released RoBERTa as :class:`emolib.paper.claims.Evidence`: its prompts' dev accuracy (the only accuracy
    released; the prompts were selected on it), the majority share of each paper task, the searchlight with
    ``permutations`` label permutations (from its artifact), its masks, and the attribute masks' effective number
    at k = 4,000 (their top-k units rebuilt from the searchlight's ranks)."""
    from emolib.data import paper_task
    from emolib.paper import mask_inference, units
    from emolib.paper.claims import Evidence, majority_share

    masked, unmasked = released.masking_frames()
    tasks = {(e, int(s)): paper_task(e, int(s), "dev")["label"] for e, s in unmasked[["emotion", "seed"]].itertuples(index=False)}
    chance = pd.DataFrame([(e, s, majority_share(y)) for (e, s), y in tasks.items()], columns=["emotion", "seed", "chance"])
    n_examples = float(np.mean([len(y) for y in tasks.values()]))
    searchlight = released_searchlight(permutations=permutations)
    masks, _ = units.top_k_masks(searchlight.rank, [4000])
    effective = {"selective": mask_inference.effective_size(~masks.numpy(), 36_864)}
    return Evidence(unmasked, chance, searchlight, masked, n_examples, 36_864, effective, "dev")


def released_design_inputs(evidence=None) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """``(masked, unmasked, excess)`` of released RoBERTa for :func:`emolib.paper.claims.claim_rows`: the masks
    behind the paper's effects at another design, and its accuracy above the majority share (emotions' mean)."""
    ev = evidence if evidence is not None else released_evidence()
    above = ev.accuracy.merge(ev.chance, on=["emotion", "seed"])
    excess = float((above["accuracy"] - above["chance"]).groupby(above["emotion"]).mean().mean())
    return ev.masked, ev.accuracy, excess


def released_verdict(permutations: int = 1000, n_perm: int = 4999, n_boot: int = 2000, alpha: float = 0.05
                     ) -> pd.DataFrame:
    """Released RoBERTa judged by the verdict's own rule (:func:`emolib.paper.verdict.judge`) at its own design, the
    paper's effects taken from itself (its masks are released as accuracies, so no further resampling)."""
    from emolib.paper.claims import claim_rows
    from emolib.paper.mask_inference import mean_rho, per_emotion_damage, mask_table
    from emolib.paper.verdict import judge

    ev = released_evidence(permutations)
    weights = human.attribute_weights(n_boot=200).set_index("attribute")["tau"]
    boot = human.weight_bootstrap(n_boot=n_boot).to_numpy()
    table = mask_table(ev.masked, 4000)
    paper = {"delta": float(table[table["condition"] == "selective"]["accuracy"].mean()
                            - table[table["condition"] == "random"]["accuracy"].mean()),
             "rho": float(mean_rho(per_emotion_damage(ev.masked, 4000, list(weights.index)), weights.to_numpy()))}
    rows = claim_rows(ev, weights, boot, released_design_inputs(ev), alpha=alpha, n_perm=n_perm, paper=paper)
    return judge(rows, alpha)


# ----------------------------------------------------------------------------------- writers


def _human(out: Path, profile: str = "quick", bootstrap_seed: int = 6) -> list[Path]:
    """``attribute_distances.csv`` (351 x 14, recomputed), ``attribute_scores.csv`` (``emotion`` + 14,
    raw units), ``similarity_rdm.csv`` (``distance``), ``human_attribute_weights.csv``
    (``attribute, tau, se, ci_low, ci_high, p, q``)."""
    weights = human.attribute_weights(n_boot=profiles.settings("human", profile).n_boot, seed=bootstrap_seed)
    return [
        atomic_write_csv(human.attribute_rdms("recomputed"), out / "attribute_distances.csv"),
        atomic_write_csv(human.attribute_scores().reset_index(), out / "attribute_scores.csv"),
        atomic_write_csv(pd.DataFrame({"distance": human.similarity_rdm()}), out / "similarity_rdm.csv"),
        atomic_write_csv(weights[["attribute", "tau", "se", "ci_low", "ci_high", "p", "q"]],
                         out / "human_attribute_weights.csv"),
    ]


def _searchlight(out: Path, profile: str = "quick", permutations: int = 0, seed: int = 0,
                 device: str = "auto") -> list[Path]:
    """``neuron_tau.csv``, ``neuron_p.csv``, ``neuron_ranks.csv`` (36,864 rows, layer-major, one column
    per attribute) and ``searchlight_summary.csv``; the analysis is deterministic, ``profile`` changes nothing.

    With ``permutations`` > 0 also ``neuron_p_perm.csv`` (the permutation p, 36,864 x 14),
    ``neuron_significance.csv`` (``unit, attribute, tau, paper_q, perm_p, perm_fdr_q, fwer_p``) and
    ``searchlight_criteria.csv`` (significant units per attribute under each correction).

    Always ``unit_reliability.csv`` (``unit, r_pair, reliability, method, n_seeds``), ``confound_rdms.csv`` (the
    model-free baselines against every human RDM: ``baseline, target, tau, ceiling_low, ceiling_high``) and
    ``controlled_whole_model.csv`` (the whole model's RDM without and with the label co-occurrence partialled out).
    """
    from emolib.emotions import PAPER_ORDER
    from emolib.paper import confounds, geometry

    result = released_searchlight(permutations=permutations, seed=seed, device=device)
    tables = {"neuron_tau.csv": result.tau, "neuron_p.csv": result.p, "neuron_ranks.csv": result.rank,
              "searchlight_summary.csv": result.summary()}
    if permutations:
        tables |= {"neuron_p_perm.csv": result.perm_p, "neuron_significance.csv": result.significance_table(),
                   "searchlight_criteria.csv": result.criteria().reset_index()}
    if result.reliability is not None:
        tables["unit_reliability.csv"] = result.reliability.reset_index().rename(columns={"index": "unit"})
    baselines = confounds.baseline_rdms()
    targets = released.human_rdms()
    tables["confound_rdms.csv"] = confounds.baseline_table(baselines, targets, human.similarity_ceiling("kendall"),
                                                           human.similarity_rdm(individual=True))
    acts = released.activations(order=PAPER_ORDER)
    tables["controlled_whole_model.csv"] = geometry.controlled_whole_model(acts.values, acts.units_per_layer, targets,
                                                                           baselines["-PMI"])
    return [atomic_write_csv(frame, out / name, index=False) for name, frame in tables.items()]


#: Files and columns of ``emolib reproduce manipulation``.
MANIPULATION_COLUMNS = {
    "per_emotion_human_correlation.csv": ["baseline", "k", "mean_rho", "t", "df", "p", "ci_low", "ci_high"],
    "unimodality.csv": ["k", "attribute", "D", "p"],
    "accuracy_summary.csv": ["k", "emotion", "condition", "mean", "se"],
    "attribute_drop.csv": ["baseline", "k", "attribute", "diff", "t", "p", "q"],
}


def _manipulation(out: Path, profile: str = "quick", bootstrap_seed: int = 6) -> list[Path]:
    """The manipulation tables of the released RoBERTa results (:data:`MANIPULATION_COLUMNS`):
    correlations and attribute drops for both baselines, unimodality on the paper baseline (as the
    original), the accuracy summary. They use the observed human tau only, so neither ``profile``
    nor ``bootstrap_seed`` changes them."""
    weights = human.attribute_weights(n_boot=profiles.settings("human", profile).n_boot, seed=bootstrap_seed)
    result = released_manipulation(weights.set_index("attribute")["tau"])
    frames = {
        "per_emotion_human_correlation.csv": result.stacked("correlation"),
        "unimodality.csv": result.baselines["paper"].unimodality,
        "accuracy_summary.csv": result.summary,
        "attribute_drop.csv": result.stacked("by_attribute"),
    }
    return [atomic_write_csv(frames[name][columns], out / name) for name, columns in MANIPULATION_COLUMNS.items()]


def _flat(table: pd.DataFrame) -> pd.DataFrame:
    """Two-level columns ``(a, b)`` as ``a_b`` (for CSV)."""
    return table.set_axis([f"{a}_{b}" for a, b in table.columns], axis=1)


def _backbone(out: Path, backbone: str = "smollm2-135m", profile: str = "quick", bootstrap_seed: int = 6,
              seeds: Any = None, device: str = "auto") -> list[Path]:
    """The per-backbone tables: ``prompt_accuracy.csv`` (every emotion and seed, dev and test), the searchlight
    summary and its criteria beside the null control, masked accuracies per split, the correlation with the
    human weights and the attribute drops (every baseline), and ``verdict.csv`` (the paper's claims)."""
    from emolib.paper import control
    from emolib.paper.pipeline import run_paper
    from emolib.paper.verdict import verdict

    run = run_paper(backbone, profile, seeds=seeds, device=device, bootstrap_seed=bootstrap_seed)
    null = control.null_control(run)
    files = [atomic_write_csv(run.store.accuracy, out / "prompt_accuracy.csv", index=False),
             atomic_write_csv(run.searchlight.summary(), out / "searchlight_summary.csv", index=False),
             atomic_write_csv(_flat(control.criteria_table(run, null)).reset_index(), out / "searchlight_criteria.csv")]
    for split, table in run.accuracy.items():
        files.append(atomic_write_csv(table, out / f"masked_accuracy_{split}.csv", index=False))
    files.append(atomic_write_csv(run.manipulation.stacked("correlation"), out / "per_emotion_human_correlation.csv"))
    files.append(atomic_write_csv(run.manipulation.stacked("by_attribute"), out / "attribute_drop.csv"))
    files.append(atomic_write_csv(_flat(control.correlation_table(run, null)).reset_index(),
                                  out / "null_control_correlation.csv"))
    table = verdict(run, null, released_verdict(), human.weight_bootstrap(n_boot=2000).to_numpy(),
                    released_design_inputs())
    files.append(atomic_write_csv(table, out / "verdict.csv"))
    from emolib.paper import confounds, geometry
    from emolib.paper.pipeline import subset_rdms

    if run.searchlight.reliability is not None:
        files.append(atomic_write_csv(run.searchlight.reliability.reset_index().rename(columns={"index": "unit"}),
                                      out / "unit_reliability.csv"))
    baselines = subset_rdms(confounds.baseline_rdms(run.loaded), run.emotions)
    files.append(atomic_write_csv(confounds.baseline_table(baselines, run.human_rdms(), run.similarity_ceiling(),
                                                           run.similarity_subjects()), out / "confound_rdms.csv"))
    files.append(atomic_write_csv(geometry.controlled_whole_model(run.cube(), run.loaded.units_per_layer,
                                                                  run.human_rdms(), baselines["-PMI"]),
                                  out / "controlled_whole_model.csv"))
    return files


def _valence(out: Path, backbone: str = "smollm2-135m", profile: str = "quick", sample_seed: int = 0,
             device: str = "auto") -> list[Path]:
    """The probe tables, then the emotion-vector and steering tables:

    - ``probe_results.csv``: repeated splits (``scale, experiment, variant, features, layer, accuracy, ci_low,
      ci_high``), descriptive;
    - ``probe_families.csv``: families held out once, accuracies per layer and at the nested layer with
      family-bootstrap intervals, on all, negated and plain templates (the additive no-oracle baseline and the oracle
      beside the probe);
    - ``probe_gains.csv``: the probe against each baseline paired over families, the claim's verdict;
    - ``probe_memorisation.csv``: E3 alone; ``probe_divergent.csv``: the divergent templates;
    - ``emotion_vector_pcs.csv``, ``emotion_vector_rsa.csv``, ``steering*.csv``.
    """
    from emolib.emollm import analysis, composition, divergent, probes, prompts
    from emolib.model.backbones import load_backbone

    settings = profiles.settings("probes", profile)
    bb = load_backbone(backbone, device=device)
    data = prompts.probe_data(bb, settings)
    layers = prompts.probe_layers(bb.n_layers, settings)
    summary = probes.summarise(probes.run_probes(data, n_repeats=settings.n_repeats, seed=sample_seed, layers=layers))
    inference = composition.probe_inference(data, layers=layers, seed=sample_seed)
    diverging = divergent.divergent_accuracy(data["valence"], divergent.divergent_data(bb, settings),
                                             composition.nested_layer(inference.cv), seed=sample_seed)
    files = [atomic_write_csv(summary, out / "probe_results.csv"),
             atomic_write_csv(inference.summary, out / "probe_families.csv"),
             atomic_write_csv(inference.gains, out / "probe_gains.csv"),
             atomic_write_csv(composition.memorisation_table(summary).reset_index(), out / "probe_memorisation.csv"),
             atomic_write_csv(diverging, out / "probe_divergent.csv")]
    tables = analysis.vectors_and_steering(bb, profile, sample_seed, device=bb.device)
    names = {"pcs": "emotion_vector_pcs.csv", "rsa": "emotion_vector_rsa.csv", "steering": "steering.csv",
             "best": "steering_best.csv", "examples": "steering_examples.csv"}
    return files + [atomic_write_csv(getattr(tables, key), out / name) for key, name in names.items()]


TARGETS: dict[str, Target] = {
    "human": Target("human", _human, ("profile", "bootstrap_seed"), "the human emotion space from the raw ratings"),
    "searchlight": Target("searchlight", _searchlight, ("profile", "permutations", "seed", "device"),
                          "the paper's neuron tables (released RoBERTa), with an optional permutation null"),
    "manipulation": Target("manipulation", _manipulation, ("profile", "bootstrap_seed"),
                           "the masking statistics (released RoBERTa)"),
    "backbone": Target("backbone", _backbone, ("backbone", "profile", "bootstrap_seed", "seeds", "device"),
                       "the paper re-run on a backbone"),
    "valence": Target("valence", _valence, ("backbone", "profile", "sample_seed", "device"),
                      "Emo_LLM's probes, emotion vectors and steering"),
}


def reproduce(target: str, out_dir: str | os.PathLike, **options: Any) -> list[Path]:
    """Write the tables of ``target`` into ``out_dir``; ``None`` options take their defaults.

    Raises:
        ValueError: an unknown target, an option the target does not take, or a bad value (the
            message names the valid choices).
    """
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; valid choices: {', '.join(sorted(TARGETS))}")
    spec = TARGETS[target]
    given = {k: v for k, v in options.items() if v is not None}
    unknown = [k for k in given if k not in spec.options]
    if unknown:
        flag = unknown[0].replace("_", "-")
        raise ValueError(f"emolib reproduce {target} does not take --{flag}; it takes: "
                         + ", ".join(f"--{o.replace('_', '-')}" for o in spec.options))
    if "profile" in given:
        profiles.check_profile(given["profile"])
    if "device" in given:
        from emolib.device import resolve_device

        resolve_device(given["device"])
    for name in ("bootstrap_seed", "sample_seed", "seed", "permutations"):
        if name in given and (not isinstance(given[name], int) or isinstance(given[name], bool)):
            raise ValueError(f"{name} must be an integer, got {given[name]!r}")
    if given.get("permutations", 0) < 0:
        raise ValueError(f"permutations must be >= 0, got {given['permutations']}")
    out = Path(out_dir)
    return spec.write(out, **given)


def train_grid(out: str | os.PathLike, *, backbone: str = "smollm2-135m", profile: str = "quick",
               emotions: Any = None, seeds: Any = None, device: str | torch.device | None = "auto") -> list[Path]:
    """``emolib train``: train (or reuse) the prompt grid and write ``prompt_store/`` and ``prompt_accuracy.csv``."""
    from emolib.paper.prompts import train_prompts

    store = train_prompts(backbone, profile, emotions=emotions, seeds=seeds, device=device)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    store_path = store.save(out / "prompt_store")
    csv = atomic_write_csv(store.accuracy, out / "prompt_accuracy.csv")
    summary = store.accuracy.groupby("split")["accuracy"].agg(["mean", "min", "max"])
    logger.info("prompt accuracy by split:\n%s", summary.to_string())
    return [store_path, csv]
