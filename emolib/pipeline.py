"""The whole paper on any backbone: prompts -> activations -> searchlight -> masks -> masked accuracy -> statistics.

Each stage is a cached artifact keyed by its inputs (:mod:`emolib.artifacts`), so a re-run
recomputes only what changed; :func:`run_paper` chains them and returns a :class:`PaperRun` whose
tables feed the same figure functions as the reproduction chapters.

Profiles (``PROFILES``) pair a prompt profile (:data:`emolib.prompts.PROFILES`) with the masking
design: ``paper`` (12 seeds, the paper's nine k as fractions of all units, the original's one random
draw per attribute label plus 5 seeded draws per k, dev and test), ``quick`` (CPU minutes on the
embedded backbone: one k, two random draws, dev only), ``smoke`` (seconds on a tiny model).

Example:
    >>> from emolib.pipeline import run_paper
    >>> run = run_paper("tiny-llama", "smoke")                       # doctest: +SKIP
    >>> run.tables["correlation_pooled"][["k", "mean_rho", "p"]]     # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from emolib import human, manipulation, neurons, rsa
from emolib.artifacts import artifact, atomic_write_csv, load_arrays, save_arrays
from emolib.backbones import Backbone, load_backbone
from emolib.emotions import ATTRIBUTES, EMOTIONS, PAPER_ORDER, check_emotions
from emolib.masked_eval import masked_accuracy, store_profile

__all__ = ["PAPER_UNITS", "PAPER_K", "PipelineProfile", "PROFILES", "get_profile", "run_activations",
           "run_searchlight", "build_masks", "run_masking", "PaperRun", "run_paper"]

logger = logging.getLogger(__name__)

#: roberta-base has 12 x 3072 FFN units; the paper's mask sizes are counts of those.
PAPER_UNITS = 36_864
#: The paper's k (500 ... 6000 of 36,864) as fractions, so they transfer to backbones of any size.
PAPER_K: tuple[float, ...] = tuple(k / PAPER_UNITS for k in (500, 1000, 1500, 2000, 2500, 3000, 4000, 5000, 6000))


@dataclass(frozen=True)
class PipelineProfile:
    """Settings of one run of the paper on a backbone (see the module docstring)."""

    name: str
    prompts: str  # name of the prompt profile (emolib.prompts.PROFILES)
    k_values: tuple[float, ...]  # mask sizes: fractions of all units (or counts >= 1)
    n_draws: int  # seeded random masks per k
    paper_random: bool  # also one random draw per attribute label and k (the original's controls)
    splits: tuple[str, ...]  # masked evaluation on these splits ("dev" is the paper's)
    accuracy: str = "exact"  # or "batch100", the original's mean of per-batch accuracies
    n_boot: int = 10_000  # bootstrap samples of the human attribute weights
    mask_seed: int = 0
    batch_size: int = 64


PROFILES: dict[str, PipelineProfile] = {
    "paper": PipelineProfile("paper", "paper", PAPER_K, n_draws=5, paper_random=True, splits=("dev", "test")),
    "quick": PipelineProfile("quick", "quick", (4000 / PAPER_UNITS,), n_draws=2, paper_random=False, splits=("dev",)),
    "smoke": PipelineProfile("smoke", "smoke", (0.1,), n_draws=2, paper_random=False, splits=("dev",), n_boot=200,
                             batch_size=32),
}


def get_profile(profile: str | PipelineProfile, **overrides) -> PipelineProfile:
    """A pipeline profile by name, with field overrides (``None`` values are ignored).

    Example:
        >>> get_profile("quick", n_draws=3).n_draws
        3
    """
    if isinstance(profile, PipelineProfile):
        base = profile
    elif profile in PROFILES:
        base = PROFILES[profile]
    else:
        raise ValueError(f"unknown profile {profile!r}; valid choices: {', '.join(PROFILES)}")
    names = {f.name for f in fields(PipelineProfile)}
    bad = [k for k in overrides if k not in names]
    if bad:
        raise ValueError(f"unknown pipeline setting {bad[0]!r}; valid settings: {', '.join(sorted(names))}")
    overrides = {k: (tuple(v) if isinstance(v, list) else v) for k, v in overrides.items() if v is not None}
    return replace(base, **overrides)


def _paper_cube(values: np.ndarray, index: pd.DataFrame) -> tuple[np.ndarray, list[int]]:
    """Rows of ``values`` (one per prompt) as ``[27 emotions (paper order), seeds, ...]``."""
    seeds = sorted(index["seed"].astype(int).unique())
    missing = sorted(set(PAPER_ORDER) - set(index["emotion"]))
    if missing:
        raise ValueError(f"the searchlight needs prompts of all 27 emotions; missing {missing}")
    position = {(e, int(s)): i for i, (e, s) in enumerate(index[["emotion", "seed"]].itertuples(index=False))}
    cube = np.empty((len(PAPER_ORDER), len(seeds)) + values.shape[1:], dtype=values.dtype)
    for a, emotion in enumerate(PAPER_ORDER):
        for b, seed in enumerate(seeds):
            if (emotion, seed) not in position:
                raise ValueError(f"no prompt for ({emotion!r}, seed {seed}); every emotion needs every seed")
            cube[a, b] = values[position[(emotion, seed)]]
    return cube, seeds


def run_activations(backbone: Backbone, store, scorer, root: str | Path | None = None) -> np.ndarray:
    """FFN activations of every prompt at the read-out (cached): ``[K, n_units]`` float32, rows as ``store.index``."""
    from emolib.prompts import backbone_identity

    art = artifact("activations", {"backbone": backbone_identity(backbone), "prompts": store.fingerprint(), "version": 1},
                   root=root)
    if art.exists():
        art.mark_used()
        return load_arrays(art.path / "activations.npz")["activations"]
    with art.writing(n_units=backbone.n_units) as folder:
        values = neurons.prompt_activations(backbone, store.prompts, scorer)
        save_arrays(folder / "activations.npz", {"activations": values})
        atomic_write_csv(store.index[["emotion", "seed"]], folder / "index.csv", index=False)
    return values


def run_searchlight(activations: np.ndarray, index: pd.DataFrame, units_per_layer: int,
                    root: str | Path | None = None) -> rsa.SearchlightResult:
    """The paper's searchlight of the backbone's units against the 14 human attribute RDMs (cached).

    Unit RDMs are the mean over seeds of ``|a_i - a_j|`` in the paper's emotion order; the targets
    are the attribute RDMs the original analyses used (``human.DOWNSTREAM_SOURCE``).
    """
    cube, seeds = _paper_cube(activations, index)  # [27, S, units]
    targets = human.attribute_rdms(human.DOWNSTREAM_SOURCE)
    key = hashlib.sha256(cube.tobytes()).hexdigest()[:16]
    art = artifact("searchlight", {"activations": key, "seeds": seeds, "units_per_layer": units_per_layer,
                                   "targets": human.DOWNSTREAM_SOURCE, "version": 1}, root=root)
    if art.exists():
        art.mark_used()
        return rsa.SearchlightResult.load(art.path)
    with art.writing(n_units=cube.shape[-1]) as folder:
        result = rsa.searchlight(rsa.unit_rdms(cube), targets, units_per_layer)
        result.save(folder)
    return result


def build_masks(result: rsa.SearchlightResult, n_units: int, profile: PipelineProfile) -> tuple[torch.Tensor, pd.DataFrame]:
    """Selective top-k masks per attribute plus the random controls of ``profile``.

    Returns:
        ``(masks [M, n_units] bool, index)`` with ``condition, attribute, k, draw``.
    """
    parts = [neurons.top_k_masks(result.rank, profile.k_values)]
    if profile.n_draws:
        parts.append(neurons.random_masks(n_units, profile.k_values, n_draws=profile.n_draws, seed=profile.mask_seed))
    if profile.paper_random:  # one draw per label; numbered after the seeded draws so the pooled mean counts each once
        masks, index = neurons.random_masks(n_units, profile.k_values, seed=profile.mask_seed + 1,
                                            labels=list(ATTRIBUTES))
        parts.append((masks, index.assign(draw=index["draw"] + profile.n_draws)))
    return torch.cat([m for m, _ in parts]), pd.concat([i for _, i in parts], ignore_index=True)


def run_masking(backbone: Backbone, store, masks: torch.Tensor, index: pd.DataFrame, profile: PipelineProfile,
                scorer, root: str | Path | None = None, progress: bool = True) -> dict[str, pd.DataFrame]:
    """Masked accuracy of every prompt x mask on each split of ``profile`` (cached per split)."""

    return {split: masked_accuracy(backbone, store, masks, index, split=split,
                                   scorer=scorer, accuracy=profile.accuracy, batch_size=profile.batch_size,
                                   root=root, progress=progress)
            for split in profile.splits}


@dataclass
class PaperRun:
    """Everything :func:`run_paper` computed for one backbone."""

    backbone: str
    profile: PipelineProfile
    store: object  # emolib.prompts.PromptStore
    activations: np.ndarray  # [K, n_units], rows as store.index
    searchlight: rsa.SearchlightResult
    mask_index: pd.DataFrame
    accuracy: dict[str, pd.DataFrame]  # split -> masked_eval frame (incl. condition "none")
    human_tau: pd.Series
    tables: dict[str, pd.DataFrame]  # manipulation.analyse on dev
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def baselines(self) -> tuple[str, ...]:
        return manipulation.BASELINES if self.profile.paper_random else ("pooled",)

    def frames(self, split: str = "dev") -> tuple[pd.DataFrame, pd.DataFrame]:
        """``(masked, unmasked)`` frames in :mod:`emolib.manipulation`'s format for one split."""
        if split not in self.accuracy:
            raise ValueError(f"split {split!r} was not evaluated; evaluated: {', '.join(self.accuracy)}")
        table = self.accuracy[split]
        unmasked = table[table["condition"] == "none"][["emotion", "seed", "accuracy"]].reset_index(drop=True)
        masked = table[table["condition"] != "none"].reset_index(drop=True)
        return masked, unmasked

    def timings(self) -> pd.DataFrame:
        return pd.DataFrame({"stage": list(self.seconds), "seconds": list(self.seconds.values())})


