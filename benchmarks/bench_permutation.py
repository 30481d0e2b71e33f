"""Time the label-permutation (Mantel) searchlight: 36,864 units x 14 attributes x P relabellings.

The input is the paper's: unit RDMs of the released RoBERTa activations (351 pairs) against the 14
released attribute RDMs. Rows: ``scipy.stats.kendalltau`` per relabelled RDM in a loop and
rsatoolbox's one-RDM-at-a-time ``permute_rdms`` + ``compare(method="kendall")`` (the original-style
approaches; timed on a random subset, extrapolated), then emolib's ``permutation_searchlight`` on the
whole workload. A kernel table times one unit block's sign product in fp32, bf16 and int8 and checks
each for exactness; a cross-check compares emolib's exceedance counts with the scipy loop on a subset.

Usage::

    PYTHONPATH=. python benchmarks/bench_permutation.py [--permutations 1000] [--device cpu]
    PYTHONPATH=. python benchmarks/bench_permutation.py --device cuda          # 10,000 permutations
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import time

import numpy as np
import torch
from scipy import stats

from emolib import released, rsa
from emolib.device import resolve_device
from emolib.emotions import PAPER_ORDER
from emolib.rsa import permutation as perm_mod
from emolib.rsa.permutation import emotion_permutations, pair_permutation, permutation_searchlight
from emolib.rsa.rankcorr import kendall_tau_b

logger = logging.getLogger("bench_permutation")


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def _kernel_table(x: np.ndarray, y: np.ndarray, device: torch.device, units: int = 2048, perms: int = 100) -> list:
    """One block's product [units, K] @ [K, perms x 14] per dtype: seconds, GOPS, exact vs int64."""
    k_pad = perm_mod._padded(x.shape[0] * (x.shape[0] - 1) // 2)
    rx = torch.as_tensor(np.ascontiguousarray(perm_mod._dense_ranks(x[:, :units]).T), device=device)
    ry = torch.as_tensor(perm_mod._dense_ranks(y), device=device)
    pp = torch.as_tensor(pair_permutation(emotion_permutations(27, perms, 0)), device=device)
    sx = perm_mod._pair_signs(rx, k_pad, torch.int8)
    sy = perm_mod._pair_signs(ry[pp].permute(0, 2, 1).reshape(-1, x.shape[0]), k_pad, torch.int8)
    exact = None
    rows = []
    candidates = {"fp32": torch.float32, "bf16": torch.bfloat16, "int8 (_int_mm)": torch.int8}
    for name, dtype in candidates.items():
        a, b = sx.to(dtype), sy.to(dtype)
        run = (lambda: torch._int_mm(a, b.T)) if dtype == torch.int8 else (lambda: a @ b.T)
        try:
            run()  # warm-up
            _sync(device)
            start = time.perf_counter()
            out = run()
            _sync(device)
            seconds = time.perf_counter() - start
        except RuntimeError as error:
            rows.append((name, float("nan"), float("nan"), f"unavailable ({str(error)[:60]})"))
            continue
        if exact is None:  # fp32 sums of -1/0/+1 below 2**24 are exact: the reference
            exact = out.to(torch.int64)
        same = bool(torch.equal(out.to(torch.int64), exact))
        gops = 2 * a.shape[0] * a.shape[1] * b.shape[0] / seconds / 1e9
        error = (out.double() - exact).abs().max()
        rows.append((name, seconds, gops, "exact" if same else f"inexact (max err {error:.0f})"))
    return rows


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--permutations", type=int, default=None, help="P (default 1000 on the CPU, 10000 on CUDA)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--scipy-tests", type=int, default=300, help="(unit, attribute, permutation) tests for scipy")
    parser.add_argument("--rsatoolbox-units", type=int, default=20, help="units x 14 attributes x 2 permutations")
    parser.add_argument("--units", type=int, default=None, help="run emolib on the first N units only (smoke test)")
    parser.add_argument("--no-kernels", action="store_true", help="skip the kernel table")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    device = resolve_device(args.device)
    n_perm = args.permutations or (10000 if device.type == "cuda" else 1000)

    x = rsa.unit_rdms(released.activations(order=PAPER_ORDER).values)  # [351, 36864]
    attributes = released.attribute_distances()  # [351, 14]
    y = attributes.to_numpy()
    if args.units:
        x = x[:, : args.units]
    n_units, n_attr = x.shape[1], y.shape[1]
    n_tests = n_units * n_attr * n_perm
    pp = pair_permutation(emotion_permutations(27, n_perm, 0))  # [P, 351]
    rng = np.random.default_rng(0)
    rows = []
    load_before = _load()

    # the original style: one scipy kendalltau per (unit, attribute, relabelling)
    picks = list(zip(rng.integers(0, n_units, args.scipy_tests), rng.integers(0, n_attr, args.scipy_tests),
                     rng.integers(0, n_perm, args.scipy_tests)))
    start = time.perf_counter()
    for u, a, k in picks:
        stats.kendalltau(x[:, u], y[pp[k], a], variant="b")
    seconds = time.perf_counter() - start
    rows.append(("scipy.stats.kendalltau per relabelled RDM", args.scipy_tests, seconds,
                 seconds * n_tests / args.scipy_tests))

    try:  # rsatoolbox: relabel one attribute RDMs object at a time, compare with the unit RDMs
        from rsatoolbox.rdm import RDMs, compare
        from rsatoolbox.rdm.rdms import permute_rdms

        sub = rng.choice(n_units, args.rsatoolbox_units, replace=False)
        unit_obj, attr_obj = RDMs(x[:, sub].T), RDMs(y.T)
        start = time.perf_counter()
        for k in range(2):
            compare(unit_obj, permute_rdms(attr_obj, emotion_permutations(27, 2, 0)[k].astype(int)), method="kendall")
        seconds = time.perf_counter() - start
        timed = args.rsatoolbox_units * n_attr * 2
        rows.append(("rsatoolbox permute_rdms + compare(kendall)", timed, seconds, seconds * n_tests / timed))
    except ImportError:
        rows.append(("rsatoolbox permute_rdms + compare(kendall)", 0, float("nan"), float("nan")))

    start = time.perf_counter()
    result = permutation_searchlight(x, attributes, n_perm, seed=0, device=device)
    _sync(device)
    seconds = time.perf_counter() - start
    name = f"emolib permutation_searchlight, {device.type}"
    cuda = device.type == "cuda"
    name += f" ({torch.cuda.get_device_name(device)})" if cuda else f" ({torch.get_num_threads()} threads)"
    rows.append((name, n_tests, seconds, seconds))
    load_after = _load()

    # cross-check on a subset: the same relabellings, explicitly, through scipy
    check_units, check_perm = 3, 40
    check_pp = pair_permutation(emotion_permutations(27, check_perm, 0))
    small = permutation_searchlight(x[:, :check_units], y, check_perm, seed=0, device=device)
    obs = np.array([[stats.kendalltau(x[:, u], y[:, a]).statistic for a in range(n_attr)] for u in range(check_units)])
    null = np.array([[[stats.kendalltau(x[:, u], y[check_pp[k], a]).statistic for a in range(n_attr)]
                      for u in range(check_units)] for k in range(check_perm)])
    counts_equal = np.array_equal(small.n_exceed, (null >= obs).sum(0))
    tau_equal = np.array_equal(result.tau, kendall_tau_b(x, y, device=device)[0])

    machine = platform.processor() or platform.machine()
    print(f"machine: {machine}, {os.cpu_count()} CPUs visible, torch {torch.__version__}, "
          f"load average {load_before} before / {load_after} after the emolib run")
    print(f"workload: {n_units:,} units x {n_attr} attributes x {n_perm:,} permutations = {n_tests:,} tau-b, "
          f"n = {x.shape[0]} pairs (K = {x.shape[0] * (x.shape[0] - 1) // 2:,} sign products each)\n")
    print("| method | tau-b timed | seconds timed | seconds for the workload | speed-up vs scipy |")
    print("|---|---:|---:|---:|---:|")
    base = rows[0][3]
    for label, n, sec, full in rows:
        if n == 0:
            print(f"| {label} | - | not installed | - | - |")
            continue
        kind = "" if n == n_tests else " (extrapolated)"
        hours = f" ({full / 3600:,.1f} h)" if full > 3600 else ""
        print(f"| {label} | {n:,} | {sec:.2f} | {full:,.1f}{hours}{kind} | {base / full:,.0f}x |")
    print(f"\nexceedance counts == scipy loop ({check_units} units x {n_attr} attributes x {check_perm} permutations): "
          f"{counts_equal}")
    print(f"observed tau == kendall_tau_b (all units): {tau_equal}")
    sig = {"perm p < .01": (result.perm_p < 0.01).sum(), "perm FDR q < .01": (result.perm_fdr_q < 0.01).sum(),
           "FWER p < .05 (per attribute)": (result.fwer_p < 0.05).sum(),
           "FWER p < .05 (all)": (result.fwer_p_all < 0.05).sum()}
    print("significant (unit, attribute) tests: " + ", ".join(f"{k}: {v:,}" for k, v in sig.items()))

    if not args.no_kernels:
        print(f"\none block's sign product [2048 units, K] @ [K, 100 permutations x 14] on {device.type}:\n")
        print("| dtype | seconds | GOPS | exact |")
        print("|---|---:|---:|---|")
        for label, sec, gops, exact in _kernel_table(x, y, device):
            print(f"| {label} | {sec:.2f} | {gops:.0f} | {exact} |")


if __name__ == "__main__":
    main()
