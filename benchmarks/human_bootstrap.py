"""Subject bootstrap of the human attribute weights: vectorised vs a per-resample scipy loop.

The original (``analysis_RSA_whole_model.R``) loops over 10,000 resamples and calls ``cor(...,
method = "kendall")`` per attribute; the loop below is that approach with ``scipy.stats.kendalltau``,
timed on a subset of resamples and extrapolated. Run: ``python benchmarks/human_bootstrap.py``.
"""

from __future__ import annotations

import time

import numpy as np
from scipy import stats

from emolib import human, released


def main(n_boot: int = 10_000, n_loop: int = 200) -> None:
    similarity = human.similarity_rdm(individual=True)  # [61, 351]
    attributes = released.attribute_distances().to_numpy()  # [351, 14]
    start = time.perf_counter()
    fast = human.bootstrap_taus(similarity, attributes, n_boot=n_boot, seed=6)
    vectorised = time.perf_counter() - start

    draws = np.random.default_rng(6).integers(0, similarity.shape[0], size=(n_loop, similarity.shape[0]))
    start = time.perf_counter()
    slow = np.array([[stats.kendalltau(np.round(similarity[d].mean(0), 9), a).statistic for a in attributes.T]
                     for d in draws])
    loop = (time.perf_counter() - start) * n_boot / n_loop
    assert np.allclose(slow, fast[:n_loop], atol=1e-12)
    print(f"{'approach':<40} {'resamples':>10} {'seconds':>10}")
    print(f"{'per-resample scipy.stats.kendalltau':<40} {n_boot:>10,} {loop:>10.1f}  (extrapolated from {n_loop})")
    print(f"{'vectorised (emolib.human.bootstrap_taus)':<40} {n_boot:>10,} {vectorised:>10.1f}")


if __name__ == "__main__":
    main()
