"""Every forward hook of emolib: record a site, silence FFN units, add to the residual stream.

Three sites per layer (:class:`~emolib.model.backbones.Site`), one definition each:

- ``"ffn"``: the post-activation feed-forward units, the **input** of the FFN output projection
  (the paper's "neurons"), ``[B, T, units_per_layer]``;
- ``"value"``: the attention value projection **output** (GPT-2: the value third of the fused
  ``c_attn``), ``[B, T, value_dim]``;
- ``"residual"``: the residual stream **after** block ``l`` (the block's output), ``[B, T, d]``.

:func:`record` keeps one position per sequence (an int, or a ``[B]`` tensor) or every position
(``positions=None``); recorded tensors stay on the model's device. :func:`mask_units` zeroes FFN
units (masks as a batch dimension), :func:`add_to_layer` adds vectors to a block's output, and
:func:`reuse_prefix` runs the blocks before a layer once for many forward passes of the same prompts. All
are context managers that remove their hooks in ``finally``.

Example:
    >>> import torch
    >>> from emolib.model.backbones import tiny_backbone
    >>> bb = tiny_backbone("llama")
    >>> ids = bb.tokenizer(["so happy"], return_tensors="pt")
    >>> with record(bb, "ffn", positions=-1) as rec:
    ...     _ = bb.model(**ids)
    >>> rec.concatenated().shape  # [batch, n_layers * units_per_layer]
    torch.Size([1, 192])
    >>> with record(bb, "residual", layers=[1]) as rec:
    ...     _ = bb.model(**ids)
    >>> rec[1].shape  # [batch, tokens, d]
    torch.Size([1, 3, 32])
    >>> masks = torch.ones(1, bb.n_units, dtype=torch.bool); masks[0, :10] = False
    >>> with mask_units(bb, masks):
    ...     _ = bb.model(**ids)
"""

from __future__ import annotations

import contextlib
from typing import Any
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from emolib.model.backbones import Backbone

__all__ = ["SITES", "Recording", "record", "mask_units", "add_to_layer", "reuse_prefix", "check_layers"]

SITES = ("ffn", "value", "residual")


def check_layers(backbone: Backbone, layers: Sequence[int] | None) -> list[int]:
    """``layers`` as a list of valid 0-based layer indices (``None``: all); ``ValueError`` otherwise."""
    if layers is None:
        return list(range(backbone.n_layers))
    out = []
    for layer in layers:
        if not isinstance(layer, (int, np.integer)) or not 0 <= int(layer) < backbone.n_layers:
            raise ValueError(f"layer {layer!r} out of range; valid choices: 0..{backbone.n_layers - 1}")
        out.append(int(layer))
    if not out:
        raise ValueError("layers must not be empty")
    return out


@dataclass
class Recording:
    """What :func:`record` captured in the last forward pass: ``{layer: tensor}`` on the model's device.

    Each tensor is ``[B, dim]`` at the recorded positions, or ``[B, T, dim]`` with ``positions=None``.
    """

    site: str
    layers: list[int]
    positions: int | torch.Tensor | None = None
    values: dict[int, torch.Tensor] = field(default_factory=dict)

    def __getitem__(self, layer: int) -> torch.Tensor:
        if layer not in self.values:
            raise KeyError(f"layer {layer} was not recorded (recorded: {sorted(self.values) or 'none yet'})")
        return self.values[layer]

    def _ordered(self) -> list[torch.Tensor]:
        missing = [layer for layer in self.layers if layer not in self.values]
        if missing:
            raise RuntimeError(f"no forward pass recorded layers {missing} inside the record block")
        return [self.values[layer] for layer in self.layers]

    def stacked(self) -> torch.Tensor:
        """``[B, n_layers, dim]`` (or ``[B, n_layers, T, dim]`` for every position), layers in order."""
        return torch.stack(self._ordered(), dim=1)

    def concatenated(self) -> torch.Tensor:
        """``[B, n_layers * dim]``: the layers side by side (FFN units layer-major: ``layer * U + unit``)."""
        return torch.cat(self._ordered(), dim=-1)


def _pick(hidden: torch.Tensor, positions: int | torch.Tensor | None) -> torch.Tensor:
    if positions is None:
        return hidden  # [B, T, dim]
    if isinstance(positions, torch.Tensor):
        rows = torch.arange(hidden.shape[0], device=hidden.device)
        return hidden[rows, positions.to(hidden.device)]  # [B, dim]
    return hidden[:, positions]  # [B, dim]


def _module(backbone: Backbone, site: str, layer: int) -> nn.Module:
    s = backbone.sites[layer]
    return {"ffn": s.ffn, "value": s.value, "residual": s.block}[site]


