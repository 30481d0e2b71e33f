"""RDMs: of every unit (the paper's neuron RDM), of whole layers, and their comparison with target RDMs.

A unit's RDM is the mean over seeds of its per-seed distances ``|a_i - a_j|`` over all emotion
pairs (the paper's neuron RDM; not the distance of seed-mean activations). :func:`model_rdms` gives
RDMs of whole activation vectors per layer, :func:`compare_rdms` rank-correlates RDMs with target
RDMs (rsatoolbox's vocabulary). Pairs follow the paper's convention: strict lower triangle,
column-major (:func:`emolib.emotions.pair_indices`).

Example:
    >>> import numpy as np
    >>> acts = np.random.default_rng(0).random((27, 2, 8))          # [emotions, seeds, units]
    >>> unit_rdms(acts).shape                                       # [351 pairs, 8 units]
    (351, 8)
    >>> list(model_rdms(acts, units_per_layer=4).columns)
    ['layer 1', 'layer 2', 'all']
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from emolib import rcompat
from emolib.emotions import check_emotions, pair_indices
from emolib.rsa.rankcorr import kendall_tau_b, spearman_rho

__all__ = ["METRICS", "COMPARE_METHODS", "prompt_mask", "unit_rdms", "model_rdms", "compare_rdms", "whole_model_rsa",
           "prompt_statistics", "prompt_influence"]

METRICS = ("cosine", "euclidean")
COMPARE_METHODS = ("kendall", "spearman")


def prompt_mask(
    emotions: Sequence[str], seeds: Sequence[int], exclude: Iterable[tuple[str, int]] = ()
) -> np.ndarray:
    """Boolean ``[emotions, seeds]`` mask that is False for each excluded ``(emotion, seed)`` prompt."""
    mask = np.ones((len(emotions), len(seeds)), dtype=bool)
    for emotion, seed in exclude:
        check_emotions([emotion])
        if emotion not in emotions or seed not in seeds:
            raise ValueError(f"prompt ({emotion!r}, {seed!r}) is not among the emotions and seeds {list(seeds)}")
        mask[list(emotions).index(emotion), list(seeds).index(seed)] = False
    return mask


def unit_rdms(
    activations: np.ndarray, valid: np.ndarray | None = None, emulate_r: bool = False, chunk: int = 2048
) -> np.ndarray:
    """RDM of every unit: the mean over seeds of ``|a_i - a_j|`` for each emotion pair, float64.

    Args:
        activations: ``[emotions, seeds, units]`` (or ``[emotions, units]`` for one seed), emotions in
            the order the RDM should follow.
        valid: optional ``[emotions, seeds]`` mask; a pair's mean runs over the seeds where both of its
            prompts are valid (drops outlier prompts).
        emulate_r: average as R's ``rowMeans`` (long double) and store as the original did
            (``data.table::fwrite`` at 15 significant digits, read back by ``fread``); see
            :mod:`emolib.rcompat`. Only the ties and order of each unit's distances change.
        chunk: units processed at once.

    Returns:
        ``[pairs, units]`` in the paper's pair order (strict lower triangle, column-major).
    """
    a = np.asarray(activations)
    if a.ndim == 2:
        a = a[:, None, :]
    if a.ndim != 3:
        raise ValueError(f"activations must be [emotions, seeds, units] or [emotions, units], got shape {a.shape}")
    n_items, n_seeds, n_units = a.shape
    i, j = pair_indices(n_items)
    both = np.ones((len(i), n_seeds), dtype=bool)
    if valid is not None:
        valid = np.asarray(valid, dtype=bool)
        if valid.shape != (n_items, n_seeds):
            raise ValueError(f"valid must have shape {(n_items, n_seeds)}, got {valid.shape}")
        both = valid[i] & valid[j]  # [pairs, seeds]
        if not both.any(1).all():
            raise ValueError("some emotion pair has no seed where both prompts are valid")
    weight = both / both.sum(1, keepdims=True)
    out = np.empty((len(i), n_units))
    for start in range(0, n_units, chunk):
        block = a[:, :, start : start + chunk].astype(np.float64)  # [items, seeds, c]
        dist = np.abs(block[i] - block[j])  # [pairs, seeds, c]
        if emulate_r:
            out[:, start : start + chunk] = rcompat.row_means(np.moveaxis(dist, 1, 2), both[:, None, :])
        else:
            out[:, start : start + chunk] = np.einsum("ps,psc->pc", weight, dist)
    return rcompat.fwrite_round_trip(out) if emulate_r else out


def model_rdms(
    activations: np.ndarray, units_per_layer: int, metric: str = "cosine", valid: np.ndarray | None = None
) -> pd.DataFrame:
    """RDMs of whole activation vectors per layer and for the whole model, mean over seeds.

    Args:
        activations: ``[emotions, seeds, units]`` (or ``[emotions, units]``), units layer-major.
        units_per_layer: units per layer.
        metric: ``"cosine"`` (1 - cosine similarity) or ``"euclidean"``.
        valid: optional ``[emotions, seeds]`` mask of prompts to use (as in :func:`unit_rdms`).

    Returns:
        DataFrame ``[pairs, layers + 1]``: columns ``layer 1 ... layer L`` (numbered from 1 as in the
        paper's figures) and ``all``.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; valid choices: {', '.join(METRICS)}")
    a = np.asarray(activations, dtype=np.float64)
    a = a[:, None, :] if a.ndim == 2 else a
    n_items, n_seeds, n_units = a.shape
    if units_per_layer < 1 or n_units % units_per_layer:
        raise ValueError(f"units_per_layer={units_per_layer} does not divide {n_units} units")
    i, j = pair_indices(n_items)
    valid = np.ones((n_items, n_seeds), bool) if valid is None else np.asarray(valid, dtype=bool)
    both = (valid[i] & valid[j]).astype(np.float64)  # [pairs, seeds]
    weight = both / both.sum(1, keepdims=True)
    per_layer = []  # additive statistics per layer: Gram matrices or squared distances
    for start in range(0, n_units, units_per_layer):
        x = a[:, :, start : start + units_per_layer]  # [items, seeds, d]
        if metric == "cosine":
            dots = np.einsum("isd,jsd->sij", x, x)[:, i, j].T  # [pairs, seeds]
            per_layer.append((dots, np.einsum("isd,isd->is", x, x)))  # with squared norms [items, seeds]
        else:
            per_layer.append(sum(((x[i, :, c : c + 2048] - x[j, :, c : c + 2048]) ** 2).sum(-1)
                                 for c in range(0, x.shape[2], 2048)))  # [pairs, seeds]

    def distance(stat: object) -> np.ndarray:  # [pairs, seeds] -> mean over valid seeds [pairs]
        if metric == "cosine":
            dot, sq = stat
            with np.errstate(invalid="ignore", divide="ignore"):
                d = 1 - dot / np.sqrt(sq[i] * sq[j])
        else:
            d = np.sqrt(stat)
        return (weight * d).sum(1)

    out = {f"layer {k + 1}": distance(stat) for k, stat in enumerate(per_layer)}
    if metric == "cosine":
        out["all"] = distance((sum(d for d, _ in per_layer), sum(q for _, q in per_layer)))
    else:
        out["all"] = distance(sum(per_layer))
    return pd.DataFrame(out).rename_axis("pair")


def compare_rdms(rdms: pd.DataFrame, targets: pd.DataFrame, method: str = "kendall") -> pd.DataFrame:
    """Rank correlation of every RDM (column of ``rdms``) with every target RDM, long format.

    ``method="kendall"``: tau-b with the one-sided p of :func:`kendall_tau_b`; ``"spearman"``: rho
    with its one-sided t-test p. Returns ``rdm, target, r, p``.
    """
    if method not in COMPARE_METHODS:
        raise ValueError(f"unknown method {method!r}; valid choices: {', '.join(COMPARE_METHODS)}")
    if len(rdms) != len(targets):
        raise ValueError(f"rdms ({len(rdms)} pairs) and targets ({len(targets)} pairs) differ in length")
    x, y = rdms.to_numpy(np.float64), targets.to_numpy(np.float64)
    r, p = kendall_tau_b(x, y) if method == "kendall" else spearman_rho(x, y, alternative="greater")
    index = pd.MultiIndex.from_product([rdms.columns, targets.columns], names=["rdm", "target"])
    return pd.DataFrame({"r": r.ravel(), "p": p.ravel()}, index=index).reset_index()


def whole_model_rsa(activations: np.ndarray, units_per_layer: int, targets: pd.DataFrame,
                    metrics: Sequence[str] = METRICS, valid: np.ndarray | None = None,
                    subjects: np.ndarray | None = None) -> pd.DataFrame:
    """:func:`compare_rdms` of every layer's and the whole model's RDM (:func:`model_rdms`) with ``targets``,
    for each metric: columns ``rdm, target, r, p, metric``. With ``subjects`` (``[subjects, pairs]`` RDMs) also
    rows of target ``"similarity (subjects)"``: tau-b with each subject's RDM, averaged (p NaN), the scale of a
    noise ceiling computed from those subjects.

    Example:
        >>> acts = np.random.default_rng(0).random((27, 2, 8))
        >>> targets = pd.DataFrame({"t": unit_rdms(acts)[:, 0]})
        >>> whole_model_rsa(acts, 4, targets)["rdm"].unique().tolist()
        ['layer 1', 'layer 2', 'all']
    """
    parts = []
    for m in metrics:
        rdms = model_rdms(activations, units_per_layer, m, valid)
        parts.append(compare_rdms(rdms, targets).assign(metric=m))
        if subjects is not None:
            tau, _ = kendall_tau_b(rdms.to_numpy(np.float64), np.asarray(subjects, dtype=np.float64).T)
            parts.append(pd.DataFrame({"rdm": rdms.columns, "target": "similarity (subjects)",
                                       "r": np.nanmean(tau, axis=1), "p": np.nan, "metric": m}))
    return pd.concat(parts, ignore_index=True)


def prompt_statistics(activations: np.ndarray, emotions: Sequence[str], seeds: Sequence[int]) -> pd.DataFrame:
    """Per prompt: share of positive units, max and mean activation, and robust z of each (median/MAD).

    Args:
        activations: ``[emotions, seeds, units]``.

    Returns:
        DataFrame ``emotion, seed, share_positive, max, mean, z_share_positive, z_max, z_mean``.
    """
    a = np.asarray(activations)
    frame = pd.DataFrame({
        "emotion": np.repeat(list(emotions), len(seeds)), "seed": np.tile(list(seeds), len(emotions)),
        "share_positive": (a > 0).mean(-1).ravel(), "max": a.max(-1).ravel(), "mean": a.mean(-1).ravel(),
    })
    for col in ("share_positive", "max", "mean"):
        centre = frame[col].median()
        frame[f"z_{col}"] = (frame[col] - centre) / (1.4826 * (frame[col] - centre).abs().median())
    return frame


def prompt_influence(activations: np.ndarray, valid: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Per unit, the share of its summed per-seed distances (sum over pairs and seeds of |a_i - a_j|) that
    comes from the (pair, seed) cells touching an invalid prompt of ``valid [emotions, seeds]``, ``[units]``."""
    a = np.asarray(activations)
    i, j = pair_indices(a.shape[0])
    touched = ~(np.asarray(valid, bool)[i] & np.asarray(valid, bool)[j])  # [pairs, seeds]
    share = np.empty(a.shape[2])
    for start in range(0, a.shape[2], chunk):
        block = a[:, :, start : start + chunk].astype(np.float64)
        dist = np.abs(block[i] - block[j])  # [pairs, seeds, c]
        with np.errstate(invalid="ignore", divide="ignore"):
            share[start : start + chunk] = np.einsum("ps,psc->c", touched.astype(float), dist) / dist.sum((0, 1))
    return share


def best_layers(whole: pd.DataFrame) -> pd.DataFrame:
    """The best layer per metric and target of a :func:`whole_model_rsa` table (the whole model ``all`` left out).

    Returns:
        One row per target (indexed by its name, in the order of ``whole``): for each metric
        ``"<metric>: rdm"`` (the layer with the largest ``r``) and ``"<metric>: r"`` (its ``r``).

    Example:
        >>> whole = pd.DataFrame({"rdm": ["layer 1", "layer 2", "all"] * 2, "target": ["t"] * 6,
        ...                       "r": [0.1, 0.3, 0.9, 0.5, 0.2, 0.9], "p": 0.0,
        ...                       "metric": ["cosine"] * 3 + ["euclidean"] * 3})
        >>> best_layers(whole).loc["t"].tolist()
        ['layer 2', 'layer 1', 0.3, 0.5]
    """
    missing = [c for c in ("rdm", "target", "r", "metric") if c not in whole.columns]
    if missing:
        raise ValueError(f"whole lacks columns {missing}; expected whole_model_rsa's columns: rdm, target, r, metric")
    layers_only = whole[whole["rdm"] != "all"]
    best = layers_only.sort_values("r").groupby(["metric", "target"]).tail(1)  # the largest r of each group
    table = best.pivot(index="target", columns="metric", values=["rdm", "r"]).reindex(whole["target"].unique())
    table.columns = [f"{metric}: {what}" for what, metric in table.columns]
    return table.rename_axis(None)  # indexed by the target names


def flagged_cells(valid: np.ndarray) -> tuple[int, int]:
    """The (pair, seed) cells of the unit RDMs that contain a flagged prompt, and all cells.

    Args:
        valid: ``[emotions, seeds]`` mask, False for a flagged prompt (:func:`prompt_mask`).

    Returns:
        ``(flagged, total)``: cells where either prompt of the pair is flagged, and pairs x seeds.

    Example:
        >>> flagged_cells(prompt_mask(("joy", "fear", "grief"), (1, 2), [("joy", 1)]))
        (2, 6)
    """
    valid = np.asarray(valid, dtype=bool)
    if valid.ndim != 2:
        raise ValueError(f"valid must be [emotions, seeds], got shape {valid.shape}")
    i, j = pair_indices(valid.shape[0])
    both = valid[i] & valid[j]  # [pairs, seeds]
    return int((~both).sum()), int(both.size)


RSATOOLBOX_COLUMN = "rsatoolbox, constant RDM inserted"


def rsatoolbox_check(rdms: pd.DataFrame, target: pd.DataFrame | pd.Series) -> pd.DataFrame:
    """Spearman correlations of ``rdms`` with one target RDM by emolib and by rsatoolbox, a constant RDM inserted.

    rsatoolbox's cosine-based comparisons place the values of a set that holds a constant RDM with
    ``numpy.putmask``, which shifts every later result; this runs ``rsatoolbox.rdm.compare`` on
    ``rdms`` with a constant RDM inserted second (dropped again from the result) to show it.

    Args:
        rdms: ``[pairs, n]`` RDMs, one per column.
        target: ``[pairs]`` target RDM (a Series or a one-column DataFrame).

    Returns:
        DataFrame indexed by the columns of ``rdms``: ``emolib`` (:func:`compare_rdms` rho) and
        ``"rsatoolbox, constant RDM inserted"``; ``attrs["max_difference"]`` is the largest
        |rsatoolbox - emolib| without the constant RDM. Both are NaN if rsatoolbox is not installed.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> rdms = pd.DataFrame(rng.random((10, 3)), columns=["a", "b", "c"])
        >>> check = rsatoolbox_check(rdms, pd.Series(rng.random(10)))
        >>> bool(np.isnan(check.attrs["max_difference"]) or check.attrs["max_difference"] < 1e-12)
        True
    """
    target = target.to_frame() if isinstance(target, pd.Series) else target
    if target.shape[1] != 1:
        raise ValueError(f"target must be one RDM, got {target.shape[1]} columns")
    ours = compare_rdms(rdms, target, method="spearman")["r"].to_numpy()
    check = pd.DataFrame({"emolib": ours}, index=rdms.columns)
    try:
        import warnings

        from rsatoolbox.rdm import RDMs, compare
    except ImportError:  # rsatoolbox is a test dependency only
        check[RSATOOLBOX_COLUMN] = np.nan
        check.attrs["max_difference"] = float("nan")
        return check
    x, y = rdms.to_numpy(np.float64).T, target.to_numpy(np.float64).T
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        together = compare(RDMs(x), RDMs(y), method="spearman")[:, 0]
        with_constant = np.insert(x, 1, 1.0, axis=0)  # a constant RDM as the second of n + 1
        shifted = compare(RDMs(with_constant), RDMs(y), method="spearman")[:, 0]
    check[RSATOOLBOX_COLUMN] = np.delete(shifted, 1)
    check.attrs["max_difference"] = float(np.abs(together - check["emolib"]).max())
    return check


def kendall_speed(rdms: np.ndarray, targets: np.ndarray, n_picks: int = 200, seed: int = 0) -> dict[str, float | int]:
    """Wall time of all unit x target tests with :func:`kendall_tau_b`, and of ``scipy.stats.kendalltau`` per test.

    scipy runs ``n_picks`` tests one at a time (seeded random units, targets in turn) and is extrapolated
    to all ``units x targets`` tests.

    Args:
        rdms: ``[pairs, units]`` unit RDMs.
        targets: ``[pairs, targets]`` target RDMs.

    Returns:
        ``emolib_seconds`` (all tests), ``scipy_ms_per_test``, ``scipy_minutes`` (extrapolated to all
        tests), ``n_picks`` and ``n_tests``.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> speed = kendall_speed(rng.random((20, 30)), rng.random((20, 2)), n_picks=5)
        >>> speed["n_tests"], speed["n_picks"], speed["emolib_seconds"] > 0
        (60, 5, True)
    """
    import time

    from scipy import stats

    x, y = np.asarray(rdms, dtype=np.float64), np.asarray(targets, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or len(x) != len(y):
        raise ValueError(f"rdms and targets must be [pairs, n] with the same pairs, got {x.shape} and {y.shape}")
    if n_picks < 1:
        raise ValueError(f"n_picks must be at least 1, got {n_picks}")
    start = time.perf_counter()
    kendall_tau_b(x, y)
    emolib_seconds = time.perf_counter() - start
    picks = np.random.default_rng(seed).integers(0, x.shape[1], n_picks)
    start = time.perf_counter()
    for k, unit in enumerate(picks):
        stats.kendalltau(x[:, unit], y[:, k % y.shape[1]], alternative="greater", method="asymptotic")
    per_test = (time.perf_counter() - start) / n_picks
    n_tests = x.shape[1] * y.shape[1]
    return {"emolib_seconds": emolib_seconds, "scipy_ms_per_test": per_test * 1e3,
            "scipy_minutes": per_test * n_tests / 60, "n_picks": int(n_picks), "n_tests": int(n_tests)}


__all__ += ["best_layers", "flagged_cells", "rsatoolbox_check", "kendall_speed"]
