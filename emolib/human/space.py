"""The human emotion space: 14 attributes, their RDMs, the similarity-judgment RDM, attribute weights.

Everything is derived from the raw ratings in ``data/model_emotion/raw_data`` (method notes 7-9):

- affective (arousal, valence) and face (six prototypical expressions) attributes: mean rating per
  emotion over the included participants, raw 1-9 units;
- appraisal attributes: per-emotion mean of varimax-rotated principal component scores of 38
  items (:mod:`emolib.appraisal`);
- attribute RDMs ``|x_i - x_j|`` over the 351 emotion pairs (paper pair order);
- the similarity-judgment RDM from ``data.xlsx`` (distance = 10 - rating, neutral dropped, a missing
  cell -> that pair's mean over subjects);
- ICC reliabilities (:mod:`emolib.icc`), a 2-D MDS map, and the human attribute weights: Kendall
  tau-b of the similarity RDM with each attribute RDM plus a vectorised subject bootstrap.

**Which attribute RDMs downstream analyses use.** :data:`DOWNSTREAM_SOURCE` = ``"released"``: the
authors' ``dist_emotional_PCs.csv``, as the method notes recommend for the paper reproduction. The
recomputation is the check: its 8 affective/face columns equal the released file bit for bit and
its 6 appraisal columns agree to ~1e-14, so the choice does not change any result.

**The 15-digit convention.** The original wrote every derived table with ``data.table::fwrite``
(15 significant digits) and read it back, so the doubles its later steps used are those of the text.
:func:`fwrite_round` emulates that writer; "recomputed" RDMs and the similarity RDM pass through
it, which is what makes them equal to the released files exactly. Float noise in R's arithmetic
breaks some exact ties of the affective/face distances (e.g. 1/3 written as 0.333333333333333 or
0.333333333333334); ``attribute_rdms("exact")`` restores them (integer sums / n).

Example:
    >>> from emolib import human
    >>> human.attribute_rdms().shape
    (351, 14)
    >>> human.similarity_rdm().shape
    (351,)
"""

from __future__ import annotations

import logging
import time
from functools import lru_cache

import numpy as np
import pandas as pd

from emolib import rcompat, released
from emolib.emotions import ATTRIBUTES, EMOTIONS, NEUTRAL, PAPER_ORDER, pair_indices, pair_reorder_index
from emolib.human.appraisal import AppraisalPCA
from emolib.human.icc import icc
from emolib.rsa.rankcorr import kendall_tau_b
from emolib.stats import bh_q, paper_q

__all__ = [
    "SOURCES", "DOWNSTREAM_SOURCE", "fwrite_round", "rating_means", "appraisal_pca",
    "appraisal_scores", "attribute_scores", "attribute_rdms", "similarity_rdm", "similarity_reliability",
    "attribute_reliability", "bootstrap_taus", "attribute_weights", "weight_bootstrap", "similarity_mds", "parallel_analysis_counts",
    "appraisal_parity",
]  # fmt: skip

logger = logging.getLogger(__name__)

SOURCES = ("recomputed", "released", "exact")
DOWNSTREAM_SOURCE = "released"
_FACE_AFFECT = ATTRIBUTES[:8]
_APPRAISAL = ATTRIBUTES[8:]


def _check(name: str, value: object, valid: tuple) -> None:
    if value not in valid:
        raise ValueError(f"unknown {name} {value!r}; valid choices: {', '.join(map(str, valid))}")


def fwrite_round(x: np.ndarray) -> np.ndarray:
    """The doubles R reads back from ``data.table::fwrite``'s 15-significant-digit text of ``x``
    (:func:`emolib.rcompat.fwrite_round_trip`).

    Example:
        >>> float(fwrite_round(np.array([2.066666666666667 - 1.7333333333333334]))[0])
        0.333333333333334
    """
    return rcompat.fwrite_round_trip(x)


def _paper_pairs(scores: np.ndarray) -> np.ndarray:
    i, j = pair_indices(scores.shape[0])
    return np.abs(scores[i] - scores[j])  # [351, attributes]


@lru_cache(maxsize=1)
def _included_ratings() -> pd.DataFrame:
    frames = [released.affective_ratings(), released.face_ratings()]
    return pd.concat([f[f["included"]] for f in frames], ignore_index=True)


