"""The whole paper on any backbone: prompts -> activations -> searchlight -> masks -> masked accuracy -> statistics.

Each stage is a cached artifact keyed by its inputs (:mod:`emolib.artifacts`), so a re-run
recomputes only what changed; :func:`run_paper` chains them and returns a :class:`PaperRun` whose
tables feed the same figure functions as the reproduction chapters.

The settings are those of :mod:`emolib.profiles`: the prompt settings (``"prompts"``), the masking
design (``"masking"``: ``paper``: 12 seeds, the paper's nine k as fractions of all units, the
original's one random draw per attribute label plus 5 seeded draws per k, dev and test; ``quick``:
one k, two random draws, dev only; ``smoke``: seconds on a tiny model) and the human-weight
bootstrap (``"human"``).

Example:
    >>> run = run_paper("tiny-llama", "smoke", device="cpu", progress=False)
    >>> run.manipulation.baselines["pooled"].correlation.columns[:3].tolist()
    ['k', 'mean_rho', 't']
    >>> run.cube().shape  # [27 emotions, seeds, units]
    (27, 1, 192)
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from emolib import human, profiles, rsa
from emolib.artifacts import artifact, atomic_write_csv, load_arrays, save_arrays
from emolib.emotions import ATTRIBUTES, EMOTIONS, PAPER_ORDER, check_emotions, pair_reorder_index
from emolib.model.backbones import Backbone, load_backbone
from emolib.paper import manipulation, prompts, units
from emolib.paper.masked_eval import load_examples, masked_accuracy
from emolib.paper.store import PromptStore
from emolib.profiles import MaskingSettings
from emolib.versions import version

__all__ = ["masked_settings", "activation_inputs", "MIN_EMOTIONS", "emotion_order", "subset_rdms", "activation_cube", "run_activations", "run_searchlight", "build_masks", "run_masking", "PaperRun",
           "run_paper", "load_searchlight", "save_searchlight"]

logger = logging.getLogger(__name__)


#: The fewest emotions a searchlight runs on (RDMs of 10 pairs).
MIN_EMOTIONS = 5


def emotion_order(emotions: Sequence[str] | None = None) -> list[str]:
    """The emotions of a run in the paper's order (default: all 27); ``ValueError`` for unknown names or
    fewer than :data:`MIN_EMOTIONS`.

    Example:
        >>> emotion_order(["joy", "anger", "fear", "grief", "pride"])
        ['pride', 'joy', 'anger', 'fear', 'grief']
    """
    if emotions is None:
        return list(PAPER_ORDER)
    chosen = set(check_emotions(profiles.as_list(emotions)))
    if len(chosen) < MIN_EMOTIONS:
        raise ValueError(f"the searchlight needs at least {MIN_EMOTIONS} emotions (RDMs of 10 pairs), got "
                         f"{sorted(chosen)}; valid choices: any {MIN_EMOTIONS} or more of {', '.join(EMOTIONS)}")
    return [e for e in PAPER_ORDER if e in chosen]


def subset_rdms(rdms: pd.DataFrame, order: Sequence[str]) -> pd.DataFrame:
    """Pair-vector RDMs (rows: the 351 pairs of ``PAPER_ORDER``) restricted to the pairs of ``order``."""
    if list(order) == list(PAPER_ORDER):
        return rdms
    index = pair_reorder_index(PAPER_ORDER, order)
    return rdms.iloc[index].reset_index(drop=True)


def activation_cube(values: np.ndarray, index: pd.DataFrame, emotions: Sequence[str] | None = None
                    ) -> tuple[np.ndarray, list[int]]:
    """Rows of ``values`` (one per prompt, as ``index``'s emotion and seed) as ``[emotions, seeds, ...]``,
    emotions in the paper's order (default: all 27).

    Returns:
        ``(cube, seeds)``; ``ValueError`` if an emotion or an (emotion, seed) prompt is missing.
    """
    order = emotion_order(emotions)
    seeds = sorted(index["seed"].astype(int).unique())
    missing = sorted(set(order) - set(index["emotion"]))
    if missing:
        raise ValueError(f"the searchlight needs prompts of every emotion of the run; missing {missing}")
    position = {(e, int(s)): i for i, (e, s) in enumerate(index[["emotion", "seed"]].itertuples(index=False))}
    cube = np.empty((len(order), len(seeds)) + values.shape[1:], dtype=values.dtype)
    for a, emotion in enumerate(order):
        for b, seed in enumerate(seeds):
            if (emotion, seed) not in position:
                raise ValueError(f"no prompt for ({emotion!r}, seed {seed}); every emotion needs every seed")
            cube[a, b] = values[position[(emotion, seed)]]
    return cube, seeds


def activation_inputs(backbone: Backbone, store: PromptStore) -> dict:
    """What the activations of ``store``'s prompts depend on (their artifact's key inputs)."""
    return {"backbone": backbone.identity, "prompts": store.fingerprint(), "version": version("activations")}


def run_activations(backbone: Backbone, store: PromptStore, scorer, root: str | Path | None = None) -> np.ndarray:
    """FFN activations of every prompt at the read-out (cached): ``[K, n_units]`` float32, rows as ``store.index``."""
    art = artifact("activations", activation_inputs(backbone, store), root=root)
    expected = (len(store), backbone.n_units)

    def load(path: Path) -> np.ndarray:
        values = load_arrays(path / "activations.npz")["activations"]
        if values.shape != expected:
            raise ValueError(f"{path / 'activations.npz'} holds activations {values.shape}, expected {expected}")
        return values

    cached = art.reuse(load)
    if cached is not None:
        return cached
    with art.writing(n_units=backbone.n_units) as folder:
        values = units.prompt_activations(backbone, store.prompts, scorer)
        save_arrays(folder / "activations.npz", {"activations": values})
        atomic_write_csv(store.index[["emotion", "seed"]], folder / "index.csv", index=False)
    return values


def save_searchlight(result: rsa.SearchlightResult, folder: Path) -> None:
    """Write a searchlight result into an artifact folder (``searchlight.npz`` + ``searchlight.json``)."""
    import json

    from emolib.artifacts import atomic_write_text

    arrays, settings = result.to_arrays()
    save_arrays(folder / "searchlight.npz", arrays)
    atomic_write_text(folder / "searchlight.json", json.dumps(settings))


def load_searchlight(folder: Path) -> rsa.SearchlightResult:
    """The searchlight result :func:`save_searchlight` wrote into ``folder``."""
    import json

    return rsa.SearchlightResult.from_arrays(load_arrays(folder / "searchlight.npz"),
                                             json.loads((folder / "searchlight.json").read_text()))


def run_searchlight(activations: np.ndarray, index: pd.DataFrame, units_per_layer: int,
                    root: str | Path | None = None, emotions: Sequence[str] | None = None,
                    permutations: int = 0, seed: int = 0, source: dict | None = None,
                    n_sham: int = 0) -> rsa.SearchlightResult:
    """The paper's searchlight of the backbone's units against the 14 human attribute RDMs (cached).

    Unit RDMs are the mean over seeds of ``|a_i - a_j|`` in the paper's emotion order (restricted to
    ``emotions``); the targets are the attribute RDMs the original analyses used
    (``human.DOWNSTREAM_SOURCE``) on the same pairs. ``permutations``: a label-permutation null.
    ``source``: the inputs the activations were computed from (:func:`activation_inputs`); they key the
    artifact, so a shipped result is found although recomputed activations differ in their last bits.
    Without it the key is a hash of the activations. ``n_sham``: also the taus against that many label-permuted
    attribute RDMs (the sham masks' selection, :func:`emolib.rsa.sham_targets`).
    """
    order = emotion_order(emotions)
    cube, seeds = activation_cube(activations, index, order)  # [E, S, units]
    targets = subset_rdms(human.attribute_rdms(human.DOWNSTREAM_SOURCE), order)
    key = source if source is not None else hashlib.sha256(cube.tobytes()).hexdigest()[:16]
    extra = {"emotions": order} if len(order) != len(PAPER_ORDER) else {}
    if permutations:
        extra |= {"permutations": int(permutations), "permutation_seed": int(seed)}
    if n_sham:
        extra |= {"n_sham": int(n_sham), "sham_seed": int(seed) + 1}
    art = artifact("searchlight", {"activations": key, "seeds": seeds, "units_per_layer": units_per_layer,
                                   "targets": human.DOWNSTREAM_SOURCE, "version": version("searchlight"), **extra}, root=root)
    cached = art.reuse(load_searchlight)
    if cached is not None:
        return cached
    with art.writing(n_units=cube.shape[-1]) as folder:
        result = rsa.searchlight(rsa.unit_rdms(cube), targets, units_per_layer, permutations=permutations, seed=seed,
                                 n_sham=n_sham, sham_seed=seed + 1)
        if cube.shape[1] >= 2:  # how well each unit's RDM replicates across the seeds it is averaged over
            result = dataclasses.replace(result, reliability=rsa.unit_reliability(cube))
        if permutations:  # the global test beyond what the task data's label co-occurrence explains
            result = dataclasses.replace(result, partial=cooccurrence_global_test(rsa.unit_rdms(cube), targets, order,
                                                                                  permutations, seed))
        save_searchlight(result, folder)
    return result


def cooccurrence_global_test(rdms: np.ndarray, targets: pd.DataFrame, order: Sequence[str], permutations: int,
                             seed: int = 0) -> dict:
    """The searchlight's global test with the GoEmotions label co-occurrence RDM (-PMI, train split) partialled out
    (:func:`emolib.rsa.partial.partial_global_test`): does any unit track an attribute beyond it?"""
    from emolib.paper.confounds import cooccurrence_rdms
    from emolib.rsa.partial import partial_global_test

    control = cooccurrence_rdms("train", order)["-PMI"]
    return {"control": "label co-occurrence (-PMI, train)",
            **partial_global_test(rdms, targets.to_numpy(np.float64), control, permutations, seed)}


def build_masks(result: rsa.SearchlightResult, n_units: int, settings: MaskingSettings) -> tuple[torch.Tensor, pd.DataFrame]:
    """Selective top-k masks per attribute, sham masks and the random controls of ``settings``.

    Per k: the 14 attribute masks (``condition="selective"``); with ``settings.n_sham`` the top-k units of each
    label-permuted attribute RDM (``"sham"``, from ``result.sham_tau``); ``settings.n_draws`` seeded random
    masks, each with one attribute mask's layer profile (``"matched"``) with ``settings.layer_matched``, else
    uniform (``"random"``); and with ``settings.paper_random`` the original's one uniform random draw per
    attribute label (``"random"``).

    Returns:
        ``(masks [M, n_units] bool, index)`` with ``condition, attribute, k, draw``.
    """
    if settings.n_sham and (result.sham_tau is None or result.sham_tau.shape[1] < settings.n_sham):
        raise ValueError(f"{settings.n_sham} sham masks need a searchlight run with n_sham >= {settings.n_sham}")
    parts = []
    for k in settings.k_values:
        selective = units.top_k_masks(result.rank, [k])
        parts.append(selective)
        if settings.n_sham:
            ranks = result.sham_tau.iloc[:, : settings.n_sham].rank(ascending=False)
            parts.append(units.top_k_masks(ranks, [k], condition="sham"))
        if settings.n_draws and settings.layer_matched:
            count = units.resolve_k(k, n_units)  # seeded by k itself: adding another k leaves these masks alone
            parts.append(units.layer_matched_masks(selective[0], result.units_per_layer, settings.n_draws,
                                                   seed=[settings.mask_seed, count],
                                                   attributes=selective[1]["attribute"].tolist()))
    if settings.n_draws and not settings.layer_matched:
        parts.append(units.random_masks(n_units, settings.k_values, n_draws=settings.n_draws, seed=settings.mask_seed))
    if settings.paper_random:  # one draw per label; numbered after the seeded draws so the pooled mean counts each once
        masks, index = units.random_masks(n_units, settings.k_values, seed=settings.mask_seed + 1,
                                          labels=list(ATTRIBUTES))
        parts.append((masks, index.assign(draw=index["draw"] + settings.n_draws)))
    masks = torch.cat([m for m, _ in parts])
    index = pd.concat([i for _, i in parts], ignore_index=True)
    order = np.array(index.sort_values("k", kind="stable").index)  # k by k, as before
    return masks[torch.from_numpy(order)], index.loc[order].reset_index(drop=True)


def masked_settings(store: PromptStore, settings: MaskingSettings) -> profiles.PromptSettings:
    """The prompt settings the masked evaluation uses: the store's, with ``settings.dev_size`` examples per task."""
    prompt_settings = prompts.store_settings(store)
    if settings.dev_size is not None:
        prompt_settings = profiles.settings("prompts", prompt_settings, dev_size=settings.dev_size,
                                            test_size=settings.dev_size)
    return prompt_settings


def run_masking(backbone: Backbone, store: PromptStore, masks: torch.Tensor, index: pd.DataFrame,
                settings: MaskingSettings, scorer, root: str | Path | None = None,
                progress: bool = True) -> dict[str, pd.DataFrame]:
    """Masked accuracy of the prompts of ``settings.seeds`` x every mask on each split (cached per split and k:
    one artifact per mask size, each with the unmasked prompts, so another k can be added later on its own).

    ``settings.dev_size`` (if set) is the number of task examples per prompt under the masks. The frames'
    ``attrs["artifacts"]`` list the masked-evaluation folders (per-example results: :func:`load_examples`).
    """
    prompt_settings = masked_settings(store, settings)
    chosen = store.select(settings.seeds)
    out = {}
    for split in settings.splits:
        parts = []
        for k in pd.unique(index["k"]):
            rows = np.flatnonzero(index["k"].to_numpy() == k)
            parts.append(masked_accuracy(backbone, chosen, masks[torch.from_numpy(rows)],
                                         index.iloc[rows].reset_index(drop=True), split=split, profile=prompt_settings,
                                         scorer=scorer, accuracy=settings.accuracy, batch_size=settings.batch_size,
                                         device=backbone.device, root=root, progress=progress))
        table = pd.concat([parts[0]] + [p[p["condition"] != "none"] for p in parts[1:]], ignore_index=True)
        table.attrs["artifacts"] = [p.attrs.get("artifact") for p in parts]
        out[split] = table
    return out


@dataclass
class PaperRun:
    """Everything :func:`run_paper` computed for one backbone."""

    backbone: str
    profile: str
    masking: MaskingSettings
    store: PromptStore
    activations: np.ndarray  # [K, n_units], rows as store.index
    searchlight: rsa.SearchlightResult
    mask_index: pd.DataFrame
    accuracy: dict[str, pd.DataFrame]  # split -> masked_eval frame (incl. condition "none")
    human_tau: pd.Series
    manipulation: manipulation.ManipulationResult  # the statistics on dev
    seconds: dict[str, float] = field(default_factory=dict)
    emotions: list[str] = field(default_factory=lambda: list(PAPER_ORDER))  # paper order
    human_weights: pd.DataFrame | None = None  # human.attribute_weights (tau with bootstrap CI)
    loaded: Backbone | None = field(default=None, repr=False)  # the model the run used

    @property
    def baselines(self) -> tuple[str, ...]:
        return manipulation.BASELINES if self.masking.paper_random else ("pooled",)

    def cube(self) -> np.ndarray:
        """The activations as ``[emotions (paper order), seeds, n_units]``."""
        return activation_cube(self.activations, self.store.index, self.emotions)[0]

    def similarity_subjects(self) -> np.ndarray:
        """The subjects' similarity RDMs ``[subjects, pairs]`` on the run's emotion pairs."""
        return human.similarity_rdm(individual=True)[:, pair_reorder_index(PAPER_ORDER, self.emotions)]

    def similarity_ceiling(self, method: str = "kendall"):
        """The noise ceiling of the human similarity RDM on the run's emotion pairs (:func:`emolib.human.noise_ceiling`)."""
        return human.noise_ceiling(self.similarity_subjects(), method)

    def human_rdms(self) -> pd.DataFrame:
        """The similarity and 14 attribute RDMs on the run's emotion pairs (for whole-model RSA)."""
        from emolib import released

        return subset_rdms(released.human_rdms(), self.emotions)

    def frames(self, split: str = "dev") -> tuple[pd.DataFrame, pd.DataFrame]:
        """``(masked, unmasked)`` frames in :mod:`emolib.paper.manipulation`'s format for one split."""
        if split not in self.accuracy:
            raise ValueError(f"split {split!r} was not evaluated; evaluated: {', '.join(self.accuracy)}")
        table = self.accuracy[split]
        unmasked = table[table["condition"] == "none"][["emotion", "seed", "accuracy"]].reset_index(drop=True)
        masked = table[table["condition"] != "none"].reset_index(drop=True)
        return masked, unmasked

    def timings(self) -> pd.DataFrame:
        return pd.DataFrame({"stage": list(self.seconds), "seconds": list(self.seconds.values())})


def run_paper(
    backbone: Backbone | str = "smollm2-135m", profile: str = "quick", *,
    emotions: Sequence[str] | None = None, seeds: Sequence[int] | None = None,
    device: str | torch.device | None = "auto", root: str | Path | None = None, progress: bool = True,
    bootstrap_seed: int = 6, prompt_overrides: dict | None = None, permutations: int | None = None,
    **overrides,
) -> PaperRun:
    """Run the paper on ``backbone``: train (or reuse) prompts, record, searchlight, mask, evaluate, analyse.

    Args:
        backbone: a name, folder, hub id, ``(model, tokenizer)`` or :class:`Backbone` (put on ``device``).
        profile: a profile of :mod:`emolib.profiles`.
        emotions: the emotions (default all 27; at least :data:`MIN_EMOTIONS`); the searchlight and the
            human RDMs then run on their pairs. seeds: the prompt seeds (default: the profile's).
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``.
        root: artifact root. bootstrap_seed: seed of the human-weight bootstrap (the original's 6).
        prompt_overrides: fields of the prompt settings (e.g. ``{"epochs": 1}``).
        permutations: the searchlight's label-permutation null (default: the profile's; 0: none).
        overrides: fields of the masking settings (e.g. ``k_values=[0.05, 0.1]``, ``n_draws=5``, ``splits``).
    """
    masking = profiles.settings("masking", profile, **overrides)
    search = profiles.settings("searchlight", profile, permutations=permutations)
    bootstrap = profiles.settings("human", profile)
    prompt_settings = profiles.settings("prompts", profile, **(prompt_overrides or {}))
    order = emotion_order(emotions)
    if "dev" not in masking.splits:
        raise ValueError(f"splits {list(masking.splits)} must include 'dev' (the paper's masked evaluation)")
    if not (masking.n_draws or masking.paper_random):
        raise ValueError("the masking statistics need random controls: set n_draws >= 1 or paper_random=True")
    _, seeds = prompts.check_grid(order, seeds, prompt_settings)
    for name in ("seeds", "null_seeds"):
        extra = sorted(set(getattr(masking, name) or ()) - set(seeds))
        if extra:
            raise ValueError(f"masking {name} {extra} are not among the prompt seeds; valid choices: "
                             f"{', '.join(map(str, seeds))}")
    bb = load_backbone(backbone, device=device)
    seconds: dict[str, float] = {}

    def timed(stage: str, fn, *args, **kwargs):
        start = time.perf_counter()
        value = fn(*args, **kwargs)
        seconds[stage] = time.perf_counter() - start
        logger.info("%s: %.1f s", stage, seconds[stage])
        return value

    store = timed("prompts", prompts.train_prompts, bb, profile, emotions=order, seeds=seeds, device=bb.device,
                  root=root, progress=progress, **(prompt_overrides or {}))
    scorer = prompts.make_scorer(bb, prompts.store_settings(store))
    acts = timed("activations", run_activations, bb, store, scorer, root)
    result = timed("searchlight", run_searchlight, acts, store.index, bb.units_per_layer, root, order,
                   search.permutations, search.seed, activation_inputs(bb, store), masking.n_sham)
    masks, mask_index = build_masks(result, bb.n_units, masking)
    accuracy = timed("masked evaluation", run_masking, bb, store, masks, mask_index, masking, scorer, root, progress)
    weights = timed("human weights", human.attribute_weights, n_boot=bootstrap.n_boot, seed=bootstrap_seed)
    human_tau = weights.set_index("attribute")["tau"]
    name = profile if isinstance(profile, str) else "custom"
    run = PaperRun(bb.name, name, masking, store, acts, result, mask_index, accuracy, human_tau, None, seconds,
                   order, weights, bb)
    masked, unmasked = run.frames("dev")
    run.manipulation = timed("statistics", manipulation.analyse, masked, unmasked, human_tau, baselines=run.baselines,
                             n_perm=masking.n_perm)
    return run
