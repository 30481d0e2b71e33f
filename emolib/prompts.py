"""Prompt tuning of every emotion x seed on a frozen backbone, as one cached job (the prompt bank).

Profiles (:data:`PROFILES`):

- ``paper``: the original protocol: 100-token prompts ~ N(0, 0.02^2) (the original's effective init,
  identical for all emotions of a seed), AdamW lr 2e-3, eps 1e-6, weight decay 0.01, no bias
  correction, constant LR, 2 epochs, per-prompt batch 1, dropout on, comments truncated to 256
  tokens, the full sampled tasks, 12 seeds, dev accuracy as the mean of per-batch accuracies (256).
- ``quick``: all 27 emotions, one seed, 8-token prompts, small subsampled tasks: CPU minutes.
- ``smoke``: a few examples of two emotions: seconds on ``tiny-llama`` (CI).

Example:
    >>> from emolib import prompts
    >>> store = prompts.train_prompts("tiny-llama", "smoke", progress=False)  # doctest: +SKIP
    >>> store.accuracy.groupby("split")["accuracy"].mean()  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from emolib.artifacts import artifact, atomic_write_csv, data_fingerprint, input_hash
from emolib.backbones import Backbone, load_backbone
from emolib.data import SPLITS, paper_task, subsample_task
from emolib.emotions import EMOTIONS, PAPER_SEEDS, check_emotions
from emolib.prompt_layouts import DEFAULT_SUFFIX, PromptScorer
from emolib.prompt_store import ACCURACY_COLUMNS, HISTORY_COLUMNS, PromptStore
from emolib.prompt_train import Examples, evaluate_bank, train_bank

__all__ = ["PromptProfile", "PROFILES", "get_profile", "task_split", "make_scorer", "train_prompts",
           "train_command", "backbone_identity", "PromptScorer", "PromptStore"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PromptProfile:
    """Everything that defines a prompt-tuning run (all fields enter the artifact key)."""

    n_tokens: int = 100
    init_std: float = 0.02
    lr: float = 2e-3
    eps: float = 1e-6
    weight_decay: float = 0.01
    correct_bias: bool = False
    epochs: int = 2
    batch_size: int = 1
    seeds: tuple[int, ...] = PAPER_SEEDS
    train_size: int | None = None
    dev_size: int | None = None
    test_size: int | None = None
    max_length: int | None = 256
    verbalizer: tuple[str, str] = ("negative", "positive")
    position_quirk: bool = False
    suffix: str = DEFAULT_SUFFIX
    dropout: bool = True
    accuracy_batch: int | None = 256
    micro_batch: int = 64

    def size(self, split: str) -> int | None:
        return {"train": self.train_size, "dev": self.dev_size, "test": self.test_size}[split]


PROFILES: dict[str, PromptProfile] = {
    "paper": PromptProfile(micro_batch=256),
    "quick": PromptProfile(n_tokens=8, seeds=(1,), epochs=2, batch_size=1, train_size=16, dev_size=12,
                           test_size=16, max_length=32, accuracy_batch=None, micro_batch=32),
    "smoke": PromptProfile(n_tokens=4, seeds=(1,), epochs=2, batch_size=2, train_size=8, dev_size=6,
                           test_size=6, max_length=16, accuracy_batch=None, micro_batch=16),
}
#: Emotions of the smoke profile when none are given.
SMOKE_EMOTIONS = ("grief", "joy")


def get_profile(name: str | PromptProfile, **overrides: Any) -> PromptProfile:
    """A profile by name with field overrides; ``ValueError`` names valid profiles or fields.

    Example:
        >>> get_profile("quick", epochs=1).epochs
        1
    """
    if isinstance(name, PromptProfile):
        base = name
    elif name in PROFILES:
        base = PROFILES[name]
    else:
        raise ValueError(f"unknown prompt profile {name!r}; valid choices: {', '.join(PROFILES)}")
    fields = {f.name for f in dataclasses.fields(PromptProfile)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"unknown profile field(s) {', '.join(unknown)}; valid fields: {', '.join(sorted(fields))}")
    if "seeds" in overrides and overrides["seeds"] is not None:
        overrides["seeds"] = tuple(int(s) for s in overrides["seeds"])
    if "verbalizer" in overrides:
        overrides["verbalizer"] = tuple(overrides["verbalizer"])
    profile = dataclasses.replace(base, **overrides)
    if profile.n_tokens < 1 or profile.epochs < 1 or profile.batch_size < 1 or not profile.seeds:
        raise ValueError(f"n_tokens, epochs, batch_size must be positive and seeds non-empty: {profile}")
    return profile


def task_split(emotion: str, seed: int, split: str, profile: str | PromptProfile = "quick") -> pd.DataFrame:
    """The exact examples the trainer uses: the paper's sampled task, subsampled to the profile's size.

    Returns:
        DataFrame ``text, label`` (0/1) (plus ``row``, the index into the GoEmotions split file).
    """
    profile = get_profile(profile)
    (emotion,) = check_emotions([emotion])
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid choices: {', '.join(SPLITS)}")
    return subsample_task(paper_task(emotion, int(seed), split), profile.size(split), int(seed))


def make_scorer(backbone: Backbone | str, profile: str | PromptProfile = "quick", **kwargs: Any) -> PromptScorer:
    """The :class:`PromptScorer` a profile trains with (layout, verbalizer, truncation)."""
    profile = get_profile(profile)
    return PromptScorer(load_backbone(backbone) if not isinstance(backbone, Backbone) else backbone,
                        verbalizer=profile.verbalizer, max_length=profile.max_length,
                        position_quirk=profile.position_quirk, suffix=profile.suffix, **kwargs)


def backbone_identity(backbone: Backbone) -> dict[str, Any]:
    """Name, class, config and a weight checksum: what distinguishes two backbones' prompts."""
    model = backbone.model
    weight = model.get_input_embeddings().weight.detach()
    config = model.config.to_dict()
    volatile = ("_name_or_path", "transformers_version", "dtype", "torch_dtype")
    config = {k: v for k, v in config.items() if k not in volatile}
    return {"name": backbone.name, "class": type(model).__name__, "config": input_hash(config),
            "checksum": round(float(weight.double().sum()), 6), "tokenizer": len(backbone.tokenizer)}


