"""The analyses of the valence chapter: probe comparisons, the arousal confound, emotion vectors and steering.

Probe analyses take the frames of :mod:`emolib.emollm.probes` and :func:`emolib.emollm.prompts.probe_data`;
:func:`vectors_and_steering` computes the emotion vectors (:mod:`emolib.emollm.vectors`), their PC
correlations with human valence/arousal and their RSA with human similarity at every layer, then
steers the headline layer (:func:`emolib.emollm.vectors.headline_layer`, fixed in advance) along the
emotion-vector valence axis (oriented PC1), the ``joy - sadness`` contrast and the valence probe
direction, against random directions (:mod:`emolib.emollm.steering`).

Example:
    >>> crosstab, summary = arousal_confound()
    >>> sorted(crosstab.index)
    ['high', 'low']
    >>> result = vectors_and_steering("tiny-llama", "smoke", device="cpu")
    >>> sorted(result.best.query("role == 'valence'")["direction"])
    ['emotion PC1', 'joy - sadness', 'valence probe']
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from emolib import profiles
from emolib.data import load_adjectives
from emolib.emollm import steering
from emolib.emollm.steering_controls import contrast_controls
from emolib.emollm.steering_run import SteeringRun, steering_with_controls
from emolib.emollm import vectors as ev_mod
from emolib.emollm.probes import ValenceProbe, centre_by_group, faithful_split
from emolib.emollm.prompts import SITES, probe_data
from emolib.model.backbones import Backbone, load_backbone

__all__ = ["family_table", "arousal_confound", "split_leakage", "leakage_table", "faithful_spread", "valence_to_arousal",
           "best_layers", "best_layer_table", "probe_comparison", "probe_direction", "valence_directions",
           "VectorSteering", "vectors_and_steering"]

logger = logging.getLogger(__name__)


def family_table(data: dict) -> pd.DataFrame:
    """Per scale: unique adjectives, their lemma families, the families with several words, templates and
    template families of the prompts in ``data`` (:func:`~emolib.emollm.prompts.probe_data`)."""
    rows = []
    for scale, d in data.items():
        frame = d["frame"]
        words = frame.drop_duplicates("adjective").groupby("lemma_family")["adjective"].agg(list)
        templates = frame.drop_duplicates("template_id")
        rows.append({"scale": scale, "adjectives": int(words.map(len).sum()), "lemma families": len(words),
                     "families of several words": "; ".join(", ".join(g) for g in words if len(g) > 1),
                     "templates": len(templates), "template families": int(templates["template_family"].nunique())})
    return pd.DataFrame(rows).set_index("scale")


def arousal_confound(adjective_version: str = "head") -> tuple[pd.DataFrame, dict]:
    """How much the arousal set's labels follow valence, from the word lists alone.

    Returns:
        ``(crosstab, summary)``: counts of the arousal adjectives by arousal list and valence list
        (``none`` if the word is in neither valence list), and a summary with ``n_shared`` (arousal
        words with a valence label), ``accuracy``: how often "low arousal iff positive valence"
        gives the arousal label of those words, ``low_positive_share`` (positive among the valence-labelled
        low-arousal words) and ``negative_high_share`` (high-arousal among the negative words).
    """
    valence = load_adjectives("valence", adjective_version)
    arousal = load_adjectives("arousal", adjective_version)
    label = {w: ("positive" if k == "valence_good" else "negative") for k, words in valence.items() for w in words}
    rows = [(k.split("_")[0], label.get(w, "none")) for k, words in arousal.items() for w in dict.fromkeys(words)]
    frame = pd.DataFrame(rows, columns=["arousal", "valence"])
    crosstab = pd.crosstab(frame["arousal"], frame["valence"])
    shared = frame[frame["valence"] != "none"]
    hits = ((shared["arousal"] == "low") == (shared["valence"] == "positive")).mean()
    low, negative = shared[shared["arousal"] == "low"], shared[shared["valence"] == "negative"]
    return crosstab, {"n_arousal_words": len(frame), "n_shared": len(shared), "accuracy": float(hits),
                      "low_positive_share": float((low["valence"] == "positive").mean()),
                      "negative_high_share": float((negative["arousal"] == "high").mean())}


def split_leakage(frame: pd.DataFrame, split: np.ndarray) -> dict[str, float]:
    """How much a split leaks through families: the share of E1 adjectives with a lemma-family member
    in training, and of E2 templates with a template-family member in training."""
    train = frame[split == "train"]
    e1 = frame[split == "E1"].drop_duplicates("adjective")
    e2 = frame[split == "E2"].drop_duplicates("template_id")
    return {
        "E1 adjectives with a family member in train": float(e1["lemma_family"].isin(train["lemma_family"]).mean()),
        "E2 templates with a family member in train": float(e2["template_family"].isin(train["template_family"]).mean()),
    }


def leakage_table(data: dict, n_repeats: int, seed: int = 0) -> pd.DataFrame:
    """Mean :func:`split_leakage` of Emo_LLM's split per scale over the repeated split seeds of ``run_probes``."""
    rows = [split_leakage(d["frame"], faithful_split(d["frame"], seed * 10_000 + r)) | {"scale": s}
            for s, d in data.items() for r in range(n_repeats)]
    return pd.DataFrame(rows).groupby("scale").mean()


