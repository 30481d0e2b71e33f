"""The prompt bank: K soft prompts trained together on one frozen backbone, each as if alone.

Every example carries its prompt index. In each iteration every prompt that still has examples in
the epoch takes its next ``batch_size`` examples (its own shuffled order); the loss is the sum over
prompts of each prompt's mean loss, so each prompt's gradient equals the gradient of training it
alone with that batch. :class:`BankAdamW` keeps per-prompt moments and step counts and leaves
prompts without examples in an iteration untouched (no decay, no moment update), so the bank is
equivalent to K independent AdamW runs. Examples are mixed across prompts, sorted by length and
cut into micro-batches (dynamic padding); gradients accumulate over micro-batches and, under
``torch.distributed`` (e.g. ``accelerate launch``), micro-batches are shared round-robin between
processes and gradients all-reduced.

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
        """Apply one step to the prompts with ``active`` True (K,) using ``grad`` (K, ...)."""
        rows = active.nonzero().flatten().to(self.bank.device)
        if rows.numel() == 0:
            return
        b1, b2 = self.betas
        g = grad[rows].float()
        m = self.m[rows].mul_(b1).add_(g, alpha=1 - b1)
        v = self.v[rows].mul_(b2).addcmul_(g, g, value=1 - b2)
        self.m[rows], self.v[rows] = m, v
        self.steps[rows.cpu()] += 1
        shape = (-1,) + (1,) * (self.bank.dim() - 1)
        step_size = torch.full((rows.numel(),), self.lr, device=self.bank.device)
        if self.correct_bias:
            t = self.steps[rows.cpu()].to(self.bank.device, torch.float64)
            step_size = (self.lr * torch.sqrt(1 - b2**t) / (1 - b1**t)).float()
        p = self.bank[rows].float()
        p = p - step_size.view(shape) * m / (v.sqrt() + self.eps)
        if self.weight_decay > 0:
            p = p - self.lr * self.weight_decay * p
        self.bank[rows] = p.to(self.bank.dtype)

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


def _micro_batches(items: list[tuple[int, int]], lengths: list[int], size: int) -> list[list[int]]:
    """Positions of ``items`` sorted by token length, cut into chunks of at most ``size``."""
    order = sorted(range(len(items)), key=lambda i: (lengths[i], i))
    return [order[i: i + size] for i in range(0, len(order), size)]


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
    lengths = [len(data[k].ids[i]) for k, i in items]
    correct = torch.zeros(len(items))
    losses = torch.zeros(len(items))
    device = scorer.device
    chunks = _micro_batches(items, lengths, micro_batch)
    model = scorer.backbone.model
    was_training = model.training
    model.eval()
    try:
        for c, chunk in enumerate(tqdm(chunks, desc=desc, disable=not progress, leave=False)):
            if c % world != rank:
                continue
            ks = torch.tensor([items[j][0] for j in chunk])
            ids = [data[items[j][0]].ids[items[j][1]] for j in chunk]
            labels = torch.tensor([data[items[j][0]].labels[items[j][1]] for j in chunk], device=device)
            with autocast(device, precision):
                logits = scorer.score(ids, prompts[ks.to(prompts.device)])
            logits = logits.float()
            correct[chunk] = (logits.argmax(-1) == labels).float().cpu()
            losses[chunk] = F.cross_entropy(logits, labels, reduction="none").cpu()
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
    bank = init.detach().to(device, torch.float32).clone().requires_grad_(True)  # (K, L, d)
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
                lengths = [len(train[k].ids[i]) for k, i in pairs]
                bank.grad = None
                for c, chunk in enumerate(_micro_batches(pairs, lengths, micro_batch)):
                    if c % world != rank:
                        continue
                    ks = [pairs[j][0] for j in chunk]
                    ids = [train[k].ids[pairs[j][1]] for k, j in zip(ks, chunk)]
                    labels = torch.tensor([train[k].labels[pairs[j][1]] for k, j in zip(ks, chunk)], device=device)
                    weights = torch.tensor([1.0 / counts[k] for k in ks], device=device)
                    with autocast(device, precision):
                        logits = scorer.score(ids, bank[torch.tensor(ks, device=device)])
                    per_example = F.cross_entropy(logits.float(), labels, reduction="none")
                    (per_example * weights).sum().backward()
                    sum_loss.index_add_(0, torch.tensor(ks), per_example.detach().double().cpu())
                grad = bank.grad if bank.grad is not None else torch.zeros_like(bank)
                if world > 1:
                    torch.distributed.all_reduce(grad)
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
