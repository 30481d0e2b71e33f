"""Time all 36,864 units x 14 attributes Kendall tau-b + one-sided p (516,096 tests), four ways.

The input is the paper's: unit RDMs of the released RoBERTa activations (351 pairs) against the 14
released attribute RDMs. Rows: ``scipy.stats.kendalltau`` in a loop (the per-test approach of the
original R script; timed on a random subset, extrapolated), emolib's numpy reference backend (on a
subset, extrapolated unless ``--full``), emolib's torch kernel on the CPU, and on a CUDA GPU when present.

Usage::

    PYTHONPATH=. python benchmarks/bench_kendall.py [--scipy-tests 300] [--numpy-units 2048] [--full]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch
from scipy import stats

from emolib import released, rsa
from emolib.emotions import PAPER_ORDER
from emolib.rsa.rankcorr import kendall_tau_b

N_TESTS = 36864 * 14


def _timed(fn, repeats: int = 1) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scipy-tests", type=int, default=300, help="tests timed for the scipy loop")
    parser.add_argument("--numpy-units", type=int, default=2048, help="units timed for the numpy reference")
    parser.add_argument("--full", action="store_true", help="run the numpy reference on all units")
    parser.add_argument("--repeats", type=int, default=2, help="repeats of the torch runs (best is reported)")
    args = parser.parse_args()

    x = rsa.unit_rdms(released.activations(order=PAPER_ORDER).values)  # [351, 36864]
    y = released.attribute_distances().to_numpy()  # [351, 14]
    rng = np.random.default_rng(0)
    rows = []

    units_drawn, attributes_drawn = rng.integers(0, x.shape[1], args.scipy_tests), rng.integers(0, 14, args.scipy_tests)
    picks = [(int(u), int(a)) for u, a in zip(units_drawn, attributes_drawn)]
    seconds, scipy_res = _timed(lambda: [stats.kendalltau(x[:, u], y[:, a], alternative="greater", method="asymptotic")
                                         for u, a in picks])
    rows.append(("scipy.stats.kendalltau loop", args.scipy_tests, seconds, seconds * N_TESTS / args.scipy_tests))

    units = x.shape[1] if args.full else args.numpy_units
    seconds, (tau_np, _) = _timed(lambda: kendall_tau_b(x[:, :units], y, backend="numpy"))
    rows.append(("emolib numpy reference", units * 14, seconds, seconds * x.shape[1] / units))

    seconds, (tau_cpu, p_cpu) = _timed(lambda: kendall_tau_b(x, y, device="cpu"), args.repeats)
    rows.append((f"emolib torch CPU ({torch.get_num_threads()} threads)", N_TESTS, seconds, seconds))

    if torch.cuda.is_available():
        def on_gpu():
            out = kendall_tau_b(x, y, device="cuda")
            torch.cuda.synchronize()
            return out

        on_gpu()  # warm-up (CUDA context, kernels)
        seconds, (tau_gpu, _) = _timed(on_gpu, args.repeats)
        rows.append((f"emolib torch GPU ({torch.cuda.get_device_name()})", N_TESTS, seconds, seconds))
        gpu_equal = bool(np.array_equal(tau_gpu, tau_cpu))
    else:
        rows.append(("emolib torch GPU", 0, float("nan"), float("nan")))
        gpu_equal = None

    scipy_tau = np.array([r.statistic for r in scipy_res])
    ours = np.array([tau_cpu[u, a] for u, a in picks])
    machine = platform.processor() or platform.machine()
    print(f"machine: {machine}, {os.cpu_count()} CPUs visible, torch {torch.__version__}")
    print(f"workload: {x.shape[1]} units x {y.shape[1]} attributes = {N_TESTS:,} tau-b tests, n = {x.shape[0]}\n")
    print("| method | tests timed | seconds timed | seconds for all 516,096 | speed-up vs scipy |")
    print("|---|---:|---:|---:|---:|")
    base = rows[0][3]
    for name, n, sec, full in rows:
        if n == 0:
            print(f"| {name} | - | no GPU lent | - | - |")
            continue
        kind = "" if n == N_TESTS else " (extrapolated)"
        print(f"| {name} | {n:,} | {sec:.2f} | {full:.1f}{kind} | {base / full:,.0f}x |")
    print(f"\nmax |tau - scipy| on the scipy subset: {np.abs(ours - scipy_tau).max():.2e}")
    print(f"torch CPU == numpy reference on its units: {np.array_equal(tau_cpu[:units], tau_np)}")
    if gpu_equal is not None:
        print(f"torch GPU == torch CPU: {gpu_equal}")


if __name__ == "__main__":
    main()