def _default_emotions(profile_name: str, emotions: Any) -> tuple[str, ...]:
    if emotions is None:
        return SMOKE_EMOTIONS if profile_name == "smoke" else EMOTIONS
    if isinstance(emotions, str):
        emotions = [emotions]
    return tuple(check_emotions(list(emotions)))


def train_prompts(
    backbone: Backbone | str,
    profile: str | PromptProfile = "quick",
    *,
    emotions: Any = None,
    seeds: Any = None,
    root: str | os.PathLike | None = None,
    progress: bool = True,
    compile: bool = False,
    on_epoch_end: Any = None,
    **overrides: Any,
) -> PromptStore:
    """Train (or load the cached) prompts of every (emotion, seed) on ``backbone``; returns the store.

    The artifact is keyed by the backbone identity, every profile field, emotions, seeds, the data
    fingerprint and the precision (bf16 autocast on CUDA). Per-epoch state is kept so an interrupted
    run resumes where it stopped.

    Args:
        backbone: a :class:`Backbone` or a name for :func:`load_backbone`.
        profile: ``"paper"``, ``"quick"``, ``"smoke"`` or a :class:`PromptProfile`; ``overrides`` replace fields.
        emotions: default all 27 (``smoke``: grief and joy). seeds: default the profile's.
        compile: wrap the backbone body in ``torch.compile`` (GPU speed; not part of the key).
    """
    name = profile if isinstance(profile, str) else "custom"
    prof = get_profile(profile, **overrides)
    emotions = _default_emotions(name, emotions)
    seeds = tuple(int(s) for s in (seeds if seeds is not None else prof.seeds))
    if not seeds or not emotions:
        raise ValueError(f"emotions and seeds must not be empty (got {list(emotions)}, {list(seeds)})")
    for what, values in (("emotion", emotions), ("seed", seeds)):
        repeated = sorted({str(v) for v in values if list(values).count(v) > 1})
        if repeated:
            raise ValueError(f"repeated {what}(s) {', '.join(repeated)}; give each once")
    prof = dataclasses.replace(prof, seeds=seeds)
    device = _init_distributed()
    bb = load_backbone(backbone, device=device) if not isinstance(backbone, Backbone) else backbone
    precision = "bf16" if bb.device.type == "cuda" else "fp32"
    profile_dict = {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(prof).items()}
    art = artifact("prompts", {"backbone": backbone_identity(bb), "profile": profile_dict, "emotions": list(emotions),
                               "seeds": list(seeds), "data": data_fingerprint(), "precision": precision, "version": 1},
                   root=root)
    if art.exists():
        art.mark_used()
        return PromptStore.load(art.path / "store")
    distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
    rank = torch.distributed.get_rank() if distributed else 0
    index = pd.DataFrame([(e, s) for s in seeds for e in emotions], columns=["emotion", "seed"])
    scorer = make_scorer(bb, prof)
    if compile:
        scorer._body = torch.compile(scorer._body, dynamic=True)
    data = {split: [_examples(scorer, e, s, split, prof) for e, s in index.itertuples(index=False)] for split in SPLITS}
    init = torch.stack([torch.randn(prof.n_tokens, bb.hidden_size, generator=torch.Generator().manual_seed(s))
                        * prof.init_std for s in index["seed"]])  # (K, L, d): one draw per seed, as the original
    keys = [[int(s), EMOTIONS.index(e)] for e, s in index.itertuples(index=False)]
    result = train_bank(scorer, init, data["train"], data["dev"], keys=keys, epochs=prof.epochs,
                        batch_size=prof.batch_size, lr=prof.lr, eps=prof.eps, weight_decay=prof.weight_decay,
                        correct_bias=prof.correct_bias, dropout=prof.dropout, micro_batch=prof.micro_batch,
                        accuracy_batch=prof.accuracy_batch, seed=seeds[0], state_dir=art.partial_dir,
                        on_epoch_end=on_epoch_end, progress=progress)
    test_acc, _ = evaluate_bank(scorer, result.best.to(bb.device), data["test"], micro_batch=prof.micro_batch,
                                accuracy_batch=prof.accuracy_batch, progress=progress, desc="test")
    accuracy = pd.concat([index.assign(split="dev", accuracy=result.best_dev),
                          index.assign(split="test", accuracy=test_acc)], ignore_index=True)[ACCURACY_COLUMNS]
    history = pd.DataFrame(result.history)
    history = pd.concat([index.iloc[history["prompt"]].reset_index(drop=True), history.drop(columns="prompt")],
                        axis=1)[HISTORY_COLUMNS]
    store = PromptStore(result.best, index, accuracy, history, {**profile_dict, "profile": name}, bb.name)
    if rank == 0:
        with art.writing(n_prompts=len(index)) as tmp:
            store.save(tmp / "store")
    if distributed:
        torch.distributed.barrier()
    return store


