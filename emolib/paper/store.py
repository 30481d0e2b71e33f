"""The prompt store: every trained prompt of a backbone with its accuracies and training curves.

A store is a folder: ``prompts.safetensors`` (one tensor ``prompts``, (K, L, d) float32),
``index.csv`` (``emotion, seed``: row i describes ``prompts[i]``), ``accuracy.csv``
(``emotion, seed, split, accuracy``), ``history.csv`` (``emotion, seed, epoch, split, accuracy,
loss``) and ``store.json`` (profile, backbone, shape). Writes are atomic (temporary folder + rename).

Example:
    >>> import pandas as pd, torch
    >>> store = PromptStore(torch.zeros(1, 2, 4), pd.DataFrame({"emotion": ["joy"], "seed": [1]}))
    >>> store.get("joy", 1).shape
    torch.Size([2, 4])
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch

__all__ = ["PromptStore", "ACCURACY_COLUMNS", "HISTORY_COLUMNS"]

ACCURACY_COLUMNS = ["emotion", "seed", "split", "accuracy"]
HISTORY_COLUMNS = ["emotion", "seed", "epoch", "split", "accuracy", "loss"]
_FILES = ("prompts.safetensors", "index.csv", "accuracy.csv", "history.csv", "store.json")
_FORMAT = 1


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object if c in ("emotion", "split") else float) for c in columns})


@dataclass
class PromptStore:
    """Trained prompts (K, L, d) with their ``index`` (emotion, seed), accuracies and training history."""

    prompts: torch.Tensor
    index: pd.DataFrame
    accuracy: pd.DataFrame = field(default_factory=lambda: _empty(ACCURACY_COLUMNS))
    history: pd.DataFrame = field(default_factory=lambda: _empty(HISTORY_COLUMNS))
    profile: dict[str, Any] = field(default_factory=dict)
    backbone: str = ""

    def __post_init__(self) -> None:
        self.prompts = self.prompts.detach().to("cpu", torch.float32).contiguous()
        self.index = self.index[["emotion", "seed"]].reset_index(drop=True)
        self.index["seed"] = self.index["seed"].astype(int)
        if self.prompts.dim() != 3 or self.prompts.shape[0] != len(self.index):
            raise ValueError(
                f"prompts must be (K, L, d) with K = {len(self.index)} index rows, got {tuple(self.prompts.shape)}"
            )
        if self.index.duplicated().any():
            raise ValueError("the store index has duplicate (emotion, seed) rows")

    def __len__(self) -> int:
        return len(self.index)

    def __repr__(self) -> str:
        k, length, d = self.prompts.shape
        return (f"PromptStore({k} prompts x {length} tokens x {d}, backbone={self.backbone!r}, "
                f"emotions={self.index['emotion'].nunique()}, seeds={sorted(self.index['seed'].unique().tolist())})")

    @property
    def emotions(self) -> list[str]:
        return list(dict.fromkeys(self.index["emotion"]))

    @property
    def seeds(self) -> list[int]:
        return [int(s) for s in dict.fromkeys(self.index["seed"])]

    def position(self, emotion: str, seed: int) -> int:
        """Row of ``(emotion, seed)`` in :attr:`prompts`; ``ValueError`` naming the stored ones if absent."""
        hit = (self.index["emotion"] == emotion) & (self.index["seed"] == int(seed))
        if not hit.any():
            raise ValueError(
                f"no prompt for emotion {emotion!r}, seed {seed!r}; the store holds emotions "
                f"{', '.join(self.emotions)} and seeds {', '.join(map(str, self.seeds))}"
            )
        return int(hit.to_numpy().nonzero()[0][0])

    def fingerprint(self) -> str:
        """Short hash of the prompt values: the key downstream artifacts (activations, masking) use."""
        return hashlib.sha256(self.prompts.float().cpu().numpy().tobytes()).hexdigest()[:16]

    def select(self, seeds: list[int] | tuple[int, ...] | None = None) -> PromptStore:
        """The store restricted to ``seeds`` (``None``: itself); ``ValueError`` naming the stored seeds.

        Example:
            >>> store = PromptStore(torch.zeros(2, 2, 4), pd.DataFrame({"emotion": ["joy", "joy"], "seed": [1, 2]}))
            >>> store.select([2]).seeds
            [2]
        """
        if seeds is None:
            return self
        missing = [s for s in seeds if int(s) not in self.seeds]
        if missing:
            raise ValueError(f"seed(s) {missing} are not in the store; valid choices: {', '.join(map(str, self.seeds))}")
        keep = self.index["seed"].isin([int(s) for s in seeds]).to_numpy(copy=True)  # writable (pandas may share)
        rows = lambda frame: frame[frame["seed"].isin([int(s) for s in seeds])].reset_index(drop=True)  # noqa: E731
        return PromptStore(self.prompts[torch.from_numpy(keep)], self.index[keep].reset_index(drop=True),
                           rows(self.accuracy), rows(self.history), self.profile, self.backbone)

    def get(self, emotion: str, seed: int) -> torch.Tensor:
        """The kept prompt of ``(emotion, seed)``: (L, d) float32."""
        return self.prompts[self.position(emotion, seed)]

    # -------------------------------------------------------------------------------- save/load

    def save(self, path: str | os.PathLike) -> Path:
        """Write the store to folder ``path`` atomically (an existing store there is replaced)."""
        from safetensors.torch import save_file

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}-"))
        try:
            save_file({"prompts": self.prompts}, str(tmp / "prompts.safetensors"))
            self.index.to_csv(tmp / "index.csv", index=False)
            self.accuracy.to_csv(tmp / "accuracy.csv", index=False)
            self.history.to_csv(tmp / "history.csv", index=False)
            meta = {"format": _FORMAT, "backbone": self.backbone, "profile": self.profile,
                    "shape": list(self.prompts.shape)}
            (tmp / "store.json").write_text(json.dumps(meta, indent=2, default=str))
            old = None
            if path.exists():
                old = path.with_name(f".{path.name}.old-{os.getpid()}")
                os.replace(path, old)
            os.replace(tmp, path)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> PromptStore:
        """Read a store folder; ``FileNotFoundError``/``ValueError`` name the missing or corrupt file."""
        from safetensors.torch import load_file

        path = Path(path)
        if not path.is_dir():
            raise FileNotFoundError(f"no prompt store at {path}")
        missing = [name for name in _FILES if not (path / name).is_file()]
        if missing:
            raise FileNotFoundError(f"prompt store {path} is incomplete: missing {', '.join(missing)}")
        try:
            meta = json.loads((path / "store.json").read_text())
            prompts = load_file(str(path / "prompts.safetensors"))["prompts"]
            index = pd.read_csv(path / "index.csv")
            accuracy = pd.read_csv(path / "accuracy.csv")
            history = pd.read_csv(path / "history.csv")
        except Exception as err:  # JSON, safetensors header, CSV parser errors, missing key
            raise ValueError(f"corrupt prompt store {path}: {type(err).__name__}: {err}; delete it to retrain") from err
        if list(prompts.shape) != meta.get("shape") or list(index.columns) != ["emotion", "seed"]:
            raise ValueError(
                f"corrupt prompt store {path}: prompts {tuple(prompts.shape)} do not match store.json/index.csv"
            )
        for name, frame, columns in (("accuracy", accuracy, ACCURACY_COLUMNS), ("history", history, HISTORY_COLUMNS)):
            if list(frame.columns) != columns:
                raise ValueError(
                    f"corrupt prompt store {path}: {name}.csv has columns {list(frame.columns)}, expected {columns}"
                )
        return cls(prompts, index, accuracy, history, meta.get("profile", {}), meta.get("backbone", ""))

    # ------------------------------------------------------------------------------------- PEFT

    def export_peft(self, emotion: str, seed: int, path: str | os.PathLike, backbone: Any) -> Path:
        """Write one prompt as a PEFT prompt-tuning adapter folder (``PeftModel.from_pretrained``).

        For causal LMs PEFT's layout ``[P, text]`` is ours minus the fixed suffix, so append the suffix
        to the text. PEFT has no masked-LM task type and puts the prompt before ``<mask>``: an exported
        masked-LM prompt loads, but only emolib's :class:`~emolib.paper.layouts.PromptScorer`
        reproduces the paper's layout.

        Example:
            >>> import tempfile
            >>> from emolib.model import tiny_backbone
            >>> bb = tiny_backbone("llama")
            >>> store = PromptStore(torch.zeros(1, 2, bb.hidden_size), pd.DataFrame({"emotion": ["joy"], "seed": [1]}))
            >>> folder = store.export_peft("joy", 1, tempfile.mkdtemp(), bb)
            >>> sorted(p.name for p in folder.iterdir())
            ['adapter_config.json', 'adapter_model.safetensors']
        """
        from peft import PromptTuningConfig
        from safetensors.torch import save_file

        from emolib.model.backbones import Backbone

        prompt = self.get(emotion, seed)  # (L, d)
        model = backbone.model if isinstance(backbone, Backbone) else backbone
        config = model.config
        hidden = int(model.get_input_embeddings().weight.shape[1])
        if hidden != prompt.shape[1]:
            raise ValueError(f"prompt width {prompt.shape[1]} does not match the backbone's hidden size {hidden}")
        kind = getattr(backbone, "kind", "causal")
        peft_config = PromptTuningConfig(
            task_type="CAUSAL_LM" if kind == "causal" else "FEATURE_EXTRACTION",
            num_virtual_tokens=int(prompt.shape[0]),
            token_dim=hidden,
            num_transformer_submodules=1,
            num_attention_heads=int(getattr(config, "num_attention_heads", 1)),
            num_layers=int(getattr(config, "num_hidden_layers", 1)),
            base_model_name_or_path=getattr(backbone, "name", None) or getattr(config, "_name_or_path", None),
        )
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        peft_config.save_pretrained(str(path))
        save_file({"prompt_embeddings": prompt.clone()}, str(path / "adapter_model.safetensors"))
        return path