@contextlib.contextmanager
def record(
    backbone: Backbone, site: str, layers: Sequence[int] | None = None,
    positions: int | torch.Tensor | None = None, dtype: torch.dtype | None = None,
) -> Iterator[Recording]:
    """Record ``site`` (``"ffn"``, ``"value"`` or ``"residual"``) of ``layers`` during forward passes.

    Args:
        backbone: the model whose sites are recorded; hooks are removed when the block exits.
        site: see the module docstring.
        layers: 0-based layers (default: all).
        positions: one position per sequence (an int such as 0 or -1, or a ``[B]`` tensor), or
            ``None`` for every position. Only that slice is kept.
        dtype: cast recorded values (default: the model's dtype).

    Yields:
        A :class:`Recording`; each forward pass overwrites its ``values``.
    """
    if site not in SITES:
        raise ValueError(f"unknown site {site!r}; valid choices: {', '.join(SITES)}")
    rec = Recording(site, check_layers(backbone, layers), positions)
    handles = []

    def keep(layer: int, hidden: torch.Tensor) -> None:
        picked = _pick(hidden, rec.positions).detach()
        rec.values[layer] = picked if dtype is None else picked.to(dtype)

    def make(layer: int):
        if site == "ffn":
            def pre_hook(module, args):
                keep(layer, args[0])  # [B, T, units]
            return pre_hook
        value_slice = backbone.sites[layer].value_slice if site == "value" else None

        def forward_hook(module, args, output):
            out = output[0] if isinstance(output, tuple) else output  # [B, T, dim]
            keep(layer, out[..., value_slice] if value_slice is not None else out)
        return forward_hook

    try:
        for layer in rec.layers:
            module = _module(backbone, site, layer)
            hook = make(layer)
            handles.append(module.register_forward_pre_hook(hook) if site == "ffn"
                           else module.register_forward_hook(hook))
        yield rec
    finally:
        for handle in handles:
            handle.remove()


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


@contextlib.contextmanager
def add_to_layer(backbone: Backbone, layer: int, vectors: torch.Tensor) -> Iterator[dict]:
    """Add ``vectors`` (``[d]``, or ``[B, d]`` one per sequence) to block ``layer``'s output at every position.

    The vectors can be changed between forward passes through the yielded ``state["vectors"]``.
    """
    (layer,) = check_layers(backbone, [layer])
    state = {"vectors": vectors}

    def fn(module, args, output):
        hidden = output[0] if isinstance(output, tuple) else output  # [B, T, d]
        vec = state["vectors"].to(device=hidden.device, dtype=hidden.dtype)
        vec = vec[:, None, :] if vec.dim() == 2 else vec  # [B, 1, d] or [d]
        return (hidden + vec,) + tuple(output[1:]) if isinstance(output, tuple) else hidden + vec

    handle = backbone.sites[layer].block.register_forward_hook(fn)
    try:
        yield state
    finally:
        handle.remove()


@contextlib.contextmanager
def reuse_prefix(
    backbone: Backbone, layer: int, batch: dict[str, torch.Tensor], batch_size: int = 64
) -> Iterator[dict]:
    """Run blocks ``0..layer-1`` once on ``batch`` (``[P, T]``); inside, forward passes on rows of it reuse them.

    Set ``state["rows"]`` (``[B]`` indices into ``batch``) before each forward pass of the sub-batch
    ``{k: v[rows]}``: blocks ``0..layer-1`` then return their input unchanged (no compute) and block
    ``layer`` gets the cached input of those rows, so its output and everything after it are exactly
    what a full forward pass gives (hooks on block ``layer`` and later apply as usual). Falls back to
    full forward passes (``state["active"] = False``) when ``layer == 0`` or a block returns a tuple.
    """
    state: dict[str, Any] = {"rows": None, "active": False}
    if layer == 0:
        yield state
        return
    blocks = [backbone.sites[i].block for i in range(layer)]
    target = backbone.sites[layer].block
    kept: dict[str, Any] = {"tuple": False, "parts": []}

    def keep_input(module, args, kwargs):
        kept["parts"].append((args[0] if args else kwargs["hidden_states"]).detach())  # [b, T, d]

    def output_type(module, args, output):
        kept["tuple"] |= isinstance(output, tuple)

    handles = [target.register_forward_pre_hook(keep_input, with_kwargs=True)]
    handles += [block.register_forward_hook(output_type) for block in blocks]
    try:
        with torch.no_grad():
            for start in range(0, len(batch["input_ids"]), batch_size):
                chunk = {k: v[start : start + batch_size] for k, v in batch.items()}
                backbone.model(input_ids=chunk["input_ids"], attention_mask=chunk["attention_mask"])
    finally:
        for handle in handles:
            handle.remove()
    if kept["tuple"] or not kept["parts"]:
        yield state
        return
    kept["hidden"] = torch.cat(kept.pop("parts"))  # [P, T, d]

    def skip(*args, **kwargs):
        return args[0] if args else kwargs["hidden_states"]

    def replace_input(module, args, kwargs):
        hidden = kept["hidden"][state["rows"]]  # [B, T, d]
        if args:
            return (hidden,) + tuple(args[1:]), kwargs
        return args, {**kwargs, "hidden_states": hidden}

    handle = target.register_forward_pre_hook(replace_input, with_kwargs=True, prepend=True)
    for block in blocks:
        block.forward = skip
    state["active"] = True
    try:
        yield state
    finally:
        handle.remove()
        for block in blocks:
            block.__dict__.pop("forward", None)
