"""Emo_LLM's prompts and a causal LM's representations of them: value vectors and the residual stream.

The prompts are Emo_LLM's templates x adjectives (``template.format(adjective)``); a prompt's label
is Emo_LLM's ``class_0_true``: 1 for (first-key list, plain template) or (second-key list, negated
template), i.e. y = 1 means *negative valence* / *low arousal* after the negation flip.

Representations are read at the read-out of each prompt, for every layer, through
:func:`emolib.model.hooks.record`: the last real token of a causal LM; for a masked LM, the
``<mask>`` of a cloze version of the prompt (``text + " <mask>"``), where the model predicts the next
word, as a causal LM does at its last token. The sites are:

- ``value``: the attention value projection output (``Backbone.sites[l].value``; GPT-2: the last third
  of the fused ``c_attn``; Llama family: ``v_proj``, ``n_kv_heads * head_dim`` wide);
- ``residual``: the residual stream *after* block l (the block's output), the site that
  :func:`emolib.emollm.steering.steer` adds to.

Example:
    >>> from emolib.model import tiny_backbone
    >>> reps = representations(tiny_backbone("llama"), ["so happy", "not very sad today"])
    >>> reps["value"].shape, reps["residual"].shape  # (N, n_layers, dim)
    ((2, 2, 16), (2, 2, 32))
    >>> row = prompt_frame("valence", template_ids=[16, 17]).loc[0]
    >>> row["text"], int(row["y"])
    ('Bob was very sad, therefore Bob', 1)
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import inspect
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from emolib import profiles
from emolib.artifacts import artifact, load_arrays, save_arrays
from emolib.data import load_adjectives, load_templates
from emolib.model.backbones import Backbone
from emolib.model.hooks import record
from emolib.emollm.probes import lemma_families, template_families
from emolib.profiles import ProbeSettings
from emolib.versions import version

__all__ = ["SCALES", "SITES", "TEMPLATE_VERSION", "LEXICAL_CARRIER", "probe_layers", "template_subset",
           "prompt_frame", "cloze", "representations", "cached_representations", "probe_data"]

logger = logging.getLogger(__name__)

SCALES = ("valence", "arousal")
SITES = ("value", "residual")
TEMPLATE_VERSION = "0330b2024"
#: Text before the adjective in the lexical baseline (no template; identical for every adjective).
LEXICAL_CARRIER = "Word:"


def probe_layers(n_layers: int, settings: ProbeSettings) -> list[int]:
    """Layers probed one at a time: every ``layer_stride``-th layer of the settings, always with the last.

    Example:
        >>> probe_layers(30, profiles.settings("probes", "quick"))[-3:]
        [24, 27, 29]
    """
    stride = int(settings.layer_stride)
    if stride < 1:
        raise ValueError(f"layer_stride must be >= 1, got {stride}")
    return sorted(set(range(0, n_layers, stride)) | {n_layers - 1})


def template_subset(n_templates: int | None, version: str = TEMPLATE_VERSION) -> list[int]:
    """Indices of ``n_templates`` templates: evenly spaced plain/negated pairs (all if None)."""
    total = len(load_templates(version))
    if n_templates is None or n_templates >= total:
        return list(range(total))
    if n_templates < 2 or n_templates % 2:
        raise ValueError(f"n_templates must be an even number >= 2 (pairs), got {n_templates}")
    pairs = np.unique(np.round(np.linspace(0, total // 2 - 1, n_templates // 2)).astype(int))
    return [int(i) for p in pairs for i in (2 * p, 2 * p + 1)]


def prompt_frame(scale: str, adjective_version: str = "head", template_ids: Sequence[int] | None = None,
                 template_version: str = TEMPLATE_VERSION) -> pd.DataFrame:
    """Emo_LLM's prompts of one scale, template-major as the original (duplicate entries kept).

    Columns: ``text, template_id, template, negation, adjective, class_name, in_first`` (the adjective is
    in the first-key list), ``y`` (``class_0_true``), ``key`` (equal for duplicate entries),
    ``lemma_family``, ``template_family`` (families over the full template file).

    """
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; valid choices: {', '.join(SCALES)}")
    lists = load_adjectives(scale, adjective_version)
    templates = load_templates(template_version)
    families = template_families([t["prompt_template"] for t in templates], [t["negation"] for t in templates])
    first = next(iter(lists))
    ids = range(len(templates)) if template_ids is None else template_ids
    rows = [(templates[t]["prompt_template"].format(adj), t, templates[t]["prompt_template"],
             bool(templates[t]["negation"]), adj, name, name == first, families[t])
            for t in ids for name, words in lists.items() for adj in words]
    frame = pd.DataFrame(rows, columns=["text", "template_id", "template", "negation", "adjective", "class_name",
                                        "in_first", "template_family"])
    frame["y"] = (frame["in_first"] != frame["negation"]).astype(int)
    frame["key"] = frame["template_id"].astype(str) + "|" + frame["class_name"] + "|" + frame["adjective"]
    unique = sorted(frame["adjective"].unique())
    frame["lemma_family"] = frame["adjective"].map(dict(zip(unique, lemma_families(unique))))
    return frame


def _pad(ids: list[list[int]], pad_id: int, padding: str) -> tuple[torch.Tensor, ...]:
    """Pad token id lists; returns ``input_ids, attention_mask, position_ids [B, T]`` and ``last [B]``."""
    width = max(len(x) for x in ids)
    input_ids = torch.full((len(ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for i, x in enumerate(ids):
        where = slice(width - len(x), width) if padding == "left" else slice(0, len(x))
        input_ids[i, where] = torch.tensor(x)
        mask[i, where] = 1
    position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
    last = torch.full((len(ids),), width - 1) if padding == "left" else mask.sum(-1) - 1
    return input_ids, mask, position_ids, last


def _cache_argument(backbone: Backbone) -> str:
    """The KV-cache keyword of the model's forward: ``cache`` (transformers >= 5.2x) or ``past_key_values``."""
    return "cache" if "cache" in inspect.signature(backbone.model.base_model.forward).parameters else "past_key_values"