def rating_means(exact: bool = False) -> pd.DataFrame:
    """Mean affective/face rating per emotion (27 rows, ``PAPER_ORDER``) x the 8 attributes.

    Args:
        exact: return the integer rating sums and the rater count instead (``attrs["n"]``), for
            tie-exact distances.
    """
    grouped = _included_ratings().groupby(["emotion", "attribute"], observed=True)["rating"]
    table = (grouped.sum() if exact else grouped.mean()).unstack().loc[list(PAPER_ORDER), list(_FACE_AFFECT)]
    if exact:
        counts = grouped.count().unique()
        if len(counts) != 1:
            raise ValueError(f"exact distances need equal rater counts per emotion, got {sorted(counts)}")
        table.attrs["n"] = int(counts[0])
    table.index.name, table.columns.name = "emotion", None
    return table


def _kept_appraisal(event_given: bool) -> pd.DataFrame:
    ratings = released.appraisal_ratings()
    keep = ratings[["finished", "english", "consent", "attention_check"]].all(axis=1)
    if event_given:
        keep &= ratings["event_given"]
    return ratings[keep]


@lru_cache(maxsize=8)
def _fitted_pca(seed: int, event_given: bool) -> tuple[AppraisalPCA, pd.DataFrame]:
    kept = _kept_appraisal(event_given)
    items = kept[list(released.APPRAISAL_ITEMS.values())]
    pca = AppraisalPCA(seed=seed).fit(items)
    scores = pca.transform(items)
    scores.insert(0, "emotion", kept["emotion"].astype(str).to_numpy())
    scores.insert(0, "subject", kept["subject"].to_numpy())
    return pca, scores.reset_index(drop=True)


def appraisal_pca(seed: int = 0, event_given: bool = True) -> AppraisalPCA:
    """The fitted :class:`~emolib.appraisal.AppraisalPCA` of the included appraisal respondents.

    Args:
        seed: parallel-analysis seed.
        event_given: apply the "Specific Event != n/a" criterion (default, 299 respondents as the
            original); ``False`` keeps the one anger respondent who wrote "n/a" (300), for comparison.
    """
    return _fitted_pca(seed, event_given)[0]


def parallel_analysis_counts(n_seeds: int = 50, event_given: bool = True) -> pd.Series:
    """How many parallel-analysis simulation seeds (0 ... n_seeds - 1) retain each number of components.

    Each seed fits :class:`~emolib.human.appraisal.AppraisalPCA` on the included appraisal respondents
    with that simulation seed (as :func:`appraisal_pca`, without its cache).

    Returns:
        Series ``simulation seeds`` indexed by ``components retained``, most frequent count first.

    Example:
        >>> parallel_analysis_counts(n_seeds=3).to_dict()
        {6: 3}
    """
    if n_seeds < 1:
        raise ValueError(f"n_seeds must be at least 1, got {n_seeds}")
    items = _kept_appraisal(event_given)[list(released.APPRAISAL_ITEMS.values())]
    retained = pd.Series([AppraisalPCA(seed=s).fit(items).parallel_.n_components for s in range(n_seeds)])
    return retained.value_counts().rename_axis("components retained").rename("simulation seeds")


def appraisal_scores(seed: int = 0, event_given: bool = True) -> pd.DataFrame:
    """Per-respondent regression component scores: ``subject, emotion`` + the 6 appraisal attributes."""
    return _fitted_pca(seed, event_given)[1].copy()


def attribute_scores(seed: int = 0, event_given: bool = True) -> pd.DataFrame:
    """The 14 attributes per emotion in raw units: 27 rows (``PAPER_ORDER``, index ``emotion``).

    Affective/face: mean 1-9 ratings; appraisal: mean component score (sd-1 units).
    """
    scores = appraisal_scores(seed, event_given)
    appraisal = scores.groupby("emotion")[list(_APPRAISAL)].mean().loc[list(PAPER_ORDER)]
    table = pd.concat([rating_means(), appraisal], axis=1)[list(ATTRIBUTES)]
    table.index.name = "emotion"
    return table


