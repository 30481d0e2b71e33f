"""The appraisal space: parallel analysis, principal components with varimax, component names.

An equivalent of the original's ``bruceR::PCA(nfactors = "parallel")``, i.e.
``psych::principal(rotate = "varimax")`` on the item correlation matrix (method notes 9.1):

1. the number of components by parallel analysis: 20 simulated N(0, 1) data sets of the data's
   shape, the 95th percentile of each eigenvalue rank; keep the leading observed eigenvalues that
   exceed it;
2. unrotated loadings ``V sqrt(lambda)`` of the leading eigenpairs of the correlation matrix;
3. Kaiser-normalised varimax (``stats::varimax``: the SVD algorithm, ``eps = 1e-5``), here by
   :class:`factor_analyzer.Rotator` (a port of it; :func:`varimax` is a direct numpy
   implementation that the tests hold it to);
4. psych's conventions: components sign-flipped so that their loadings sum to a positive value,
   then ordered by rotated sums of squared loadings; psych labels ``RC<k>`` keep the pre-order
   index; regression scores ``Z R^-1 L``;
5. names: each component gets the attribute name whose item list (method notes section 8,
   :data:`ITEM_PATTERNS`) it matches best, by a Hungarian assignment on the mean signed loading
   of the list's items, not by position.

Example:
    >>> from emolib import released
    >>> from emolib.human import appraisal
    >>> items = released.appraisal_ratings().query("included")[list(released.APPRAISAL_ITEMS.values())]
    >>> pca = appraisal.AppraisalPCA(seed=0).fit(items)
    >>> pca.n_components_, pca.names_[0]
    (6, 'control')
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from factor_analyzer.rotator import Rotator
from scipy.optimize import linear_sum_assignment

__all__ = ["ITEM_PATTERNS", "ParallelAnalysis", "parallel_analysis", "varimax", "name_components", "AppraisalPCA"]

#: Appraisal attribute -> its high-loading items (method notes section 8), +1 or -1 for the sign.
ITEM_PATTERNS: dict[str, dict[str, int]] = {
    "control": {"caused by self": 1, "agent vs. situation": 1, "control": 1, "altering": 1, "self involvement": 1,
                "self esteem": 1, "self consistency": 1, "others knowledge": -1},
    "fairness": {"fairness": 1, "pleasantness": 1, "coping": 1, "certainty": 1, "freedom": 1, "pressure": -1,
                 "goal consistency": 1, "morality": 1},
    "self-relativity": {"self relevance": 1, "psychological change": 1, "bodily disease": 1, "remembering": 1,
                        "attention": 1, "safety": 1, "danger": 1},
    "other-relativity": {"other people": 1, "caused by agent": 1, "relationship influence": 1, "mental states": 1,
                         "involved close others": 1, "intentional action": 1},
    "expectedness": {"suddenness": -1, "expectedness": 1, "consequences": -1},
    "novelty": {"repetition": 1, "future": 1, "knowledge change": 1, "familiarity": 1, "already occurred": 1},
}  # fmt: skip


@dataclass(frozen=True)
class ParallelAnalysis:
    """Observed and simulated eigenvalues (``[n_items]`` each, descending) and the retained count."""

    observed: np.ndarray
    simulated: np.ndarray
    n_components: int
    n_sets: int
    quantile: float


def _correlation(x: np.ndarray) -> np.ndarray:
    return np.corrcoef(x, rowvar=False)


def parallel_analysis(
    x: np.ndarray, n_sets: int = 20, quantile: float = 0.95, seed: int | None = 0
) -> ParallelAnalysis:
    """Horn's parallel analysis for principal components, vectorised over the simulated sets.

    Args:
        x: ``[n, p]`` complete data.
        n_sets: simulated N(0, 1) data sets of shape ``[n, p]`` (the original: 20).
        quantile: percentile of each simulated eigenvalue rank to beat (the original: 0.95).
        seed: seed of the simulation (R's stream cannot be reproduced; the count is robust).

    Returns:
        :class:`ParallelAnalysis`; ``n_components`` = number of leading observed eigenvalues above
        the simulated quantile (first rank where observed <= simulated, minus one).
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or np.isnan(x).any():
        raise ValueError(f"parallel_analysis needs a complete 2-D array, got shape {x.shape} "
                         f"with missing values: {bool(np.isnan(x).any())}")
    if not 0 < quantile < 1:
        raise ValueError(f"quantile must be in (0, 1), got {quantile}")
    observed = np.linalg.eigvalsh(_correlation(x))[::-1]
    z = np.random.default_rng(seed).standard_normal((n_sets, *x.shape))  # [sets, n, p]
    z -= z.mean(axis=1, keepdims=True)
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    simulated = np.linalg.eigvalsh(np.einsum("sni,snj->sij", z, z))[:, ::-1]  # [sets, p]
    threshold = np.quantile(simulated, quantile, axis=0)  # R's quantile type 7
    below = observed <= threshold
    n_components = int(np.argmax(below)) if below.any() else len(observed)
    return ParallelAnalysis(observed, threshold, n_components, n_sets, quantile)


def varimax(
    loadings: np.ndarray, normalize: bool = True, eps: float = 1e-5, max_iter: int = 1000
) -> tuple[np.ndarray, np.ndarray]:
    """R's ``stats::varimax`` in numpy: returns ``(rotated [p, k], rotation [k, k])``.

    Example:
        >>> rotated, rotation = varimax(np.array([[0.8, 0.3], [0.7, 0.4], [0.3, 0.8], [0.2, 0.7]]))
        >>> np.allclose(rotation @ rotation.T, np.eye(2))
        True
    """
    x = np.asarray(loadings, dtype=np.float64)
    p, k = x.shape
    if k < 2:
        return x.copy(), np.eye(k)
    scale = np.sqrt((x**2).sum(axis=1)) if normalize else np.ones(p)
    x = x / scale[:, None]
    rotation = np.eye(k)
    d = 0.0
    for _ in range(max_iter):
        z = x @ rotation
        b = x.T @ (z**3 - z * ((z**2).sum(axis=0) / p))
        u, s, vt = np.linalg.svd(b)
        rotation = u @ vt
        d_past, d = d, s.sum()
        if d < d_past * (1 + eps):
            break
    return (x @ rotation) * scale[:, None], rotation


def name_components(loadings: pd.DataFrame, patterns: dict[str, dict[str, int]] = ITEM_PATTERNS) -> list[str]:
    """Name each loading column by the best one-to-one match to the item ``patterns``.

    The score of (component, name) is the absolute mean of ``sign * loading`` over the name's
    items; names are assigned by maximising the total score (Hungarian algorithm).
    """
    missing = sorted({item for p in patterns.values() for item in p} - set(loadings.index))
    if missing:
        raise ValueError(f"loadings lack the pattern items {missing}; valid items: {list(loadings.index)}")
    if loadings.shape[1] > len(patterns):
        raise ValueError(f"{loadings.shape[1]} components but only {len(patterns)} names: {list(patterns)}")
    names = list(patterns)
    score = np.array([[abs(sum(sign * loadings.loc[item, c] for item, sign in patterns[n].items()) / len(patterns[n]))
                       for n in names] for c in loadings.columns])  # [components, names]
    rows, cols = linear_sum_assignment(score, maximize=True)
    out = [""] * loadings.shape[1]
    for r, c in zip(rows, cols):
        out[r] = names[c]
    return out


class AppraisalPCA:
    """Principal components of appraisal items with Kaiser-normalised varimax (psych::principal).

    Args:
        n_components: ``"parallel"`` (parallel analysis, as the original) or a number.
        rotation: ``"varimax"`` (default) or ``"none"``.
        impute: value replacing missing answers ("not applicable", the original: 5, the midpoint).
        n_sets, quantile, seed: parallel-analysis settings.

    Attributes (after ``fit``):
        n_components_, parallel_ (:class:`ParallelAnalysis` or None), eigenvalues_ ``[p]``,
        correlation_ ``[p, p]``, mean_, scale_ ``[p]`` (sd, ddof 1), unrotated_loadings_,
        loadings_ (DataFrame items x names, psych order and signs), rotation_ ``[k, k]``,
        weights_ (``R^-1 L``, DataFrame), names_, psych_labels_ (``RC<k>``), ss_loadings_ (Series),
        items_ (item names).
    """

    ROTATIONS = ("varimax", "none")

    def __init__(self, n_components: int | str = "parallel", rotation: str = "varimax", impute: float = 5.0,
                 n_sets: int = 20, quantile: float = 0.95, seed: int | None = 0) -> None:
        self.n_components = n_components
        self.rotation = rotation
        self.impute = impute
        self.n_sets = n_sets
        self.quantile = quantile
        self.seed = seed

    def _matrix(self, x: pd.DataFrame | np.ndarray) -> np.ndarray:
        values = np.asarray(x, dtype=np.float64)
        if values.ndim != 2:
            raise ValueError(f"expected a 2-D respondents x items table, got shape {values.shape}")
        return np.where(np.isnan(values), self.impute, values)

    def fit(self, x: pd.DataFrame | np.ndarray, y: None = None) -> AppraisalPCA:
        """Fit on ``x`` ``[respondents, items]`` (NaN = not applicable)."""
        if self.rotation not in self.ROTATIONS:
            raise ValueError(f"unknown rotation {self.rotation!r}; valid choices: {', '.join(self.ROTATIONS)}")
        values = self._matrix(x)
        default_names = [f"item{k + 1}" for k in range(values.shape[1])]
        self.items_ = list(x.columns) if isinstance(x, pd.DataFrame) else default_names
        self.mean_ = values.mean(axis=0)
        self.scale_ = values.std(axis=0, ddof=1)
        self.correlation_ = _correlation(values)
        eigenvalues, vectors = np.linalg.eigh(self.correlation_)
        order = np.argsort(eigenvalues)[::-1]
        self.eigenvalues_, vectors = eigenvalues[order], vectors[:, order]
        if self.n_components == "parallel":
            self.parallel_ = parallel_analysis(values, self.n_sets, self.quantile, self.seed)
            k = self.parallel_.n_components
        elif isinstance(self.n_components, (int, np.integer)) and 1 <= self.n_components <= values.shape[1]:
            self.parallel_, k = None, int(self.n_components)
        else:
            raise ValueError(f"n_components must be 'parallel' or an integer in 1..{values.shape[1]}, "
                             f"got {self.n_components!r}")
        self.n_components_ = k
        self.unrotated_loadings_ = vectors[:, :k] * np.sqrt(self.eigenvalues_[:k])  # [p, k]
        if self.rotation == "varimax" and k > 1:
            rotator = Rotator(method="varimax", normalize=True, max_iter=1000, tol=1e-5)
            loadings = rotator.fit_transform(self.unrotated_loadings_)
            rotation = rotator.rotation_
        else:
            loadings, rotation = self.unrotated_loadings_.copy(), np.eye(k)
        signs = np.sign(loadings.sum(axis=0))
        signs[signs == 0] = 1
        loadings = loadings * signs
        ss = (loadings**2).sum(axis=0)
        order = np.argsort(-ss, kind="stable")
        self.rotation_ = (rotation * signs)[:, order]
        self.psych_labels_ = [f"RC{c + 1}" if self.rotation == "varimax" else f"PC{c + 1}" for c in order]
        frame = pd.DataFrame(loadings[:, order], index=self.items_, columns=self.psych_labels_)
        known = set(self.items_) >= {i for p in ITEM_PATTERNS.values() for i in p} and k <= len(ITEM_PATTERNS)
        self.names_ = name_components(frame) if known else list(self.psych_labels_)
        self.loadings_ = frame.set_axis(self.names_, axis=1)
        self.ss_loadings_ = pd.Series(ss[order], index=self.names_, name="ss_loadings")
        self.weights_ = pd.DataFrame(np.linalg.solve(self.correlation_, self.loadings_.to_numpy()),
                                     index=self.items_, columns=self.names_)
        return self

    def transform(self, x: pd.DataFrame | np.ndarray) -> pd.DataFrame:
        """Regression component scores ``Z R^-1 L`` (z-scores with the fitted mean and sd)."""
        if not hasattr(self, "weights_"):
            raise ValueError("AppraisalPCA is not fitted; call fit first")
        values = self._matrix(x)
        if values.shape[1] != len(self.items_):
            raise ValueError(f"expected {len(self.items_)} item columns, got {values.shape[1]}")
        scores = ((values - self.mean_) / self.scale_) @ self.weights_.to_numpy()
        index = x.index if isinstance(x, pd.DataFrame) else None
        return pd.DataFrame(scores, index=index, columns=self.names_)

    def fit_transform(self, x: pd.DataFrame | np.ndarray, y: None = None) -> pd.DataFrame:
        return self.fit(x).transform(x)

    def summary(self, n_items: int = 4) -> pd.DataFrame:
        """One row per component (index ``attribute``, its name): ``psych label``, ``sum of squared
        loadings`` and ``top items`` (the ``n_items`` items with the largest absolute loadings, largest first).

        Example:
            >>> rng = np.random.default_rng(0)
            >>> x = rng.normal(size=(200, 2))[:, [0, 0, 1, 1]] + 0.3 * rng.normal(size=(200, 4))  # 2 item pairs
            >>> AppraisalPCA(n_components=2).fit(x).summary(n_items=2)["top items"].tolist()
            ['item3, item4', 'item2, item1']
        """
        if not hasattr(self, "loadings_"):
            raise ValueError("AppraisalPCA is not fitted; call fit first")
        if n_items < 1:
            raise ValueError(f"n_items must be at least 1, got {n_items}")
        top = [", ".join(self.loadings_[c].abs().sort_values(ascending=False).index[:n_items]) for c in self.names_]
        return pd.DataFrame({"psych label": self.psych_labels_, "sum of squared loadings": self.ss_loadings_.to_numpy(),
                             "top items": top}, index=pd.Index(self.names_, name="attribute"))