def _forward(backbone: Backbone, batch: list[list[int]], sites: Sequence[str], padding: str,
             cache=None, offset: int = 0) -> dict[str, torch.Tensor]:
    """One forward pass of padded token lists (after ``offset`` cached prefix tokens); ``{site: [B, L, dim]}``."""
    input_ids, mask, position_ids, last = _pad(batch, backbone.tokenizer.pad_token_id, padding)
    if cache is not None:  # the suffixes continue a shared prefix of ``offset`` tokens
        mask = torch.cat([torch.ones(len(batch), offset, dtype=mask.dtype), mask], 1)
        position_ids = position_ids + offset
    device = backbone.device
    extra = {_cache_argument(backbone): cache} if cache is not None else {}
    with contextlib.ExitStack() as stack:
        recordings = {site: stack.enter_context(record(backbone, site, positions=last.to(device))) for site in sites}
        backbone.model.base_model(input_ids=input_ids.to(device), attention_mask=mask.to(device),
                                  position_ids=position_ids.to(device), use_cache=cache is not None, **extra)
    return {site: rec.stacked().float().cpu() for site, rec in recordings.items()}  # [B, L, dim]


def cloze(backbone: Backbone, text: str) -> str:
    """A masked LM's version of ``text`` with the read-out: ``text + " <mask>"`` (causal LMs: ``text``).

    Example:
        >>> from emolib.model import tiny_backbone
        >>> cloze(tiny_backbone("roberta"), "Bob felt happy, therefore Bob")
        'Bob felt happy, therefore Bob <mask>'
    """
    if backbone.kind != "masked":
        return text
    return f"{text} {backbone.tokenizer.mask_token}"