def attribute_rdms(source: str = "recomputed", seed: int = 0, event_given: bool = True) -> pd.DataFrame:
    """The 14 attribute RDMs: 351 pairs (paper pair order) x ``ATTRIBUTES``.

    Args:
        source: ``"recomputed"`` (from the raw ratings, R's arithmetic, 15 digits as the original
            wrote them: equals the released 8 affective/face columns exactly, appraisal ~1e-14);
            ``"released"`` (the authors' ``dist_emotional_PCs.csv``; what downstream analyses use,
            :data:`DOWNSTREAM_SOURCE`); ``"exact"`` (as recomputed, but affective/face distances
            from integer rating sums, so equal distances are exact ties).
        seed, event_given: appraisal settings (see :func:`appraisal_pca`).
    """
    _check("source", source, SOURCES)
    if source == "released":
        return released.attribute_distances()
    distances = _paper_pairs(attribute_scores(seed, event_given).to_numpy())
    if source == "recomputed":
        distances = fwrite_round(distances)
    else:
        sums = rating_means(exact=True)
        distances[:, :8] = _paper_pairs(sums.to_numpy(np.float64)) / sums.attrs["n"]
    return pd.DataFrame(distances, columns=list(ATTRIBUTES))


def appraisal_parity(seed: int = 0) -> pd.DataFrame:
    """Recomputed appraisal RDMs against the released file, with and without the event criterion.

    One row per inclusion (``"<n> (event criterion applied)"`` and ``"<n> (... 'n/a' respondent kept)"``,
    ``n`` the respondents): ``min r with released`` (the smallest Pearson r of an appraisal column with
    its released column) and ``max |difference|`` (over all appraisal cells).

    Example:
        >>> parity = appraisal_parity()
        >>> parity.index.tolist()
        ['299 (event criterion applied)', "300 (one 'n/a' respondent kept)"]
        >>> bool(parity["max |difference|"].iloc[0] < 1e-12 < 0.01 < parity["max |difference|"].iloc[1])
        True
    """
    reference = released.attribute_distances().loc[:, list(_APPRAISAL)]
    n_with, n_without = len(_kept_appraisal(True)), len(_kept_appraisal(False))
    extra = n_without - n_with
    kept = "one 'n/a' respondent kept" if extra == 1 else f"{extra} 'n/a' respondents kept"
    rows = {}
    for label, event in ((f"{n_with} (event criterion applied)", True), (f"{n_without} ({kept})", False)):
        ours = attribute_rdms("recomputed", seed=seed, event_given=event).loc[:, list(_APPRAISAL)]
        rows[label] = {"min r with released": min(np.corrcoef(ours[c], reference[c])[0, 1] for c in ours),
                       "max |difference|": (ours - reference).abs().to_numpy().max()}
    return pd.DataFrame(rows).T


def similarity_rdm(individual: bool = False) -> np.ndarray:
    """The similarity-judgment RDM from ``data.xlsx`` in paper pair order, as the original wrote it.

    Distance = 10 - rating; neutral pairs dropped; a missing cell becomes that pair's mean over
    subjects; 15 significant digits (:func:`fwrite_round`), equal to the released files.

    Returns:
        ``[351]`` mean over the 61 subjects, or ``[61, 351]`` per subject if ``individual``.
    """
    ratings = released.similarity_ratings()
    keep = [NEUTRAL not in pair for pair in ratings.columns]
    values = ratings.loc[:, keep].to_numpy(np.float64)  # [61, 351], alphabetical pair order
    values = np.where(np.isnan(values), np.nanmean(values, axis=0), values)
    values = values[:, pair_reorder_index(EMOTIONS, PAPER_ORDER)]
    return fwrite_round(values if individual else values.mean(axis=0))


def similarity_reliability() -> pd.DataFrame:
    """Leave-one-out reliability: Spearman r of each subject's RDM with the mean of the others.

    Returns:
        DataFrame ``subject`` (1-based), ``r`` (61 rows); also the split-free Spearman-Brown of the
        mean r in ``attrs["spearman_brown"]``.
    """
    from scipy.stats import rankdata

    x = similarity_rdm(individual=True)  # [61, 351]
    rest = (x.sum(axis=0) - x) / (len(x) - 1)
    rx, rr = rankdata(x, axis=1), rankdata(rest, axis=1)
    rx, rr = rx - rx.mean(1, keepdims=True), rr - rr.mean(1, keepdims=True)
    r = (rx * rr).sum(1) / np.sqrt((rx**2).sum(1) * (rr**2).sum(1))
    frame = pd.DataFrame({"subject": np.arange(1, len(x) + 1), "r": r})
    mean_r = float(np.mean(r))
    frame.attrs["spearman_brown"] = len(x) * mean_r / (1 + (len(x) - 1) * mean_r)
    return frame


