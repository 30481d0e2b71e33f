"""Residual-stream steering of a language model, measured with a valence read-out against random directions.

:func:`steer` adds ``alpha * unit(direction) * scale`` to the output of one decoder layer at every
position (``scale`` = the layer's typical residual size, :func:`typical_norm`: the median L2 norm of that
layer's output *minus its mean over tokens*, over the real, non-special tokens of some texts). ``alpha`` is
therefore in units of a typical token's deviation from the mean residual. The mean is left out because some
models carry a large constant offset in a few residual dimensions (Gemma 3: one dimension makes up most of the
raw norm at two thirds of the depth), which would make alpha = 1 many times larger than anything the layer's
tokens differ by.

The read-out (:func:`valence_readout`) is the next-word log-odds of positive vs negative words after
neutral prompts: ``logsumexp(log p[pos]) - logsumexp(log p[neg])``, at the next token of a causal LM or
at the ``<mask>`` of ``prompt + " <mask>"`` for a masked LM. :func:`readout_shifts` measures
its change vs alpha = 0 for each named direction and for ``n_random`` random unit directions (equal
norm by construction) in one batched pass; :func:`summarise_shifts` turns that into the dose-response
table (``direction, layer, alpha, effect, ci_low, ci_high``):

- named directions: effect = mean shift over prompts; CI = t interval over prompts (paired shifts);
- ``"random"``: effect = mean shift over draws x prompts; ``ci_low/ci_high`` = the 2.5/97.5
  percentiles of the per-draw mean shifts, i.e. the band in which a random direction's effect falls
  (a null band, not the CI of the mean), which is what a named direction has to leave.

The held-out tests are in :mod:`emolib.emollm.steering_stats`, the control directions in
:mod:`emolib.emollm.steering_controls`, the behavioural read-out in :mod:`emolib.emollm.behaviour` and the
whole design in :mod:`emolib.emollm.steering_run`.

**Speed.** Many (direction, alpha, prompt) rows share each prompt's first layers: the shift functions
run layers ``0..layer-1`` once per prompt and reuse their output (:func:`emolib.model.hooks.reuse_prefix`;
exactly the same numbers), and a causal LM's read-out computes the logits of the read-out words only (the
log-softmax normaliser cancels in the log-odds).

Example:
    >>> import torch
    >>> from emolib.model import tiny_backbone
    >>> bb = tiny_backbone("llama")
    >>> base = valence_readout(bb, ["the movie was"])
    >>> with steer(bb, torch.ones(bb.hidden_size), layer=1, alpha=2.0):
    ...     moved = valence_readout(bb, ["the movie was"])
    >>> bool((moved != base).any())
    True
"""

from __future__ import annotations

import contextlib
import logging
import weakref
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd
import torch
from scipy import stats
from torch import nn

from emolib.emollm.prompts import cloze
from emolib.model.backbones import Backbone
from emolib.model.hooks import add_to_layer, check_layers, record, reuse_prefix

__all__ = [
    "NEUTRAL_PROMPTS", "POSITIVE_WORDS", "NEGATIVE_WORDS", "steer", "typical_norm", "valence_readout",
    "random_directions", "readout_shifts", "summarise_shifts", "dose_response",
]  # fmt: skip

logger = logging.getLogger(__name__)

#: Neutral prompts whose next word is naturally an evaluative adjective (no valence word in them).
NEUTRAL_PROMPTS: tuple[str, ...] = (
    "The weather today is", "The movie was", "The food at that place was", "My day at work was",
    "The meeting this morning was", "The new phone is", "The book I read last week was",
    "Overall, the trip was", "The neighbours are", "The train ride home was", "His new haircut looks",
    "The concert last night was", "Her presentation was", "The hotel room was", "The game yesterday was",
    "This song is", "The coffee here is", "The weekend was", "The new teacher is", "Honestly, the show was",
    "The view from the window is", "The class this semester is", "The party on Friday was",
    "Living in this city is",
)  # fmt: skip
POSITIVE_WORDS: tuple[str, ...] = (" good", " great", " happy")
NEGATIVE_WORDS: tuple[str, ...] = (" bad", " terrible", " sad")

