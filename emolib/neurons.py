"""FFN units of a backbone: record their activations, build unit masks, silence them.

The paper's "neurons" are the post-activation feed-forward units: the input of each layer's FFN
output projection (``Backbone.sites[l].ffn``), indexed layer-major (``layer * units_per_layer + unit``).

Example:
    >>> import torch
    >>> from emolib.tiny import tiny_backbone
    >>> from emolib.neurons import record_units, mask_units
    >>> bb = tiny_backbone("llama")
    >>> ids = bb.tokenizer(["so happy"], return_tensors="pt")
    >>> with record_units(bb, position=-1) as rec:
    ...     _ = bb.model(**ids)
    >>> rec.values.shape  # [batch, n_units]
    torch.Size([1, 192])
    >>> masks = torch.ones(1, bb.n_units, dtype=torch.bool); masks[0, :10] = False
    >>> with mask_units(bb, masks):
    ...     _ = bb.model(**ids)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from emolib.backbones import Backbone

__all__ = [
    "UnitRecording", "record_units", "prompt_activations", "mask_units", "resolve_k", "top_k_masks", "random_masks",
]


@dataclass
class UnitRecording:
    """Activations captured by :func:`record_units`; ``values`` is ``[batch, n_units]`` (layer-major)."""

    per_layer: list[torch.Tensor | None] = field(default_factory=list)

    @property
    def values(self) -> torch.Tensor:
        if any(v is None for v in self.per_layer):
            raise RuntimeError("no forward pass was recorded inside the record_units block")
        return torch.cat(self.per_layer, dim=-1)  # [B, layers * units]


@contextlib.contextmanager
def record_units(
    backbone: Backbone, position: int | torch.Tensor = 0, dtype: torch.dtype = torch.float32
) -> Iterator[UnitRecording]:
    """Record every layer's FFN units at one position per sequence (only that slice is kept).

    Args:
        backbone: the backbone whose ``sites[l].ffn`` inputs are recorded.
        position: an int (same position for every sequence, e.g. 0 for a prepended mask token or -1
            for the last position) or a ``[batch]`` tensor of positions.
        dtype: dtype of the stored values.
    """
    rec = UnitRecording([None] * backbone.n_layers)
    handles = []

    def hook(layer: int):
        def pre_hook(module, args):
            hidden = args[0]  # [B, T, units]
            if isinstance(position, torch.Tensor):
                picked = hidden[torch.arange(hidden.shape[0], device=hidden.device), position.to(hidden.device)]
            else:
                picked = hidden[:, position]
            rec.per_layer[layer] = picked.detach().to(dtype=dtype, device="cpu")
            return None

        return pre_hook

    try:
        for layer, site in enumerate(backbone.sites):
            handles.append(site.ffn.register_forward_pre_hook(hook(layer)))
        yield rec
    finally:
        for handle in handles:
            handle.remove()


def prompt_activations(backbone: Backbone, prompts: torch.Tensor, scorer, batch_size: int = 32) -> np.ndarray:
    """FFN units at the read-out position of each prompt fed alone with the read-out token.

    The paper's activation extraction (method notes 6): for a masked LM the sequence is
    ``[<mask>, P1..PL, <s>]`` read at the mask; for a causal LM ``[P1..PL, suffix]`` read at the last
    position (whatever ``scorer.prompt_only`` builds). All prompts are batched; the hook keeps only
    the read-out slice of each layer.

    Args:
        backbone: the frozen backbone.
        prompts: ``[K, L, d]`` soft prompts.
        scorer: an :class:`emolib.prompts.PromptScorer` of ``backbone`` (``prompt_only``, ``hidden``).
        batch_size: prompts per forward pass.

    Returns:
        ``[K, n_units]`` float32, layer-major.
    """
    if prompts.dim() != 3 or prompts.shape[-1] != backbone.hidden_size:
        raise ValueError(f"prompts must be [K, L, {backbone.hidden_size}], got {tuple(prompts.shape)}")
    out = []
    with torch.inference_mode():
        for start in range(0, prompts.shape[0], batch_size):
            batch = scorer.prompt_only(prompts[start : start + batch_size].to(backbone.device))
            with record_units(backbone, position=batch["readout"]) as rec:
                scorer.hidden(batch)
            out.append(rec.values.numpy())  # [B, n_units]
    return np.concatenate(out).astype(np.float32)


@contextlib.contextmanager
def mask_units(backbone: Backbone, masks: torch.Tensor, mask_index: torch.Tensor | None = None) -> Iterator[dict]:
    """Zero FFN units at every position (equivalently, the FFN output projection's input columns).

    Args:
        backbone: the backbone to silence; restored when the block exits.
        masks: ``[M, n_units]`` bool (True = keep), or ``[n_units]`` for a single mask.
        mask_index: ``[batch]`` which mask each sequence of the batch uses (masks as a batch
            dimension); defaults to mask 0 for every sequence. Can be changed between forward passes
            through the yielded ``state["mask_index"]``.

    Yields:
        A dict ``state`` with the current ``mask_index`` (set it per batch).
    """
    if masks.dtype != torch.bool:
        raise ValueError(f"masks must be a bool tensor (True = keep), got {masks.dtype}")
    masks = masks.reshape(-1, masks.shape[-1]) if masks.dim() == 1 else masks
    if masks.shape[-1] != backbone.n_units:
        raise ValueError(f"masks have {masks.shape[-1]} units, backbone {backbone.name!r} has {backbone.n_units}")
    width = backbone.units_per_layer
    state = {"mask_index": mask_index}
    per_layer = masks.reshape(masks.shape[0], backbone.n_layers, width)  # [M, L, U]
    cache: dict[tuple, torch.Tensor] = {}
    handles = []

    def hook(layer: int):
        def pre_hook(module, args):
            hidden = args[0]  # [B, T, U]
            key = (hidden.device, hidden.dtype)
            if key not in cache:
                cache[key] = per_layer.to(device=hidden.device, dtype=hidden.dtype)  # [M, L, U]
            index = state["mask_index"]
            if index is None:
                factor = cache[key][0, layer]  # [U]
            else:
                factor = cache[key][index.to(hidden.device), layer][:, None, :]  # [B, 1, U]
            return (hidden * factor,) + tuple(args[1:])

        return pre_hook

    try:
        for layer, site in enumerate(backbone.sites):
            handles.append(site.ffn.register_forward_pre_hook(hook(layer)))
        yield state
    finally:
        for handle in handles:
            handle.remove()


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


def top_k_masks(ranks: pd.DataFrame, k_values: Sequence[int | float]) -> tuple[torch.Tensor, pd.DataFrame]:
    """Masks silencing the k best-ranked units of each attribute (rank 1 = best; stable for ties).

    Args:
        ranks: ``[n_units, attributes]`` ranks (as the searchlight writes them).
        k_values: mask sizes, as counts or fractions of all units.

    Returns:
        ``(masks [M, n_units] bool, index)`` with one row per (attribute, k) in ``index``
        (columns ``condition="selective", attribute, k, draw=0``).
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
            rows.append(("selective", attribute, count, 0))
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