def _padded(scores: pd.DataFrame, column: str) -> np.ndarray:
    groups = [g[column].to_numpy() for _, g in scores.groupby("emotion", sort=True)]
    out = np.full((len(groups), max(len(g) for g in groups)), np.nan)  # [27, 12] NA-padded
    for row, values in enumerate(groups):
        out[row, : len(values)] = values
    return out


def attribute_reliability(interval: str = "psych", seed: int = 0) -> pd.DataFrame:
    """ICC of each attribute as the original: ICC(2,k) for affective/face (27 emotions x 30 raters),
    ICC(1,k) for appraisal components (27 x 12, NA-padded, nominal df2 = 27 * 11).

    Returns:
        DataFrame (rows in ``ATTRIBUTES`` order): ``attribute, type, icc, F, df1, df2, p, ci_low,
        ci_high, q`` (the paper's p * 14 / rank(p)) and ``significant`` (q < .025, as the original).
    """
    rows = []
    ratings = _included_ratings()
    for attribute in _FACE_AFFECT:
        matrix = ratings[ratings["attribute"] == attribute].pivot(index="emotion", columns="subject", values="rating")
        rows.append(icc(matrix.to_numpy(np.float64), interval=interval).loc["ICC2k"].rename(attribute))
    scores = appraisal_scores(seed)
    for attribute in _APPRAISAL:
        rows.append(icc(_padded(scores, attribute), interval=interval).loc["ICC1k"].rename(attribute))
    table = pd.DataFrame(rows).rename_axis("attribute").reset_index()
    table.insert(1, "type", ["ICC2k"] * 8 + ["ICC1k"] * 6)
    table["q"] = paper_q(table["p"].to_numpy())
    table["significant"] = table["q"] < 0.025
    return table


def bootstrap_taus(similarity: np.ndarray, attributes: np.ndarray, n_boot: int = 10_000, seed: int = 6,
                   decimals: int | None = 9) -> np.ndarray:
    """Kendall tau-b of resampled mean similarity RDMs with each attribute RDM.

    Args:
        similarity: ``[subjects, pairs]`` per-subject RDMs.
        attributes: ``[pairs, a]`` attribute RDMs.
        n_boot: resamples of the subjects with replacement.
        seed: numpy seed (``np.random.default_rng``; R's ``set.seed(6)`` stream cannot be reproduced).
        decimals: round the resampled means to this many decimals (None: no rounding). Means that are
            equal in exact arithmetic then tie exactly whatever the summation order; unrounded, float
            noise (~1e-15) breaks such ties at random and moves tau-b by up to ~1e-4. Distinct means
            of the human ratings differ by far more than 1e-9.

    Returns:
        ``[n_boot, a]`` bootstrap taus.
    """
    similarity = np.asarray(similarity, dtype=np.float64)
    n_sub = similarity.shape[0]
    draws = np.random.default_rng(seed).integers(0, n_sub, size=(n_boot, n_sub))  # [n_boot, n_sub]
    counts = np.zeros((n_boot, n_sub))
    np.add.at(counts, (np.repeat(np.arange(n_boot), n_sub), draws.ravel()), 1.0)
    means = counts @ similarity / n_sub  # [n_boot, pairs]
    if decimals is not None:
        means = np.round(means, decimals)
    tau, _ = kendall_tau_b(means.T, np.asarray(attributes, dtype=np.float64))
    return tau  # [n_boot, a]


