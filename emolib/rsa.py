"""Representational similarity analysis: unit RDMs, the searchlight over units, whole-model RSA.

A unit's RDM is the mean over seeds of its per-seed distances ``|a_i - a_j|`` over all emotion
pairs (the paper's neuron RDM; not the distance of seed-mean activations). :func:`searchlight`
correlates every unit RDM with every attribute RDM (Kendall tau-b, one-sided, as R's ``cor.test``),
ranks units per attribute and marks significance with the paper's ``q = p N / rank(p)`` and with
Benjamini-Hochberg. :func:`released_searchlight` runs it on the released RoBERTa activations exactly
as the original R pipeline saw them, cached as an artifact; :func:`reproduce` writes its tables.

Example:
    >>> import numpy as np, pandas as pd
    >>> from emolib.rsa import unit_rdms, searchlight
    >>> acts = np.random.default_rng(0).random((27, 2, 8))          # [emotions, seeds, units]
    >>> rdms = unit_rdms(acts)                                      # [351 pairs, 8 units]
    >>> target = pd.DataFrame({"a": rdms[:, 0], "b": rdms[:, 5]})
    >>> result = searchlight(rdms, target, units_per_layer=4)
    >>> result.rank.loc[0, "a"], result.rank.loc[5, "b"]
    (np.float64(1.0), np.float64(1.0))
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from emolib import rcompat
from emolib.emotions import PAPER_ORDER, PAPER_SEEDS, check_emotions, pair_indices
from emolib.rankcorr import kendall_tau_a, kendall_tau_b, spearman_rho, tie_statistics
from emolib.stats import bh_q, paper_q

__all__ = [
    "tie_statistics", "kendall_tau_b", "kendall_tau_a", "spearman_rho",
    "prompt_mask", "unit_rdms", "SearchlightResult", "searchlight",
    "METRICS", "model_rdms", "compare_rdms", "OUTLIER_PROMPTS", "released_searchlight", "prompt_statistics",
    "prompt_influence",
    "compare_searchlights", "reproduce",
]  # fmt: skip

logger = logging.getLogger(__name__)

METRICS = ("cosine", "euclidean")
CORRECTIONS = ("paper", "bh")
#: Released prompts whose activation statistics are extreme (method notes 6 and 12.18).
OUTLIER_PROMPTS: tuple[tuple[str, int], ...] = (("relief", 13), ("disgust", 42), ("fear", 42))


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


@dataclass(frozen=True)
class SearchlightResult:
    """Kendall tau-b and one-sided p of every unit (rows, layer-major) against every attribute (columns).

    Derived tables: ``rank`` (1 = highest tau per attribute, average ties, NaN kept), ``q_paper``
    (``p N / rank(p)`` over all tests), ``q_bh`` (Benjamini-Hochberg), ``significant``,
    ``n_significant`` and ``selective`` (exactly one significant attribute) per unit.
    """

    tau: pd.DataFrame
    p: pd.DataFrame
    units_per_layer: int
    alpha: float = 0.01
    correction: str = "paper"

    def __post_init__(self) -> None:
        if self.correction not in CORRECTIONS:
            raise ValueError(f"unknown correction {self.correction!r}; valid choices: {', '.join(CORRECTIONS)}")
        if self.units_per_layer < 1 or len(self.tau) % self.units_per_layer:
            raise ValueError(f"units_per_layer={self.units_per_layer} does not divide {len(self.tau)} units")

    @property
    def attributes(self) -> list[str]:
        return list(self.tau.columns)

    @property
    def n_layers(self) -> int:
        return len(self.tau) // self.units_per_layer

    @property
    def layer(self) -> np.ndarray:
        """Layer of each unit (``index // units_per_layer``), ``[units]``."""
        return np.arange(len(self.tau)) // self.units_per_layer

    @cached_property
    def rank(self) -> pd.DataFrame:
        """R's ``rank(-tau)`` per attribute: 1 = largest tau, average ties (NaN stays NaN)."""
        return self._frame(stats.rankdata(-self.tau.to_numpy(), axis=0, nan_policy="omit"))

    @cached_property
    def q_paper(self) -> pd.DataFrame:
        return self._frame(paper_q(self.p.to_numpy()))

    @cached_property
    def q_bh(self) -> pd.DataFrame:
        return self._frame(bh_q(self.p.to_numpy()))

    @property
    def significant(self) -> pd.DataFrame:
        """Boolean ``[units, attributes]``: q < alpha under ``correction``."""
        q = self.q_paper if self.correction == "paper" else self.q_bh
        return q < self.alpha

    @property
    def n_significant(self) -> pd.Series:
        return self.significant.sum(axis=1).rename("n_significant")

    @property
    def selective(self) -> pd.Series:
        return (self.n_significant == 1).rename("selective")

    def with_correction(self, correction: str, alpha: float | None = None) -> SearchlightResult:
        """The same result judged with another correction (``"paper"`` or ``"bh"``) or alpha."""
        alpha = self.alpha if alpha is None else alpha
        return SearchlightResult(self.tau, self.p, self.units_per_layer, alpha, correction)

    def summary(self) -> pd.DataFrame:
        """Per attribute: ``n_significant``, ``n_selective`` (selective units of that attribute), ``max_tau``."""
        sig = self.significant
        return pd.DataFrame(
            {
                "attribute": self.attributes,
                "n_significant": sig.sum().to_numpy(),
                "n_selective": sig[self.selective].sum().to_numpy(),
                "max_tau": self.tau.max().to_numpy(),
            }
        )

    def per_layer(self) -> pd.DataFrame:
        """Significant units per layer (rows) and attribute (columns)."""
        return self.significant.groupby(self.layer).sum().rename_axis("layer")

    def top(self, n: int) -> pd.DataFrame:
        """Boolean ``[units, attributes]``: rank <= n (the paper's top-n units per attribute)."""
        return self.rank <= n

    def _frame(self, values: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(values, index=self.tau.index, columns=self.tau.columns)

    def save(self, folder: str | Path) -> Path:
        """Write ``tau``/``p`` (``searchlight.npz``) and settings (``searchlight.json``) into ``folder``."""
        from emolib.artifacts import atomic_write_text, save_arrays

        folder = Path(folder)
        save_arrays(folder / "searchlight.npz", {"tau": self.tau.to_numpy(), "p": self.p.to_numpy()})
        settings = {"attributes": self.attributes, "units_per_layer": self.units_per_layer, "alpha": self.alpha,
                    "correction": self.correction}
        atomic_write_text(folder / "searchlight.json", json.dumps(settings))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> SearchlightResult:
        from emolib.artifacts import load_arrays

        folder = Path(folder)
        arrays = load_arrays(folder / "searchlight.npz")
        settings = json.loads((folder / "searchlight.json").read_text())
        columns = pd.Index(settings.pop("attributes"), name="attribute")
        frame = lambda v: pd.DataFrame(v, columns=columns).rename_axis("unit")  # noqa: E731
        return cls(frame(arrays["tau"]), frame(arrays["p"]), **settings)


def searchlight(
    unit_rdms: np.ndarray, attribute_rdms: pd.DataFrame, units_per_layer: int, alpha: float = 0.01,
    correction: str = "paper", device: str | None = None, chunk: int | None = None,
) -> SearchlightResult:
    """Kendall tau-b (one-sided, R ``cor.test`` semantics) of every unit RDM with every attribute RDM.

    Args:
        unit_rdms: ``[pairs, units]`` (:func:`unit_rdms`), units layer-major.
        attribute_rdms: ``[pairs, attributes]`` in the same pair order; columns name the attributes.
        units_per_layer: units per layer (layer of a unit = index // units_per_layer).
        alpha: significance threshold on q; correction: ``"paper"`` (p N / rank p) or ``"bh"``.
        device, chunk: passed to :func:`emolib.rankcorr.kendall_tau_b` (GPU when available).
    """
    unit_rdms = np.asarray(unit_rdms)
    if not isinstance(attribute_rdms, pd.DataFrame):
        kind = type(attribute_rdms).__name__
        raise ValueError(f"attribute_rdms must be a DataFrame with one named column per attribute, got {kind}")
    if unit_rdms.ndim != 2 or unit_rdms.shape[0] != len(attribute_rdms):
        raise ValueError(
            f"unit_rdms {unit_rdms.shape} and attribute_rdms {attribute_rdms.shape} need the same pairs (rows)")
    tau, p = kendall_tau_b(unit_rdms, attribute_rdms.to_numpy(np.float64), "greater", chunk=chunk, device=device)
    columns = pd.Index(attribute_rdms.columns, name="attribute")
    frame = lambda v: pd.DataFrame(v, columns=columns).rename_axis("unit")  # noqa: E731
    return SearchlightResult(frame(tau), frame(p), units_per_layer, alpha, correction)


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
    valid = ("kendall", "spearman")
    if method not in valid:
        raise ValueError(f"unknown method {method!r}; valid choices: {', '.join(valid)}")
    if len(rdms) != len(targets):
        raise ValueError(f"rdms ({len(rdms)} pairs) and targets ({len(targets)} pairs) differ in length")
    x, y = rdms.to_numpy(np.float64), targets.to_numpy(np.float64)
    r, p = kendall_tau_b(x, y) if method == "kendall" else spearman_rho(x, y, alternative="greater")
    index = pd.MultiIndex.from_product([rdms.columns, targets.columns], names=["rdm", "target"])
    return pd.DataFrame({"r": r.ravel(), "p": p.ravel()}, index=index).reset_index()


# --------------------------------------------------------------------- the released RoBERTa activations


def released_searchlight(
    exclude: Iterable[tuple[str, int]] = (), attribute_rdms: pd.DataFrame | None = None, emulate_r: bool = True,
    root: str | Path | None = None,
) -> SearchlightResult:
    """The paper's searchlight on the released RoBERTa activations, cached as an artifact.

    Follows the original R pipeline bit for bit (:mod:`emolib.rcompat`): activations as the doubles
    ``fread`` parsed from the CSVs, emotions in the paper's order, unit RDMs = ``rowMeans`` over the
    12 seeds of |a_i - a_j|, stored by ``fwrite`` (15 significant digits) and read back, Kendall tau-b
    against the released attribute RDMs (``dist_emotional_PCs.csv``).

    Args:
        exclude: ``(emotion, seed)`` prompts to leave out (e.g. :data:`OUTLIER_PROMPTS`).
        attribute_rdms: ``[351, attributes]`` RDMs (default: the released ones).
        emulate_r: reproduce R's parsing, averaging and CSV round trip (else plain float64 from the
            correctly rounded CSV values).
        root: artifact root (default ``$EMOLIB_ARTIFACTS`` or ``.emolib``).
    """
    from emolib import released
    from emolib.artifacts import artifact, data_fingerprint

    targets = released.attribute_distances() if attribute_rdms is None else attribute_rdms
    exclude = sorted((str(e), int(s)) for e, s in exclude)
    valid = prompt_mask(PAPER_ORDER, PAPER_SEEDS, exclude)
    inputs = {"data": data_fingerprint(), "exclude": exclude, "emulate_r": emulate_r, "version": 1,
              "targets": hashlib.sha256(pd.util.hash_pandas_object(targets).to_numpy().tobytes()
                                        + "|".join(map(str, targets.columns)).encode()).hexdigest()[:16]}
    art = artifact("searchlight-released", inputs, root=root)
    if art.exists():
        art.mark_used()
        return SearchlightResult.load(art.path)
    acts = released.activations(order=PAPER_ORDER)  # float32 [27, 12, 36864]
    if emulate_r:
        values = rcompat.parse_float32_as_r(acts.values)  # the doubles fread parsed from the CSVs
    else:
        values = np.asarray(acts.values.astype(str), dtype=np.float64)  # correctly rounded CSV values
    rdms = unit_rdms(values, valid=valid, emulate_r=emulate_r)  # [351, 36864]
    result = searchlight(rdms, targets, acts.units_per_layer)
    with art.writing(n_units=rdms.shape[1]) as folder:
        result.save(folder)
    return result


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


def compare_searchlights(a: SearchlightResult, b: SearchlightResult, n: int = 4000) -> pd.DataFrame:
    """Per attribute: significant units in ``a`` and ``b``, overlap of their top-``n`` sets, tau agreement.

    Returns:
        DataFrame indexed by attribute: ``significant_a, significant_b, top_n_overlap`` (share of a's
        top-n also in b's), ``tau_spearman`` (Spearman rho of the two tau vectors over units).
    """
    if list(a.attributes) != list(b.attributes) or len(a.tau) != len(b.tau):
        raise ValueError("the two results need the same units and attributes")
    top_a, top_b = a.top(n), b.top(n)
    rho = [stats.spearmanr(a.tau[c], b.tau[c], nan_policy="omit").statistic for c in a.attributes]
    return pd.DataFrame({"significant_a": a.significant.sum(), "significant_b": b.significant.sum(),
                         "top_n_overlap": (top_a & top_b).sum() / top_a.sum(), "tau_spearman": rho},
                        index=pd.Index(a.attributes, name="attribute"))


def reproduce(out_dir: str | Path, profile: str | None = None, seed: int | None = None) -> list[Path]:
    """``emolib reproduce searchlight``: the paper's neuron tables from the released activations.

    Writes ``neuron_tau.csv``, ``neuron_p.csv``, ``neuron_ranks.csv`` (36,864 rows, layer-major, one
    column per attribute, no index) and ``searchlight_summary.csv``. ``profile`` and ``seed`` are
    accepted for the common CLI but change nothing (the analysis is deterministic and small).
    """
    from emolib.artifacts import atomic_write_csv

    if profile not in (None, "quick", "paper", "smoke"):
        raise ValueError(f"unknown profile {profile!r}; valid choices: quick, paper, smoke")
    out = Path(out_dir)
    result = released_searchlight()
    tables = {"neuron_tau.csv": result.tau, "neuron_p.csv": result.p, "neuron_ranks.csv": result.rank,
              "searchlight_summary.csv": result.summary()}
    return [atomic_write_csv(frame, out / name, index=False) for name, frame in tables.items()]
