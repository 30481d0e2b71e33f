"""Prompt tuning of every emotion x seed on a frozen backbone, as one cached job (the prompt bank).

The settings of a run are :class:`emolib.profiles.PromptSettings` (``profiles.settings("prompts", profile)``):

- ``paper``: the original protocol: 100-token prompts ~ N(0, 0.02^2) (the original's effective init,
  identical for all emotions of a seed), AdamW lr 2e-3, eps 1e-6, weight decay 0.01, no bias
  correction, constant LR, 2 epochs, per-prompt batch 1, dropout on, comments truncated to 256
  tokens, the full sampled tasks, 12 seeds, dev accuracy as the mean of per-batch accuracies (256).
- ``quick``: all 27 emotions, one seed, 8-token prompts, small subsampled tasks: CPU minutes.
- ``smoke``: a few examples of two emotions: seconds on ``tiny-llama`` (CI).

Example:
    >>> store = train_prompts("tiny-llama", "smoke", device="cpu", progress=False)
    >>> store.emotions, store.seeds  # the paper's emotion order
    (['joy', 'grief'], [1])
    >>> sorted(store.accuracy["split"].unique())
    ['dev', 'test']
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any

import numpy as np
import pandas as pd
import torch

from emolib import profiles
from emolib.artifacts import artifact, data_fingerprint
from emolib.data import SPLITS, paper_task, subsample_task
from emolib.device import resolve_precision
from emolib.emotions import EMOTIONS, PAPER_ORDER, check_emotions
from emolib.model.backbones import Backbone, load_backbone
from emolib.paper.layouts import PromptScorer
from emolib.paper.store import ACCURACY_COLUMNS, HISTORY_COLUMNS, PromptStore
from emolib.paper.train import Examples, evaluate_bank, train_bank
from emolib.profiles import PromptSettings
from emolib.versions import version

__all__ = ["task_split", "make_scorer", "initial_prompts", "prompt_inputs", "store_settings", "check_grid", "train_prompts", "summary_table",
           "accuracy_table", "findings", "layout_description"]

logger = logging.getLogger(__name__)

#: Version of the prompt stage's artifact (:mod:`emolib.versions`): bump it there when a change alters what
#: the stage computes.
STAGE_VERSION = version("prompts")


def task_split(emotion: str, seed: int, split: str, profile: str | PromptSettings = "quick") -> pd.DataFrame:
    """The exact examples the trainer uses: the paper's sampled task, subsampled to the profile's size.

    Returns:
        DataFrame ``text, label`` (0/1) (plus ``row``, the index into the GoEmotions split file).
    """
    settings = profiles.settings("prompts", profile)
    (emotion,) = check_emotions([emotion])
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid choices: {', '.join(SPLITS)}")
    return subsample_task(paper_task(emotion, int(seed), split), settings.size(split), int(seed))


def make_scorer(backbone: Backbone, profile: str | PromptSettings = "quick") -> PromptScorer:
    """The :class:`PromptScorer` a profile trains with (layout, verbalizer, truncation)."""
    settings = profiles.settings("prompts", profile)
    return PromptScorer(backbone, verbalizer=settings.verbalizer, max_length=settings.max_length,
                        position_quirk=settings.position_quirk, suffix=settings.suffix,
                        prompt_position=settings.prompt_position)


def initial_prompts(backbone: Backbone, settings: PromptSettings, seeds: Any) -> torch.Tensor:
    """Initial prompts ``(K, L, d)``, one per entry of ``seeds``, as ``settings.init`` says.

    ``"normal"``: N(0, init_std^2), one draw per seed (identical for all emotions of a seed, as the
    original's effective init). Otherwise the token embeddings of the text ``settings.init`` (no special
    tokens), repeated or cut to ``n_tokens``, the same for every prompt; the text must name no emotion.

    Example:
        >>> from emolib.model import tiny_backbone
        >>> bb = tiny_backbone("llama")
        >>> s = profiles.settings("prompts", "smoke", init="so good or bad", n_tokens=6)
        >>> init = initial_prompts(bb, s, [1, 2])
        >>> tuple(init.shape), bool((init[0] == init[1]).all())
        ((2, 6, 32), True)
    """
    seeds = [int(s) for s in seeds]
    if settings.init == "normal":
        return torch.stack([torch.randn(settings.n_tokens, backbone.hidden_size,
                                        generator=torch.Generator().manual_seed(s)) * settings.init_std
                            for s in seeds])  # (K, L, d)
    words = set(re.findall(r"[a-z]+", settings.init.lower()))
    named = [e for e in EMOTIONS if e in words]
    if named:
        raise ValueError(f"init text {settings.init!r} names the emotion(s) {', '.join(named)}: that would put "
                         "the answer into the prompt; use a neutral instruction")
    ids = backbone.tokenizer(settings.init, add_special_tokens=False)["input_ids"]
    ids = (ids * (settings.n_tokens // len(ids) + 1))[: settings.n_tokens]  # repeated or cut to L
    weight = backbone.model.get_input_embeddings()(torch.tensor(ids, device=backbone.device))  # (L, d), scaled
    return weight.detach().float().cpu()[None].repeat(len(seeds), 1, 1)  # (K, L, d)


def store_settings(store: PromptStore) -> PromptSettings:
    """The :class:`~emolib.profiles.PromptSettings` a prompt store was trained with."""
    import dataclasses

    names = {f.name for f in dataclasses.fields(PromptSettings)}
    values = {k: (tuple(v) if isinstance(v, list) else v) for k, v in store.profile.items() if k in names}
    return PromptSettings(**values)


def check_grid(emotions: Any, seeds: Any, profile: str | PromptSettings) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The (emotions, seeds) of a prompt grid: defaults of the profile, validated (no repeats, none empty)."""
    settings = profiles.settings("prompts", profile)
    if emotions is None:
        emotions = (profiles.default_emotions(profile) if isinstance(profile, str) else None) or EMOTIONS
    emotions = tuple(check_emotions(profiles.as_list(emotions)))
    seeds = settings.seeds if seeds is None else profiles.as_list(seeds)
    try:
        seeds = tuple(int(s) for s in seeds)
    except (TypeError, ValueError):
        raise ValueError(f"seeds must be integers, got {seeds!r}") from None
    if not seeds or not emotions:
        raise ValueError(f"emotions and seeds must not be empty (got {list(emotions)}, {list(seeds)})")
    for what, values in (("emotion", emotions), ("seed", seeds)):
        repeated = sorted({str(v) for v in values if values.count(v) > 1})
        if repeated:
            raise ValueError(f"repeated {what}(s) {', '.join(repeated)}; give each once")
    return emotions, seeds