_NORMS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> {(layer, texts): norm}


def _check_layer(backbone: Backbone, layer: int) -> int:
    return check_layers(backbone, [layer])[0]


def _forward(backbone: Backbone, batch: dict[str, torch.Tensor]):
    return backbone.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])


def _plain_head(backbone: Backbone) -> nn.Linear | None:
    """The causal LM's output layer if its logits are ``head(final hidden)`` with nothing after it, else None."""
    if backbone.kind == "masked" or backbone.model.base_model is backbone.model:
        return None
    config = backbone.model.config
    plain = all(getattr(config, k, None) in (None, 1.0) for k in ("final_logit_softcapping", "logit_scale"))
    head = backbone.model.get_output_embeddings()
    return head if plain and isinstance(head, nn.Linear) else None


def _last_logprobs(backbone: Backbone, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Log-probabilities at each sequence's read-out: ``[B, V]``; the next token after the last real
    token of a causal LM, the ``<mask>`` of a masked LM's cloze prompt.

    The LM head runs on the read-out positions only (its cost over all positions is a large share of a
    small model's forward pass), unless the model rescales its logits (soft-capping, logit scale).
    """
    if backbone.kind == "masked":
        last = (batch["input_ids"] == backbone.mask_token_id).int().argmax(1)  # [B]
        rows = torch.arange(len(last), device=last.device)
        return _forward(backbone, batch).logits[rows, last].float().log_softmax(-1)
    last = batch["attention_mask"].sum(1) - 1  # [B]
    rows = torch.arange(len(last), device=last.device)
    head = _plain_head(backbone)
    if head is not None:
        hidden = backbone.model.base_model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])[0]
        logits = head(hidden[rows, last])  # [B, V]
    else:
        logits = _forward(backbone, batch).logits[rows, last]
    return logits.float().log_softmax(-1)


def _logodds(backbone: Backbone, batch: dict[str, torch.Tensor], pos: list[int], neg: list[int]) -> torch.Tensor:
    """``[B]`` read-out log-odds ``logsumexp(logit[pos]) - logsumexp(logit[neg])``.

    The log-softmax normaliser cancels, so a causal LM with a plain head computes the logits of the
    read-out words only (``[B, len(pos) + len(neg)]`` instead of ``[B, V]``).
    """
    head = _plain_head(backbone)
    if head is None:
        logp = _last_logprobs(backbone, batch)  # [B, V]
        return logp[:, pos].logsumexp(-1) - logp[:, neg].logsumexp(-1)
    last = batch["attention_mask"].sum(1) - 1  # [B]
    rows = torch.arange(len(last), device=last.device)
    hidden = backbone.model.base_model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                       use_cache=False)[0]  # [B, T, d]
    ids = torch.as_tensor(pos + neg, device=hidden.device)
    bias = head.bias[ids] if head.bias is not None else None
    logits = nn.functional.linear(hidden[rows, last], head.weight[ids], bias).float()  # [B, k]
    return logits[:, : len(pos)].logsumexp(-1) - logits[:, len(pos) :].logsumexp(-1)



def typical_norm(backbone: Backbone, layer: int, texts: Sequence[str] = NEUTRAL_PROMPTS, batch_size: int = 32,
                 centred: bool = True) -> float:
    """Median L2 norm of layer ``layer``'s output over the real, non-special tokens of ``texts`` (cached); with
    ``centred`` (default), of each token's deviation from the mean over those tokens.

    The mean is left out because a few residual dimensions can carry a large offset shared by every token (Gemma 3
    at two thirds of its depth: one dimension is most of the raw norm), so a raw norm would make alpha = 1 many
    times larger than anything the layer's tokens differ by.

    Example:
        >>> from emolib.model import tiny_backbone
        >>> bb = tiny_backbone("llama")
        >>> 0 < typical_norm(bb, 1, ["the movie was good"]) < typical_norm(bb, 1, ["the movie was good"], centred=False)
        True
    """
    layer = _check_layer(backbone, layer)
    if not texts:
        raise ValueError("typical_norm needs at least one text")
    key = (layer, tuple(texts), bool(centred))
    cache = _NORMS.setdefault(backbone.model, {})
    if key not in cache:
        rows = []
        with torch.no_grad(), record(backbone, "residual", [layer]) as rec:
            for start in range(0, len(texts), batch_size):
                batch = backbone.encode(texts[start : start + batch_size])
                _forward(backbone, batch)
                real = batch["attention_mask"].bool() & ~batch["special_tokens_mask"].bool()  # [B, T]
                rows.append(rec[layer].float()[real].cpu())  # [n, d]
        tokens = torch.cat(rows)  # [N, d]
        if centred:
            tokens = tokens - tokens.mean(0)
        cache[key] = float(tokens.norm(dim=-1).median())
    return cache[key]


def _unit(direction: torch.Tensor | np.ndarray, width: int) -> torch.Tensor:
    direction = torch.as_tensor(np.asarray(direction) if not torch.is_tensor(direction) else direction).float()
    if direction.shape[-1:] != (width,):
        raise ValueError(f"direction has shape {tuple(direction.shape)}; expected [..., {width}] (hidden size)")
    norm = direction.norm(dim=-1, keepdim=True)
    if not torch.isfinite(direction).all() or (norm == 0).any():
        raise ValueError("direction must be finite and non-zero")
    return direction / norm


@contextlib.contextmanager
def steer(
    backbone: Backbone, direction: torch.Tensor | np.ndarray, layer: int, alpha: float, scale: float | None = None
) -> Iterator[float]:
    """Add ``alpha * unit(direction) * scale`` to layer ``layer``'s output at every position; restored on exit.

    Args:
        backbone: any backbone.
        direction: ``[d]`` direction in the residual stream (any norm; it is unit-normalised).
        layer: 0-based decoder layer; the vector is added to its output (the residual stream after it).
        alpha: strength in units of ``scale``.
        scale: vector length for alpha = 1; default :func:`typical_norm` of the layer on
            :data:`NEUTRAL_PROMPTS`.

    Yields:
        The norm of the added vector (``|alpha| * scale``).
    """
    layer = _check_layer(backbone, layer)
    unit = _unit(direction, backbone.hidden_size)
    if unit.dim() != 1:
        raise ValueError(f"steer takes one direction [d], got shape {tuple(unit.shape)}")
    if not np.isfinite(alpha):
        raise ValueError(f"alpha must be finite, got {alpha!r}")
    scale = typical_norm(backbone, layer) if scale is None else float(scale)
    with add_to_layer(backbone, layer, unit * (alpha * scale)):
        yield abs(alpha) * scale


def _word_ids(backbone: Backbone, words: Sequence[str]) -> list[int]:
    """Single-token ids of the read-out words; a masked LM falls back to the word without its leading space."""
    if not words:
        raise ValueError("the read-out needs at least one positive and one negative word")
    ids = []
    for word in words:
        try:
            ids.append(backbone.token_id(word))
        except ValueError:
            if backbone.kind != "masked" or word == word.lstrip():
                raise
            ids.append(backbone.token_id(word.lstrip()))  # e.g. BERT's word pieces have no space marker
    return ids


def _readout_texts(backbone: Backbone, prompts: Sequence[str]) -> list[str]:
    """The prompts as the read-out sees them: unchanged for a causal LM, with a ``<mask>`` to fill for a masked LM."""
    return [cloze(backbone, p) for p in prompts]


def valence_readout(
    backbone: Backbone, prompts: Sequence[str], positive: Sequence[str] = POSITIVE_WORDS,
    negative: Sequence[str] = NEGATIVE_WORDS, batch_size: int = 64,
) -> np.ndarray:
    """Next-word log-odds ``logsumexp(log p[positive]) - logsumexp(log p[negative])`` per prompt: ``[n]``.

    A causal LM is read at the next token, a masked LM at the ``<mask>`` of ``prompt + " <mask>"``.
    Words must be single tokens of the backbone's tokenizer (``ValueError`` otherwise).
    """
    pos, neg = _word_ids(backbone, positive), _word_ids(backbone, negative)
    prompts = _readout_texts(backbone, prompts)
    out = []
    with torch.no_grad():
        for start in range(0, len(prompts), batch_size):
            batch = backbone.encode(prompts[start : start + batch_size])
            out.append(_logodds(backbone, batch, pos, neg).cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)


def random_directions(width: int, n: int, seed: int = 0) -> torch.Tensor:
    """``[n, width]`` random unit directions (isotropic Gaussian, normalised), seeded."""
    gen = torch.Generator().manual_seed(int(seed))
    return _unit(torch.randn(n, width, generator=gen), width)


def _check_alphas(alphas: Sequence[float]) -> list[float]:
    alphas = [float(a) for a in alphas]
    if not alphas or not np.all(np.isfinite(alphas)):
        raise ValueError(f"alphas must be a non-empty list of finite numbers, got {alphas!r}")
    return alphas


def _shift_frame(
    backbone: Backbone, layer: int, prompts: Sequence[str], units: list[tuple[str, int, torch.Tensor]],
    plan: list[tuple[int, float, int]], scale: float, pos: list[int], neg: list[int], batch_size: int,
) -> pd.DataFrame:
    """Read-out shifts of the ``plan`` rows ``(unit index, alpha, prompt index)``: ``direction, draw, layer, alpha,
    prompt, shift`` (alpha = 0 rows are 0 by definition and not run).

    All prompts are encoded once (``[P, T]``), layers ``0..layer-1`` run once per prompt (:func:`_skip_prefix`),
    and the rows run in batches with one steering vector per row.
    """
    width = backbone.hidden_size
    matrix = torch.stack([u for *_, u in units]) if units else torch.zeros(0, width)  # [U, d]
    run = [(u, a, p) for u, a, p in plan if a != 0]
    values = np.zeros(len(run) + len(prompts))
    batch = backbone.encode(_readout_texts(backbone, prompts))  # [P, T]
    device = batch["input_ids"].device
    jobs = [(0, 0.0, p) for p in range(len(prompts))] + run  # the unsteered read-out first
    with torch.no_grad(), reuse_prefix(backbone, layer, batch, batch_size) as prefix, \
            add_to_layer(backbone, layer, torch.zeros(width)) as state:
        for start in range(0, len(jobs), batch_size):
            chunk = jobs[start : start + batch_size]
            rows = torch.as_tensor([p for *_, p in chunk], device=device)  # [B]
            alpha = torch.tensor([a * scale for _, a, _ in chunk])  # [B]
            vectors = matrix[[u for u, *_ in chunk]] if len(matrix) else torch.zeros(len(chunk), width)
            state["vectors"] = vectors * alpha[:, None]  # [B, d]
            prefix["rows"] = rows
            sub = {k: v[rows] for k, v in batch.items()}
            values[start : start + len(chunk)] = _logodds(backbone, sub, pos, neg).cpu().numpy()
    base, moved = values[: len(prompts)], values[len(prompts) :]
    moved_rows = [(units[u][0], units[u][1], a, p, moved[k] - base[p]) for k, (u, a, p) in enumerate(run)]
    zero_rows = [(units[u][0], units[u][1], 0.0, p, 0.0) for u, a, p in plan if a == 0]
    frame = pd.DataFrame(zero_rows + moved_rows, columns=["direction", "draw", "alpha", "prompt", "shift"])
    frame.insert(2, "layer", layer)
    return frame.sort_values(["direction", "draw", "alpha", "prompt"], kind="stable").reset_index(drop=True)


def readout_shifts(
    backbone: Backbone, directions: dict[str, torch.Tensor | np.ndarray], layer: int, alphas: Sequence[float],
    prompts: Sequence[str] = NEUTRAL_PROMPTS, n_random: int = 8, seed: int = 0, scale: float | None = None,
    positive: Sequence[str] = POSITIVE_WORDS, negative: Sequence[str] = NEGATIVE_WORDS, batch_size: int = 64,
) -> pd.DataFrame:
    """Per-prompt read-out shift vs alpha = 0: long frame ``direction, draw, layer, alpha, prompt, shift``.

    Named directions have ``draw = 0``; random directions are named ``"random"`` with draws
    ``0..n_random-1``. All (direction, alpha, prompt) rows run batched with per-row steering vectors.
    """
    layer = _check_layer(backbone, layer)
    if not prompts:
        raise ValueError("readout_shifts needs at least one prompt")
    if "random" in directions:
        raise ValueError("'random' is reserved for the random control directions; rename that direction")
    alphas = _check_alphas(alphas)
    width = backbone.hidden_size
    units = [(name, 0, _unit(d, width)) for name, d in directions.items()]
    units += [("random", k, u) for k, u in enumerate(random_directions(width, n_random, seed))]
    scale = typical_norm(backbone, layer) if scale is None else float(scale)
    pos, neg = _word_ids(backbone, positive), _word_ids(backbone, negative)
    plan = [(u, a, p) for u in range(len(units)) for a in alphas for p in range(len(prompts))]
    return _shift_frame(backbone, layer, prompts, units, plan, scale, pos, neg, batch_size)


def _t_interval(x: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    x = np.asarray(x, dtype=float)
    if len(x) == 0:
        return np.nan, np.nan, np.nan
    mean = float(np.mean(x))
    if len(x) < 2 or np.std(x) == 0:
        return mean, mean, mean
    half = stats.t.ppf(0.5 + level / 2, len(x) - 1) * np.std(x, ddof=1) / np.sqrt(len(x))
    return mean, mean - half, mean + half


def summarise_shifts(shifts: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Dose-response table ``direction, layer, alpha, effect, ci_low, ci_high`` (see the module docstring)."""
    out = []
    for (name, layer, alpha), group in shifts.groupby(["direction", "layer", "alpha"], sort=False):
        if name == "random":
            per_draw = group.groupby("draw")["shift"].mean().to_numpy()
            lo, hi = np.percentile(per_draw, [50 - 50 * level, 50 + 50 * level])
            out.append((name, layer, alpha, float(group["shift"].mean()), float(lo), float(hi)))
        else:
            out.append((name, layer, alpha, *_t_interval(group["shift"].to_numpy(), level)))
    frame = pd.DataFrame(out, columns=["direction", "layer", "alpha", "effect", "ci_low", "ci_high"])
    return frame.sort_values(["direction", "alpha"], kind="stable").reset_index(drop=True)


def dose_response(
    backbone: Backbone, directions: dict[str, torch.Tensor | np.ndarray], layer: int, alphas: Sequence[float],
    prompts: Sequence[str] = NEUTRAL_PROMPTS, n_random: int = 8, seed: int = 0, **kwargs,
) -> pd.DataFrame:
    """:func:`readout_shifts` summarised by :func:`summarise_shifts`.

    Example:
        >>> from emolib.model import tiny_backbone
        >>> bb = tiny_backbone("llama")
        >>> dr = dose_response(bb, {"up": torch.ones(bb.hidden_size)}, layer=1, alphas=[-1, 0, 1], n_random=2)
        >>> list(dr.columns)
        ['direction', 'layer', 'alpha', 'effect', 'ci_low', 'ci_high']
    """
    return summarise_shifts(readout_shifts(backbone, directions, layer, alphas, prompts, n_random, seed, **kwargs))

