"""Prompt-tuning throughput: the original protocol, PEFT one prompt at a time, and emolib's prompt bank.

Prints training examples/s and the projected time of the paper's full grid (1.77 M training
examples: 27 emotions x 12 seeds x 2 epochs of the sampled tasks) for

(a) the original protocol as a faithful loop: one prompt at a time, batch 1, fp32, every comment
    padded to 256 tokens (T = 357 with the mask and 100 prompt tokens), the LM head over every
    position, torch AdamW on the prompt;
(b) PEFT prompt tuning (``PromptTuningConfig``), one prompt at a time, batch 1, no padding, the
    LM head over every position;
(c) emolib's bank (:func:`emolib.prompt_train.train_bank`): K prompts mixed in each batch, per-prompt
    batch 1, dynamic padding, two LM-head rows at the read-out, bf16 autocast on CUDA.

The default backbone is a roberta-base-sized masked LM with random weights (``RobertaConfig``
defaults, vocabulary 50,265, built in-process; real weights do not change the speed), with a
word-level tokenizer (GoEmotions comments are about as many words as BPE tokens).

Usage::

    python benchmarks/bench_prompts.py                       # CPU, a few steps each (< ~3 min)
    python benchmarks/bench_prompts.py --device cuda --steps 50 --prompts 324
    python benchmarks/bench_prompts.py --backbone smollm2-135m
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from emolib.model.backbones import load_backbone
from emolib.data import paper_task
from emolib.emotions import EMOTIONS
from emolib.paper.layouts import PromptScorer
from emolib.paper.train import Examples, train_bank

GRID_EXAMPLES = 1_770_000
PROMPT_LEN = 100
MAX_LENGTH = 256


def roberta_base_random(device: str):
    """A roberta-base-sized RobertaForMaskedLM with random weights and a word-level tokenizer."""
    from transformers import RobertaConfig, RobertaForMaskedLM

    from emolib.model import tiny_tokenizer

    tok = tiny_tokenizer("roberta")
    torch.manual_seed(0)
    config = RobertaConfig(vocab_size=50265, max_position_embeddings=514, pad_token_id=tok.pad_token_id,
                           bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    model = RobertaForMaskedLM(config)
    model.config._name_or_path = "roberta-base-random"
    return load_backbone((model, tok), device=device)


def texts(n: int) -> list[str]:
    frame = pd.concat([paper_task(e, 1, "train").sample(4, random_state=0) for e in EMOTIONS])
    out = frame["text"].tolist()
    return (out * (n // len(out) + 1))[:n]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def original_loop(bb, steps: int, prompt_len: int) -> float:
    """Examples/s of the faithful original protocol (see module docstring)."""
    device = bb.device
    scorer = PromptScorer(bb, max_length=MAX_LENGTH, position_quirk=bb.kind == "masked")
    tok = bb.tokenizer
    prompt = (torch.randn(1, prompt_len, bb.hidden_size, device=device) * 0.02).requires_grad_(True)
    opt = torch.optim.AdamW([prompt], lr=2e-3, eps=1e-6, weight_decay=0.01)
    emb = bb.model.get_input_embeddings()
    bb.model.train()
    samples = texts(steps + 1)
    start = None
    for i, text in enumerate(samples):
        if i == 1:
            _sync(device)
            start = time.perf_counter()
        enc = tok([text], padding="max_length", truncation=True, max_length=MAX_LENGTH, return_tensors="pt").to(device)
        ids, mask = enc["input_ids"], enc["attention_mask"]
        if bb.kind == "masked":
            ids = torch.cat([torch.full((1, 1), bb.mask_token_id, device=device), ids], 1)
            mask = torch.cat([torch.ones(1, 1 + prompt_len, dtype=mask.dtype, device=device), mask], 1)
            x = emb(ids)
            x = torch.cat([x[:, :1], prompt, x[:, 1:]], 1)
            readout = 0
        else:
            mask = torch.cat([torch.ones(1, prompt_len, dtype=mask.dtype, device=device), mask], 1)
            x = torch.cat([prompt, emb(ids)], 1)
            readout = int(mask.sum()) - 1
        positions = torch.arange(x.shape[1], device=device)[None]
        # the LM head over all positions: (1, T, V)
        logits = bb.model(inputs_embeds=x, attention_mask=mask, position_ids=positions).logits
        loss = F.cross_entropy(logits[:, readout, scorer.verbalizer_ids], torch.tensor([i % 2], device=device))
        opt.zero_grad()
        loss.backward()
        opt.step()
    _sync(device)
    bb.model.eval()
    return steps / (time.perf_counter() - start)


def peft_loop(bb, steps: int, prompt_len: int) -> float:
    """Examples/s of PEFT prompt tuning, one prompt, batch 1 (full LM head, no padding)."""
    import copy

    import peft

    device = bb.device
    model = copy.deepcopy(bb.model)
    task = "CAUSAL_LM" if bb.kind == "causal" else "FEATURE_EXTRACTION"  # PEFT has no masked-LM task type
    model = peft.get_peft_model(model, peft.PromptTuningConfig(task_type=task, num_virtual_tokens=prompt_len))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=2e-3, eps=1e-6, weight_decay=0.01)
    model.train()
    ids_ok = PromptScorer(bb).verbalizer_ids
    samples = texts(steps + 1)
    start = None
    for i, text in enumerate(samples):
        if i == 1:
            _sync(device)
            start = time.perf_counter()
        enc = bb.tokenizer([text], truncation=True, max_length=MAX_LENGTH, return_tensors="pt").to(device)
        logits = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
        loss = F.cross_entropy(logits[:, -1, ids_ok], torch.tensor([i % 2], device=device))
        opt.zero_grad()
        loss.backward()
        opt.step()
    _sync(device)
    del model
    return steps / (time.perf_counter() - start)


def bank_loop(bb, steps: int, prompt_len: int, n_prompts: int, micro_batch: int) -> float:
    """Examples/s of the bank: ``n_prompts`` prompts, per-prompt batch 1, ``steps`` iterations."""
    scorer = PromptScorer(bb, max_length=MAX_LENGTH, position_quirk=bb.kind == "masked")
    pool = scorer.encode(texts(64))
    rng = np.random.default_rng(0)
    train = [Examples([pool[j] for j in rng.integers(0, len(pool), steps)], rng.integers(0, 2, steps))
             for _ in range(n_prompts)]
    dev = [Examples([], []) for _ in train]  # no dev evaluation: time training only
    init = torch.randn(n_prompts, prompt_len, bb.hidden_size) * 0.02
    kwargs = dict(epochs=1, batch_size=1, micro_batch=micro_batch, progress=False)
    warm = [Examples(ex.ids[:1], ex.labels[:1]) for ex in train]
    train_bank(scorer, init, warm, dev, **kwargs)  # warm-up (allocator, kernels)
    _sync(bb.device)
    start = time.perf_counter()
    train_bank(scorer, init, train, dev, **kwargs)
    _sync(bb.device)
    seconds = time.perf_counter() - start
    return n_prompts * steps / seconds


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--backbone", default="roberta-base-random",
                        help="roberta-base-random (default) or any load_backbone name, e.g. smollm2-135m")
    parser.add_argument("--steps", type=int, default=None, help="timed steps of (a)/(b) (default: 2 CPU, 30 GPU)")
    parser.add_argument("--prompts", type=int, default=None, help="bank size K (default: 27 CPU, 324 GPU)")
    parser.add_argument("--bank-steps", type=int, default=None, help="bank iterations (default: 1 CPU, 20 GPU)")
    parser.add_argument("--micro-batch", type=int, default=None, help="bank micro-batch (default 8 CPU, 512 GPU)")
    parser.add_argument("--prompt-len", type=int, default=PROMPT_LEN)
    parser.add_argument("--skip", default="", help="comma-separated subset of a,b,c to skip")
    args = parser.parse_args(argv)
    gpu = args.device.startswith("cuda")
    steps = args.steps or (30 if gpu else 2)
    n_prompts = args.prompts or (324 if gpu else 27)
    bank_steps = args.bank_steps or (20 if gpu else 1)
    micro = args.micro_batch or (512 if gpu else 8)
    if args.backbone == "roberta-base-random":
        bb = roberta_base_random(args.device)
    else:
        bb = load_backbone(args.backbone, device=args.device)
    rows = []
    runs = [("a", "original protocol (batch 1, fp32, pad 256, full LM head)",
             lambda: original_loop(bb, steps, args.prompt_len)),
            ("b", "PEFT prompt tuning, one prompt, batch 1", lambda: peft_loop(bb, steps, args.prompt_len)),
            ("c", f"emolib bank, {n_prompts} prompts mixed, per-prompt batch 1",
             lambda: bank_loop(bb, bank_steps, args.prompt_len, n_prompts, micro))]  # fmt: skip
    skip = set(filter(None, args.skip.split(",")))
    for key, label, run in runs:
        if key in skip:
            continue
        t0 = time.perf_counter()
        rate = run()
        rows.append({"method": f"({key}) {label}", "examples_per_s": rate,
                     "full_grid_hours": GRID_EXAMPLES / rate / 3600, "bench_seconds": time.perf_counter() - t0})
    table = pd.DataFrame(rows)
    if len(table) and table["method"].str.startswith("(a)").any():
        table["speedup_vs_a"] = table["examples_per_s"] / table.loc[0, "examples_per_s"]
    print(f"backbone {bb.name} ({bb.kind}, d={bb.hidden_size}, {bb.n_layers} layers), device {args.device}, "
          f"torch threads {torch.get_num_threads()}, prompt length {args.prompt_len}")
    with pd.option_context("display.width", 160, "display.float_format", "{:.3g}".format):
        print(table.to_string(index=False))
    return table


if __name__ == "__main__":
    main()