def prompt_inputs(identity: dict, settings: PromptSettings, emotions: Any, precision: str) -> dict:
    """The inputs that key a prompt grid's artifact: the backbone's identity, the settings (their seeds
    included), the emotions, the data fingerprint, the resolved precision and :data:`STAGE_VERSION`."""
    return {"backbone": identity, "profile": profiles.key_dict(settings), "emotions": list(emotions),
            "seeds": list(settings.seeds), "data": data_fingerprint(), "precision": precision,
            "version": STAGE_VERSION}


def train_prompts(
    backbone: Backbone | str,
    profile: str | PromptSettings = "quick",
    *,
    emotions: Any = None,
    seeds: Any = None,
    device: str | torch.device | None = "auto",
    root: str | os.PathLike | None = None,
    progress: bool = True,
    compile: bool = False,
    on_epoch_end: Any = None,
    **overrides: Any,
) -> PromptStore:
    """Train (or load the cached) prompts of every (emotion, seed) on ``backbone``; returns the store.

    The artifact is keyed by the backbone identity, every settings field, emotions, seeds, the data
    fingerprint, the resolved precision and :data:`STAGE_VERSION`. Per-epoch state is kept so an
    interrupted run resumes where it stopped.

    Args:
        backbone: a :class:`Backbone` or anything :func:`load_backbone` accepts.
        profile: a profile name or a :class:`~emolib.profiles.PromptSettings`; ``overrides`` replace fields.
        emotions: default all 27 (``smoke``: grief and joy); trained and stored in the paper's order whatever the
            order asked. seeds: default the profile's.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"`` (data-parallel runs use their process's device).
        compile: wrap the backbone body in ``torch.compile`` (GPU speed; not part of the key).
    """
    name = profile if isinstance(profile, str) else "custom"
    settings = profiles.settings("prompts", profile, **overrides)
    emotions, seeds = check_grid(emotions, seeds, profile)
    # one canonical order (the paper's), so that a grid is one artifact whichever order it is asked in
    emotions = tuple(e for e in PAPER_ORDER if e in emotions)
    settings = profiles.settings("prompts", settings, seeds=seeds)
    device = _init_distributed() or device
    bb = load_backbone(backbone, device=device)
    precision = resolve_precision(settings.precision, bb.device)
    settings_dict = profiles.as_dict(settings)
    art = artifact("prompts", prompt_inputs(bb.identity, settings, emotions, precision), root=root)
    cached = art.reuse(lambda path: PromptStore.load(path / "store"))
    if cached is not None:
        return cached
    try:
        distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
        rank = torch.distributed.get_rank() if distributed else 0
        index = pd.DataFrame([(e, s) for s in seeds for e in emotions], columns=["emotion", "seed"])
        scorer = make_scorer(bb, settings)
        if compile:
            scorer.compile_body()
        data = {split: [_examples(scorer, e, s, split, settings) for e, s in index.itertuples(index=False)]
                for split in SPLITS}
        init = initial_prompts(bb, settings, index["seed"])  # (K, L, d)
        keys = [[int(s), EMOTIONS.index(e)] for e, s in index.itertuples(index=False)]
        result = train_bank(scorer, init, data["train"], data["dev"], keys=keys, epochs=settings.epochs,
                            batch_size=settings.batch_size, lr=settings.lr, eps=settings.eps,
                            weight_decay=settings.weight_decay, correct_bias=settings.correct_bias,
                            dropout=settings.dropout, micro_batch=settings.micro_batch,
                            accuracy_batch=settings.accuracy_batch, precision=precision, seed=seeds[0],
                            state_dir=art.partial_dir, on_epoch_end=on_epoch_end, progress=progress)
        test_acc, _ = evaluate_bank(scorer, result.best.to(bb.device), data["test"], micro_batch=settings.micro_batch,
                                    accuracy_batch=settings.accuracy_batch, precision=precision, progress=progress,
                                    desc="test")
        accuracy = pd.concat([index.assign(split="dev", accuracy=result.best_dev),
                              index.assign(split="test", accuracy=test_acc)], ignore_index=True)[ACCURACY_COLUMNS]
        history = pd.DataFrame(result.history)
        history = pd.concat([index.iloc[history["prompt"]].reset_index(drop=True), history.drop(columns="prompt")],
                            axis=1)[HISTORY_COLUMNS]
        store = PromptStore(result.best, index, accuracy, history, {**settings_dict, "profile": name}, bb.name)
    except BaseException:
        art.release()
        raise
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


