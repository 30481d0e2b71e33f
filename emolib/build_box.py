"""The "This build" box at the top of a page: what the build actually ran, from the resolved settings.

A page's parameters cell names a profile; what that profile means (seeds, task sizes, the prompt's place and
initialisation, the verbalizer, mask sizes, random draws, permutations, what the masked evaluation used) and what
the backbone is (a 4-bit quantised GGUF, dequantised) is read here from the settings the run resolved, never
written by hand, so the box cannot describe another configuration than the one that produced the page.

Example:
    >>> print(backbone_line("gemma3-270m"))  # doctest: +ELLIPSIS
    **gemma3-270m**: Gemma 3 270M (Google), an embedded GGUF file; its weights are 4-bit quantised (Q4_K_M) and ...
    >>> print(prompt_line(profiles.settings("prompts", "standard"), n_emotions=27))  # doctest: +ELLIPSIS
    27 emotions x seeds 1, 2, 3 (81 prompts); 8 prompt tokens, layout [comment, P1..PL, ' Answer:'], read at ...
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from emolib import profiles

__all__ = ["backbone_line", "quantisation", "prompt_line", "masking_line", "paper_box", "prompt_box", "valence_box", "intro_box",
           "box"]

_QUANT = re.compile(r"\b(Q\d+_[A-Z0-9_]+|Q\d+_\d|F16|BF16)\b")


def quantisation(name: str) -> str | None:
    """The GGUF quantisation of an embedded backbone (``"Q4_K_M"``), else None.

    Example:
        >>> quantisation("gemma3-270m"), quantisation("smollm2-135m"), quantisation("roberta-base")
        ('Q4_K_M', 'Q4_1', None)
    """
    from emolib.model.backbones import EMBEDDED

    entry = EMBEDDED.get(str(name))
    if entry is None:
        return None
    match = _QUANT.search(entry[1].upper())
    return match.group(1) if match else None


def backbone_line(name: str, n_layers: int | None = None, n_units: int | None = None) -> str:
    """The backbone in one line: its name, what it is, its quantisation caveat and its size."""
    from emolib.model.backbones import EMBEDDED

    entry = EMBEDDED.get(str(name))
    text = f"**{name}**" + (f": {entry[2].split(',')[0]}, an embedded GGUF file" if entry else "")
    quant = quantisation(name)
    if quant:
        bits = re.match(r"Q(\d+)", quant)
        text += (f"; its weights are {bits.group(1) if bits else 'low'}-bit quantised ({quant}) and dequantised to "
                 "float32 on load, so every result describes the quantised model, not the original weights")
    size = []
    if n_layers:
        size.append(f"{int(n_layers)} layers")
    if n_units:
        size.append(f"{int(n_units):,} FFN units")
    return text + (f" ({', '.join(size)})" if size else "")


def _prompt_settings(settings: Any) -> profiles.PromptSettings:
    """A trained store's settings mapping (or settings) as :class:`~emolib.profiles.PromptSettings`."""
    if isinstance(settings, profiles.PromptSettings):
        return settings
    import dataclasses

    names = {f.name for f in dataclasses.fields(profiles.PromptSettings)}
    return profiles.PromptSettings(**{k: tuple(v) if isinstance(v, list) else v for k, v in settings.items()
                                      if k in names})


def _size(value: Any) -> str:
    return "all" if value is None else f"{int(value):,}"


def prompt_line(settings: Any, n_emotions: int, n_prompts: int | None = None, kind: str = "causal") -> str:
    """The prompt design: emotions x seeds, the prompt's length, layout and start (:func:`emolib.wording.prompt_setup`),
    the verbalizer and training. ``settings``: :class:`~emolib.profiles.PromptSettings` or a trained store's
    settings mapping; ``kind``: the backbone's (``"causal"`` or ``"masked"``)."""
    from emolib.wording import prompt_setup

    settings = _prompt_settings(settings)
    setup = prompt_setup(settings, kind)
    seeds = list(settings.seeds)
    n_prompts = n_prompts if n_prompts is not None else n_emotions * len(seeds)
    precision = {"bf16": "bf16", "auto": "fp32 on the CPU, bf16 on a GPU"}.get(settings.precision, settings.precision)
    return (f"{n_emotions} emotions x seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))} "
            f"({n_prompts} prompts); {settings.n_tokens} prompt tokens, layout {setup['layout']}; they start from "
            f"{setup['init']}; verbalizer {setup['verbalizer']}; {settings.epochs} epochs, batch "
            f"{settings.batch_size}, learning rate {settings.lr:g}, {precision}; tasks of {_size(settings.train_size)} "
            f"train, {_size(settings.dev_size)} dev and {_size(settings.test_size)} test comments per emotion, cut at "
            f"{settings.max_length} tokens")


