"""Valence and arousal inside a causal LM: Emo_LLM's prompts, value/residual representations, probes.

The prompts are Emo_LLM's templates x adjectives (``template.format(adjective)``); a prompt's label
is Emo_LLM's ``class_0_true``: 1 for (first-key list, plain template) or (second-key list, negated
template), i.e. y = 1 means *negative valence* / *low arousal* after the negation flip.

Representations are read at the last real token of each prompt, for every layer:

- ``value``: the attention value projection output (``Backbone.sites[l].value``; GPT-2: the last third
  of the fused ``c_attn``; Llama family: ``v_proj``, ``n_kv_heads * head_dim`` wide);
- ``residual``: the residual stream *entering* layer l (``hidden_states[l]``; layer 0 = embeddings),
  so the value of layer l is a linear map of the normalised residual of layer l.

Example:
    >>> from emolib.tiny import tiny_backbone
    >>> from emolib.valence import representations
    >>> reps = representations(tiny_backbone("llama"), ["so happy", "not very sad today"])
    >>> reps["value"].shape, reps["residual"].shape  # (N, n_layers, dim)
    ((2, 2, 16), (2, 2, 32))
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from emolib.backbones import Backbone, load_backbone
from emolib.probes import ValenceProbe, centre_by_group, lemma_families, template_families

__all__ = [
    "PROFILES",
    "SCALES",
    "SITES",
    "profile_settings",
    "probe_layers",
    "template_subset",
    "prompt_frame",
    "record_values",
    "representations",
    "cached_representations",
    "probe_data",
    "arousal_confound",
    "split_leakage",
    "valence_to_arousal",
    "best_layer_table",
    "probe_direction",
    "reproduce",
]

logger = logging.getLogger(__name__)

#: Probe settings per profile: template pairs used (None = all 254), adjective lists, repeated splits.
PROFILES: dict[str, dict] = {
    "paper": {"n_templates": None, "adjective_version": "e12b48d", "n_repeats": 20, "batch_size": 64, "layer_stride": 1},
    "quick": {"n_templates": 16, "adjective_version": "head", "n_repeats": 3, "batch_size": 64, "layer_stride": 3},
    "smoke": {"n_templates": 8, "adjective_version": "head", "n_repeats": 2, "batch_size": 64, "layer_stride": 1},
}
SCALES = ("valence", "arousal")
SITES = ("value", "residual")
TEMPLATE_VERSION = "0330b2024"
#: Text before the adjective in the lexical baseline (no template; identical for every adjective).
LEXICAL_CARRIER = "Word:"


def probe_layers(n_layers: int, settings: dict) -> list[int]:
    """Layers probed one at a time: every ``layer_stride``-th layer of the profile, always with the last.

    Example:
        >>> probe_layers(30, {"layer_stride": 3})[-3:]
        [24, 27, 29]
    """
    stride = int(settings.get("layer_stride", 1))
    if stride < 1:
        raise ValueError(f"layer_stride must be >= 1, got {stride}")
    return sorted(set(range(0, n_layers, stride)) | {n_layers - 1})


def profile_settings(profile: str, **overrides) -> dict:
    """The settings of ``profile`` with non-None ``overrides`` applied."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; valid choices: {', '.join(PROFILES)}")
    settings = dict(PROFILES[profile])
    settings.update({k: v for k, v in overrides.items() if v is not None})
    return settings