def _init_distributed() -> torch.device | None:
    """Under ``accelerate launch``/``torchrun`` (``WORLD_SIZE`` > 1) start the process group; return the device."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    from accelerate import PartialState

    state = PartialState()  # initialises torch.distributed (gloo on CPU, nccl on GPU)
    logger.info("data-parallel prompt training: process %d of %d on %s", state.process_index,
                state.num_processes, state.device)
    return state.device


def _examples(scorer: PromptScorer, emotion: str, seed: int, split: str, profile: PromptProfile) -> Examples:
    task = task_split(emotion, seed, split, profile)
    return Examples(scorer.encode(task["text"].tolist()), task["label"].to_numpy())


def train_command(args: argparse.Namespace | None = None, *, backbone: str = "smollm2-135m", profile: str = "quick",
                  emotions: Any = None, seeds: Any = None, out: str | os.PathLike = ".") -> list[Path]:
    """``emolib train``: train (or reuse) the prompts and write ``prompt_store/`` and ``prompt_accuracy.csv``.

    Accepts the parsed CLI ``args`` or the same values as keywords; returns the written paths.
    """
    if args is not None:
        backbone, profile, emotions, seeds, out = args.backbone, args.profile, args.emotions, args.seeds, args.out
    store = train_prompts(backbone, profile, emotions=emotions, seeds=seeds)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    store_path = store.save(out / "prompt_store")
    csv = atomic_write_csv(store.accuracy, out / "prompt_accuracy.csv")
    summary = store.accuracy.groupby("split")["accuracy"].agg(["mean", "min", "max"])
    logger.info("prompt accuracy by split:\n%s", summary.to_string())
    return [store_path, csv]


def summary_table(store: PromptStore) -> pd.DataFrame:
    """Accuracy per emotion and split: mean and SD over seeds (columns ``emotion, split, mean, sd, n``)."""
    grouped = store.accuracy.groupby(["emotion", "split"])["accuracy"]
    table = grouped.agg(mean="mean", sd="std", n="count").reset_index()
    return table.assign(sd=table["sd"].fillna(0.0).to_numpy(dtype=np.float64))
