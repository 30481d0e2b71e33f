"""Masked evaluation: every trained prompt under every unit mask, batched with masks as a batch dimension.

The original (method notes 9.6) rebuilt the model for every (prompt, mask), padded every comment to
256 tokens, applied the LM head at every position and reported the mean of per-batch accuracies
(batch 100). Here one model serves everything: each batch mixes (example, mask) pairs of one prompt,
:func:`emolib.neurons.mask_units` picks each sequence's mask inside the FFN hooks, padding is
dynamic and only the two verbalizer rows of the LM head are applied at the read-out position.
Accuracy is exact (correct / n) by default; ``accuracy="batch100"`` reproduces the original's
mean-of-batch-accuracies.

Output frame (one row per prompt x mask, plus one ``condition="none"`` row per prompt):
``emotion, seed, split, condition, attribute, k, draw, accuracy, n``.

Example:
    >>> from emolib.model import load_backbone
    >>> from emolib.paper import prompts, units
    >>> bb = load_backbone("tiny-llama", device="cpu")
    >>> store = prompts.train_prompts(bb, "smoke", emotions=["joy"], progress=False)
    >>> masks, index = units.random_masks(bb.n_units, [0.1], n_draws=2)
    >>> table = masked_accuracy(bb, store, masks, index, progress=False)
    >>> table["condition"].tolist()
    ['none', 'random', 'random']
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from emolib import profiles
from emolib.artifacts import artifact, atomic_write_csv, load_arrays, save_arrays
from emolib.integrity import set_aside
from emolib.device import autocast, resolve_precision
from emolib.model.backbones import Backbone, load_backbone
from emolib.model.hooks import mask_units
from emolib.paper import prompts
from emolib.paper.batches import plan_micro_batches
from emolib.versions import version

__all__ = ["ACCURACY_MODES", "STAGE_VERSION", "batch_accuracy", "masked_logits", "masked_predictions",
           "masked_accuracy", "load_examples"]

logger = logging.getLogger(__name__)

ACCURACY_MODES = ("exact", "batch100")
#: Version of the masked-evaluation artifact (:mod:`emolib.versions`): bump it there when a change alters
#: what the stage computes.
STAGE_VERSION = version("masked-eval")
_INDEX_COLUMNS = ["condition", "attribute", "k", "draw"]


def batch_accuracy(correct: np.ndarray, mode: str = "exact", batch: int = 100) -> float:
    """Accuracy of a 0/1 vector in file order: exact, or the original's mean of per-batch accuracies.

    Example:
        >>> batch_accuracy(np.array([1] * 100 + [0]), "batch100")  # (1.0 + 0.0) / 2
        0.5
    """
    if mode not in ACCURACY_MODES:
        raise ValueError(f"unknown accuracy mode {mode!r}; valid choices: {', '.join(ACCURACY_MODES)}")
    correct = np.asarray(correct, dtype=np.float64)
    if correct.size == 0:
        raise ValueError("no examples to score")
    if mode == "exact":
        return float(correct.mean())
    return float(np.mean([correct[i : i + batch].mean() for i in range(0, correct.size, batch)]))


def masked_logits(
    backbone: Backbone, scorer, prompt: torch.Tensor, texts: Sequence[str], masks: torch.Tensor,
    batch_size: int = 64, precision: str = "auto",
) -> torch.Tensor:
    """Verbalizer logits of each text under each mask for one prompt, masks as a batch dimension.

    Args:
        backbone: the frozen backbone.
        scorer: a :class:`emolib.paper.layouts.PromptScorer` of that backbone.
        prompt: ``[L, d]`` soft prompt.
        texts: the n comments.
        masks: ``[M, n_units]`` bool (True = keep).
        batch_size: sequences per forward pass (pairs of example and mask, mask-major).
        precision: ``"auto"`` (bf16 autocast on CUDA, fp32 on the CPU), ``"fp32"`` or ``"bf16"``.

    Returns:
        ``[M, n, 2]`` float32 logits (class 0 = not the emotion, 1 = the emotion).
    """
    n, m = len(texts), masks.shape[0]
    device = backbone.device
    ids = scorer.encode(list(texts))
    mask_of = torch.arange(m).repeat_interleave(n)  # [M * n] pairs, mask-major
    text_of = torch.arange(n).repeat(m)
    out = torch.empty(m * n, 2)
    # fixed-shape micro-batches: a pair's logits do not depend on the pairs beside it (emolib.paper.batches)
    chunks = plan_micro_batches([len(ids[i]) for i in text_of.tolist()], batch_size,
                                extra=[scorer.cached_path(ids[i]) for i in text_of.tolist()])
    prompt = prompt.to(device)
    with torch.inference_mode(), mask_units(backbone, masks) as state:
        for chunk in chunks:
            members = torch.tensor(chunk.members)
            state["mask_index"] = mask_of[members].to(device)
            rows = [ids[i] for i in text_of[members].tolist()]
            with autocast(device, precision):
                logits = scorer.score(rows, prompt[None].expand(len(rows), -1, -1), width=chunk.width)
            out[chunk.real] = logits.float()[: chunk.n_real].cpu()  # [n_real, 2]
    return out.reshape(m, n, 2)


def masked_predictions(
    backbone: Backbone, scorer, prompt: torch.Tensor, texts: Sequence[str], masks: torch.Tensor,
    batch_size: int = 64, precision: str = "auto",
) -> np.ndarray:
    """Predicted class (argmax of :func:`masked_logits`): ``[M, n]`` int8."""
    logits = masked_logits(backbone, scorer, prompt, texts, masks, batch_size, precision)
    return logits.argmax(-1).to(torch.int8).numpy()


def _masks_key(masks: torch.Tensor) -> str:
    return hashlib.sha256(np.packbits(masks.cpu().numpy(), axis=-1).tobytes()).hexdigest()[:16]


_TABLE_COLUMNS = ["emotion", "seed", "split", "condition", "attribute", "k", "draw", "accuracy", "n"]


def _read_table(path: Path) -> pd.DataFrame:
    """A masked-accuracy CSV (final or per prompt); ``ValueError`` naming the file if it is unreadable."""
    try:
        frame = pd.read_csv(path, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ValueError(f"unreadable masked-accuracy table {path}: {err}") from err
    missing = [c for c in _TABLE_COLUMNS if c not in frame.columns]
    if missing or frame.empty:
        raise ValueError(f"masked-accuracy table {path} lacks columns {missing} or rows; expected {_TABLE_COLUMNS}")
    return frame


def masked_accuracy(
    backbone: Backbone | str, store, masks: torch.Tensor, index: pd.DataFrame, *, split: str = "dev",
    profile=None, scorer=None, accuracy: str = "exact", batch_size: int = 64, device: str | torch.device | None = "auto",
    root: str | Path | None = None, progress: bool = True,
) -> pd.DataFrame:
    """Accuracy of every prompt of ``store`` under every mask (and without one) on its task's split.

    Cached as an artifact keyed by the backbone, the prompts, the masks, the split and the accuracy
    mode; an interrupted run resumes from the prompts that finished.

    Args:
        backbone: a :class:`Backbone` or anything :func:`load_backbone` accepts (put on ``device``).
        store: an :class:`emolib.paper.store.PromptStore` (prompts, their ``index`` of emotion and seed).
        masks: ``[M, n_units]`` bool masks; ``index``: one row per mask with ``condition, attribute, k, draw``.
        split: ``"dev"`` (the paper's protocol) or ``"test"``.
        profile: the prompt settings (name or object) whose task samples, layout and precision to use;
            default the ones the store was trained with.
        scorer: a ready :class:`emolib.paper.layouts.PromptScorer` (default: the profile's).
        accuracy: ``"exact"`` or ``"batch100"`` (the original's mean of per-batch accuracies).
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``.
    """
    backbone = load_backbone(backbone, device=device)
    if accuracy not in ACCURACY_MODES:
        raise ValueError(f"unknown accuracy mode {accuracy!r}; valid choices: {', '.join(ACCURACY_MODES)}")
    if split not in ("dev", "test"):
        raise ValueError(f"unknown split {split!r}; valid choices: dev, test")
    missing = [c for c in _INDEX_COLUMNS if c not in index.columns]
    if missing:
        raise ValueError(f"mask index lacks columns {missing}; it needs {_INDEX_COLUMNS}")
    if len(index) != masks.shape[0]:
        raise ValueError(f"{masks.shape[0]} masks but {len(index)} index rows")
    if masks.dtype != torch.bool or masks.shape[-1] != backbone.n_units:
        raise ValueError(f"masks must be bool [M, {backbone.n_units}], got {masks.dtype} {tuple(masks.shape)}")
    profile = prompts.store_settings(store) if profile is None else profiles.settings("prompts", profile)
    scorer = scorer if scorer is not None else prompts.make_scorer(backbone, profile)
    all_masks = torch.cat([torch.ones(1, backbone.n_units, dtype=torch.bool), masks.cpu()])  # mask 0: none
    labels = pd.concat([pd.DataFrame([{"condition": "none", "attribute": "", "k": 0, "draw": 0}]),
                        index[_INDEX_COLUMNS].reset_index(drop=True)], ignore_index=True)
    precision = resolve_precision(profile.precision, backbone.device)
    inputs = {"backbone": backbone.identity, "precision": precision, "prompts": store.fingerprint(),
              "masks": _masks_key(all_masks), "labels": labels.to_dict("list"), "split": split, "accuracy": accuracy,
              "version": STAGE_VERSION, "profile": profiles.key_dict(profile)}
    art = artifact("masked-eval", inputs, root=root)
    cached = art.reuse(_load)
    if cached is not None:
        return cached
    frames, examples, done = [], [], 0
    rows = list(store.index[["emotion", "seed"]].itertuples(index=False))
    with art.writing(n_prompts=len(rows), n_masks=len(all_masks)) as folder:
        started = time.perf_counter()
        bar = tqdm(rows, desc=f"masked eval ({split})", unit="prompt", disable=not progress)
        for i, (emotion, seed) in enumerate(bar):
            part = art.partial_dir / f"{emotion}-{seed}"
            if part.with_suffix(".csv").exists():  # finished before an interruption
                try:
                    frame, arrays = _read_table(part.with_suffix(".csv")), load_arrays(part.with_suffix(".npz"))
                    frames.append(frame)
                    examples.append(arrays)
                    continue
                except (ValueError, OSError) as err:
                    set_aside(part.with_suffix(".csv"), err)  # strict mode raises
            task = prompts.task_split(emotion, int(seed), split, profile)
            texts, y = task["text"].tolist(), task["label"].to_numpy()
            logits = masked_logits(backbone, scorer, store.prompts[i], texts, all_masks, batch_size, precision)
            margin = (logits[..., 1] - logits[..., 0]).numpy()  # [M+1, n]: > 0 predicts the emotion
            correct = logits.argmax(-1).numpy() == y[None, :]  # [M+1, n]
            frame = labels.assign(emotion=emotion, seed=int(seed), split=split, n=len(y),
                                  accuracy=[batch_accuracy(c, accuracy) for c in correct])
            arrays = {"correct": correct.astype(np.uint8), "margin": margin.astype(np.float32)}
            save_arrays(part.with_suffix(".npz"), arrays)
            atomic_write_csv(frame, part.with_suffix(".csv"), index=False)
            frames.append(frame)
            examples.append(arrays)
            done += correct.size
            bar.set_postfix(seq_per_s=f"{done / max(time.perf_counter() - started, 1e-9):.1f}")
        table = pd.concat(frames, ignore_index=True)[_TABLE_COLUMNS]
        atomic_write_csv(table, folder / "accuracy.csv", index=False)
        n_max = max(a["correct"].shape[1] for a in examples)
        pad = lambda a, value: np.pad(a, ((0, 0), (0, n_max - a.shape[1])), constant_values=value)  # noqa: E731
        save_arrays(folder / "examples.npz", {
            "correct": np.stack([pad(a["correct"], 255) for a in examples]),  # [P, M+1, n_max], 255 = no example
            "margin": np.stack([pad(a["margin"], np.nan) for a in examples]),  # [P, M+1, n_max]
            "n": np.array([a["correct"].shape[1] for a in examples])})
        save_arrays(folder / "masks.npz", {"packed": np.packbits(all_masks.numpy(), axis=-1),
                                           "n_units": np.array(all_masks.shape[1])})
    table.attrs["artifact"] = str(art.path)
    return table


def _load(path: Path) -> pd.DataFrame:
    table = _read_table(path / "accuracy.csv")
    table.attrs["artifact"] = str(path)
    return table


def load_examples(path: str | Path) -> dict[str, np.ndarray]:
    """A masked-evaluation artifact's per-example results: ``correct`` ``[P, M+1, n]`` (255: no example),
    ``margin`` (logit of the emotion minus the other, NaN: none), ``n`` ``[P]``, and ``masks`` ``[M+1, units]``
    bool (mask 0 keeps every unit); rows as the artifact's ``accuracy.csv`` (prompt-major)."""
    path = Path(path)
    arrays = load_arrays(path / "examples.npz")
    packed = load_arrays(path / "masks.npz")
    arrays["masks"] = np.unpackbits(packed["packed"], axis=-1, count=int(packed["n_units"])).astype(bool)
    return arrays