def template_subset(n_templates: int | None, version: str = TEMPLATE_VERSION) -> list[int]:
    """Indices of ``n_templates`` templates: evenly spaced plain/negated pairs (all if None)."""
    from emolib.data import load_templates

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

    Example:
        >>> prompt_frame("valence", template_ids=[16, 17]).loc[0, ["text", "y"]].tolist()
        ['Bob was very sad, therefore Bob', 1]
    """
    from emolib.data import load_adjectives, load_templates

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


@contextlib.contextmanager
def record_values(backbone: Backbone, last: torch.Tensor) -> Iterator[list]:
    """Record every layer's value projection output at position ``last[b]`` of each sequence.

    Yields a list (one entry per layer) filled by the next forward pass with ``[B, value_dim]``
    tensors; hooks are removed on exit. GPT-2's fused ``c_attn`` is restricted to its value third.
    """
    recorded: list = [None] * backbone.n_layers
    handles = []

    def hook(layer: int, value_slice: slice | None):
        def forward_hook(module, args, output):
            out = output[..., value_slice] if value_slice is not None else output  # [B, T, value_dim]
            recorded[layer] = out[torch.arange(out.shape[0], device=out.device), last.to(out.device)].detach()
            return None

        return forward_hook

    try:
        for layer, site in enumerate(backbone.sites):
            handles.append(site.value.register_forward_hook(hook(layer, site.value_slice)))
        yield recorded
    finally:
        for handle in handles:
            handle.remove()


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
    import inspect

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
    with record_values(backbone, last) as values:
        result = backbone.model.base_model(
            input_ids=input_ids.to(device), attention_mask=mask.to(device), position_ids=position_ids.to(device),
            output_hidden_states="residual" in sites, use_cache=cache is not None, **extra)
    out = {}
    if "value" in sites:
        out["value"] = torch.stack(values, 1).float().cpu()  # [B, L, value_dim]
    if "residual" in sites:
        rows = torch.arange(len(batch))
        hidden = result.hidden_states[: backbone.n_layers]  # inputs of layers 0..L-1, each [B, T, d]
        out["residual"] = torch.stack([h[rows, last.to(h.device)] for h in hidden], 1).float().cpu()
    return out


@torch.inference_mode()
def representations(backbone: Backbone, texts: Sequence[str], sites: Sequence[str] = SITES, batch_size: int = 32,
                    padding: str = "left", prefixes: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Per-layer representations at the last real token of each text (batched, length-sorted).

    Args:
        backbone: a causal LM backbone.
        texts: prompts, tokenised with the tokenizer's default special tokens (as the original).
        sites: any of ``"value"``, ``"residual"``.
        batch_size: texts per forward pass.
        padding: ``"left"`` or ``"right"``; attention mask and position ids make both equal to
            unbatched runs up to float noise.
        prefixes: optional shared prefix per text (e.g. the template before its slot; ``""`` for none).
            A prefix is run once and its KV cache reused by all texts whose tokens start with its
            tokens (suffixes right-padded); the result is unchanged, the work about halved.

    Returns:
        ``{site: float32 array [N, n_layers, dim]}``.
    """
    import copy

    if backbone.kind != "causal":
        raise ValueError(f"backbone {backbone.name!r} is a {backbone.kind} LM; valid choices: a causal LM")
    if padding not in ("left", "right"):
        raise ValueError(f"unknown padding {padding!r}; valid choices: left, right")
    bad = [s for s in sites if s not in SITES]
    if bad or not sites:
        raise ValueError(f"unknown site {bad[0] if bad else None!r}; valid choices: {', '.join(SITES)}")
    if prefixes is not None and len(prefixes) != len(texts):
        raise ValueError(f"got {len(prefixes)} prefixes for {len(texts)} texts; give one per text (or None)")
    tokenizer = backbone.tokenizer
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
    """:func:`representations` through an artifact keyed by backbone name, texts and sites (stored float16;
    ``prefixes`` only change the speed)."""
    from emolib.artifacts import artifact, load_arrays, save_arrays

    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()
    art = artifact("representations", {"backbone": backbone.name, "texts": digest, "n_texts": len(texts),
                                       "sites": list(sites), "position": "last real token"}, root)
    if art.exists():
        art.mark_used()
    else:
        start = time.perf_counter()
        reps = representations(backbone, texts, sites, batch_size=batch_size, prefixes=prefixes)
        logger.info("representations of %d texts in %.1f s", len(texts), time.perf_counter() - start)
        with art.writing(n_texts=len(texts)) as folder:
            save_arrays(folder / "representations.npz", {k: v.astype(np.float16) for k, v in reps.items()})
    return {k: v.astype(np.float32) for k, v in load_arrays(art.path / "representations.npz").items()}