def run_paper(
    backbone: Backbone | str = "smollm2-135m", profile: str | PipelineProfile = "quick", *,
    emotions: Sequence[str] | None = None, seeds: Sequence[int] | None = None, root: str | Path | None = None,
    progress: bool = True, human_seed: int = 6, prompt_overrides: dict | None = None, **overrides,
) -> PaperRun:
    """Run the paper on ``backbone``: train (or reuse) prompts, record, searchlight, mask, evaluate, analyse.

    Args:
        backbone: a name, folder, hub id, ``(model, tokenizer)`` or :class:`Backbone`.
        profile: ``"paper"``, ``"quick"``, ``"smoke"`` or a :class:`PipelineProfile`.
        emotions, seeds: restrict the prompt grid (the searchlight needs all 27 emotions).
        root: artifact root. human_seed: seed of the human-weight bootstrap (the original's 6).
        prompt_overrides: fields of the prompt profile (e.g. ``{"epochs": 1}``), see :mod:`emolib.prompts`.
        overrides: :class:`PipelineProfile` fields (e.g. ``k_values=[0.05, 0.1]``, ``n_draws=5``).
    """
    from emolib import prompts

    settings = get_profile(profile, **overrides)
    if emotions is not None and set(check_emotions(emotions)) != set(EMOTIONS):
        raise ValueError(f"the searchlight needs prompts of all 27 emotions; missing {sorted(set(EMOTIONS) - set(emotions))}")
    if "dev" not in settings.splits:
        raise ValueError(f"splits {settings.splits} must include 'dev' (the paper's masked evaluation)")
    if not (settings.n_draws or settings.paper_random):
        raise ValueError("the masking statistics need random controls: set n_draws >= 1 or paper_random=True")
    bb = load_backbone(backbone)
    seconds: dict[str, float] = {}

    def timed(stage: str, fn, *args, **kwargs):
        start = time.perf_counter()
        value = fn(*args, **kwargs)
        seconds[stage] = time.perf_counter() - start
        logger.info("%s: %.1f s", stage, seconds[stage])
        return value

    store = timed("prompts", prompts.train_prompts, bb, settings.prompts, emotions=emotions or EMOTIONS, seeds=seeds,
                  root=root, progress=progress, **(prompt_overrides or {}))
    scorer = prompts.make_scorer(bb, store_profile(store))
    acts = timed("activations", run_activations, bb, store, scorer, root)
    result = timed("searchlight", run_searchlight, acts, store.index, bb.units_per_layer, root)
    masks, mask_index = build_masks(result, bb.n_units, settings)
    accuracy = timed("masked evaluation", run_masking, bb, store, masks, mask_index, settings, scorer, root, progress)
    weights = timed("human weights", human.attribute_weights, n_boot=settings.n_boot, seed=human_seed)
    human_tau = weights.set_index("attribute")["tau"]
    run = PaperRun(bb.name, settings, store, acts, result, mask_index, accuracy, human_tau, {}, seconds)
    masked, unmasked = run.frames("dev")
    run.tables = timed("statistics", manipulation.analyse, masked, unmasked, human_tau, baselines=run.baselines)
    return run


def reproduce(out_dir: str | Path, backbone: str = "smollm2-135m", profile: str = "quick", seed: int | None = None) -> list[Path]:
    """Write the per-backbone tables: searchlight summary, masked accuracies and the manipulation statistics."""
    run = run_paper(backbone, profile, human_seed=6 if seed is None else seed)
    out = Path(out_dir)
    files = [atomic_write_csv(run.searchlight.summary(), out / "searchlight_summary.csv", index=False)]
    for split, table in run.accuracy.items():
        files.append(atomic_write_csv(table, out / f"masked_accuracy_{split}.csv", index=False))
    correlation = pd.concat([run.tables[f"correlation_{b}"].assign(baseline=b) for b in run.baselines])
    files.append(atomic_write_csv(correlation, out / "per_emotion_human_correlation.csv", index=False))
    drops = pd.concat([run.tables[f"by_attribute_{b}"].assign(baseline=b) for b in run.baselines])
    files.append(atomic_write_csv(drops, out / "attribute_drop.csv", index=False))
    files.append(atomic_write_csv(run.store.accuracy, out / "prompt_accuracy.csv", index=False))
    return files
