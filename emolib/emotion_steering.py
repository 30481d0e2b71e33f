"""Emotion vectors and steering of one backbone in one call: the tables the chapter and ``reproduce`` write.

:func:`analyse` computes the emotion vectors (:mod:`emolib.emotion_vectors`), their PC correlations
with human valence/arousal and their RSA with human similarity at every layer, then steers the
headline layer (:func:`emolib.emotion_vectors.headline_layer`, fixed in advance) along the
emotion-vector valence axis (oriented PC1) and the ``joy - sadness`` contrast, against random
directions (:mod:`emolib.steering`). :func:`reproduce` writes the tables as CSV.

Example:
    >>> from emolib.emotion_steering import analyse
    >>> tables = analyse("tiny-llama", profile="smoke")  # doctest: +SKIP
    >>> sorted(tables)  # doctest: +SKIP
    ['best', 'examples', 'pcs', 'rsa', 'steering']
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pandas as pd
import torch

from emolib import emotion_vectors as ev_mod
from emolib import steering
from emolib.artifacts import atomic_write_csv
from emolib.backbones import Backbone, load_backbone

__all__ = ["valence_directions", "analyse", "reproduce"]

logger = logging.getLogger(__name__)


def valence_directions(ev: ev_mod.EmotionVectors, layer: int) -> dict[str, torch.Tensor]:
    """The steering directions offered at ``layer``: ``"emotion PC1"`` (oriented valence axis) and ``"joy - sadness"``.

    A probe direction (e.g. from :mod:`emolib.valence`) can be added to the dict by the caller.
    """
    return {"emotion PC1": ev_mod.pc_direction(ev, layer), "joy - sadness": ev_mod.contrast_direction(ev, layer)}


def analyse(
    backbone: str | Backbone = "smollm2-135m", profile: str = "quick", seed: int = 0,
    extra_directions: dict[str, torch.Tensor] | None = None,
) -> dict[str, pd.DataFrame]:
    """All emotion-vector and steering tables of ``backbone`` for ``profile`` (timings in ``attrs``).

    Returns:
        ``pcs`` (:func:`~emolib.emotion_vectors.pc_correlations`, all layers), ``rsa``
        (:func:`~emolib.emotion_vectors.vector_rsa`), ``steering`` (dose-response), ``best``
        (:func:`~emolib.steering.best_alpha`) and ``examples`` (greedy continuations).
    """
    vec_settings = ev_mod._check_profile(profile)
    steer_settings = steering._check_profile(profile)
    times = {}
    start = time.perf_counter()
    bb = load_backbone(backbone)
    ev = ev_mod.emotion_vectors(bb, profile=profile, seed=seed)
    times["emotion_vectors"] = time.perf_counter() - start
    start = time.perf_counter()
    pcs = ev_mod.pc_correlations(ev, n_boot=vec_settings["n_boot"], seed=seed)
    rsa = ev_mod.vector_rsa(ev, n_perm=vec_settings["n_perm"], seed=seed)
    times["pcs_rsa"] = time.perf_counter() - start
    start = time.perf_counter()
    layer = ev_mod.headline_layer(ev)
    directions = {**valence_directions(ev, layer), **(extra_directions or {})}
    prompts = steering.NEUTRAL_PROMPTS[: steer_settings["n_prompts"]]
    shifts = steering.readout_shifts(bb, directions, layer, steer_settings["alphas"], prompts,
                                     n_random=steer_settings["n_random"], seed=seed)
    dose = steering.summarise_shifts(shifts)
    best = steering.best_alpha(shifts, seed=seed)
    times["steering"] = time.perf_counter() - start
    start = time.perf_counter()
    top = float(best.loc[best["direction"] == "emotion PC1", "alpha"].iloc[0])
    alphas = sorted({-abs(top), 0.0, abs(top)})
    examples = steering.generate_examples(bb, directions["emotion PC1"], layer, alphas, prompts[:3],
                                          steer_settings["max_new_tokens"])
    times["examples"] = time.perf_counter() - start
    tables = {"pcs": pcs, "rsa": rsa, "steering": dose, "best": best, "examples": examples}
    for table in tables.values():
        table.attrs["seconds"] = times
        table.attrs["layer"] = layer
    logger.info("emotion vectors and steering of %s (%s): %s", ev.backbone, profile,
                {k: round(v, 1) for k, v in times.items()})
    return tables


def reproduce(out_dir: str | Path, backbone: str | Backbone = "smollm2-135m", profile: str | None = None,
              seed: int | None = None, extra_directions: dict[str, torch.Tensor] | None = None) -> list[Path]:
    """Write ``emotion_vector_pcs.csv`` (``layer, pc, human_scale, r, ci_low, ci_high``),
    ``emotion_vector_rsa.csv``, ``steering.csv`` (``direction, layer, alpha, effect, ci_low, ci_high``),
    ``steering_best.csv`` and ``steering_examples.csv`` to ``out_dir``; ``extra_directions`` are steered
    beside the emotion-vector directions (e.g. a probe direction).
    """
    tables = analyse(backbone, profile or "quick", 0 if seed is None else seed, extra_directions=extra_directions)
    out = Path(out_dir)
    names = {"pcs": "emotion_vector_pcs.csv", "rsa": "emotion_vector_rsa.csv", "steering": "steering.csv",
             "best": "steering_best.csv", "examples": "steering_examples.csv"}
    return [atomic_write_csv(tables[key], out / name) for key, name in names.items()]
