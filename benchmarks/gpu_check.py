"""The GPU check: one prepared script, each figure measured beside the original approach in the same run.

Rows (each a method and its rate, with the projected wall time of the paper's full workload):

1. the searchlight: 36,864 units x 14 attributes Kendall tau-b with p (the released RoBERTa unit RDMs),
   on the device and on the CPU (the two must agree exactly);
2. the prompt bank at the paper's shape (324 prompts, 100 tokens, comments to 256 tokens) against the
   original one-prompt loop (batch 1, pad to 256, LM head everywhere), on roberta-base-sized random
   weights and on the embedded SmolLM2-135M: examples/s and the projected time of the 1.77 M-example grid;
3. masked evaluation at the paper's shape against the original scheme (a model per mask, pad 256,
   batch 100): sequences/s and the projected time of the paper's 24.8 M masked sequences.

It prints one markdown table and writes it as JSON. ``--tiny`` runs every row on tiny random models
and a small searchlight in seconds on the CPU (the test suite does this). Meant to finish within
8 minutes on one GPU; ``--budget`` seconds caps the optional rows.

Usage::

    python benchmarks/gpu_check.py --out gpu_check.json            # on the GPU machine
    python benchmarks/gpu_check.py --tiny --device cpu --out x.json  # seconds, on a CPU
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_masked_eval  # noqa: E402
import bench_prompts  # noqa: E402

from emolib.device import resolve_device  # noqa: E402
from emolib.rsa.rankcorr import kendall_tau_b  # noqa: E402

GRID_EXAMPLES = bench_prompts.GRID_EXAMPLES
PAPER_SEQUENCES = bench_masked_eval.PAPER_SEQUENCES
N_TESTS = 36_864 * 14


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def searchlight_rows(device: torch.device, tiny: bool) -> list[dict]:
    """Kendall tau-b with p of every unit x attribute, on the device and on the CPU."""
    if tiny:
        rng = np.random.default_rng(0)
        x, y = rng.random((351, 512)), rng.random((351, 14))
    else:
        from emolib import released, rsa
        from emolib.emotions import PAPER_ORDER

        x = rsa.unit_rdms(released.activations(order=PAPER_ORDER).values)  # [351, 36864]
        y = released.attribute_distances().to_numpy()  # [351, 14]
    tests = x.shape[1] * y.shape[1]
    rows, results = [], {}
    for where in dict.fromkeys([device.type, "cpu"]):
        kendall_tau_b(x[:, :64], y, device=where)  # warm-up
        start = time.perf_counter()
        results[where] = kendall_tau_b(x, y, device=where)
        _sync(torch.device(where))
        seconds = time.perf_counter() - start
        rows.append({"section": "searchlight", "method": f"emolib tau-b on {where}", "rate": tests / seconds,
                     "unit": "tests/s", "seconds": seconds, "projected_hours": N_TESTS / (tests / seconds) / 3600})
    if len(results) == 2:
        (tau_a, p_a), (tau_b, p_b) = results.values()
        rows[0]["equal_to_cpu"] = bool(np.array_equal(tau_a, tau_b) and np.allclose(p_a, p_b, rtol=1e-12))
    return rows


def _backbone(name: str, device: torch.device, tiny: bool):
    from emolib.model import load_backbone, tiny_backbone

    family = "roberta" if name == "roberta-base-random" else "llama"
    if tiny:  # long enough for the original's 256-token padding
        return tiny_backbone(family, device=device, max_positions=400)
    return bench_prompts.roberta_base_random(str(device)) if family == "roberta" else load_backbone(name, device=device)


def prompt_rows(device: torch.device, tiny: bool, budget_end: float) -> list[dict]:
    """The original one-prompt loop against the bank at the paper's shape, on two backbones."""
    rows = []
    steps, bank_steps = (2, 1) if tiny else (20, 10)
    n_prompts, micro = (8, 8) if tiny else (324, 512 if device.type == "cuda" else 16)
    prompt_len = 8 if tiny else bench_prompts.PROMPT_LEN
    for name in ("roberta-base-random", "smollm2-135m"):
        if time.perf_counter() > budget_end:
            rows.append({"section": "prompt bank", "method": f"{name}: skipped (time budget)", "rate": float("nan")})
            continue
        bb = _backbone(name, device, tiny)
        for method, run in (("original loop (1 prompt, batch 1, pad 256, full LM head)",
                             lambda: bench_prompts.original_loop(bb, steps, prompt_len)),
                            (f"emolib bank ({n_prompts} prompts, per-prompt batch 1)",
                             lambda: bench_prompts.bank_loop(bb, bank_steps, prompt_len, n_prompts, micro))):
            start = time.perf_counter()
            rate = run()
            rows.append({"section": "prompt bank", "method": f"{bb.name}: {method}", "rate": rate, "unit": "examples/s",
                         "seconds": time.perf_counter() - start, "projected_hours": GRID_EXAMPLES / rate / 3600})
        del bb
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return rows


