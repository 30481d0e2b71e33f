"""Power of the masking claims at a run's design, and the paper's effect re-measured at that design.

A verdict may say "does not hold" only where its design could have seen the paper's effect. Pieces:

- :func:`variance_components`: what a run's control masks say about its noise, on the accuracy scale: between
  masks (``mask``), the residual of one prompt under one mask (``residual``: prompt x mask interaction and the
  sampling of examples that is not shared between masks; every mask of a prompt sees the same examples, so part
  of the binomial noise is a prompt effect and cancels), and the share of the binomial variance that is shared
  between masks (``shared``). A mask's mean over P prompts has variance ``mask + residual / P`` (:func:`mask_sd`).
- :func:`paper_at_design`: released RoBERTa cut down to a design (its seeds subsampled, each accuracy redrawn on
  the design's examples with the shared part of that noise common to a prompt's masks, its random masks resampled
  to the design's number): the paper's attribute-minus-random difference and mean rho as that design measures them.
- :func:`masks_power` and :func:`weights_power` simulate the verdict's own tests (:mod:`emolib.paper.mask_inference`)
  at the design with those components; :func:`mean_power` is the one-sample t power of the inference claim.

Example:
    >>> comps = {"mask": 0.0004, "residual": 0.004, "n_examples": 40.0}
    >>> round(mask_sd(comps, n_prompts=27), 4)
    0.0234
    >>> masks_power(-0.04, 0.0234, 0.0234, n_a=14, n_b=50, n_sim=200) > 0.8
    True
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from emolib.paper.mask_inference import mean_rho, welch_test

__all__ = ["variance_components", "between_mask_variance", "mask_sd", "masks_power", "weights_design",
           "simulate_damage", "weights_power", "mean_power", "paper_at_design"]


def variance_components(masked: pd.DataFrame, k: int, n_examples: float,
                        conditions: tuple[str, ...] = ("matched", "random")) -> dict[str, float]:
    """Variance components of accuracy from the control masks of size ``k`` (two-way ANOVA, prompts x masks), from
    the first of ``conditions`` that has at least two masks.

    Returns:
        ``mask`` (between masks), ``residual`` (one prompt under one mask, beyond both main effects), ``prompt``,
        ``binomial`` (mean p(1 - p) / n), ``shared`` (1 - residual / binomial, clipped to [0, 1]: the part of the
        example noise common to a prompt's masks), ``mean``, ``n_examples``, ``n_prompts``, ``n_masks``.
    """
    for condition in conditions:
        table = masked[(masked["condition"] == condition) & (masked["k"] == k)]
        wide = table.pivot_table(index=["emotion", "seed"], columns="draw", values="accuracy").dropna(axis=1)
        if wide.shape[1] >= 2:
            break
    y = wide.to_numpy(np.float64)  # [P, M]
    n_p, n_m = y.shape
    if n_p < 2 or n_m < 2:
        raise ValueError(f"variance components need at least 2 prompts and 2 control masks at k = {k}, got {y.shape}")
    grand = y.mean()
    rows, cols = y.mean(1, keepdims=True), y.mean(0, keepdims=True)
    ms_mask = n_p * ((cols - grand) ** 2).sum() / (n_m - 1)
    ms_prompt = n_m * ((rows - grand) ** 2).sum() / (n_p - 1)
    ms_res = ((y - rows - cols + grand) ** 2).sum() / ((n_p - 1) * (n_m - 1))
    binomial = float(np.mean(y * (1 - y)) / n_examples)
    return {"mask": max(0.0, (ms_mask - ms_res) / n_p), "residual": float(ms_res), "binomial": binomial,
            "shared": float(np.clip(1 - ms_res / binomial, 0.0, 1.0)) if binomial > 0 else 0.0,
            "prompt": max(0.0, (ms_prompt - ms_res) / n_m), "mean": float(grand), "n_examples": float(n_examples),
            "n_prompts": n_p, "n_masks": n_m}


def between_mask_variance(masked: pd.DataFrame, k: int, condition: str, residual: float) -> float:
    """The variance between masks of one kind (e.g. the sham masks) net of the residual noise of their means."""
    table = masked[(masked["condition"] == condition) & (masked["k"] == k)]
    means = table.groupby(["attribute", "draw"])["accuracy"].mean()
    n_prompts = table[["emotion", "seed"]].drop_duplicates().shape[0]
    if len(means) < 2 or n_prompts < 1:
        return float("nan")
    return max(0.0, float(means.var(ddof=1)) - residual / n_prompts)


def mask_sd(components: dict[str, float], n_prompts: int, n_examples: float | None = None) -> float:
    """SD of one mask's accuracy averaged over ``n_prompts`` prompts of ``n_examples`` examples each (default: the
    examples the components were measured with; the residual scales as 1 / n)."""
    residual = components["residual"]
    if n_examples is not None:
        residual *= components["n_examples"] / n_examples
    return float(np.sqrt(components["mask"] + residual / n_prompts))


def masks_power(delta: float, sd_a: float, sd_b: float, n_a: float, n_b: float, alpha: float = 0.05,
                n_sim: int = 2000, seed: int = 0) -> float:
    """Share of simulated designs whose :func:`~emolib.paper.mask_inference.welch_test` (with ``n_a`` effective
    attribute masks) finds p < alpha when attribute masks differ from the controls by ``delta`` (mask-level SDs
    ``sd_a`` and ``sd_b``)."""
    if not (np.isfinite(delta) and np.isfinite(sd_a) and np.isfinite(sd_b)):
        return float("nan")
    rng = np.random.default_rng(seed)
    ma, mb = max(int(round(n_a)), 2), max(int(round(n_b)), 2)
    hits = 0
    for _ in range(n_sim):
        a = delta + sd_a * rng.standard_normal(ma)
        b = sd_b * rng.standard_normal(mb)
        hits += welch_test(a, b).p < alpha
    return hits / n_sim


def weights_design(rho: float, components: dict[str, float], weights, n_emotions: int = 27, n_seeds: int = 1,
                   n_examples: float | None = None, shared: float | None = None) -> dict:
    """The simulated damage model of the weights claim at a design: ``beta`` (effect per SD of the weights) set so
    that the statistic averages ``rho``; ``shared`` (SD of each attribute mask's own effect, common to all emotions:
    what binds the 14 attributes; default the components' between-mask variance) and ``noise`` (per emotion: the
    residual, averaged over ``n_seeds``); ``z`` the standardised weights."""
    w = np.asarray(weights, dtype=np.float64)
    z = (w - w.mean()) / w.std()
    residual = components["residual"] * (components["n_examples"] / n_examples if n_examples else 1.0)
    noise = float(np.sqrt(residual / n_seeds))
    shared_sd = float(np.sqrt(components["mask"] if shared is None or not np.isfinite(shared) else shared))
    design = {"z": z, "shared": shared_sd, "noise": noise, "n_emotions": n_emotions, "beta": 0.0, "rho": rho}
    if not np.isfinite(rho) or rho == 0:
        return design
    sign = -1.0 if rho < 0 else 1.0

    def expected(beta: float) -> float:
        return float(np.nanmean(mean_rho(simulate_damage({**design, "beta": beta}, 400, np.random.default_rng(1)),
                                         z[None, :])))

    lo, hi = 0.0, 0.01
    while sign * expected(sign * hi) < abs(rho) and hi < 10:
        hi *= 2
    if sign * expected(sign * hi) < abs(rho):  # the noise shared by the 14 masks caps the reachable rho
        design["beta"] = sign * hi
        return design
    for _ in range(30):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if sign * expected(sign * mid) < abs(rho) else (lo, mid)
    design["beta"] = sign * (lo + hi) / 2
    return design


def simulate_damage(design: dict, n_sim: int, rng: np.random.Generator) -> np.ndarray:
    """``[S, E, A]`` damage of :func:`weights_design`: ``beta * z_a`` + a mask effect shared by every emotion + noise."""
    z = design["z"]
    shared = design["shared"] * rng.standard_normal((n_sim, 1, len(z)))
    noise = design["noise"] * rng.standard_normal((n_sim, design["n_emotions"], len(z)))
    return design["beta"] * z[None, None, :] + shared + noise


def weights_power(rho: float, components: dict[str, float], weights, n_emotions: int = 27, n_seeds: int = 1,
                  n_examples: float | None = None, alpha: float = 0.05, n_sim: int = 300, n_perm: int = 999,
                  seed: int = 0, shared: float | None = None) -> float:
    """Power of the attribute-permutation test of the human weights when the expected statistic is ``rho``.

    The damage of attribute a on emotion e is ``beta * w_a`` (standardised) plus the mask's own effect
    (variance ``shared``, common to all emotions: the 14 attributes bind) plus noise (the residual, averaged over
    ``n_seeds``); ``beta`` is set so that the simulated statistic averages ``rho`` (:func:`weights_design`).
    """
    if not np.isfinite(rho):
        return float("nan")
    design = weights_design(rho, components, weights, n_emotions, n_seeds, n_examples, shared)
    rng = np.random.default_rng(seed)
    z = design["z"]
    damage = simulate_damage(design, n_sim, rng)  # [S, E, A]
    perms = np.stack([rng.permutation(len(z)) for _ in range(n_perm)])  # [P, A]
    sign = -1.0 if rho < 0 else 1.0
    hits = 0
    for s in range(n_sim):
        observed = mean_rho(damage[s], z)
        null = mean_rho(damage[s][None], z[perms])
        p = (1 + np.sum(null * sign >= observed * sign - 1e-12)) / (1 + n_perm)
        hits += p < alpha
    return hits / n_sim


def mean_power(delta: float, sd: float, n: int, alpha: float = 0.05) -> float:
    """Power of the one-sided one-sample t-test (H1: mean > 0) at true mean ``delta``, SD ``sd``, ``n`` units.

    Example:
        >>> round(mean_power(0.3, 0.1, 27), 3)
        1.0
    """
    if n < 2 or not np.isfinite(delta) or not np.isfinite(sd) or sd <= 0:
        return float("nan")
    crit = stats.t.ppf(1 - alpha, n - 1)
    return float(stats.nct.sf(crit, n - 1, delta / (sd / np.sqrt(n))))


def paper_at_design(masked: pd.DataFrame, unmasked: pd.DataFrame, weights: pd.Series, k: int, n_seeds: int,
                    n_examples: int, n_random: int, n_rep: int = 200, seed: int = 0, shared: float = 0.5,
                    source_examples: float | None = None) -> dict[str, float]:
    """The paper's effects as a design of ``n_seeds`` seeds, ``n_examples`` examples per prompt and ``n_random``
    random masks would measure them, from released RoBERTa (``masked``/``unmasked`` as
    :func:`emolib.released.masking_frames`) at mask size ``k`` (its 14 attribute masks, its random draws).

    Each released accuracy is redrawn around itself with the binomial variance of ``n_examples`` examples (less what
    its own ``source_examples`` already carry), a share ``shared`` of which is common to all masks of a prompt (they
    see the same examples; :func:`variance_components` measures it on a run).

    Returns:
        ``delta`` (mean attribute-minus-random accuracy), ``delta_sd`` (its spread over resamples), ``rho`` (mean rho
        with ``weights``), ``rho_sd``, ``n_rep``.
    """
    table = masked[masked["k"] == k]
    if table.empty:
        raise ValueError(f"released RoBERTa has no masks at k = {k}; valid choices: {sorted(masked['k'].unique())}")
    rng = np.random.default_rng(seed)
    attributes = list(weights.index)
    sel = table[table["condition"] == "selective"].pivot_table(index=["emotion", "seed"], columns="attribute",
                                                                 values="accuracy")[attributes]
    rnd = table[table["condition"] == "random"].pivot_table(index=["emotion", "seed"], columns="draw",
                                                              values="accuracy").reindex(sel.index)
    seeds = sorted(sel.index.get_level_values("seed").unique())
    emotions = sel.index.get_level_values("emotion")
    deltas, rhos = [], []
    w = weights.to_numpy(np.float64)
    extra = max(0.0, 1.0 / n_examples - (1.0 / source_examples if source_examples else 0.0))

    def redraw(acc: np.ndarray, common: np.ndarray) -> np.ndarray:  # [P, M] around acc; common [P, 1]
        sd = np.sqrt(acc * (1 - acc) * extra)
        own = rng.standard_normal(acc.shape)
        return np.clip(acc + sd * (np.sqrt(shared) * common + np.sqrt(1 - shared) * own), 0.0, 1.0)

    for _ in range(n_rep):
        chosen = rng.choice(seeds, size=min(n_seeds, len(seeds)), replace=False)
        rows = np.isin(sel.index.get_level_values("seed"), chosen)
        common = rng.standard_normal((int(rows.sum()), 1))
        a = redraw(sel.to_numpy()[rows], common)  # [P, 14]
        draws = rng.integers(0, rnd.shape[1], size=n_random)
        b = redraw(rnd.to_numpy()[rows][:, draws], common)  # [P, n_random]
        deltas.append(a.mean() - b.mean())
        damage = pd.DataFrame(a - b.mean(1, keepdims=True)).groupby(np.asarray(emotions[rows])).mean().to_numpy()
        rhos.append(float(mean_rho(damage, w)))
    return {"delta": float(np.mean(deltas)), "delta_sd": float(np.std(deltas, ddof=1)), "rho": float(np.mean(rhos)),
            "rho_sd": float(np.std(rhos, ddof=1)), "n_rep": n_rep}