def _forward_masked(backbone: Backbone, batch: list[list[int]], sites: Sequence[str]) -> dict[str, torch.Tensor]:
    """One right-padded forward pass of a masked LM, read at each sequence's ``<mask>``; ``{site: [B, L, dim]}``."""
    input_ids, mask, _, _ = _pad(batch, backbone.tokenizer.pad_token_id, "right")
    readout = torch.tensor([seq.index(backbone.mask_token_id) for seq in batch])  # [B]
    device = backbone.device
    with contextlib.ExitStack() as stack:
        recordings = {site: stack.enter_context(record(backbone, site, positions=readout.to(device))) for site in sites}
        backbone.model.base_model(input_ids=input_ids.to(device), attention_mask=mask.to(device))
    return {site: rec.stacked().float().cpu() for site, rec in recordings.items()}  # [B, L, dim]


@torch.inference_mode()
def representations(backbone: Backbone, texts: Sequence[str], sites: Sequence[str] = SITES, batch_size: int = 32,
                    padding: str = "left", prefixes: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Per-layer representations at the read-out of each text (batched, length-sorted).

    A causal LM is read at the last real token; a masked LM at the ``<mask>`` of :func:`cloze`.

    Args:
        backbone: a causal or masked LM backbone.
        texts: prompts, tokenised with the tokenizer's default special tokens (as the original).
        sites: any of ``"value"``, ``"residual"``.
        batch_size: texts per forward pass.
        padding: ``"left"`` or ``"right"``; attention mask and position ids make both equal to
            unbatched runs up to float noise.
        prefixes: optional shared prefix per text (e.g. the template before its slot; ``""`` for none).
            A prefix is run once and its KV cache reused by all texts whose tokens start with its
            tokens (suffixes right-padded); the result is unchanged, the work about halved. Causal
            LMs only (a masked LM's prefix sees the rest of the text); ignored otherwise.

    Returns:
        ``{site: float32 array [N, n_layers, dim]}``.
    """
    if padding not in ("left", "right"):
        raise ValueError(f"unknown padding {padding!r}; valid choices: left, right")
    bad = [s for s in sites if s not in SITES]
    if bad or not sites:
        raise ValueError(f"unknown site {bad[0] if bad else None!r}; valid choices: {', '.join(SITES)}")
    if prefixes is not None and len(prefixes) != len(texts):
        raise ValueError(f"got {len(prefixes)} prefixes for {len(texts)} texts; give one per text (or None)")
    tokenizer = backbone.tokenizer
    if backbone.kind == "masked":
        ids = tokenizer([cloze(backbone, t) for t in texts])["input_ids"]
        order = sorted(range(len(texts)), key=lambda i: len(ids[i]))
        out_m: dict[str, list] = {s: [None] * len(texts) for s in sites}
        for k in range(0, len(order), batch_size):
            batch = order[k:k + batch_size]
            for s, values in _forward_masked(backbone, [ids[i] for i in batch], sites).items():
                for row, i in enumerate(batch):
                    out_m[s][i] = values[row]
        return {s: torch.stack(v).numpy() for s, v in out_m.items()}
    ids = tokenizer(list(texts))["input_ids"]
    groups: dict[str, list[int]] = {"": []}  # "" = no shared prefix
    prefix_ids = {p: tokenizer(p)["input_ids"] for p in set(prefixes or []) if p}
    for i, p in enumerate(prefixes or [""] * len(texts)):
        shared = bool(p) and len(ids[i]) > len(prefix_ids[p]) and ids[i][: len(prefix_ids[p])] == prefix_ids[p]
        groups.setdefault(p if shared else "", []).append(i)
    jobs = []  # (prefix, indices of one batch)
    for p, members in groups.items():
        members = sorted(members, key=lambda i: len(ids[i]))
        jobs += [(p, members[k:k + batch_size]) for k in range(0, len(members), batch_size)]
    out: dict[str, list] = {s: [None] * len(texts) for s in sites}
    caches: dict[str, object] = {}
    for p, batch in tqdm(jobs, desc="representations", leave=False, **({"disable": True} if len(jobs) <= 1 else {})):
        if p:
            if p not in caches:
                result = backbone.model.base_model(input_ids=torch.tensor([prefix_ids[p]], device=backbone.device),
                                                   use_cache=True)
                caches = {p: result["cache"] if "cache" in result else result["past_key_values"]}
            cache = copy.deepcopy(caches[p])
            cache.batch_repeat_interleave(len(batch))
            offset = len(prefix_ids[p])
            part = _forward(backbone, [ids[i][offset:] for i in batch], sites, "right", cache, offset)
        else:
            part = _forward(backbone, [ids[i] for i in batch], sites, padding)
        for s, values in part.items():
            for row, i in enumerate(batch):
                out[s][i] = values[row]
    return {s: torch.stack(v).numpy() for s, v in out.items()}


def cached_representations(backbone: Backbone, texts: Sequence[str], sites: Sequence[str] = SITES,
                           batch_size: int = 32, root: str | Path | None = None,
                           prefixes: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """:func:`representations` through an artifact keyed by the backbone's identity, texts and sites (stored
    float16; ``prefixes`` only change the speed)."""
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()
    art = artifact("representations", {"backbone": backbone.identity, "texts": digest, "n_texts": len(texts),
                                       "sites": list(sites), "position": "read-out (last token or cloze mask)",
                                       "residual": "after block", "version": version("representations")}, root)
    def load(path: Path) -> dict[str, np.ndarray]:
        arrays = load_arrays(path / "representations.npz")
        bad = {k: v.shape for k, v in arrays.items() if len(v) != len(texts)}
        if bad or set(arrays) != set(sites):
            raise ValueError(f"{path / 'representations.npz'} holds {sorted(arrays)} {bad}, expected {list(sites)} "
                             f"of {len(texts)} texts")
        return arrays

    cached = art.reuse(load)  # a broken file is set aside and recomputed
    if cached is None:
        with art.writing(n_texts=len(texts)) as folder:  # computed inside: a failure releases the lock
            start = time.perf_counter()
            reps = representations(backbone, texts, sites, batch_size=batch_size, prefixes=prefixes)
            logger.info("representations of %d texts in %.1f s", len(texts), time.perf_counter() - start)
            save_arrays(folder / "representations.npz", {k: v.astype(np.float16) for k, v in reps.items()})
        cached = load(art.path)
    return {k: v.astype(np.float32) for k, v in cached.items()}


def probe_data(backbone: Backbone, settings: ProbeSettings, scales: Sequence[str] = SCALES,
               root: str | Path | None = None) -> dict:
    """Prompts and representations of each scale: ``{scale: {"frame", "value", "residual",
    "lexical_value", "lexical_residual"}}`` with arrays aligned to the frame's rows.

    The lexical representations are those of the adjective without any template, after the fixed
    carrier ``LEXICAL_CARRIER`` (the same for every adjective): it keeps the adjective off position 0,
    where models without a BOS token park their attention and have degenerate states.
    """
    bad = [s for s in scales if s not in SCALES]
    if bad:
        raise ValueError(f"unknown scale {bad[0]!r}; valid choices: {', '.join(SCALES)}")
    ids = template_subset(settings.n_templates)
    frames = {s: prompt_frame(s, settings.adjective_version, ids) for s in SCALES}  # one cache for both
    texts = list(dict.fromkeys(t for f in frames.values() for t in f["text"]))
    adjectives = sorted({a for f in frames.values() for a in f["adjective"]})
    slot = {t: tpl.split("{}")[0].rstrip(" ") for f in frames.values() for t, tpl in zip(f["text"], f["template"])}
    reps = cached_representations(backbone, texts, SITES, settings.batch_size, root,
                                  prefixes=[slot[t] for t in texts])
    lexical = cached_representations(backbone, [f"{LEXICAL_CARRIER} {a}" for a in adjectives], SITES,
                                     settings.batch_size, root)
    row, lex_row = {t: i for i, t in enumerate(texts)}, {a: i for i, a in enumerate(adjectives)}
    data = {}
    for scale in scales:
        frame = frames[scale]
        rows, lex = frame["text"].map(row).to_numpy(), frame["adjective"].map(lex_row).to_numpy()
        data[scale] = {"frame": frame, **{s: reps[s][rows] for s in SITES},
                       **{f"lexical_{s}": lexical[s][lex] for s in SITES}}
    return data