def attribute_weights(
    similarity: np.ndarray | None = None,
    attributes: pd.DataFrame | None = None,
    n_boot: int = 10_000,
    seed: int = 6,
) -> pd.DataFrame:
    """Human attribute weights: Kendall tau-b of the mean similarity RDM with each attribute RDM.

    Args:
        similarity: ``[subjects, 351]`` per-subject RDMs (default :func:`similarity_rdm` with
            ``individual=True``; then the observed tau uses the released-equal mean RDM).
        attributes: ``[351, a]`` attribute RDMs (default ``attribute_rdms(DOWNSTREAM_SOURCE)``).
        n_boot, seed: subject bootstrap (see :func:`bootstrap_taus`).

    Returns:
        DataFrame (one row per attribute column): ``attribute, tau, se`` (bootstrap sd),
        ``ci_low, ci_high`` (2.5/97.5 percentiles), ``p`` (share of bootstrap tau <= 0), ``q``
        (the paper's p * N / rank(p)) and ``q_bh`` (Benjamini-Hochberg).

    Example:
        >>> w = attribute_weights(n_boot=200)
        >>> list(w.columns)
        ['attribute', 'tau', 'se', 'ci_low', 'ci_high', 'p', 'q', 'q_bh']
    """
    if n_boot < 2:
        raise ValueError(f"n_boot must be at least 2, got {n_boot}")
    if similarity is None:
        similarity, observed = similarity_rdm(individual=True), similarity_rdm()
    else:
        similarity = np.asarray(similarity, dtype=np.float64)
        if similarity.ndim != 2:
            raise ValueError(f"similarity must be [subjects, pairs] for the bootstrap, got shape {similarity.shape}")
        observed = similarity.mean(axis=0)
    attributes = attribute_rdms(DOWNSTREAM_SOURCE) if attributes is None else pd.DataFrame(attributes)
    if attributes.shape[0] != similarity.shape[1]:
        raise ValueError(f"attributes have {attributes.shape[0]} pairs, similarity has {similarity.shape[1]}")
    start = time.perf_counter()
    tau, _ = kendall_tau_b(observed, attributes.to_numpy(np.float64))
    boot = bootstrap_taus(similarity, attributes.to_numpy(), n_boot=n_boot, seed=seed)  # [n_boot, a]
    logger.info("bootstrap of %d resamples x %d attributes: %.1f s", n_boot, attributes.shape[1],
                time.perf_counter() - start)
    p = (boot <= 0).mean(axis=0)
    return pd.DataFrame({
        "attribute": list(attributes.columns), "tau": tau[0], "se": boot.std(axis=0, ddof=1),
        "ci_low": np.quantile(boot, 0.025, axis=0), "ci_high": np.quantile(boot, 0.975, axis=0),
        "p": p, "q": paper_q(p), "q_bh": bh_q(p),
    })  # fmt: skip


def weight_bootstrap(n_boot: int = 2000, seed: int = 6) -> pd.DataFrame:
    """Bootstrap replicates of the human attribute weights (subjects resampled): ``[n_boot, attributes]``, the
    draws behind :func:`attribute_weights`' interval, for carrying the weights' uncertainty into later tests.

    Example:
        >>> weight_bootstrap(n_boot=20).shape
        (20, 14)
    """
    attributes = attribute_rdms(DOWNSTREAM_SOURCE)
    boot = bootstrap_taus(similarity_rdm(individual=True), attributes.to_numpy(), n_boot=n_boot, seed=seed)
    return pd.DataFrame(boot, columns=attributes.columns)


def similarity_mds(rdm: np.ndarray | None = None, seed: int = 0) -> pd.DataFrame:
    """2-D metric MDS (scikit-learn SMACOF, classical-MDS start) of a 351-pair RDM (paper order).

    Returns:
        DataFrame indexed by emotion (``PAPER_ORDER``) with columns ``dim1, dim2``;
        ``attrs["stress"]`` is Kruskal's normalised stress-1.
    """
    from sklearn.manifold import MDS

    from emolib.emotions import pairs_to_square

    square = pairs_to_square(similarity_rdm() if rdm is None else np.asarray(rdm, dtype=np.float64))
    mds = MDS(n_components=2, metric="precomputed", init="classical_mds", n_init=1, random_state=seed,
              normalized_stress=True)
    frame = pd.DataFrame(mds.fit_transform(square), index=pd.Index(PAPER_ORDER, name="emotion"),
                         columns=["dim1", "dim2"])
    frame.attrs["stress"] = float(mds.stress_)
    return frame