def masking_line(masking: profiles.MaskingSettings, n_units: int, n_emotions: int,
                 seeds: Sequence[int], dev_size: int | None, n_attributes: int = 14) -> str:
    """What the masked evaluation ran: prompts and examples, mask sizes as counts, the masks of each kind."""
    from emolib.paper.units import resolve_k

    ks = [resolve_k(k, n_units) for k in masking.k_values]
    verdict = resolve_k(masking.verdict_k, n_units)
    used = list(masking.seeds) if masking.seeds else list(seeds)
    examples = masking.dev_size if masking.dev_size is not None else dev_size
    kinds = [f"{n_attributes} attribute masks"]
    if masking.n_sham:
        kinds.append(f"{masking.n_sham} sham-attribute masks")
    if masking.n_draws:
        kinds.append(f"{masking.n_draws} layer-matched random masks (each with one attribute mask's units per layer)"
                     if masking.layer_matched else f"{masking.n_draws} uniform random masks")
    if masking.paper_random:
        kinds.append(f"{n_attributes} uniform random masks (the paper's one per attribute label)")
    null_ks = [resolve_k(k, n_units) for k in (masking.null_k_values or masking.k_values)]
    return (f"seed{'s' if len(used) > 1 else ''} {', '.join(map(str, used))} of each emotion "
            f"({n_emotions * len(used)} prompts) on {_size(examples)} {'/'.join(masking.splits)} examples each; "
            f"k = {', '.join(f'{k:,}' for k in ks)} units (the verdict at k = {verdict:,}, fixed in advance); per k: "
            f"{', '.join(kinds)}; the null prompts at k = {', '.join(f'{k:,}' for k in null_ks)}; "
            f"{masking.n_perm:,} permutations for the masking tests")


def box(lines: Mapping[str, str], title: str = "This build") -> str:
    """A MyST admonition listing ``{label: text}``, for ``{glue:md}``.

    Example:
        >>> print(box({"Profile": "standard"}))
        :::{admonition} This build
        :class: note
        - **Profile**: standard
        :::
    """
    items = "\n".join(f"- **{label}**: {text}" for label, text in lines.items() if text)
    return f":::{{admonition}} {title}\n:class: note\n{items}\n:::"


def paper_box(run: Any, bootstrap_seed: int = 6) -> str:
    """The box of a backbone chapter of the paper, from a :class:`~emolib.paper.pipeline.PaperRun`."""
    settings = run.store.profile
    n_units = int(run.searchlight.tau.shape[0])
    permutation = run.searchlight.permutation
    n_boot = profiles.settings("human", run.profile).n_boot if run.profile in profiles.PROFILES else None
    return box({
        "Backbone": backbone_line(run.backbone, run.searchlight.n_layers, n_units),
        "Profile": f"`{run.profile}`",
        "Prompts": prompt_line(settings, len(run.emotions), len(run.store.index),
                               run.loaded.kind if run.loaded is not None else "causal"),
        "Searchlight": f"{permutation.n_permutations:,} emotion-label permutations for its null"
        if permutation is not None else "no permutation null",
        "Masked evaluation": masking_line(run.masking, n_units, len(run.emotions), run.store.seeds,
                                          settings.get("dev_size")),
        "Human weights": f"{n_boot:,} bootstrap resamples of the subjects (seed {bootstrap_seed})" if n_boot else "",
    })


def prompt_box(backbone: Any, store: Any) -> str:
    """The box of the prompt chapter from the loaded backbone and the trained store (its settings as trained)."""
    return box({
        "Backbone": backbone_line(backbone.name, backbone.n_layers, backbone.n_units),
        "Profile": f"`{store.profile.get('profile', 'custom')}`",
        "Prompts": prompt_line(store.profile, len(store.emotions), len(store), backbone.kind),
    })


def valence_box(backbone: str, profile: str, n_layers: int, probes: Any, vectors: Any, steering: Any,
                sample_seed: int) -> str:
    """The box of the valence chapter from its resolved probe, emotion-vector and steering settings."""
    templates = "all" if probes.n_templates is None else probes.n_templates
    stride = "every layer" if probes.layer_stride == 1 else f"every {probes.layer_stride}rd layer and the last" \
        if probes.layer_stride == 3 else f"every {probes.layer_stride}th layer and the last"
    per = "all" if vectors.n_per_emotion is None else f"up to {vectors.n_per_emotion}"
    return box({
        "Backbone": backbone_line(backbone, n_layers),
        "Profile": f"`{profile}`",
        "Probes": f"{templates} Emo_LLM templates, the adjective lists of version {probes.adjective_version}, "
                  f"{probes.n_repeats} repeated splits, {stride}; seed {sample_seed}",
        "Emotion vectors": f"{per} GoEmotions {vectors.split} comments per emotion, cut at {vectors.max_length} "
                           f"tokens; {vectors.n_boot:,} bootstrap resamples, {vectors.n_perm:,} permutations",
        "Steering": f"{steering.n_prompts or 'all'} prompts (half to choose the size, half to test it), steering "
                    f"sizes {', '.join(f'{a:g}' for a in steering.alphas)} (units of the typical residual norm), "
                    f"{steering.n_random:,} random directions, {steering.max_new_tokens} generated tokens",
    })


def intro_box(profile: str, records: Mapping[str, Mapping] | None) -> str:
    """The intro's box: the profile and the backbone(s) the backbone chapters recorded (:func:`overview.recorded`)."""
    runs = sorted({(str(r["backbone"]), str(r["profile"])) for r in (records or {}).values()})
    backbones = "; ".join(f"{backbone_line(name)} (profile `{prof}`)" for name, prof in runs) or \
        "not run in this build (the backbone chapters were left out)"
    return box({
        "Profile": f"`{profile}` (each chapter's own box lists what it ran)",
        "Released data": "Li et al.'s released RoBERTa-base activations and masking accuracies, recomputed here",
        "Chosen backbone": backbones,
    })
