"""The human wing: the emotion space from the raw ratings (:mod:`~emolib.human.space`), appraisal
components (:mod:`~emolib.human.appraisal`), intraclass correlations (:mod:`~emolib.human.icc`).

Example:
    >>> from emolib import human
    >>> human.attribute_rdms().shape
    (351, 14)
"""

from emolib.human.ceilings import NoiseCeiling, noise_ceiling, similarity_ceiling, subject_mean_tau
from emolib.human.space import (
    DOWNSTREAM_SOURCE,
    SOURCES,
    appraisal_pca,
    appraisal_scores,
    attribute_rdms,
    attribute_reliability,
    attribute_scores,
    attribute_weights,
    bootstrap_taus,
    fwrite_round,
    rating_means,
    similarity_mds,
    similarity_rdm,
    similarity_reliability,
    weight_bootstrap,
)

__all__ = [
    "DOWNSTREAM_SOURCE", "SOURCES", "appraisal_pca", "appraisal_scores", "attribute_rdms", "attribute_reliability",
    "attribute_scores", "attribute_weights", "bootstrap_taus", "fwrite_round", "rating_means", "similarity_mds",
    "similarity_rdm", "similarity_reliability", "weight_bootstrap", "NoiseCeiling", "noise_ceiling", "similarity_ceiling", "subject_mean_tau",
]  # fmt: skip