def faithful_spread(results: pd.DataFrame) -> pd.DataFrame:
    """Range (min, max) over repeated splits of the original's all-layer LR accuracy, per scale and experiment."""
    rows = results[(results["variant"] == "faithful") & (results["layer"].astype(str) == "all")]
    spread = rows.groupby(["scale", "experiment"])["accuracy"]
    return pd.DataFrame({"min": spread.min(), "max": spread.max()})


def valence_to_arousal(data: dict, layer: int, features: str = "residual") -> dict[str, float]:
    """Arousal accuracy of a template-centred valence probe read as "positive valence = low arousal".

    The probe is fit on all valence prompts at ``layer``; returns its accuracy on all arousal prompts
    and on those whose adjective is in neither valence list.
    """
    val, aro = data["valence"], data["arousal"]
    probe = ValenceProbe().fit(centre_by_group(val[features][:, layer], val["frame"]["template_id"].to_numpy()),
                               val["frame"]["y"].to_numpy())
    X = centre_by_group(aro[features][:, layer], aro["frame"]["template_id"].to_numpy())
    hit = (1 - probe.predict(X)) == aro["frame"]["y"].to_numpy()  # valence y = 1: negative; arousal y = 1: low
    unseen = ~aro["frame"]["adjective"].isin(set(val["frame"]["adjective"])).to_numpy()
    return {"all arousal prompts": float(hit.mean()),
            "arousal words not in the valence lists": float(hit[unseen].mean())}


def best_layers(summary: pd.DataFrame, select: tuple[str, str] = ("centred", "E1")) -> pd.DataFrame:
    """Per (scale, features) the layer with the highest mean accuracy of ``select`` = (variant, experiment).

    Returns:
        Columns ``scale, features, layer`` (int), in the order of ``summary``.
    """
    per_layer = summary[summary["layer"].astype(str) != "all"].assign(layer=lambda f: f["layer"].astype(int))
    pick = per_layer[(per_layer["variant"] == select[0]) & (per_layer["experiment"] == select[1])]
    if pick.empty:
        raise ValueError(f"summary has no per-layer rows of variant {select[0]!r} and experiment {select[1]!r}")
    return pick.loc[pick.groupby(["scale", "features"], sort=False)["accuracy"].idxmax(),
                    ["scale", "features", "layer"]].reset_index(drop=True)


def best_layer_table(summary: pd.DataFrame, select: tuple[str, str] = ("centred", "E1")) -> pd.DataFrame:
    """Faithful against rigorous accuracies at each (scale, features)'s best layer, as "mean [low, high]".

    The best layer maximises the mean accuracy of ``select`` = (variant, experiment); the original's
    all-layer probes are added as ``faithful (all layers)`` rows.
    """
    per_layer = summary[summary["layer"].astype(str) != "all"].assign(layer=lambda f: f["layer"].astype(int))
    rows = per_layer.merge(best_layers(summary, select), on=["scale", "features", "layer"])
    rows = rows[rows["experiment"] != "E3"]  # E3 is a memorisation check (composition.memorisation_table)
    flat = summary[(summary["layer"].astype(str) == "all") & (summary["experiment"] != "E3")].assign(
        variant=lambda f: f["variant"] + " (all layers)")
    table = pd.concat([rows.assign(layer=rows["layer"].astype(str)), flat])
    table["cell"] = [f"{a:.3f} [{lo:.3f}, {hi:.3f}]"
                     for a, lo, hi in table[["accuracy", "ci_low", "ci_high"]].to_numpy()]
    return table.pivot_table(index=["scale", "features", "variant", "layer"], columns="experiment", values="cell",
                             aggfunc="first", sort=False)


