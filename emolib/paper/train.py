"""The prompt bank: K soft prompts trained together on one frozen backbone, each as if alone.

Every example carries its prompt index. In each iteration every prompt that still has examples in
the epoch takes its next ``batch_size`` examples (its own shuffled order); the loss is the sum over
prompts of each prompt's mean loss, so each prompt's gradient equals the gradient of training it
alone with that batch. :class:`BankAdamW` keeps per-prompt moments and step counts and leaves
prompts without examples in an iteration untouched (no decay, no moment update), so the bank is
equivalent to K independent AdamW runs.

The equivalence is exact, not only in expectation: examples of all prompts share fixed-shape
micro-batches (:mod:`emolib.paper.batches`: a row's padded width and the number of rows depend on
the row alone), each row's gradient is taken separately (the prompts enter as a per-row leaf), and a
prompt's gradient is the sum of its rows in its own example order. So a prompt trained inside a grid
and the same prompt trained alone run the same arithmetic, in fp32 and in bf16, and come out
bit-identical on one machine (without dropout: dropout noise is drawn per micro-batch). Under
``torch.distributed`` (e.g. ``accelerate launch``) micro-batches are shared round-robin between
processes and the per-row gradients all-reduced (a sum with zeros, so exact as well).

Example:
    >>> from emolib.model import tiny_backbone
    >>> scorer = PromptScorer(tiny_backbone("llama"))
    >>> train = [Examples(scorer.encode(["so happy", "so sad"]), [1, 0])] * 3  # 3 prompts, 2 examples each
    >>> result = train_bank(scorer, torch.zeros(3, 4, 32), train, train, epochs=2, progress=False)
    >>> tuple(result.best.shape), result.best_dev.shape, len(result.history)
    ((3, 4, 32), (3,), 12)
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from emolib.device import autocast
from emolib.integrity import UnsafeFileError, safe_torch_load, set_aside
from emolib.paper.batches import MicroBatch, plan_micro_batches
from emolib.paper.layouts import PromptScorer

__all__ = ["BankAdamW", "Examples", "BankResult", "train_bank", "evaluate_bank"]

logger = logging.getLogger(__name__)


@dataclass
class Examples:
    """One prompt's examples: pre-encoded token ids (:meth:`PromptScorer.encode`) and 0/1 labels."""

    ids: list[list[int]]
    labels: np.ndarray

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if len(self.ids) != len(self.labels):
            raise ValueError(f"{len(self.ids)} token sequences but {len(self.labels)} labels")


class BankAdamW:
    """AdamW over a (K, ...) bank with per-prompt state; only the ``active`` prompts move in a step.

    The update is transformers' ``AdamW`` (the original's optimiser): ``m, v`` moments, ``p -= lr *
    m / (sqrt(v) + eps)`` (times the bias correction if ``correct_bias``), then decoupled weight decay
    ``p -= lr * wd * p`` on the updated value.
    """

    def __init__(self, bank: torch.Tensor, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-6, weight_decay: float = 0.01, correct_bias: bool = False) -> None:
        self.bank, self.lr, self.betas, self.eps = bank, lr, betas, eps
        self.weight_decay, self.correct_bias = weight_decay, correct_bias
        self.m = torch.zeros_like(bank, dtype=torch.float32)
        self.v = torch.zeros_like(bank, dtype=torch.float32)
        self.steps = torch.zeros(bank.shape[0], dtype=torch.long)

    @torch.no_grad()
    def step(self, grad: torch.Tensor, active: torch.Tensor) -> None:
        """Apply one step to the prompts with ``active`` True (K,) using ``grad`` (K, ...).

        Each prompt is updated on its own (a loop over prompts), so its arithmetic is the same whether
        it is trained alone or in a bank of any size.
        """
        b1, b2 = self.betas
        for row in active.nonzero().flatten().tolist():
            g = grad[row].float()
            m = self.m[row].mul_(b1).add_(g, alpha=1 - b1)
            v = self.v[row].mul_(b2).addcmul_(g, g, value=1 - b2)
            self.steps[row] += 1
            step_size = self.lr
            if self.correct_bias:
                t = int(self.steps[row])
                step_size = self.lr * math.sqrt(1 - b2**t) / (1 - b1**t)
            p = self.bank[row].float()
            p = p - step_size * m / (v.sqrt() + self.eps)
            if self.weight_decay > 0:
                p = p - self.lr * self.weight_decay * p
            self.bank[row] = p.to(self.bank.dtype)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"m": self.m.cpu(), "v": self.v.cpu(), "steps": self.steps.clone()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.m.copy_(state["m"]), self.v.copy_(state["v"]), self.steps.copy_(state["steps"])


