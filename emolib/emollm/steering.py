"""Residual-stream steering of a language model, measured with a valence read-out against random directions.

:func:`steer` adds ``alpha * unit(direction) * scale`` to the output of one decoder layer at every
position (``scale`` = the layer's typical residual norm, :func:`typical_norm`: the median L2 norm of
that layer's output over the real, non-special tokens of some texts). ``alpha`` is therefore in units
of a typical residual vector: alpha = 1 adds a vector as long as a typical token's residual.

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

from emolib.emollm.prompts import cloze
from emolib.model.backbones import Backbone
from emolib.model.hooks import add_to_layer, check_layers, record

__all__ = [
    "NEUTRAL_PROMPTS", "POSITIVE_WORDS", "NEGATIVE_WORDS", "steer", "typical_norm", "valence_readout",
    "random_directions", "readout_shifts", "summarise_shifts", "dose_response", "best_alpha", "generate_examples",
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
    config = backbone.model.config
    plain = all(getattr(config, k, None) in (None, 1.0) for k in ("final_logit_softcapping", "logit_scale"))
    head = backbone.model.get_output_embeddings()
    if plain and head is not None and backbone.model.base_model is not backbone.model:
        hidden = backbone.model.base_model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])[0]
        logits = head(hidden[rows, last])  # [B, V]
    else:
        logits = _forward(backbone, batch).logits[rows, last]
    return logits.float().log_softmax(-1)


def typical_norm(backbone: Backbone, layer: int, texts: Sequence[str] = NEUTRAL_PROMPTS, batch_size: int = 32) -> float:
    """Median L2 norm of layer ``layer``'s output over the real, non-special tokens of ``texts`` (cached).

    Example:
        >>> from emolib.model import tiny_backbone
        >>> typical_norm(tiny_backbone("llama"), 1, ["the movie was good"]) > 0
        True
    """
    layer = _check_layer(backbone, layer)
    if not texts:
        raise ValueError("typical_norm needs at least one text")
    key = (layer, tuple(texts))
    cache = _NORMS.setdefault(backbone.model, {})
    if key not in cache:
        norms = []
        with torch.no_grad(), record(backbone, "residual", [layer]) as rec:
            for start in range(0, len(texts), batch_size):
                batch = backbone.encode(texts[start : start + batch_size])
                _forward(backbone, batch)
                real = batch["attention_mask"].bool() & ~batch["special_tokens_mask"].bool()  # [B, T]
                norms.append(rec[layer].float().norm(dim=-1)[real].cpu())
        cache[key] = float(torch.cat(norms).median())
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
            logp = _last_logprobs(backbone, batch)  # [B, V]
            out.append((logp[:, pos].logsumexp(-1) - logp[:, neg].logsumexp(-1)).cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)


def random_directions(width: int, n: int, seed: int = 0) -> torch.Tensor:
    """``[n, width]`` random unit directions (isotropic Gaussian, normalised), seeded."""
    gen = torch.Generator().manual_seed(int(seed))
    return _unit(torch.randn(n, width, generator=gen), width)


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
    alphas = [float(a) for a in alphas]
    if not alphas or not np.all(np.isfinite(alphas)):
        raise ValueError(f"alphas must be a non-empty list of finite numbers, got {alphas!r}")
    width = backbone.hidden_size
    units = [(name, 0, _unit(d, width)) for name, d in directions.items()]
    units += [("random", k, u) for k, u in enumerate(random_directions(width, n_random, seed))]
    scale = typical_norm(backbone, layer) if scale is None else float(scale)
    base = valence_readout(backbone, prompts, positive, negative, batch_size)  # [P]
    rows = [(name, draw, a, p) for name, draw, _ in units for a in alphas if a != 0 for p in range(len(prompts))]
    vecs = {(name, draw): u for name, draw, u in units}
    pos, neg = _word_ids(backbone, positive), _word_ids(backbone, negative)
    values = np.zeros(len(rows))
    with torch.no_grad(), add_to_layer(backbone, layer, torch.zeros(width)) as state:
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            state["vectors"] = torch.stack([vecs[(n, d)] * (a * scale) for n, d, a, _ in chunk])  # [B, d]
            batch = backbone.encode(_readout_texts(backbone, [prompts[p] for *_, p in chunk]))
            logp = _last_logprobs(backbone, batch)  # [B, V]
            values[start : start + len(chunk)] = (logp[:, pos].logsumexp(-1) - logp[:, neg].logsumexp(-1)).cpu().numpy()
    frame = pd.DataFrame(rows, columns=["direction", "draw", "alpha", "prompt"])
    frame["shift"] = values - base[frame["prompt"].to_numpy()]
    zero_rows = [(n, d, 0.0, p, 0.0) for n, d, _ in units for p in range(len(prompts))] if 0.0 in alphas else []
    zeros = pd.DataFrame(zero_rows,
                         columns=["direction", "draw", "alpha", "prompt", "shift"])
    frame = pd.concat([zeros, frame], ignore_index=True) if len(zeros) else frame
    frame.insert(2, "layer", layer)
    return frame.sort_values(["direction", "draw", "alpha", "prompt"], kind="stable").reset_index(drop=True)


def _t_interval(x: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
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


def best_alpha(shifts: pd.DataFrame, seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """Each named direction's best alpha, chosen on one half of the prompts and scored on the other.

    The prompts are split in two halves (seeded). On half A, the best alpha is the nonzero alpha where
    the direction's mean shift (directions are oriented toward positive valence) lies furthest above the
    random draws, in random-draw sds (the largest mean shift if there are fewer than 2 draws). On half B,
    the direction's mean shift at that alpha (t CI over prompts) is compared with the random draws at the same alpha:
    ``random_mean``, ``random_low/high`` (percentile band of per-draw means), ``z`` (standardised by
    the draws' sd) and ``p_random`` = (1 + #draws >= effect) / (1 + n_draws).
    """
    prompts = np.sort(shifts["prompt"].unique())
    rng = np.random.default_rng(seed)
    half_a = set(rng.permutation(prompts)[: len(prompts) // 2].tolist())
    if not half_a or len(half_a) == len(prompts):
        raise ValueError(f"best_alpha needs at least 2 prompts, got {len(prompts)}")
    in_a = shifts["prompt"].isin(half_a)
    nonzero = shifts["alpha"] != 0
    rows = []
    rand_b = shifts[(shifts["direction"] == "random") & ~in_a]
    for name in [n for n in shifts["direction"].unique() if n != "random"]:
        mine = shifts[(shifts["direction"] == name) & nonzero]
        means_a = mine[mine["prompt"].isin(half_a)].groupby("alpha")["shift"].mean()
        rand_a = shifts[(shifts["direction"] == "random") & in_a & nonzero].groupby(["alpha", "draw"])["shift"].mean()
        grouped = rand_a.groupby("alpha")
        if len(rand_a) and (grouped.size() >= 2).all():
            sd = grouped.std()
            means_a = (means_a - grouped.mean()) / sd.where(sd > 0, np.inf)
        alpha = float(means_a.idxmax())
        held_out = mine[(mine["alpha"] == alpha) & ~mine["prompt"].isin(half_a)]["shift"].to_numpy()
        effect, lo, hi = _t_interval(held_out, level)
        draws = rand_b[rand_b["alpha"] == alpha].groupby("draw")["shift"].mean().to_numpy()
        r_lo, r_hi = np.percentile(draws, [50 - 50 * level, 50 + 50 * level]) if len(draws) else (np.nan, np.nan)
        sd = np.std(draws, ddof=1) if len(draws) > 1 else np.nan
        rows.append({"direction": name, "layer": int(mine["layer"].iloc[0]), "alpha": alpha, "effect": effect,
                     "ci_low": lo, "ci_high": hi, "random_mean": float(np.mean(draws)) if len(draws) else np.nan,
                     "random_low": float(r_lo), "random_high": float(r_hi),
                     "z": float((effect - np.mean(draws)) / sd) if sd and np.isfinite(sd) else np.nan,
                     "p_random": float((1 + np.sum(draws >= effect)) / (1 + len(draws))),
                     "n_prompts": len(prompts) - len(half_a)})
    return pd.DataFrame(rows)


def generate_examples(
    backbone: Backbone, direction: torch.Tensor | np.ndarray, layer: int, alphas: Sequence[float],
    prompts: Sequence[str] = NEUTRAL_PROMPTS[:3], max_new_tokens: int = 16, scale: float | None = None,
) -> pd.DataFrame:
    """Greedy continuations under :func:`steer` for each alpha: ``prompt, alpha, continuation``."""
    if backbone.kind != "causal":  # a masked LM does not continue a text
        frame = pd.DataFrame(columns=["prompt", "alpha", "continuation"])
        frame.attrs["note"] = f"{backbone.name} is a masked LM: it fills a masked word but writes no continuation"
        return frame
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    tok = backbone.tokenizer
    rows = []
    for alpha in alphas:
        with torch.no_grad(), steer(backbone, direction, layer, float(alpha), scale):
            for prompt in prompts:
                ids = tok(prompt, return_tensors="pt").to(backbone.device)
                out = backbone.model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False,
                                              pad_token_id=tok.pad_token_id)
                text = tok.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)
                rows.append((prompt, float(alpha), text))
    return pd.DataFrame(rows, columns=["prompt", "alpha", "continuation"])