def probe_data(backbone: Backbone, settings: dict, scales: Sequence[str] = SCALES,
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
    ids = template_subset(settings["n_templates"])
    frames = {s: prompt_frame(s, settings["adjective_version"], ids) for s in SCALES}  # one cache for both
    texts = list(dict.fromkeys(t for f in frames.values() for t in f["text"]))
    adjectives = sorted({a for f in frames.values() for a in f["adjective"]})
    slot = {t: tpl.split("{}")[0].rstrip(" ") for f in frames.values() for t, tpl in zip(f["text"], f["template"])}
    reps = cached_representations(backbone, texts, SITES, settings["batch_size"], root,
                                  prefixes=[slot[t] for t in texts])
    lexical = cached_representations(backbone, [f"{LEXICAL_CARRIER} {a}" for a in adjectives], SITES,
                                     settings["batch_size"], root)
    row, lex_row = {t: i for i, t in enumerate(texts)}, {a: i for i, a in enumerate(adjectives)}
    data = {}
    for scale in scales:
        frame = frames[scale]
        rows, lex = frame["text"].map(row).to_numpy(), frame["adjective"].map(lex_row).to_numpy()
        data[scale] = {"frame": frame, **{s: reps[s][rows] for s in SITES},
                       **{f"lexical_{s}": lexical[s][lex] for s in SITES}}
    return data


def arousal_confound(adjective_version: str = "head") -> tuple[pd.DataFrame, dict]:
    """How much the arousal set's labels follow valence, from the word lists alone.

    Returns:
        ``(crosstab, summary)``: counts of the arousal adjectives by arousal list and valence list
        (``none`` if the word is in neither valence list), and a summary with ``n_shared`` (arousal
        words with a valence label), ``accuracy``: how often "low arousal iff positive valence"
        gives the arousal label of those words, ``low_positive_share`` (positive among the valence-labelled
        low-arousal words) and ``negative_high_share`` (high-arousal among the negative words).
    """
    from emolib.data import load_adjectives

    valence = load_adjectives("valence", adjective_version)
    arousal = load_adjectives("arousal", adjective_version)
    label = {w: ("positive" if k == "valence_good" else "negative") for k, words in valence.items() for w in words}
    rows = [(k.split("_")[0], label.get(w, "none")) for k, words in arousal.items() for w in dict.fromkeys(words)]
    frame = pd.DataFrame(rows, columns=["arousal", "valence"])
    crosstab = pd.crosstab(frame["arousal"], frame["valence"])
    shared = frame[frame["valence"] != "none"]
    hits = ((shared["arousal"] == "low") == (shared["valence"] == "positive")).mean()
    low, negative = shared[shared["arousal"] == "low"], shared[shared["valence"] == "negative"]
    return crosstab, {"n_arousal_words": len(frame), "n_shared": len(shared), "accuracy": float(hits),
                      "low_positive_share": float((low["valence"] == "positive").mean()),
                      "negative_high_share": float((negative["arousal"] == "high").mean())}


def split_leakage(frame: pd.DataFrame, split: np.ndarray) -> dict[str, float]:
    """How much a split leaks through families: the share of E1 adjectives with a lemma-family member
    in training, and of E2 templates with a template-family member in training."""
    train = frame[split == "train"]
    e1 = frame[split == "E1"].drop_duplicates("adjective")
    e2 = frame[split == "E2"].drop_duplicates("template_id")
    return {
        "E1 adjectives with a family member in train": float(e1["lemma_family"].isin(train["lemma_family"]).mean()),
        "E2 templates with a family member in train": float(e2["template_family"].isin(train["template_family"]).mean()),
    }


def valence_to_arousal(data: dict, layer: int, features: str = "residual") -> dict[str, float]:
    """Arousal accuracy of a template-centred valence probe read as "positive valence = low arousal".

    The probe is fit on all valence prompts at ``layer``; returns its accuracy on all arousal prompts
    and on those whose adjective is in neither valence list.
    """
    val, aro = data["valence"], data["arousal"]
    probe = ValenceProbe().fit(centre_by_group(val[features][:, layer], val["frame"]["template_id"].to_numpy()),
                               val["frame"]["y"].to_numpy())
    X = centre_by_group(aro[features][:, layer], aro["frame"]["template_id"].to_numpy())
    hit = (1 - probe.predict(X)) == aro["frame"]["y"].to_numpy()  # valence y = 1: negative; arousal y = 1: low
    unseen = ~aro["frame"]["adjective"].isin(set(val["frame"]["adjective"])).to_numpy()
    return {"all arousal prompts": float(hit.mean()),
            "arousal words not in the valence lists": float(hit[unseen].mean())}


def best_layer_table(summary: pd.DataFrame, select: tuple[str, str] = ("centred", "E1")) -> pd.DataFrame:
    """Faithful against rigorous accuracies at each (scale, features)'s best layer, as "mean [low, high]".

    The best layer maximises the mean accuracy of ``select`` = (variant, experiment); the original's
    all-layer probes are added as ``faithful (all layers)`` rows.
    """
    per_layer = summary[summary["layer"].astype(str) != "all"].assign(layer=lambda f: f["layer"].astype(int))
    pick = per_layer[(per_layer["variant"] == select[0]) & (per_layer["experiment"] == select[1])]
    best = pick.loc[pick.groupby(["scale", "features"], sort=False)["accuracy"].idxmax(),
                    ["scale", "features", "layer"]]
    rows = per_layer.merge(best, on=["scale", "features", "layer"])
    flat = summary[summary["layer"].astype(str) == "all"].assign(variant=lambda f: f["variant"] + " (all layers)")
    table = pd.concat([rows.assign(layer=rows["layer"].astype(str)), flat])
    table["cell"] = [f"{a:.3f} [{lo:.3f}, {hi:.3f}]"
                     for a, lo, hi in table[["accuracy", "ci_low", "ci_high"]].to_numpy()]
    return table.pivot_table(index=["scale", "features", "variant", "layer"], columns="experiment", values="cell",
                             aggfunc="first", sort=False)


def probe_direction(backbone: Backbone | str, scale: str = "valence", layer: int = -1, features: str = "residual",
                    profile: str = "quick", centred: bool = True, n_templates: int | None = None,
                    root: str | Path | None = None) -> torch.Tensor:
    """A unit-norm probe direction ``[d]`` in model space, oriented to *positive* valence / *high* arousal.

    Fits a :class:`~emolib.probes.ValenceProbe` on all prompts of the profile (template-centred if
    ``centred``) at ``layer`` and returns ``-direction_`` (y = 1 is negative valence / low arousal).
    With ``features="residual"`` the direction lives in the residual stream *entering* ``layer`` (add it
    with a forward pre-hook on that layer); with ``"value"`` in that layer's value space.

    Example:
        >>> u = probe_direction("tiny-llama", layer=1, profile="smoke")  # doctest: +SKIP
        >>> float(u.norm())  # doctest: +SKIP
        1.0
    """
    backbone = load_backbone(backbone)
    if features not in SITES:
        raise ValueError(f"unknown features {features!r}; valid choices: {', '.join(SITES)}")
    if not -backbone.n_layers <= layer < backbone.n_layers:
        raise ValueError(f"layer {layer} out of range; valid choices: 0..{backbone.n_layers - 1} (or negative)")
    data = probe_data(backbone, profile_settings(profile, n_templates=n_templates), scales=[scale], root=root)[scale]
    X = data[features][:, layer]  # [N, d]
    if centred:
        X = centre_by_group(X, data["frame"]["template_id"].to_numpy())
    probe = ValenceProbe().fit(X, data["frame"]["y"].to_numpy())
    if not np.any(probe.direction_):
        raise ValueError(f"layer {layer} gives no probe direction (its {features} features are constant within "
                         "templates, e.g. the embeddings of the last token); choose a later layer")
    return torch.as_tensor(-probe.direction_, dtype=torch.float32)


def reproduce(out_dir: str | Path, backbone: str = "smollm2-135m", profile: str = "quick", seed: int = 0,
              n_repeats: int | None = None, n_templates: int | None = None) -> list[Path]:
    """Write ``probe_results.csv`` (``scale, experiment, variant, features, layer, accuracy, ci_low, ci_high``),
    then the emotion-vector and steering tables of :func:`emolib.emotion_steering.reproduce`
    (``emotion_vector_pcs.csv``, ``emotion_vector_rsa.csv``, ``steering.csv``, ...).
    """
    from emolib.artifacts import atomic_write_csv
    from emolib.probes import run_probes, summarise

    settings = profile_settings(profile, n_repeats=n_repeats, n_templates=n_templates)
    bb = load_backbone(backbone)
    out = Path(out_dir)
    files = []
    start = time.perf_counter()
    results = run_probes(probe_data(bb, settings), n_repeats=settings["n_repeats"], seed=seed,
                         layers=probe_layers(bb.n_layers, settings))
    files.append(atomic_write_csv(summarise(results), out / "probe_results.csv"))
    logger.info("probe results in %.1f s", time.perf_counter() - start)
    from emolib import emotion_steering

    layer = bb.n_layers // 2  # the emotion vectors' headline layer (emotion_vectors.headline_layer)
    extra = {}
    if layer + 1 < bb.n_layers:  # as the chapter: the probe direction of the residual stream leaving that layer
        extra["valence probe"] = probe_direction(bb, "valence", layer=layer + 1, profile=profile,
                                                 n_templates=n_templates)
    files += emotion_steering.reproduce(out, bb, profile, seed, extra_directions=extra)
    return files
