"""A plan before a long run: what the paper on a backbone would compute, what is cached, and how long it takes.

:func:`plan_paper` walks :func:`~emolib.paper.pipeline.run_paper` and its null control with every artifact
lookup in *planning* mode (:func:`emolib.integrity.planning`): cached stages are found by their real keys and
the first stage that would be computed stops the walk, so the plan cannot disagree with the run. The work of
each stage (training passes, masked forward passes, Kendall tests) is counted from the profile, and the rates
that turn work into seconds are *measured on the requested device* by a few seconds of the same kernels
(:func:`measure_rates`), with the peak memory they took.

Example:
    >>> p = plan_paper("tiny-llama", "smoke", device="cpu")  # doctest: +SKIP
    >>> print(p)  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import logging
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from emolib import profiles
from emolib.emotions import ATTRIBUTES
from emolib.integrity import WouldCompute, planning
from emolib.model.backbones import Backbone, load_backbone

__all__ = ["Rates", "Plan", "measure_rates", "stage_work", "plan_paper", "plan_power", "COLUMNS", "PARAMETERS"]

logger = logging.getLogger(__name__)

#: what ``emolib plan -p NAME VALUE`` takes (the backbone chapters' parameters of the run)
PARAMETERS = ("backbone", "emotions", "seeds", "k_values", "n_draws", "splits", "permutations")
COLUMNS = ["stage", "part", "status", "work", "unit", "estimate_s", "measured_s"]


@dataclass(frozen=True)
class Rates:
    """Throughput measured on one device: training examples/s (forward + backward), evaluation examples/s,
    masked (mask x example) forward passes/s, Kendall tests/s; ``peak_memory_gb`` of the measurement."""

    device: str
    train: float
    evaluate: float
    masked: float
    kendall: float
    peak_memory_gb: float


@dataclass
class Plan:
    """The stages of a run (:data:`COLUMNS`), the rates behind the estimates, and the memory.

    ``estimate_s``: the work at the measured rates; ``measured_s``: for a cached artifact, the wall time it
    recorded when it was computed (on the machine that computed it; on the first row of its artifact).
    """

    backbone: str
    profile: str
    stages: pd.DataFrame
    rates: Rates | None
    model_memory_gb: float
    notes: list[str] = field(default_factory=list)
    power: pd.DataFrame | None = None
    reliability: str = ""

    @property
    def remaining_s(self) -> float:
        """Estimated seconds of the stages still to compute (NaN without rates)."""
        todo = self.stages[~self.stages["status"].isin(["cached", "shipped"])]
        return float(todo["estimate_s"].sum(min_count=1)) if len(todo) else 0.0

    def __str__(self) -> str:
        table = self.stages.assign(work=self.stages["work"].map("{:,.0f}".format),
                                   estimate=self.stages["estimate_s"].map(_duration),
                                   measured=self.stages["measured_s"].map(_duration))
        table = table.drop(columns=["estimate_s", "measured_s"])
        lines = [f"plan: the paper on {self.backbone} (profile {self.profile})", table.to_string(index=False)]
        if self.rates is not None:
            r = self.rates
            lines.append(f"rates measured on {r.device}: {r.train:,.1f} training ex/s, {r.evaluate:,.1f} eval ex/s, "
                         f"{r.masked:,.1f} masked passes/s, {r.kendall:,.0f} Kendall tests/s")
        memory = f"memory: the model {self.model_memory_gb:.2f} GB"
        if self.rates is not None:
            memory += f"; peak while measuring {self.rates.peak_memory_gb:.2f} GB"
        lines += [memory, f"still to compute: {_duration(self.remaining_s)}", *self.notes]
        if self.power is not None:
            lines += ["", "power of each claim against the paper's effect as this design measures it "
                      f"({self.power.attrs.get('assumption', '')}):", self.power.to_string(index=False)]
        if self.reliability:
            lines += ["", self.reliability]
        return "\n".join(lines)


def _duration(seconds: float) -> str:
    if not np.isfinite(seconds):
        return "-"
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def _peak_gb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux: the process's peak


def measure_rates(backbone: Backbone, settings: profiles.PromptSettings, n_examples: int = 16,
                  n_masks: int = 4, n_units: int = 8192, permutations: int = 20) -> Rates:
    """Time a few batches of each kernel the run uses, on ``backbone``'s device (the second of two tries)."""
    from emolib import rsa
    from emolib.paper import prompts
    from emolib.paper.masked_eval import masked_predictions
    from emolib.paper.train import Examples, evaluate_bank, train_bank

    scorer = prompts.make_scorer(backbone, settings)
    seed = settings.seeds[0]
    task = prompts.task_split("joy", seed, "train", settings).head(n_examples)
    examples = Examples(scorer.encode(task["text"].tolist()), task["label"].to_numpy())
    init = prompts.initial_prompts(backbone, settings, [seed, seed])
    precision = settings.precision

    def best_of_two(fn) -> float:
        times = []
        for _ in range(2):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times)

    n = 2 * len(examples.ids)
    eval_s = best_of_two(lambda: evaluate_bank(scorer, init.to(backbone.device), [examples, examples],
                                               micro_batch=settings.micro_batch, precision=precision))
    train_s = best_of_two(lambda: train_bank(scorer, init, [examples, examples], [examples, examples], keys=[[seed, 0],
                          [seed, 1]], epochs=1, batch_size=settings.batch_size, lr=settings.lr,
                          micro_batch=settings.micro_batch, precision=precision, seed=seed, progress=False))
    masks = torch.zeros(n_masks, backbone.n_units, dtype=torch.bool)
    masks[:, : backbone.n_units // 20] = True
    masked_s = best_of_two(lambda: masked_predictions(backbone, scorer, init[0], task["text"].tolist(), masks,
                                                      precision=precision))
    rng = np.random.default_rng(0)
    rdms = np.abs(rng.normal(size=(351, n_units))).astype(np.float32)
    targets = pd.DataFrame(rng.normal(size=(351, len(ATTRIBUTES))), columns=list(ATTRIBUTES))
    kendall_s = best_of_two(lambda: rsa.searchlight(rdms, targets, n_units, permutations=permutations))
    return Rates(str(backbone.device), train=n / max(train_s - eval_s, 1e-9), evaluate=n / eval_s,
                 masked=n_masks * len(examples.ids) / masked_s,
                 kendall=n_units * len(ATTRIBUTES) * (1 + permutations) / kendall_s,
                 peak_memory_gb=_peak_gb(backbone.device))


def _n_masks(masking: profiles.MaskingSettings, k_values) -> int:
    """Masks of one masked-evaluation artifact per k in ``k_values`` (each with its own unmasked evaluation)."""
    per_k = len(ATTRIBUTES) + masking.n_sham + masking.n_draws + (len(ATTRIBUTES) if masking.paper_random else 0)
    return per_k + 1


def stage_work(emotions, seeds, prompt_settings: profiles.PromptSettings, masking: profiles.MaskingSettings,
               permutations: int, n_units: int) -> pd.DataFrame:
    """The work of every stage of :func:`run_paper` and its null control, counted from the settings.

    Returns:
        ``stage, part, work, unit, kind, artifact`` (kind: the rate that times it; artifact: the position of
        its artifact in the order the run looks them up).
    """
    from emolib.paper import prompts

    @functools.cache  # the masked dev evaluation and the null control's ask for the same task sizes
    def size(e: str, s: int, split: str, settings) -> int:
        return len(prompts.task_split(e, int(s), split, settings))

    grid = [(e, s) for s in seeds for e in emotions]
    train = sum(size(e, s, "train", prompt_settings) for e, s in grid) * prompt_settings.epochs
    evaluate = sum(size(e, s, "dev", prompt_settings) * prompt_settings.epochs + size(e, s, "test", prompt_settings)
                   for e, s in grid)
    eval_settings = (profiles.settings("prompts", prompt_settings, dev_size=masking.dev_size,
                                       test_size=masking.dev_size) if masking.dev_size else prompt_settings)
    masked_seeds = masking.seeds or seeds
    null_seeds = masking.null_seeds or masked_seeds
    tests = n_units * len(ATTRIBUTES) * (1 + permutations)
    rows = [("prompts", "training", train, "training examples", "train"),
            ("prompts", "dev and test evaluation", evaluate, "examples", "evaluate"),
            ("activations", "trained prompts", len(grid), "prompt passes", "evaluate"),
            ("searchlight", "trained prompts", tests, "Kendall tests", "kendall")]
    k_sorted = sorted(masking.k_values)  # the run evaluates one artifact per k, in this order
    for split in masking.splits:
        n = sum(size(e, s, split, eval_settings) for s in masked_seeds for e in emotions)
        for k in k_sorted:
            rows.append(("masked-eval", f"{split}, k = {k:.4g}", n * _n_masks(masking, [k]), "masked passes",
                         "masked"))
    n_null = sum(size(e, s, "dev", eval_settings) for s in null_seeds for e in emotions)
    rows += [("activations", "null prompts", len(grid), "prompt passes", "evaluate"),
             ("searchlight", "null prompts", tests, "Kendall tests", "kendall")]
    for k in sorted(masking.null_k_values or masking.k_values):
        rows.append(("masked-eval", f"null prompts, dev, k = {k:.4g}", n_null * _n_masks(masking, [k]),
                     "masked passes", "masked"))
    artifact = [0] + list(range(len(rows) - 1))  # the prompts artifact holds both of its rows
    return pd.DataFrame(rows, columns=["stage", "part", "work", "unit", "kind"]).assign(artifact=artifact)


#: sizes tried when searching the smallest design that reaches power 0.8
_SEARCH = {"seeds": (1, 2, 3, 4, 6, 8, 12), "dev examples": (20, 40, 80, 100, 200, 400, 800),
           "random masks": (5, 10, 14, 20, 50, 100, 200)}


def plan_power(profile: str = "standard", alpha: float = 0.05, n_claims: int = 6, n_sim: int = 200,
               components: dict | None = None, **overrides) -> pd.DataFrame:
    """The power of the masking claims that can be ruled out (attribute against random masks, and the human weights)
    at ``profile``'s design against the paper's effect re-measured at that design
    (:func:`emolib.paper.power.paper_at_design`), and the smallest seeds, dev examples and uniform random masks that
    reach 0.8 with the other sizes held (or "not reachable" with the largest power found).

    ``components``: the variance components (:func:`emolib.paper.power.variance_components`); default released
    RoBERTa's at k = 4,000 (the run's own are unknown before it runs; its verdict reports power from them). The
    attribute masks count as released RoBERTa's effective number (their overlap). Tests run at alpha / ``n_claims``
    (Holm's strictest step). The sham claim has no effect of the paper to rule out, so no power.
    """
    from emolib import human, released, reproduce
    from emolib.paper import power as pw
    from emolib.paper.mask_inference import mask_table
    from emolib.paper.units import resolve_k

    masking = profiles.settings("masking", profile, **overrides)
    prompt_settings = profiles.settings("prompts", profile)
    masked, unmasked = released.masking_frames()
    k = resolve_k(masking.verdict_k, profiles.PAPER_UNITS)
    rel_k = int(min(masked["k"].unique(), key=lambda v: abs(v - k)))
    evidence = reproduce.released_evidence(permutations=0)
    if components is None:
        components = pw.variance_components(masked, rel_k, evidence.n_examples)
        assumption = "variance components of released RoBERTa"
    else:
        assumption = "variance components given"
    n_eff = evidence.effective.get("selective", 14.0)
    table = mask_table(masked, rel_k)
    spread = {c: float(table[table["condition"] == c]["accuracy"].var(ddof=1)) for c in ("selective", "random")}
    attribute_extra = max(0.0, spread["selective"] - spread["random"])  # attribute masks vary beyond random ones
    weights = human.attribute_weights(n_boot=200).set_index("attribute")["tau"]
    design = {"seeds": len(masking.seeds or prompt_settings.seeds),
              "dev examples": masking.dev_size or prompt_settings.dev_size or 100,
              "random masks": 14 if masking.paper_random else (masking.n_draws or 14)}
    level = alpha / n_claims
    shared = pw.variance_components(masked, rel_k, evidence.n_examples)["shared"]

    def power_of(claim: str, sizes: dict) -> float:
        paper = pw.paper_at_design(masked, unmasked, weights, rel_k, sizes["seeds"], sizes["dev examples"],
                                   max(sizes["random masks"], 1), n_rep=60, shared=shared,
                                   source_examples=evidence.n_examples)
        sd = pw.mask_sd(components, 27 * sizes["seeds"], sizes["dev examples"])
        if claim == "weights":
            return pw.weights_power(paper["rho"], components, weights.to_numpy(), 27, sizes["seeds"],
                                    sizes["dev examples"], level, n_sim=n_sim // 2, n_perm=199,
                                    shared=components["mask"] + attribute_extra)
        return pw.masks_power(paper["delta"], float(np.sqrt(sd**2 + attribute_extra)), sd, n_eff,
                              sizes["random masks"], level, n_sim=n_sim * 5)

    rows = []
    for claim in ("masks_random", "weights"):
        row = {"claim": claim, "power": power_of(claim, design)}
        for axis in ("seeds", "dev examples", "random masks"):
            best, found = (np.nan, None), None
            for value in _SEARCH[axis]:
                value_power = power_of(claim, {**design, axis: value})
                if not np.isnan(value_power) and (np.isnan(best[0]) or value_power > best[0]):
                    best = (value_power, value)
                if value_power >= 0.8:
                    found = value
                    break
            row[f"smallest {axis}"] = (f"{found:,}" if found is not None else
                                       f"not reachable (max {best[0]:.2f} at {best[1]:,})" if best[1] else "-")
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs["assumption"] = assumption
    return out


def _walk(bb: Backbone, profile: str, emotions, seeds, root, overrides: dict) -> tuple[list, object | None]:
    """The artifacts the run would reuse, in order, and the first it would compute (or None)."""
    from emolib.paper import control
    from emolib.paper.pipeline import run_paper

    with planning() as reused:
        try:
            run = run_paper(bb, profile, emotions=emotions, seeds=seeds, device=bb.device, root=root,
                            progress=False, **overrides)
            control.null_control(run, root=root)
        except WouldCompute as stop:
            return list(reused), stop.artifact
    return list(reused), None


def plan_paper(backbone: Backbone | str = "smollm2-135m", profile: str = "quick", *, emotions=None, seeds=None,
               device: str | torch.device | None = "auto", root: str | Path | None = None, measure: bool = True,
               power: bool = False, **overrides) -> Plan:
    """What :func:`~emolib.paper.pipeline.run_paper` (with its null control) would compute, what is cached,
    and the estimated time on ``device`` from rates measured there (``measure=False``: no estimate).

    Args: as :func:`run_paper` (``overrides``: fields of the masking settings, ``permutations``);
        ``power``: also the power of the masking claims and the sizes that reach 0.8 (:func:`plan_power`).
    """
    from emolib.paper.pipeline import emotion_order
    from emolib.paper.prompts import check_grid

    permutations = overrides.pop("permutations", None)
    masking = profiles.settings("masking", profile, **overrides)
    search = profiles.settings("searchlight", profile, permutations=permutations)
    prompt_settings = profiles.settings("prompts", profile)
    order = emotion_order(emotions)
    _, chosen_seeds = check_grid(order, seeds, prompt_settings)
    bb = load_backbone(backbone, device=device)
    work = stage_work(order, chosen_seeds, prompt_settings, masking, search.permutations, bb.n_units)
    reused, missing = _walk(bb, profile, emotions, seeds, root,
                            {**overrides, "permutations": permutations} if permutations is not None else overrides)
    status, notes = [], []
    for i in range(int(work["artifact"].max()) + 1):
        if i < len(reused):
            status.append("cached" if reused[i].path == reused[i].local_path else "shipped")
        elif i == len(reused) and missing is not None:
            partial = missing.root / ".partial" / missing.name
            done = len(list(partial.glob("*"))) if partial.is_dir() else 0
            status.append(f"to compute ({done} parts done)" if done else "to compute")
            notes.append(f"next: {missing.name} under {missing.root}")
        else:
            status.append("to compute")
    # the wall time each reused artifact recorded when it was computed (of the whole artifact, on its machine)
    recorded = [float(a.meta.get("seconds", np.nan)) for a in reused] + [np.nan] * (len(status) - len(reused))
    first = ~work["artifact"].duplicated()  # an artifact's time stands on its first row
    stages = work.assign(status=[status[a] for a in work["artifact"]],
                         measured_s=np.where(first, [recorded[a] for a in work["artifact"]], np.nan))
    rates = None
    if measure:
        rates = measure_rates(bb, prompt_settings)
        speed = {"train": rates.train, "evaluate": rates.evaluate, "masked": rates.masked, "kendall": rates.kendall}
        stages["estimate_s"] = [w / speed[k] for w, k in zip(stages["work"], stages["kind"])]
    else:
        stages["estimate_s"] = np.nan
    model_gb = sum(p.numel() * p.element_size() for p in bb.model.parameters()) / 2**30
    table = plan_power(profile, **overrides) if power else None
    reliability = plan_reliability(len(chosen_seeds), run_root=root, backbone=bb, profile=profile) if power else ""
    return Plan(bb.name, profile, stages[COLUMNS], rates, model_gb, notes, table, reliability)


def plan_reliability(n_seeds: int, run_root=None, backbone=None, profile: str = "standard") -> str:
    """How reliable the unit RDMs of a run with ``n_seeds`` seeds would be, and the seeds for 0.5 and 0.8, from the
    seed-to-seed agreement of released RoBERTa's units (the run's own is known once its searchlight exists)."""
    from emolib import reproduce
    from emolib.paper.geometry import seeds_needed
    from emolib.rsa.reliability import spearman_brown

    from emolib.integrity import WouldCompute, planning

    try:
        with planning():  # only a cached or shipped result: a plan never computes the released searchlight
            released = reproduce.released_searchlight(permutations=1000)
    except (ValueError, OSError, WouldCompute):
        return ""
    if released.reliability is None:
        return ""
    r = float(released.reliability["r_pair"].median())
    needed = {t: seeds_needed(r, t) for t in (0.5, 0.8)}
    return (f"unit-RDM reliability (assuming released RoBERTa's seed-to-seed agreement, median {r:.3f}): the mean of "
            f"{n_seeds} seed(s) would reach {float(spearman_brown(r, n_seeds)):.2f}; 0.5 needs {needed[0.5]} seeds, "
            f"0.8 needs {needed[0.8]}")
