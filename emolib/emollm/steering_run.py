"""Steering with controls, end to end: valence directions against random draws, emotion contrasts and their own
projected versions, with the alpha chosen on one half of the prompts and everything measured on the other.

See :func:`steering_with_controls`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from emolib.emollm.behaviour import behaviour_table, behavioural_readout
from emolib.emollm.steering import (NEGATIVE_WORDS, NEUTRAL_PROMPTS, POSITIVE_WORDS, _check_alphas, _check_layer,
                                    _shift_frame, _unit, _word_ids, random_directions, summarise_shifts, typical_norm)
from emolib.emollm.steering_controls import project_out_readout, projected_name
from emolib.emollm.steering_stats import choose_alphas, dose_slopes, held_out_tests, split_prompts
from emolib.model.backbones import Backbone

__all__ = ["SteeringRun", "steering_with_controls"]

@dataclass
class SteeringRun:
    """What :func:`steering_with_controls` computed; every table is measured on the held-out prompts ``half_b``."""

    layer: int
    shifts: pd.DataFrame  # per-prompt read-out shifts: direction, draw, layer, alpha, prompt, shift, half ("A"/"B")
    dose: pd.DataFrame  # summarise_shifts on half B (named directions; random band over all n_random draws)
    tests: pd.DataFrame  # held_out_tests: each valence direction at its alpha, then its controls at that alpha
    slopes: pd.DataFrame  # dose_slopes on half B
    continuations: pd.DataFrame  # behavioural_readout (empty for a masked LM, attrs["note"])
    behaviour: pd.DataFrame  # behaviour_table
    roles: dict[str, str]  # direction -> "valence", "projected", "contrast"
    alphas: dict[str, float]  # each valence direction's alpha, chosen on half A
    half_a: list[int]
    half_b: list[int]
    n_random: int
    n_select: int
    seconds: dict[str, float] = field(default_factory=dict)


def steering_with_controls(
    backbone: Backbone, valence: Mapping[str, torch.Tensor | np.ndarray], layer: int, alphas: Sequence[float],
    prompts: Sequence[str] = NEUTRAL_PROMPTS, *, contrasts: Mapping[str, torch.Tensor | np.ndarray] | None = None,
    project: bool = True, n_random: int = 200, n_select: int = 20, seed: int = 0, slope_range: float = 0.5,
    behaviour_for: Sequence[str] | None = None, behaviour_alpha: float | None = None, n_behaviour_random: int = 4,
    max_new_tokens: int = 16, scale: float | None = None, positive: Sequence[str] = POSITIVE_WORDS,
    negative: Sequence[str] = NEGATIVE_WORDS, batch_size: int = 64, level: float = 0.95,
) -> SteeringRun:
    """Steer along valence directions against random draws and control directions; every number on held-out prompts.

    1. Directions: ``valence`` (role ``"valence"``), each one's :func:`project_out_readout` version (``"projected"``,
       named :func:`projected_name`) if ``project``, and the ``contrasts`` (``"contrast"``, e.g.
       :func:`contrast_controls`); ``n_random`` random unit directions (:func:`random_directions` with ``seed``).
    2. Read-out shifts (one batched pass): every named direction at every alpha on all prompts; the first
       ``n_select`` random draws at every alpha on all prompts; the other draws at every alpha on half B only.
    3. Half A (:func:`split_prompts` with ``seed``): each valence direction's alpha (:func:`choose_alphas`
       against the first ``n_select`` draws).
    4. Half B: :func:`held_out_tests` (controls of a valence direction: all contrasts and its projected version),
       :func:`dose_slopes` (``|alpha| <= slope_range``) and the dose table, against all ``n_random`` draws.
    5. Behaviour (causal LMs): :func:`behavioural_readout` on half B at ``-a, 0, +a`` with ``a`` = the ``|alpha|``
       chosen for each of ``behaviour_for`` (default: the first valence direction; ``behaviour_alpha`` fixes ``a``
       instead), for it, its projected version, the contrasts and the first ``n_behaviour_random`` random draws;
       :func:`behaviour_table`.

    Same arguments, same result (seeded draws and split, greedy decoding).

    Example:
        >>> from emolib.model import tiny_backbone
        >>> bb = tiny_backbone("llama")
        >>> g = torch.Generator().manual_seed(0)
        >>> run = steering_with_controls(bb, {"v": torch.randn(32, generator=g)}, 1, [-1, 0, 1], NEUTRAL_PROMPTS[:4],
        ...                              contrasts={"c": torch.randn(32, generator=g)}, n_random=5, n_select=3,
        ...                              slope_range=1, max_new_tokens=2, n_behaviour_random=1)
        >>> run.tests[["direction", "role", "alpha_of"]].values.tolist()
        [['v', 'valence', 'v'], ['c', 'contrast', 'v'], ['v (projected)', 'projected', 'v']]
        >>> int(run.tests.loc[0, "n_random"]), sorted(set(run.behaviour["direction"]))
        (5, ['c', 'random', 'v', 'v (projected)'])
    """
    layer = _check_layer(backbone, layer)
    alphas = _check_alphas(alphas)
    if not any(a != 0 for a in alphas):
        raise ValueError(f"alphas must include a nonzero alpha, got {alphas!r}")
    if not valence:
        raise ValueError("steering_with_controls needs at least one valence direction")
    if n_random < 0 or n_select < 1 or n_behaviour_random < 0:
        raise ValueError(f"n_random and n_behaviour_random must be >= 0 and n_select >= 1, got {n_random}, "
                         f"{n_behaviour_random}, {n_select}")
    contrasts = dict(contrasts or {})
    width = backbone.hidden_size
    named: dict[str, torch.Tensor] = {}
    roles: dict[str, str] = {}
    projected = {name: projected_name(name) for name in valence} if project else {}
    kept: dict[str, float] = {}  # the norm of each projected direction: what is left of the unit vector
    for role, group in (("valence", valence), ("projected", {projected[n]: project_out_readout(
            backbone, _unit(valence[n], width), positive, negative) for n in projected}), ("contrast", contrasts)):
        for name, direction in group.items():
            if name in named or name in ("random", "unsteered"):
                raise ValueError(f"direction name {name!r} is used twice or reserved; rename it")
            if role == "projected":  # not renormalised: the same vector minus its read-out component
                named[name] = torch.as_tensor(direction, dtype=torch.float32)
                kept[name] = float(named[name].norm())
            else:
                named[name] = _unit(direction, width)
            roles[name] = role
    behaviour_for = list(valence)[:1] if behaviour_for is None else list(behaviour_for)
    unknown = [n for n in behaviour_for if n not in valence]
    if unknown:
        raise ValueError(f"behaviour_for names unknown valence direction(s) {unknown!r}; valid: {', '.join(valence)}")
    n_select = min(n_select, n_random)
    start = time.perf_counter()
    half_a, half_b = split_prompts(len(prompts), seed)
    draws = random_directions(width, n_random, seed)  # [n_random, d]
    units = [(name, 0, u) for name, u in named.items()] + [("random", k, draws[k]) for k in range(n_random)]
    plan = [(u, a, p) for u, (name, draw, _) in enumerate(units) for a in alphas
            for p in (range(len(prompts)) if name != "random" or draw < n_select else half_b)]
    scale = typical_norm(backbone, layer) if scale is None else float(scale)
    pos, neg = _word_ids(backbone, positive), _word_ids(backbone, negative)
    shifts = _shift_frame(backbone, layer, prompts, units, plan, scale, pos, neg, batch_size)
    shifts["half"] = np.where(shifts["prompt"].isin(half_b), "B", "A")
    chosen = choose_alphas(shifts, list(valence), half_a, n_select)
    controls = {name: list(contrasts) + ([projected[name]] if project else []) for name in valence}
    tests = held_out_tests(shifts, chosen, half_b, controls, roles, level)
    slopes = dose_slopes(shifts, half_b, slope_range, roles, level)
    dose = summarise_shifts(shifts[shifts["half"] == "B"], level)
    seconds = {"read-out": time.perf_counter() - start}
    start = time.perf_counter()
    parts = []
    size = {n: abs(chosen[n]) if behaviour_alpha is None else abs(float(behaviour_alpha)) for n in behaviour_for}
    for first, magnitude in enumerate(dict.fromkeys(size.values())):
        mine = [n for n in behaviour_for if size[n] == magnitude]
        dirs = {k: named[k] for n in mine for k in [n] + ([projected[n]] if project else [])} | {
            k: named[k] for k in contrasts}
        parts.append(behavioural_readout(backbone, dirs, layer, magnitude, [prompts[p] for p in half_b],
                                         random=draws[:n_behaviour_random] if n_behaviour_random else None,
                                         prompt_ids=half_b, scale=scale, max_new_tokens=max_new_tokens,
                                         batch_size=batch_size,
                                         keep_norm=[k for k in dirs if roles[k] == "projected"],
                                         unsteered=first == 0))
    continuations = pd.concat(parts, ignore_index=True) if backbone.kind == "causal" else parts[0]
    behaviour = behaviour_table(continuations, roles, level)
    seconds["continuations"] = time.perf_counter() - start
    tests["kept_norm"] = tests["direction"].map(kept)  # NaN except on projected rows: |unit vector minus read-out part|
    return SteeringRun(layer, shifts, dose, tests, slopes, continuations, behaviour, roles, chosen, half_a, half_b,
                       n_random, n_select, seconds)