@dataclass
class BankResult:
    """Training outcome: kept prompts (K, L, d), their dev accuracy (K,), last prompts, history rows."""

    best: torch.Tensor
    best_dev: np.ndarray
    best_epoch: np.ndarray
    final: torch.Tensor
    history: list[dict] = field(default_factory=list)


def _dist() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def fixed_batches(scorer: PromptScorer, ids: Sequence[Sequence[int]], rows: int) -> list[MicroBatch]:
    """:func:`~emolib.paper.batches.plan_micro_batches` for pre-encoded rows of ``scorer``: the shape class of
    a row is its padded width and the path that scores it (:meth:`PromptScorer.cached_path`)."""
    return plan_micro_batches([len(x) for x in ids], rows, extra=[scorer.cached_path(x) for x in ids])


@torch.no_grad()
def evaluate_bank(scorer: PromptScorer, prompts: torch.Tensor, data: Sequence[Examples], *,
                  micro_batch: int = 64, accuracy_batch: int | None = None, precision: str = "auto",
                  progress: bool = False, desc: str = "eval") -> tuple[np.ndarray, np.ndarray]:
    """Accuracy and mean loss (K,) of each prompt ``prompts[k]`` on ``data[k]`` (eval mode).

    ``precision``: ``"auto"`` (bf16 autocast on CUDA, fp32 on the CPU), ``"fp32"`` or ``"bf16"``.

    ``accuracy_batch``: if set, accuracy is the mean of per-batch accuracies over consecutive batches
    of that size (the original's definition behind its released accuracies); else over all examples.
    """
    rank, world = _dist()
    items = [(k, i) for k, ex in enumerate(data) for i in range(len(ex.ids))]
    ids_of = [data[k].ids[i] for k, i in items]
    correct = torch.zeros(len(items))
    losses = torch.zeros(len(items))
    device = scorer.device
    chunks = fixed_batches(scorer, ids_of, micro_batch)
    model = scorer.backbone.model
    was_training = model.training
    model.eval()
    try:
        for c, chunk in enumerate(tqdm(chunks, desc=desc, disable=not progress, leave=False)):
            if c % world != rank:
                continue
            ks = torch.tensor([items[j][0] for j in chunk.members])
            ids = [ids_of[j] for j in chunk.members]
            real = chunk.real
            labels = torch.tensor([data[items[j][0]].labels[items[j][1]] for j in real], device=device)
            with autocast(device, precision):
                logits = scorer.score(ids, prompts[ks.to(prompts.device)], width=chunk.width)
            logits = logits.float()[: chunk.n_real]  # (n_real, 2): filler rows dropped
            correct[real] = (logits.argmax(-1) == labels).float().cpu()
            losses[real] = F.cross_entropy(logits, labels, reduction="none").cpu()
    finally:
        model.train(was_training)
    if world > 1:
        both = torch.stack([correct, losses]).to(device)
        torch.distributed.all_reduce(both)
        correct, losses = both.cpu()
    accuracy, loss = np.zeros(len(data)), np.zeros(len(data))
    start = 0
    for k, ex in enumerate(data):
        n = len(ex.ids)
        hits = correct[start: start + n].numpy()
        loss[k] = float(losses[start: start + n].mean()) if n else float("nan")
        if not n:
            accuracy[k] = float("nan")
        elif accuracy_batch:
            accuracy[k] = float(np.mean([hits[i: i + accuracy_batch].mean() for i in range(0, n, accuracy_batch)]))
        else:
            accuracy[k] = float(hits.mean())
        start += n
    return accuracy, loss


def _epoch_plan(train: Sequence[Examples], keys: Sequence[Sequence[int]], epoch: int, batch_size: int):
    """Per iteration, the (prompt, example) pairs and the prompts that step (each prompt's own order)."""
    orders = [np.random.default_rng([*map(int, key), epoch]).permutation(len(ex.ids)) for ex, key in zip(train, keys)]
    n_steps = max((int(np.ceil(len(o) / batch_size)) for o in orders), default=0)
    for s in range(n_steps):
        pairs = [(k, int(i)) for k, o in enumerate(orders) for i in o[s * batch_size: (s + 1) * batch_size]]
        yield pairs


_STATE_KEYS = ("bank", "opt", "best", "best_dev", "best_epoch", "history", "epoch")


