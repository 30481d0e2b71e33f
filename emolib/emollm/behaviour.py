"""The behavioural read-out of steering: greedy continuations under per-row steering vectors, scored by the shipped
valence adjectives they contain (the read-out words excluded).

Example:
    >>> count_valence_words("a cheerful, cheerful day", {"cheerful"}, {"lonely"})
    (2, 0)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from emolib.emollm.steering import NEGATIVE_WORDS, NEUTRAL_PROMPTS, POSITIVE_WORDS, _check_layer, _unit, steer, typical_norm
from emolib.model.backbones import Backbone
from emolib.emollm.steering_stats import _paired
from emolib.model.hooks import add_to_layer

__all__ = ["generate_examples", "behaviour_words", "count_valence_words", "greedy_continuations",
           "behavioural_readout", "behaviour_table"]

def generate_examples(
    backbone: Backbone, direction: torch.Tensor | np.ndarray, layer: int, alphas: Sequence[float],
    prompts: Sequence[str] = NEUTRAL_PROMPTS[:3], max_new_tokens: int = 16, scale: float | None = None,
) -> pd.DataFrame:
    """Greedy continuations under :func:`steer` for each alpha: ``prompt, alpha, continuation``."""
    if backbone.kind != "causal":  # a masked LM does not continue a text
        frame = pd.DataFrame(columns=["prompt", "alpha", "continuation"])
        frame.attrs["note"] = _masked_note(backbone)
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


def _masked_note(backbone: Backbone) -> str:
    return f"{backbone.name} is a masked LM: it fills a masked word but writes no continuation"


def behaviour_words(version: str = "head", exclude: Sequence[str] = POSITIVE_WORDS + NEGATIVE_WORDS,
                    ) -> tuple[frozenset[str], frozenset[str]]:
    """``(positive, negative)``: the shipped valence adjectives (:func:`emolib.data.load_adjectives`, lower case),
    without the words in ``exclude`` (default: the read-out words) and without any word in both lists.

    Example:
        >>> good, bad = behaviour_words()
        >>> "cheerful" in good, "miserable" in bad, "happy" in good or "sad" in bad
        (True, True, False)
    """
    from emolib.data import load_adjectives

    lists = load_adjectives("valence", version)
    drop = {w.strip().lower() for w in exclude}
    good = {w.strip().lower() for w in lists["valence_good"]} - drop
    bad = {w.strip().lower() for w in lists["valence_bad"]} - drop
    return frozenset(good - bad), frozenset(bad - good)


_WORDS = re.compile(r"[a-z]+")


def count_valence_words(text: str, positive: frozenset[str] | set[str],
                        negative: frozenset[str] | set[str]) -> tuple[int, int]:
    """How many of ``text``'s words (lower-cased letter runs) are in ``positive`` and in ``negative``.

    Example:
        >>> count_valence_words("A cheerful, CHEERFUL day; then lonely.", {"cheerful"}, {"lonely", "sad"})
        (2, 1)
    """
    words = _WORDS.findall(text.lower())
    return sum(w in positive for w in words), sum(w in negative for w in words)


def greedy_continuations(
    backbone: Backbone, layer: int, texts: Sequence[str], vectors: torch.Tensor, max_new_tokens: int = 16,
    batch_size: int = 32,
) -> list[str]:
    """Greedy continuations of ``texts`` with ``vectors[i]`` (``[N, d]``, added as given) added to layer ``layer``'s
    output at every position of text ``i``; batched with left padding (a causal LM only).

    Example:
        >>> from emolib.model import tiny_backbone
        >>> bb = tiny_backbone("llama")
        >>> len(greedy_continuations(bb, 1, ["the movie was", "so"], torch.zeros(2, bb.hidden_size), 2))
        2
    """
    if backbone.kind != "causal":
        raise ValueError(_masked_note(backbone))
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    layer = _check_layer(backbone, layer)
    vectors = torch.as_tensor(vectors).float()
    if vectors.shape != (len(texts), backbone.hidden_size):
        raise ValueError(f"vectors must be [{len(texts)}, {backbone.hidden_size}], got {tuple(vectors.shape)}")
    tok = backbone.tokenizer
    out: list[str] = []
    old = tok.padding_side
    tok.padding_side = "left"
    try:
        with torch.no_grad(), add_to_layer(backbone, layer, torch.zeros(backbone.hidden_size)) as state:
            for start in range(0, len(texts), batch_size):
                enc = tok(list(texts[start : start + batch_size]), return_tensors="pt", padding=True)
                enc = {k: enc[k].to(backbone.device) for k in ("input_ids", "attention_mask")}  # [B, T]
                state["vectors"] = vectors[start : start + batch_size]  # [B, d]
                ids = backbone.model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                              pad_token_id=tok.pad_token_id)
                out += tok.batch_decode(ids[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    finally:
        tok.padding_side = old
    return out


_CONTINUATION_COLUMNS = ["direction", "draw", "alpha", "prompt", "text", "continuation", "n_positive", "n_negative",
                         "score", "distinct"]


def behavioural_readout(
    backbone: Backbone, directions: Mapping[str, torch.Tensor | np.ndarray], layer: int, alpha: float,
    prompts: Sequence[str] = NEUTRAL_PROMPTS[:8], *, random: torch.Tensor | None = None,
    prompt_ids: Sequence[int] | None = None, scale: float | None = None, max_new_tokens: int = 16,
    words: tuple[frozenset[str], frozenset[str]] | None = None, batch_size: int = 32,
    keep_norm: Sequence[str] = (), unsteered: bool = True,
) -> pd.DataFrame:
    """Greedy continuations steered at ``-|alpha|`` and ``+|alpha|`` along each direction, and unsteered, scored.

    Args:
        directions: named ``[d]`` directions (unit-normalised here, except those named in ``keep_norm``).
        random: optional ``[n, d]`` random directions, rows named ``"random"`` with draws ``0..n-1``.
        prompt_ids: the prompts' indices for the ``prompt`` column (default ``0..``).
        words: ``(positive, negative)`` word sets; default :func:`behaviour_words` (the read-out words excluded).
        unsteered: also continue the prompts unsteered (leave out when another call at another alpha already did).

    Returns:
        ``direction, draw, alpha, prompt, text, continuation, n_positive, n_negative, score, distinct`` with
        ``score = n_positive - n_negative`` (the net count of positive valence adjectives in the continuation)
        and ``distinct`` the share of distinct tokens among the continuation's tokens (near 1 for ordinary text,
        low when steering makes the model repeat itself); the unsteered continuations are rows
        ``direction = "unsteered"``, alpha 0. A masked LM gives an empty frame with ``attrs["note"]``.

    Example:
        >>> from emolib.model import tiny_backbone
        >>> bb = tiny_backbone("llama")
        >>> c = behavioural_readout(bb, {"up": torch.ones(bb.hidden_size)}, 1, 2.0, ["the movie was"], max_new_tokens=2)
        >>> c[["direction", "alpha"]].values.tolist()
        [['unsteered', 0.0], ['up', -2.0], ['up', 2.0]]
    """
    if backbone.kind != "causal":
        frame = pd.DataFrame(columns=_CONTINUATION_COLUMNS)
        frame.attrs["note"] = _masked_note(backbone)
        return frame
    a = abs(float(alpha))
    if not np.isfinite(a) or a == 0:
        raise ValueError(f"alpha must be finite and nonzero, got {alpha!r}")
    if "unsteered" in directions or "random" in directions:
        raise ValueError("'unsteered' and 'random' are reserved names; rename that direction")
    prompt_ids = list(range(len(prompts))) if prompt_ids is None else [int(p) for p in prompt_ids]
    if len(prompt_ids) != len(prompts):
        raise ValueError(f"prompt_ids has {len(prompt_ids)} entries for {len(prompts)} prompts")
    width = backbone.hidden_size
    scale = typical_norm(backbone, layer) if scale is None else float(scale)
    units = [(name, 0, torch.as_tensor(d, dtype=torch.float32) if name in keep_norm else _unit(d, width))
             for name, d in directions.items()]
    if random is not None:
        units += [("random", k, u) for k, u in enumerate(_unit(random, width).reshape(-1, width))]
    conditions = [("unsteered", 0, torch.zeros(width), 0.0)] if unsteered else []
    conditions += [(name, draw, u, sign * a) for name, draw, u in units for sign in (-1.0, 1.0)]
    jobs = [(c, k) for c in conditions for k in range(len(prompts))]
    vectors = torch.stack([u * (alpha_ * scale) for (_, _, u, alpha_), _ in jobs]) if jobs else torch.zeros(0, width)
    texts = greedy_continuations(backbone, layer, [prompts[k] for _, k in jobs], vectors, max_new_tokens, batch_size)
    positive, negative = words if words is not None else behaviour_words()
    rows = []
    for ((name, draw, _, alpha_), k), text in zip(jobs, texts):
        n_pos, n_neg = count_valence_words(text, positive, negative)
        ids = backbone.tokenizer(text, add_special_tokens=False)["input_ids"]
        distinct = len(set(ids)) / len(ids) if ids else np.nan
        rows.append((name, draw, alpha_, prompt_ids[k], prompts[k], text, n_pos, n_neg, n_pos - n_neg, distinct))
    return pd.DataFrame(rows, columns=_CONTINUATION_COLUMNS)


_BEHAVIOUR_COLUMNS = ["direction", "draw", "role", "alpha", "minus", "zero", "plus", "difference", "ci_low", "ci_high",
                      "hits_minus", "hits_plus", "distinct_minus", "distinct_plus", "n_prompts"]


def behaviour_table(continuations: pd.DataFrame, roles: Mapping[str, str] | None = None,
                    level: float = 0.95) -> pd.DataFrame:
    """Mean continuation score per direction and steering size ``a`` at ``-a, 0, +a`` and the paired difference ``+a``
    minus ``-a`` (one row per direction, draw and ``a``: controls steered at several sizes get a row for each).

    Returns:
        ``direction, draw, role, alpha`` (= a), ``minus, zero, plus`` (mean score; ``zero``: the unsteered
        continuations), ``difference, ci_low, ci_high`` (mean over prompts of score(+a) - score(-a), t CI),
        ``hits_minus, hits_plus`` (valence adjectives found in all), ``distinct_minus, distinct_plus`` (mean share of
        distinct tokens: is the steered text still text?), ``n_prompts``; the note of an empty input is kept.

    Example:
        >>> rows = [("unsteered", 0, 0.0, p, "", "", 0, 0, 0, 1.0) for p in range(3)]
        >>> rows += [("d", 0, s, p, "", "", int(s > 0), int(s < 0), int(s > 0) - int(s < 0), 1.0)
        ...          for s in (-1.0, 1.0) for p in range(3)]
        >>> table = behaviour_table(pd.DataFrame(rows, columns=_CONTINUATION_COLUMNS))
        >>> table[["direction", "minus", "plus", "difference", "ci_low"]].values.tolist()
        [['d', -1.0, 1.0, 2.0, 2.0]]
    """
    roles = dict(roles or {})
    if continuations.empty:
        table = pd.DataFrame(columns=_BEHAVIOUR_COLUMNS)
        table.attrs.update(continuations.attrs)
        return table
    zero = continuations[continuations["direction"] == "unsteered"].groupby("prompt")["score"].mean()
    steered = continuations[continuations["direction"] != "unsteered"]
    steered = steered.assign(size=steered["alpha"].abs())
    rows = []
    for (name, draw, size), group in steered.groupby(["direction", "draw", "size"], sort=False):
        plus = group[group["alpha"] > 0].groupby("prompt")["score"].mean()
        minus = group[group["alpha"] < 0].groupby("prompt")["score"].mean()
        diff, lo, hi = _paired(plus, minus, level)
        hits = group["n_positive"] + group["n_negative"]
        rows.append({"direction": name, "draw": int(draw),
                     "role": roles.get(name, "random" if name == "random" else "valence"),
                     "alpha": float(size), "minus": float(minus.mean()),
                     "zero": float(zero.mean()) if len(zero) else np.nan, "plus": float(plus.mean()),
                     "difference": diff, "ci_low": lo, "ci_high": hi,
                     "hits_minus": int(hits[group["alpha"] < 0].sum()),
                     "hits_plus": int(hits[group["alpha"] > 0].sum()),
                     "distinct_minus": float(group.loc[group["alpha"] < 0, "distinct"].mean()),
                     "distinct_plus": float(group.loc[group["alpha"] > 0, "distinct"].mean()),
                     "n_prompts": int(group["prompt"].nunique())})
    return pd.DataFrame(rows, columns=_BEHAVIOUR_COLUMNS)

