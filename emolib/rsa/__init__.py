"""The RSA wing: rank correlations (:mod:`~emolib.rsa.rankcorr`), RDMs (:mod:`~emolib.rsa.rdms`) and
the searchlight over units (:mod:`~emolib.rsa.searchlight`). Pure array code: no model, no files.

Example:
    >>> import numpy as np, pandas as pd
    >>> from emolib import rsa
    >>> acts = np.random.default_rng(0).random((27, 2, 8))          # [emotions, seeds, units]
    >>> rdms = rsa.unit_rdms(acts)
    >>> rsa.searchlight(rdms, pd.DataFrame({"a": rdms[:, 3]}), units_per_layer=4).rank.loc[3, "a"]
    np.float64(1.0)
"""

from emolib.rsa.permutation import (
    PermutationResult,
    emotion_permutations,
    false_positive_rates,
    pair_permutation,
    permutation_searchlight,
)
from emolib.rsa.rankcorr import kendall_tau_a, kendall_tau_b, spearman_rho, tie_statistics
from emolib.rsa.reliability import cv_unit_rdms, spearman_brown, tau_ceiling, unit_reliability
from emolib.rsa.rdms import (
    COMPARE_METHODS,
    METRICS,
    compare_rdms,
    model_rdms,
    prompt_influence,
    prompt_mask,
    prompt_statistics,
    unit_rdms,
    whole_model_rsa,
)
from emolib.rsa.searchlight import CORRECTIONS, SearchlightResult, compare_searchlights, searchlight, sham_targets

__all__ = [
    "kendall_tau_a", "kendall_tau_b", "spearman_rho", "tie_statistics", "METRICS", "COMPARE_METHODS",
    "compare_rdms", "model_rdms", "prompt_influence", "prompt_mask", "prompt_statistics", "unit_rdms", "whole_model_rsa",
    "CORRECTIONS", "SearchlightResult", "compare_searchlights", "searchlight", "sham_targets", "PermutationResult",
    "emotion_permutations", "false_positive_rates", "pair_permutation", "permutation_searchlight",
    "unit_reliability", "spearman_brown", "tau_ceiling", "cv_unit_rdms",
]  # fmt: skip
