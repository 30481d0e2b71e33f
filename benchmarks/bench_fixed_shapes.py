"""The cost of batch invariance: the prompt bank's fixed-shape micro-batches against the previous mixed batches.

The previous bank sorted all prompts' examples of a step by length and cut them into micro-batches with dynamic
padding (fast, but a row's bf16 logits moved by a rounding step when other rows shared its batch, so a prompt
trained in a grid differed from the same prompt trained alone). The bank now gives every micro-batch a shape
fixed by each row's own length (width rounded up to a step, filler rows up to ``rows``; emolib.paper.batches), and
takes each row's gradient on its own. This prints training examples/s of one epoch of the standard profile's
setting for both (the previous loop is reproduced here as the reference), and the largest difference between a
prompt trained in the bank and alone for each.

Usage::

    python benchmarks/bench_fixed_shapes.py                          # Gemma-3-270M, 27 prompts, 40 examples each
    python benchmarks/bench_fixed_shapes.py --backbone tiny-llama --examples 16
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from emolib import profiles
from emolib.device import autocast
from emolib.emotions import PAPER_ORDER
from emolib.model import load_backbone
from emolib.paper import prompts
from emolib.paper.train import BankAdamW, Examples, _epoch_plan, train_bank


def previous_bank(scorer, init, train, keys, batch_size, lr, micro_batch, precision) -> torch.Tensor:
    """One epoch of the previous bank: all prompts' rows of a step sorted by length, cut into micro-batches, one
    backward per micro-batch (gradients of the rows beside each other summed by autograd)."""
    bank = init.detach().clone().requires_grad_(True)
    opt = BankAdamW(bank, lr=lr)
    for pairs in _epoch_plan(train, keys, 1, batch_size):
        counts = np.bincount([k for k, _ in pairs], minlength=len(train))
        order = sorted(range(len(pairs)), key=lambda j: (len(train[pairs[j][0]].ids[pairs[j][1]]), j))
        bank.grad = None
        for start in range(0, len(order), micro_batch):
            chunk = [pairs[j] for j in order[start: start + micro_batch]]
            ks = torch.tensor([k for k, _ in chunk])
            labels = torch.tensor([train[k].labels[i] for k, i in chunk])
            weights = torch.tensor([1.0 / counts[k] for k, _ in chunk])
            with autocast(scorer.device, precision):
                logits = scorer.score([train[k].ids[i] for k, i in chunk], bank[ks])
            (F.cross_entropy(logits.float(), labels, reduction="none") * weights).sum().backward()
        opt.step(bank.grad, torch.from_numpy(counts > 0))
    return bank.detach()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backbone", default="gemma3-270m")
    parser.add_argument("--prompts", type=int, default=27)
    parser.add_argument("--examples", type=int, default=40, help="training examples per prompt")
    parser.add_argument("--precision", default="bf16", choices=["fp32", "bf16"])
    args = parser.parse_args()
    bb = load_backbone(args.backbone, device="cpu")
    settings = profiles.settings("prompts", "standard", train_size=args.examples, dev_size=8)
    scorer = prompts.make_scorer(bb, settings)
    emotions = list(PAPER_ORDER)[: args.prompts]
    train = [Examples(scorer.encode(t["text"].tolist()), t["label"].to_numpy())
             for t in (prompts.task_split(e, 1, "train", settings) for e in emotions)]
    dev = [Examples(ex.ids[:2], ex.labels[:2]) for ex in train]  # two examples: the epoch's dev pass costs little
    init = prompts.initial_prompts(bb, settings, [1] * len(emotions))
    keys = [[1, i] for i in range(len(emotions))]
    n = sum(len(ex.ids) for ex in train)
    rows = []
    start = time.perf_counter()
    old = previous_bank(scorer, init, train, keys, settings.batch_size, settings.lr, 64, args.precision)
    old_s = time.perf_counter() - start
    old_alone = previous_bank(scorer, init[:1], train[:1], keys[:1], settings.batch_size, settings.lr, 64,
                              args.precision)
    rows.append(("previous: mixed, dynamic padding, micro-batch 64", n / old_s,
                 float((old[0] - old_alone[0]).abs().max())))
    for micro in (16, 32, 64):
        kw = dict(epochs=1, batch_size=settings.batch_size, lr=settings.lr, dropout=False, micro_batch=micro,
                  precision=args.precision, progress=False)
        start = time.perf_counter()
        new = train_bank(scorer, init, train, dev, keys=keys, **kw)
        seconds = time.perf_counter() - start
        alone = train_bank(scorer, init[:1], train[:1], dev[:1], keys=keys[:1], **kw)
        rows.append((f"fixed shapes, {micro} rows", n / seconds, float((new.final[0] - alone.final[0]).abs().max())))
    table = pd.DataFrame(rows, columns=["bank", "training examples/s",
                                        "max |bank - alone| of prompt 0"])
    print(f"{args.backbone}, {len(emotions)} prompts x {args.examples} examples, {args.precision}, "
          f"{torch.get_num_threads()} threads")
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