def _save_state(folder: Path, epoch: int, state: dict) -> None:
    """Write one epoch's state (tensors, numbers and lists only: loadable with ``weights_only=True``)."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".epoch-{epoch}.pt.tmp"
    torch.save(state, tmp)
    os.replace(tmp, folder / f"epoch-{epoch}.pt")
    for old in folder.glob("epoch-*.pt"):
        if old.name != f"epoch-{epoch}.pt":
            old.unlink(missing_ok=True)


def _load_state(folder: Path | None) -> dict | None:
    """The latest readable epoch state in ``folder`` (plain data only, never unpickled code).

    A corrupt state file is set aside (strict mode raises) and the one before it tried; a file holding a
    pickled payload raises :class:`~emolib.integrity.UnsafeFileError`.
    """
    if folder is None:
        return None
    files = sorted(folder.glob("epoch-*.pt"), key=lambda p: int(p.stem.split("-")[1]))
    for path in reversed(files):
        try:
            state = safe_torch_load(path)
            missing = [k for k in _STATE_KEYS if not isinstance(state, dict) or k not in state]
            if missing:
                raise ValueError(f"training state {path} lacks {missing}")
            return state
        except UnsafeFileError:
            raise
        except ValueError as err:
            set_aside(path, err)
    return None


def train_bank(
    scorer: PromptScorer,
    init: torch.Tensor,
    train: Sequence[Examples],
    dev: Sequence[Examples],
    *,
    keys: Sequence[Sequence[int]] | None = None,
    epochs: int = 2,
    batch_size: int = 1,
    lr: float = 2e-3,
    eps: float = 1e-6,
    weight_decay: float = 0.01,
    correct_bias: bool = False,
    dropout: bool = True,
    micro_batch: int = 64,
    accuracy_batch: int | None = None,
    precision: str = "auto",
    seed: int = 0,
    state_dir: str | os.PathLike | None = None,
    on_epoch_end: Callable[[int], None] | None = None,
    progress: bool = True,
) -> BankResult:
    """Train K prompts (``init`` (K, L, d)) together; prompt k learns from ``train[k]``, is selected on ``dev[k]``.

    Args:
        keys: per prompt, integers that seed its data order (default: its index); epoch is appended.
        batch_size: examples per prompt per step (the original's per-prompt batch).
        dropout: run the backbone in train mode (dropout active) as the original did.
        micro_batch: examples per forward/backward pass (memory/speed only).
        precision: ``"auto"`` (bf16 autocast on CUDA, fp32 on the CPU), ``"fp32"`` or ``"bf16"``; prompts
            and optimiser state stay fp32.
        seed: base of the per-epoch torch seed (dropout masks).
        state_dir: where per-epoch state is saved; a later call with the same folder resumes.
        on_epoch_end: called with the finished epoch (1-based) after its state is saved.
    """
    k_prompts = init.shape[0]
    if len(train) != k_prompts or len(dev) != k_prompts:
        raise ValueError(f"{k_prompts} prompts but {len(train)} train and {len(dev)} dev example sets")
    if batch_size < 1 or micro_batch < 1 or epochs < 1:
        raise ValueError(
            f"batch_size, micro_batch and epochs must be positive (got {batch_size}, {micro_batch}, {epochs})"
        )
    keys = list(keys) if keys is not None else [[k] for k in range(k_prompts)]
    rank, world = _dist()
    device = scorer.device
    bank = init.detach().to(device, torch.float32).clone()  # (K, L, d)
    opt = BankAdamW(bank, lr=lr, eps=eps, weight_decay=weight_decay, correct_bias=correct_bias)
    best = bank.detach().clone()
    best_dev = np.full(k_prompts, -np.inf)
    best_epoch = np.zeros(k_prompts, dtype=int)
    history: list[dict] = []
    start_epoch = 1
    folder = Path(state_dir) if state_dir is not None else None
    state = _load_state(folder)
    if state is not None:
        with torch.no_grad():
            bank.copy_(state["bank"].to(device))
        opt.load_state_dict(state["opt"])
        best, best_dev = state["best"].to(device), state["best_dev"].numpy()
        best_epoch, history, start_epoch = state["best_epoch"].numpy(), state["history"], int(state["epoch"]) + 1
        logger.info("resuming prompt training after epoch %d from %s", state["epoch"], folder)
    model = scorer.backbone.model
    total = sum(len(ex.ids) for ex in train)
    for epoch in range(start_epoch, epochs + 1):
        torch.manual_seed(seed * 1000 + epoch)
        plan = list(_epoch_plan(train, keys, epoch, batch_size))
        sum_loss = torch.zeros(k_prompts, dtype=torch.float64)
        bar = tqdm(total=total, desc=f"epoch {epoch}/{epochs}", unit="ex", disable=not progress or rank != 0)
        t0, prompt_steps = time.perf_counter(), 0
        was_training = model.training
        model.train(dropout)
        try:
            for pairs in plan:
                counts = np.bincount([k for k, _ in pairs], minlength=k_prompts)
                step_ids = [train[k].ids[i] for k, i in pairs]
                row_grads = torch.zeros((len(pairs),) + tuple(bank.shape[1:]), device=device)  # (rows, L, d)
                row_loss = torch.zeros(len(pairs), dtype=torch.float64)
                for c, chunk in enumerate(fixed_batches(scorer, step_ids, micro_batch)):
                    if c % world != rank:
                        continue
                    ks = [pairs[j][0] for j in chunk.members]
                    real = chunk.real
                    labels = torch.tensor([train[pairs[j][0]].labels[pairs[j][1]] for j in real], device=device)
                    weights = torch.tensor([1.0 / counts[pairs[j][0]] for j in real], device=device)
                    rows = bank[torch.tensor(ks, device=device)].clone().requires_grad_(True)  # (B, L, d) leaf
                    with autocast(device, precision):
                        logits = scorer.score([step_ids[j] for j in chunk.members], rows, width=chunk.width)
                    per_example = F.cross_entropy(logits.float()[: chunk.n_real], labels, reduction="none")
                    (per_example * weights).sum().backward()
                    row_grads[real] = rows.grad[: chunk.n_real]
                    row_loss[real] = per_example.detach().double().cpu()
                if world > 1:
                    torch.distributed.all_reduce(row_grads)  # each row is non-zero on one process only
                    torch.distributed.all_reduce(row_loss)
                grad = torch.zeros_like(bank)
                for k in np.flatnonzero(counts):  # a prompt's rows in its own example order
                    own = [j for j, (kk, _) in enumerate(pairs) if kk == k]
                    grad[k] = row_grads[own].sum(0)
                    sum_loss[k] += float(row_loss[own].sum())
                opt.step(grad, torch.from_numpy(counts > 0))
                prompt_steps += int((counts > 0).sum())
                bar.update(len(pairs))
                elapsed = max(time.perf_counter() - t0, 1e-9)
                bar.set_postfix(ex_s=f"{bar.n / elapsed:.1f}", prompt_steps_s=f"{prompt_steps / elapsed:.1f}",
                                refresh=False)
        finally:
            model.train(was_training)
            bar.close()
        if world > 1:
            torch.distributed.all_reduce(sum_loss)
        acc, dev_loss = evaluate_bank(scorer, bank.detach(), dev, micro_batch=micro_batch,
                                      accuracy_batch=accuracy_batch, precision=precision, progress=progress and rank == 0,
                                      desc=f"dev {epoch}/{epochs}")
        better = acc > best_dev  # strictly greater, as the original
        with torch.no_grad():
            best[torch.from_numpy(better).to(device)] = bank.detach()[torch.from_numpy(better).to(device)]
        best_dev = np.where(better, acc, best_dev)
        best_epoch = np.where(better, epoch, best_epoch)
        n_train = np.array([max(len(ex.ids), 1) for ex in train])
        for k in range(k_prompts):
            history.append({"prompt": k, "epoch": epoch, "split": "train", "accuracy": np.nan,
                            "loss": float(sum_loss[k]) / int(n_train[k])})
            history.append({"prompt": k, "epoch": epoch, "split": "dev", "accuracy": float(acc[k]),
                            "loss": float(dev_loss[k])})
        if np.isfinite(acc).any():
            logger.info("epoch %d: mean dev accuracy %.3f (%d prompts)", epoch, float(np.nanmean(acc)), k_prompts)
        if folder is not None and rank == 0:
            _save_state(folder, epoch, {"bank": bank.detach().cpu(), "opt": opt.state_dict(), "best": best.cpu(),
                                        "best_dev": torch.from_numpy(np.asarray(best_dev, dtype=np.float64)),
                                        "best_epoch": torch.from_numpy(np.asarray(best_epoch, dtype=np.int64)),
                                        "history": history, "epoch": epoch})
        if on_epoch_end is not None:
            on_epoch_end(epoch)
    return BankResult(best.detach().cpu(), best_dev, best_epoch, bank.detach().cpu(), history)