def probe_comparison(summary: pd.DataFrame, select: tuple[str, str] = ("centred", "E1")) -> pd.DataFrame:
    """At each (scale, features)'s best layer: E1 accuracy from faithful to rigorous, and both baselines.

    Choosing the best layer flatters its accuracy. Two columns correct for it: ``random-label E1 (best
    layer)``, the control task's accuracy at *its* best layer (what the same selection gives without a
    signal), and ``centred E1 (middle layer)``, the rigorous probe at the layer fixed in advance.

    Returns:
        One row per (scale, features): ``layer``, E1 accuracies of ``faithful``, ``grouped``,
        ``centred``, ``oracle`` (the adjective alone, flipped by the template's true negation flag) and
        ``random-label``, the two selection columns, and ``centred - oracle``. Repeated splits, descriptive:
        the chapter's inference is :mod:`emolib.emollm.composition` (families as units, the layer chosen inside
        the training data).
    """
    rows = []
    for best in best_layers(summary, select).itertuples(index=False):
        at = summary[(summary["scale"] == best.scale) & (summary["features"] == best.features)
                     & (summary["layer"].astype(str) == str(best.layer))]
        get = at.set_index(["variant", "experiment"])["accuracy"]
        rows.append({"scale": best.scale, "features": best.features, "layer": int(best.layer),
                     **{f"{v} E1": float(get.get((v, "E1"), np.nan))
                        for v in ("faithful", "grouped", "centred", "oracle", "random-label")}})
        same = summary[(summary["scale"] == best.scale) & (summary["features"] == best.features)
                       & (summary["layer"].astype(str) != "all") & (summary["experiment"] == "E1")]
        control = same[same["variant"] == "random-label"]["accuracy"]
        rows[-1]["random-label E1 (best layer)"] = float(control.max()) if len(control) else np.nan
        layers = sorted(same["layer"].astype(int).unique())
        middle = layers[len(layers) // 2] if layers else None
        fixed = same[(same["variant"] == "centred") & (same["layer"].astype(int) == middle)]["accuracy"]
        rows[-1]["centred E1 (middle layer)"] = float(fixed.iloc[0]) if len(fixed) else np.nan
    table = pd.DataFrame(rows)
    table["centred - oracle"] = table["centred E1"] - table["oracle E1"]
    return table


def probe_direction(backbone: Backbone | str, scale: str = "valence", layer: int = -1, features: str = "residual",
                    profile: str = "quick", centred: bool = True, n_templates: int | None = None,
                    device: str | torch.device | None = "auto", root: str | Path | None = None) -> torch.Tensor:
    """A unit-norm probe direction ``[d]`` in model space, oriented to *positive* valence / *high* arousal.

    Fits a :class:`~emolib.emollm.probes.ValenceProbe` on all prompts of the profile (template-centred if
    ``centred``) at ``layer`` and returns ``-direction_`` (y = 1 is negative valence / low arousal).
    With ``features="residual"`` the direction lives in the residual stream after block ``layer``,
    where :func:`emolib.emollm.steering.steer` adds it; with ``"value"`` in that layer's value space.

    Example:
        >>> u = probe_direction("tiny-llama", layer=1, profile="smoke", device="cpu")
        >>> round(float(u.norm()), 4)
        1.0
    """
    backbone = load_backbone(backbone, device=device)
    if features not in SITES:
        raise ValueError(f"unknown features {features!r}; valid choices: {', '.join(SITES)}")
    if not -backbone.n_layers <= layer < backbone.n_layers:
        raise ValueError(f"layer {layer} out of range; valid choices: 0..{backbone.n_layers - 1} (or negative)")
    settings = profiles.settings("probes", profile, n_templates=n_templates)
    data = probe_data(backbone, settings, scales=[scale], root=root)[scale]
    X = data[features][:, layer]  # [N, d]
    if centred:
        X = centre_by_group(X, data["frame"]["template_id"].to_numpy())
    probe = ValenceProbe().fit(X, data["frame"]["y"].to_numpy())
    if not np.any(probe.direction_):
        raise ValueError(f"layer {layer} gives no probe direction (its {features} features are constant within "
                         "templates); choose another layer")
    return torch.as_tensor(-probe.direction_, dtype=torch.float32)


def valence_directions(ev: ev_mod.EmotionVectors, layer: int) -> dict[str, torch.Tensor]:
    """The emotion-vector steering directions at ``layer``: ``"emotion PC1"`` (oriented valence axis) and
    ``"joy - sadness"``."""
    return {"emotion PC1": ev_mod.pc_direction(ev, layer), "joy - sadness": ev_mod.contrast_direction(ev, layer)}


@dataclass
class VectorSteering:
    """What :func:`vectors_and_steering` computed (tables of the chapter and of ``reproduce valence``)."""

    vectors: ev_mod.EmotionVectors
    layer: int  # the headline layer, fixed in advance
    scores: pd.DataFrame  # oriented PC1/PC2 scores at the headline layer (emotion x PC)
    pcs: pd.DataFrame  # PC-human correlations at every layer, bootstrap CI with the PCA refitted
    headline: pd.DataFrame  # the headline layer, with the CI of the PCA kept fixed beside it
    pcs_best: pd.DataFrame  # the largest r over layers, with p_max corrected for choosing that layer
    rsa: pd.DataFrame  # emotion-vector RSA with human similarity per layer
    shifts: pd.DataFrame  # per-prompt read-out shifts (column ``half``: A chooses alpha, B is held out)
    steering: pd.DataFrame  # dose-response table on the held-out half
    best: pd.DataFrame  # held-out tests: each valence direction at its alpha, then its controls at that alpha
    examples: pd.DataFrame  # greedy continuations at -/+ the best alpha of emotion PC1
    seconds: dict[str, float] = field(default_factory=dict)
    controls: SteeringRun | None = None  # everything of the steering stage (slopes, behaviour, ...)


def vectors_and_steering(
    backbone: str | Backbone = "smollm2-135m", profile: str = "quick", seed: int = 0, *,
    device: str | torch.device | None = "auto", probe: bool = True, root: str | Path | None = None,
) -> VectorSteering:
    """Emotion vectors, their PCs and RSA against human ratings, and steering along valence directions.

    Args:
        backbone: a causal or masked LM, or anything :func:`load_backbone` accepts (put on ``device``); a
            masked LM is read at the ``<mask>`` of cloze prompts and writes no continuations.
        profile: sizes of the ``"vectors"``, ``"steering"`` and ``"probes"`` stages (:mod:`emolib.profiles`).
        seed: comment sample, bootstrap, permutations, random directions and the alpha split.
        probe: also steer the valence probe direction (a centred valence probe of the residual stream
            after the headline layer).
    """
    vec, steer_settings = profiles.settings("vectors", profile), profiles.settings("steering", profile)
    times: dict[str, float] = {}
    start = time.perf_counter()
    bb = load_backbone(backbone, device=device)
    ev = ev_mod.emotion_vectors(bb, profile, seed, root=root)
    times["emotion vectors"] = time.perf_counter() - start
    start = time.perf_counter()
    layer = ev_mod.headline_layer(ev)
    scores = ev_mod.pca_scores(ev, layer)
    pcs = ev_mod.pc_correlations(ev, n_boot=vec.n_boot, seed=seed)
    fixed = ev_mod.pc_correlations(ev, layer=layer, n_boot=vec.n_boot, seed=seed, refit=False)
    headline = ev_mod.with_reference(pcs[pcs["layer"] == layer].drop(columns="layer").reset_index(drop=True))
    headline[["ci_low_fixed_pca", "ci_high_fixed_pca"]] = fixed[["ci_low", "ci_high"]].to_numpy()
    pcs_best = pcs.loc[pcs.groupby(["pc", "human_scale"])["r"].idxmax()].reset_index(drop=True)
    selection = ev_mod.pc_layer_selection(ev, n_perm=vec.n_perm, seed=seed)
    pcs_best = pcs_best.merge(selection[["pc", "human_scale", "p_max"]], on=["pc", "human_scale"])
    times["PC correlations"] = time.perf_counter() - start
    start = time.perf_counter()
    rsa = ev_mod.vector_rsa(ev, n_perm=vec.n_perm, seed=seed)
    times["RSA"] = time.perf_counter() - start
    start = time.perf_counter()
    directions = valence_directions(ev, layer)
    if probe:
        directions["valence probe"] = probe_direction(bb, "valence", layer=layer, profile=profile, device=bb.device,
                                                      root=root)
    prompts = steering.NEUTRAL_PROMPTS[: steer_settings.n_prompts]
    run = steering_with_controls(
        bb, directions, layer, steer_settings.alphas, prompts, contrasts=contrast_controls(ev, layer),
        n_random=steer_settings.n_random, n_select=steer_settings.n_select, seed=seed,
        slope_range=steer_settings.slope_range, behaviour_for=list(directions),
        n_behaviour_random=steer_settings.n_behaviour_random, max_new_tokens=steer_settings.max_new_tokens)
    times["steering"] = time.perf_counter() - start - run.seconds["continuations"]
    times["continuations"] = run.seconds["continuations"]  # the behavioural read-out's greedy continuations
    cont = run.continuations  # empty for a masked LM (attrs["note"] says why)
    shown = cont[cont["direction"].isin(["emotion PC1", "unsteered"]) & cont["prompt"].isin(run.half_b[:3])]
    examples = shown[["text", "alpha", "continuation"]].rename(columns={"text": "prompt"}).reset_index(drop=True)
    examples.attrs.update(cont.attrs)
    logger.info("emotion vectors and steering of %s (%s): %s", ev.backbone, profile,
                {k: round(v, 1) for k, v in times.items()})
    return VectorSteering(ev, layer, scores, pcs, headline, pcs_best, rsa, run.shifts, run.dose, run.tests, examples,
                          times, controls=run)