def masked_rows(device: torch.device, tiny: bool) -> list[dict]:
    """The original masked-evaluation scheme against emolib's, roberta-base-sized random weights."""
    from emolib import data
    from emolib.model import load_backbone, tiny_backbone
    from emolib.paper import units

    if tiny:
        bb = tiny_backbone("roberta", device=device, max_positions=400)
        model, tokenizer = bb.model, bb.tokenizer
    else:
        model, tokenizer = bench_masked_eval.roberta_base(str(device))
        bb = load_backbone((model, tokenizer), device=device)
    n_texts, n_masks = (8, 2) if tiny else (100, 4)
    texts = data.goemotions_frame("dev")["text"].head(n_texts).tolist()
    prompt = torch.randn(8 if tiny else 100, bb.hidden_size) * 0.02
    masks, _ = units.random_masks(bb.n_units, [0.1], n_draws=n_masks)
    bench_masked_eval.emolib_scheme(bb, prompt, texts[:2], masks[:1], 64)  # warm-up
    rows = []
    for method, run in (("original (a model per mask, pad 256, batch 100, full LM head)",
                         lambda: bench_masked_eval.original_scheme(model, tokenizer, prompt, texts, masks, str(device))),
                        ("emolib (one model, masks in the batch, dynamic padding, 2-row head)",
                         lambda: bench_masked_eval.emolib_scheme(bb, prompt, texts, masks, 256 if not tiny else 8))):
        seconds = run()
        rate = n_texts * n_masks / seconds
        rows.append({"section": "masked evaluation", "method": method, "rate": rate, "unit": "sequences/s",
                     "seconds": seconds, "projected_hours": PAPER_SEQUENCES / rate / 3600})
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N")
    parser.add_argument("--tiny", action="store_true", help="tiny models and sizes: seconds on a CPU")
    parser.add_argument("--budget", type=float, default=420.0, help="seconds after which optional rows are skipped")
    parser.add_argument("--out", type=Path, default=Path("gpu_check.json"))
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    start = time.perf_counter()
    rows = searchlight_rows(device, args.tiny)
    rows += masked_rows(device, args.tiny)
    rows += prompt_rows(device, args.tiny, start + args.budget)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else (platform.processor() or platform.machine())
    header = {"device": str(device), "device_name": name, "torch": torch.__version__, "tiny": args.tiny,
              "threads": torch.get_num_threads(), "total_seconds": time.perf_counter() - start}
    print(f"device {device} ({name}), torch {torch.__version__}, {'tiny sizes' if args.tiny else 'paper shapes'}")
    print("| section | method | rate | projected full workload (h) |")
    print("|---|---|---:|---:|")
    for row in rows:
        rate = f"{row['rate']:,.1f} {row.get('unit', '')}" if np.isfinite(row["rate"]) else "-"
        hours = row.get("projected_hours", float("nan"))
        print(f"| {row['section']} | {row['method']} | {rate} | {hours:,.2f} |")
    args.out.write_text(json.dumps({**header, "rows": rows}, indent=2))
    return rows


if __name__ == "__main__":
    main()
