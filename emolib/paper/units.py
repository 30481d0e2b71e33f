"""FFN units of a backbone: activations of prompts at the read-out, and the masks that silence units.

The paper's "neurons" are the post-activation feed-forward units: the input of each layer's FFN
output projection (``Backbone.sites[l].ffn``), indexed layer-major (``layer * units_per_layer + unit``).
Recording and silencing are the hooks of :mod:`emolib.model.hooks` (``record(bb, "ffn")``, ``mask_units``).

Example:
    >>> from emolib.model import tiny_backbone
    >>> from emolib.paper.layouts import PromptScorer
    >>> bb = tiny_backbone("llama")
    >>> prompt_activations(bb, torch.zeros(3, 4, bb.hidden_size), PromptScorer(bb)).shape  # [K, n_units]
    (3, 192)
    >>> masks, index = top_k_masks(pd.DataFrame({"valence": np.arange(1.0, 193.0)}), [0.1])
    >>> int((~masks).sum()), index.loc[0, "k"]
    (19, np.int64(19))
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from emolib.model.backbones import Backbone
from emolib.model.hooks import record

__all__ = ["prompt_activations", "resolve_k", "top_k_masks", "random_masks", "layer_counts", "layer_matched_masks"]


def prompt_activations(backbone: Backbone, prompts: torch.Tensor, scorer, batch_size: int = 32) -> np.ndarray:
    """FFN units at the read-out position of each prompt fed alone with the read-out token.

    The paper's activation extraction (method notes 6): for a masked LM the sequence is
    ``[<mask>, P1..PL, <s>]`` read at the mask; for a causal LM ``[P1..PL, suffix]`` read at the last
    position (whatever ``scorer.prompt_only`` builds). All prompts are batched; the hook keeps only
    the read-out slice of each layer.

    Args:
        backbone: the frozen backbone.
        prompts: ``[K, L, d]`` soft prompts.
        scorer: a :class:`emolib.paper.layouts.PromptScorer` of ``backbone`` (``prompt_only``, ``hidden``).
        batch_size: prompts per forward pass.

    Returns:
        ``[K, n_units]`` float32, layer-major.
    """
    if prompts.dim() != 3 or prompts.shape[-1] != backbone.hidden_size:
        raise ValueError(f"prompts must be [K, L, {backbone.hidden_size}], got {tuple(prompts.shape)}")
    out = []
    with torch.inference_mode():
        for start in range(0, prompts.shape[0], batch_size):
            chunk = prompts[start : start + batch_size].to(backbone.device)
            n_real = chunk.shape[0]
            # a fixed batch shape (filler rows repeat the first prompt), so a prompt's activations do not
            # depend on the prompts beside it (emolib.paper.batches)
            chunk = torch.cat([chunk, chunk[:1].expand(batch_size - n_real, -1, -1)])
            batch = scorer.prompt_only(chunk)
            with record(backbone, "ffn", positions=batch["readout"]) as rec:
                scorer.hidden(batch)
            out.append(rec.concatenated().float().cpu().numpy()[:n_real])  # [B, n_units]
    return np.concatenate(out).astype(np.float32)


def resolve_k(k: int | float, n_units: int) -> int:
    """A mask size given as a count (int >= 1) or a fraction of all units (0 < float < 1).

    Example:
        >>> resolve_k(0.1, 36864), resolve_k(4000, 36864)
        (3686, 4000)
    """
    if isinstance(k, (float, np.floating)) and 0 < k < 1:
        return max(1, int(round(k * n_units)))
    if float(k) == int(k) and 1 <= int(k) <= n_units:
        return int(k)
    raise ValueError(f"invalid mask size {k!r}: give a count in 1..{n_units} or a fraction in (0, 1)")


def top_k_masks(ranks: pd.DataFrame, k_values: Sequence[int | float],
                condition: str = "selective") -> tuple[torch.Tensor, pd.DataFrame]:
    """Masks silencing the k best-ranked units of each attribute (rank 1 = best; stable for ties).

    Args:
        ranks: ``[n_units, attributes]`` ranks (as the searchlight writes them).
        k_values: mask sizes, as counts or fractions of all units.

    Returns:
        ``(masks [M, n_units] bool, index)`` with one row per (attribute, k) in ``index``
        (columns ``condition`` (default ``"selective"``), ``attribute, k, draw=0``).
    """
    n_units = len(ranks)
    masks, rows = [], []
    for attribute in ranks.columns:
        order = np.argsort(ranks[attribute].to_numpy(), kind="stable")
        for k in k_values:
            count = resolve_k(k, n_units)
            keep = np.ones(n_units, dtype=bool)
            keep[order[:count]] = False
            masks.append(keep)
            rows.append((condition, attribute, count, 0))
    index = pd.DataFrame(rows, columns=["condition", "attribute", "k", "draw"])
    return torch.from_numpy(np.stack(masks)), index


def random_masks(
    n_units: int, k_values: Sequence[int | float], n_draws: int = 5, seed: int = 0, labels: Sequence[str] | None = None
) -> tuple[torch.Tensor, pd.DataFrame]:
    """Seeded random control masks: ``n_draws`` masks of k uniformly drawn units per k.

    With ``labels`` (e.g. the 14 attributes) one draw per label and k is made instead, as the
    original did (its random mask of an attribute label only numbers the draw).

    Returns:
        ``(masks [M, n_units] bool, index)`` with columns ``condition="random", attribute, k, draw``.
    """
    rng = np.random.default_rng(seed)
    draws = list(labels) if labels is not None else [f"draw-{d}" for d in range(n_draws)]
    masks, rows = [], []
    for k in k_values:
        count = resolve_k(k, n_units)
        for d, label in enumerate(draws):
            keep = np.ones(n_units, dtype=bool)
            keep[rng.choice(n_units, size=count, replace=False)] = False
            masks.append(keep)
            rows.append(("random", label, count, d))
    index = pd.DataFrame(rows, columns=["condition", "attribute", "k", "draw"])
    return torch.from_numpy(np.stack(masks)), index


def layer_counts(masks: torch.Tensor, units_per_layer: int) -> np.ndarray:
    """Silenced units per layer of each mask, ``[M, layers]``, and (last row) their mean rounded to whole units
    that sum to the masks' common size (largest remainders).

    Example:
        >>> keep = torch.ones(2, 8, dtype=torch.bool); keep[0, [0, 1, 4]] = False; keep[1, [0, 5, 6]] = False
        >>> layer_counts(keep, 4).tolist()
        [[2, 1], [1, 2], [2, 1]]
    """
    dropped = (~masks.cpu().numpy()).reshape(masks.shape[0], -1, units_per_layer).sum(-1)  # [M, layers]
    sizes = dropped.sum(1)
    if len(set(sizes.tolist())) != 1:
        raise ValueError(f"the masks silence different numbers of units ({sorted(set(sizes.tolist()))}); give one k")
    mean = dropped.mean(0)
    counts = np.floor(mean).astype(int)
    short = int(sizes[0] - counts.sum())
    counts[np.argsort(-(mean - counts), kind="stable")[:short]] += 1
    return np.vstack([dropped, counts])


def layer_matched_masks(selective: torch.Tensor, units_per_layer: int, n_draws: int, seed: int | Sequence[int] = 0,
                        attributes: Sequence[str] | None = None) -> tuple[torch.Tensor, pd.DataFrame]:
    """Seeded random masks of one k, each with exactly one attribute mask's number of silenced units per layer.

    Draw ``d`` copies the layer profile of attribute mask ``d mod A`` and randomises which units of each layer are
    silenced. A uniform random mask spreads its units evenly over layers; attribute masks do not (one may put 800
    units into a layer where another puts 60), and layers differ in how much silencing them costs, so each attribute
    mask gets controls with its own profile (``n_draws`` a multiple of A gives each the same number).

    Args:
        selective: ``[A, n_units]`` the attribute masks of one k (True = keep).
        units_per_layer: units per layer (layer-major unit order).
        n_draws: number of random masks.
        attributes: the attribute of each row of ``selective`` (default ``"0"``, ``"1"``, ...).

    Returns:
        ``(masks [n_draws, n_units] bool, index)`` with ``condition="matched"``, ``attribute`` (whose profile it
        copies), ``k``, ``draw``.

    Example:
        >>> keep = torch.ones(2, 8, dtype=torch.bool); keep[0, [0, 1, 4]] = False; keep[1, [0, 5, 6]] = False
        >>> masks, index = layer_matched_masks(keep, 4, n_draws=4, attributes=["a", "b"])
        >>> layer_counts(masks, 4)[:4].tolist(), index["attribute"].tolist()
        ([[2, 1], [1, 2], [2, 1], [1, 2]], ['a', 'b', 'a', 'b'])
    """
    profiles = (~selective.cpu().numpy()).reshape(selective.shape[0], -1, units_per_layer).sum(-1)  # [A, layers]
    names = list(attributes) if attributes is not None else [str(a) for a in range(len(profiles))]
    if len(names) != len(profiles):
        raise ValueError(f"{len(profiles)} attribute masks but {len(names)} attribute names")
    n_units = selective.shape[1]
    rng = np.random.default_rng(seed)
    masks, rows = [], []
    for d in range(n_draws):
        counts = profiles[d % len(profiles)]
        keep = np.ones(n_units, dtype=bool)
        for layer, count in enumerate(counts):
            keep[layer * units_per_layer + rng.choice(units_per_layer, size=int(count), replace=False)] = False
        masks.append(keep)
        rows.append(("matched", names[d % len(profiles)], int(counts.sum()), d))
    index = pd.DataFrame(rows, columns=["condition", "attribute", "k", "draw"])
    return torch.from_numpy(np.stack(masks)), index