def _examples(scorer: PromptScorer, emotion: str, seed: int, split: str, settings: PromptSettings) -> Examples:
    task = task_split(emotion, seed, split, settings)
    return Examples(scorer.encode(task["text"].tolist()), task["label"].to_numpy())


def summary_table(store: PromptStore) -> pd.DataFrame:
    """Accuracy per emotion and split: mean and SD over seeds (columns ``emotion, split, mean, sd, n``).

    ``sd`` is NaN where a cell has one seed (it is not zero: one seed has no spread to measure).
    """
    grouped = store.accuracy.groupby(["emotion", "split"])["accuracy"]
    table = grouped.agg(mean="mean", sd="std", n="count").reset_index()
    return table.assign(sd=table["sd"].to_numpy(dtype=np.float64))


def accuracy_table(store: PromptStore, reference: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per emotion: mean and SD over seeds of each split, beside a reference's dev mean and SD.

    Args:
        store: the trained prompts.
        reference: ``emotion, seed, accuracy`` of other prompts (e.g. :func:`emolib.released.prompt_accuracy`,
            the paper's RoBERTa prompts), shown as ``reference dev mean`` and ``reference dev sd``.
    """
    table = summary_table(store).pivot(index="emotion", columns="split", values=["mean", "sd"])
    table.columns = [f"{split} {stat}" for stat, split in table.columns]
    if reference is not None:
        ref = reference.groupby("emotion")["accuracy"].agg(["mean", "std"])
        table["reference dev mean"] = ref["mean"]
        table["reference dev sd"] = ref["std"]
    return table


def findings(store: PromptStore, reference: pd.DataFrame | None = None,
             settings: PromptSettings | None = None) -> dict[str, float | int | str]:
    """The numbers a reader needs about a prompt grid, as plain Python values (for glued prose).

    Returns:
        ``dev_mean, dev_low, dev_high`` (t interval over prompts), ``test_mean``, ``chance`` (the mean over
        prompts of the majority share of their dev task: what always giving one answer scores),
        ``n_emotions``, ``n_above`` (emotions whose mean dev accuracy is above ``chance``), ``best``,
        ``best_acc``, ``worst``, ``worst_acc``, ``loss_first``, ``loss_last`` (mean training loss of the
        first and last epoch), and with a ``reference``: ``reference_mean`` and ``rank_r`` (Spearman r of
        the per-emotion means with the reference's).
    """
    from scipy import stats

    settings = settings or store_settings(store)
    dev = store.accuracy[store.accuracy["split"] == "dev"]
    test = store.accuracy[store.accuracy["split"] == "test"]
    values = dev["accuracy"].to_numpy(float)
    mean = float(values.mean())
    half = float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else np.nan
    shares = [task_split(e, s, "dev", settings)["label"].mean() for e, s in store.index.itertuples(index=False)]
    chance = float(np.mean([max(p, 1 - p) for p in shares]))
    per_emotion = dev.groupby("emotion")["accuracy"].mean()
    train = store.history[store.history["split"] == "train"].groupby("epoch")["loss"].mean()
    out: dict[str, float | int | str] = {
        "dev_mean": mean, "dev_low": mean - half, "dev_high": mean + half, "test_mean": float(test["accuracy"].mean()),
        "chance": chance, "n_emotions": int(len(per_emotion)), "n_above": int((per_emotion > chance).sum()),
        "best": str(per_emotion.idxmax()), "best_acc": float(per_emotion.max()),
        "worst": str(per_emotion.idxmin()), "worst_acc": float(per_emotion.min()),
        "loss_first": float(train.iloc[0]) if len(train) else np.nan,
        "loss_last": float(train.iloc[-1]) if len(train) else np.nan,
    }
    if reference is not None:
        ref = reference.groupby("emotion")["accuracy"].mean()
        common = per_emotion.index.intersection(ref.index)
        out["reference_mean"] = float(ref.mean())
        out["rank_r"] = (float(stats.spearmanr(per_emotion[common], ref[common]).statistic)
                         if len(common) > 2 else np.nan)
    return out


def layout_description(scorer: PromptScorer) -> str:
    """Where the prompt sits and where the answer is read, for ``scorer``'s backbone (one line)."""
    if scorer.kind == "masked":
        return "[<mask>, P1..PL, <s>, comment, </s>], read at <mask>"
    return f"[P1..PL, comment, {scorer.suffix!r}], read at the last position (next-token verbalizer)"
