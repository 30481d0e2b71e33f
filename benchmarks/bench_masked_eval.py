"""Masked-evaluation throughput: the original scheme against emolib's, on a roberta-base-sized backbone.

The original (``eval_mask_neuron.py``, method notes 9.6) rebuilds the model for every (prompt, mask),
pads every comment to 256 tokens (357 with the mask token and 100 prompt vectors), evaluates in
batches of 100 and applies the LM head at every position. emolib keeps one model, pads dynamically,
puts the masks in the batch dimension and applies only the two verbalizer rows of the head at the
read-out. Both are timed on the same random-weight roberta-base config (real weights are not needed
for timing) and real GoEmotions dev comments; the table projects the paper's workload: 324 prompts x
224 masks on dev (about 24.8 M sequences).

Usage::

    PYTHONPATH=. python benchmarks/bench_masked_eval.py [--device cuda] [--texts 40] [--masks 3]
"""

from __future__ import annotations

import argparse
import copy
import platform
import time

import torch

from emolib import data
from emolib.paper import units as neurons
from emolib.model.backbones import load_backbone
from emolib.paper.masked_eval import masked_logits
from emolib.paper.layouts import PromptScorer
from emolib.model import tiny_tokenizer

PAPER_SEQUENCES = 324 * 224 * 9228 // 27  # prompts x masks x mean dev sample per prompt (≈ 24.8 M)


def roberta_base(device: str):
    """A random-weight roberta-base-sized masked LM and a small word-level tokenizer (no hub needed)."""
    from transformers import RobertaConfig, RobertaForMaskedLM

    tokenizer = tiny_tokenizer("roberta")
    torch.manual_seed(0)
    config = RobertaConfig(pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                           eos_token_id=tokenizer.eos_token_id)
    model = RobertaForMaskedLM(config).eval().to(device)
    return model, tokenizer


def original_scheme(model, tokenizer, prompt, texts, masks, device: str, batch: int = 100) -> float:
    """Seconds for the original protocol: reload per mask, pad to 256, batch 100, LM head everywhere."""
    state = {k: v.clone() for k, v in model.state_dict().items()}
    start = time.perf_counter()
    for mask in masks:
        fresh = copy.deepcopy(model)  # stands in for from_pretrained: a new model per (prompt, mask)
        fresh.load_state_dict(state)
        fresh.eval()
        layers = fresh.roberta.encoder.layer
        keep = mask.reshape(len(layers), -1).to(device, torch.float32)
        hooks = [layer.intermediate.register_forward_hook(lambda m, i, o, k=keep[n]: o * k)
                 for n, layer in enumerate(layers)]
        embed = fresh.roberta.embeddings.word_embeddings
        with torch.inference_mode():
            for s in range(0, len(texts), batch):
                enc = tokenizer(texts[s : s + batch], padding="max_length", truncation=True, max_length=256,
                                return_tensors="pt").to(device)
                n = enc["input_ids"].shape[0]
                ids = torch.cat([torch.full((n, 1), tokenizer.mask_token_id, device=device), enc["input_ids"]], 1)
                emb = embed(ids)
                emb = torch.cat([emb[:, :1], prompt.to(device)[None].expand(n, -1, -1), emb[:, 1:]], 1)  # [n, 357, d]
                attn = torch.cat([torch.ones(n, 1 + prompt.shape[0], device=device), enc["attention_mask"]], 1)
                logits = fresh(inputs_embeds=emb, attention_mask=attn).logits  # LM head at all 357 positions
                logits[:, 0, :2].argmax(-1).cpu()
        for h in hooks:
            h.remove()
        del fresh
    return time.perf_counter() - start


def emolib_scheme(backbone, prompt, texts, masks, batch: int) -> float:
    scorer = PromptScorer(backbone)
    start = time.perf_counter()
    masked_logits(backbone, scorer, prompt, texts, masks, batch_size=batch)
    if backbone.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--texts", type=int, default=40, help="dev comments per mask")
    parser.add_argument("--masks", type=int, default=3)
    parser.add_argument("--batch", type=int, default=256, help="emolib's sequences per forward pass")
    args = parser.parse_args()
    model, tokenizer = roberta_base(args.device)
    backbone = load_backbone((model, tokenizer))
    texts = data.goemotions_frame("dev")["text"].head(args.texts).tolist()
    prompt = torch.randn(100, backbone.hidden_size) * 0.02
    masks, _ = neurons.random_masks(backbone.n_units, [4000], n_draws=args.masks)
    n_seq = args.texts * args.masks
    emolib_scheme(backbone, prompt, texts[:4], masks[:1], args.batch)  # warm-up
    rows = [("original (reload per mask, pad 256, batch 100, full LM head)",
             original_scheme(model, tokenizer, prompt, texts, masks, args.device)),
            ("emolib (one model, masks in the batch, dynamic padding, 2-row head)",
             emolib_scheme(backbone, prompt, texts, masks, args.batch))]
    print(f"device {args.device} ({platform.processor() or platform.machine()}), torch {torch.__version__}, "
          f"roberta-base-sized random weights, {n_seq} sequences per scheme")
    print(f"{'scheme':<72}{'seq/s':>10}{'paper grid (h)':>16}{'speed-up':>10}")
    base = rows[0][1]
    for name, seconds in rows:
        rate = n_seq / seconds
        print(f"{name:<72}{rate:>10.1f}{PAPER_SEQUENCES / rate / 3600:>16.1f}{base / seconds:>10.1f}")


if __name__ == "__main__":
    main()
