"""Control directions for steering: the direction with the read-out words' unembedding projected out, and emotion
contrasts that are not valence.

Example:
    >>> bool((contrast_table()["valence difference"].abs() < 0.5).all())
    True
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from emolib.emollm.steering import NEGATIVE_WORDS, POSITIVE_WORDS, _word_ids
from emolib.model.backbones import Backbone

logger = logging.getLogger(__name__)

__all__ = ["CONTROL_CONTRASTS", "readout_rows", "project_out_readout", "projected_name", "contrast_table",
           "contrast_controls"]

#: Non-valence control contrasts ``(first, second)`` -> ``first - second``: pairs of emotions whose human
#: valence means differ by less than 0.3 points on the 1-9 scale (:func:`emolib.emollm.vectors.human_means`),
#: two negative and two positive pairs, each written higher-valence emotion first (so that any valence left in
#: a contrast pushes the read-out the same way as the valence directions: a conservative control). They
#: differ mostly in arousal (excitement - relief is the PC2 anchor).
CONTROL_CONTRASTS: tuple[tuple[str, str], ...] = (
    ("sadness", "fear"), ("anger", "disgust"), ("excitement", "relief"), ("amusement", "gratitude"),
)  # fmt: skip


def _final_norm(backbone: Backbone) -> nn.Module | None:
    base = backbone.model.base_model
    for name in ("norm", "ln_f", "final_layernorm", "final_layer_norm"):
        module = getattr(base, name, None)
        if isinstance(module, nn.Module):
            return module
    return None


def readout_rows(
    backbone: Backbone, positive: Sequence[str] = POSITIVE_WORDS, negative: Sequence[str] = NEGATIVE_WORDS,
    through_norm: bool = True,
) -> torch.Tensor:
    """``[k, d]`` float64 rows through which the read-out words' logits see the residual stream directly.

    Always the words' unembedding rows (``get_output_embeddings().weight[ids]``). With ``through_norm`` and a
    causal LM's final norm also the rows that the norm's elementwise gain makes of them: ``W * g`` for an
    RMS norm (``g`` read off the module as its output for a vector of ones, so ``1 + w`` conventions are
    covered), and ``W * g`` mean-centred for a LayerNorm (whose mean subtraction is linear). A vector
    orthogonal to all of them changes none of these logits through the final norm's linear part.

    Example:
        >>> from emolib.model import tiny_backbone
        >>> readout_rows(tiny_backbone("llama")).shape  # 6 words x (raw, norm-weighted)
        torch.Size([12, 32])
    """
    head = backbone.model.get_output_embeddings()
    weight = getattr(head, "weight", None)
    if weight is None or weight.shape[-1] != backbone.hidden_size:
        raise ValueError(f"{backbone.name} has no output embedding of width {backbone.hidden_size} to project out")
    ids = _word_ids(backbone, positive) + _word_ids(backbone, negative)
    rows = weight[ids].detach().double().cpu()  # [k, d]
    out = [rows]
    norm = _final_norm(backbone) if through_norm and backbone.kind == "causal" else None
    if isinstance(norm, nn.LayerNorm) and norm.weight is not None:
        scaled = rows * norm.weight.detach().double().cpu()
        out.append(scaled - scaled.mean(1, keepdim=True))
    elif norm is not None and "rms" in type(norm).__name__.lower():
        param = next(norm.parameters(), weight)
        with torch.no_grad():
            gain = norm(torch.ones(1, backbone.hidden_size, dtype=param.dtype, device=param.device))
        out.append(rows * gain.detach().double().cpu().reshape(-1))
    elif norm is not None:
        logger.warning("final norm %s of %s not recognised: only the raw unembedding rows are projected out",
                       type(norm).__name__, backbone.name)
    return torch.cat(out)


def project_out_readout(
    backbone: Backbone, direction: torch.Tensor | np.ndarray, positive: Sequence[str] = POSITIVE_WORDS,
    negative: Sequence[str] = NEGATIVE_WORDS, through_norm: bool = True,
) -> torch.Tensor:
    """``direction`` (``[d]``) minus its component in the span of :func:`readout_rows` (float32, not renormalised).

    The result cannot move the read-out words' logits through the unembedding directly: added to the
    residual stream it changes them only through the layers after the steered one, and through the final
    norm's rescaling of the whole vector (a nonlinear effect this projection leaves; for a masked LM the
    LM head's own dense layer and norm come before the unembedding, so only its rows are removed).
    ``ValueError`` if (almost) nothing is left, e.g. for a direction that is a difference of those rows.

    Example:
        >>> from emolib.model import tiny_backbone
        >>> bb = tiny_backbone("llama")
        >>> v = project_out_readout(bb, torch.randn(bb.hidden_size, generator=torch.Generator().manual_seed(0)))
        >>> float((readout_rows(bb).float() @ v).abs().max()) < 1e-5
        True
    """
    v = torch.as_tensor(np.asarray(direction) if not torch.is_tensor(direction) else direction).detach()
    if v.shape != (backbone.hidden_size,) or not torch.isfinite(v).all():
        raise ValueError(f"direction must be a finite [{backbone.hidden_size}] vector, got shape {tuple(v.shape)}")
    rows = readout_rows(backbone, positive, negative, through_norm)  # [k, d]
    _, s, vh = torch.linalg.svd(rows, full_matrices=False)
    basis = vh[s > s.max() * 1e-10]  # [r, d] orthonormal
    v = v.double().cpu()
    out = v - basis.T @ (basis @ v)  # [d]
    if out.norm() <= 1e-6 * v.norm():
        raise ValueError("the direction lies in the span of the read-out words' unembedding rows: nothing is left "
                         "after projecting them out")
    return out.float()


def projected_name(name: str) -> str:
    """The name of ``name``'s projected control direction (:func:`project_out_readout`).

    Example:
        >>> projected_name("emotion PC1")
        'emotion PC1 (projected)'
    """
    return f"{name} (projected)"


def _contrast_name(first: str, second: str) -> str:
    return f"{first} - {second}"


def contrast_table(pairs: Sequence[tuple[str, str]] = CONTROL_CONTRASTS) -> pd.DataFrame:
    """The human valence and arousal means (1-9) of each contrast's emotions and their differences.

    Example:
        >>> table = contrast_table()
        >>> bool((table["valence difference"].abs() < 0.3).all())
        True
    """
    from emolib.emollm.vectors import human_means

    human = human_means()
    rows = []
    for first, second in pairs:
        a, b = human.loc[first], human.loc[second]
        rows.append({"contrast": _contrast_name(first, second), "valence": f"{a['valence']:.2f} vs {b['valence']:.2f}",
                     "valence difference": float(a["valence"] - b["valence"]),
                     "arousal": f"{a['arousal']:.2f} vs {b['arousal']:.2f}",
                     "arousal difference": float(a["arousal"] - b["arousal"])})
    return pd.DataFrame(rows).set_index("contrast")


def contrast_controls(
    ev: Any, layer: int, pairs: Sequence[tuple[str, str]] = CONTROL_CONTRASTS, max_valence_gap: float = 0.5,
) -> dict[str, torch.Tensor]:
    """Non-valence control directions: ``{"first - second": vectors[first] - vectors[second]}`` at ``layer``.

    Args:
        ev: :class:`~emolib.emollm.vectors.EmotionVectors` (anything with ``layer(layer) -> [27, d]``).
        layer: the steered layer.
        pairs: emotion pairs; each must differ by at most ``max_valence_gap`` in human valence
            (``ValueError`` otherwise), so that the contrast is not a valence direction.

    Example:
        >>> class Stub:
        ...     def layer(self, layer):
        ...         return np.eye(27, 4)
        >>> sorted(contrast_controls(Stub(), 0))
        ['amusement - gratitude', 'anger - disgust', 'excitement - relief', 'sadness - fear']
    """
    from emolib.emollm.vectors import contrast_direction

    table = contrast_table(pairs)
    too_far = table[table["valence difference"].abs() > max_valence_gap]
    if len(too_far):
        raise ValueError(f"contrast(s) {', '.join(too_far.index)} differ in human valence by more than "
                         f"{max_valence_gap:g}; choose emotions of similar valence")
    return {_contrast_name(a, b): contrast_direction(ev, layer, (a,), (b,)) for a, b in pairs}


