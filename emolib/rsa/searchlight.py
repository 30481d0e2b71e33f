"""The searchlight: every unit RDM against every attribute RDM, Kendall tau-b, ranks and significance.

:func:`searchlight` correlates every unit RDM with every attribute RDM (Kendall tau-b, one-sided, as
R's ``cor.test``), ranks units per attribute and marks significance with the paper's
``q = p N / rank(p)`` and with Benjamini-Hochberg (:class:`SearchlightResult`).

Example:
    >>> import numpy as np, pandas as pd
    >>> from emolib.rsa import unit_rdms
    >>> acts = np.random.default_rng(0).random((27, 2, 8))          # [emotions, seeds, units]
    >>> rdms = unit_rdms(acts)                                      # [351 pairs, 8 units]
    >>> target = pd.DataFrame({"a": rdms[:, 0], "b": rdms[:, 5]})
    >>> result = searchlight(rdms, target, units_per_layer=4)
    >>> result.rank.loc[0, "a"], result.rank.loc[5, "b"]
    (np.float64(1.0), np.float64(1.0))
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from scipy import stats

from emolib.rsa.permutation import PermutationResult, from_counts, permutation_searchlight
from emolib.rsa.rankcorr import kendall_tau_b
from emolib.stats import bh_q, paper_q

__all__ = ["CORRECTIONS", "SearchlightResult", "sham_targets", "searchlight", "compare_searchlights"]

#: ``paper``: the original's p N / rank(p) on the asymptotic p; ``bh``: Benjamini-Hochberg on it;
#: ``perm_fdr``: BH on the label-permutation p; ``fwer``: the max-statistic permutation p per attribute.
CORRECTIONS = ("paper", "bh", "perm_fdr", "fwer")
_STORED = ("n_exceed", "null_max")  # what a permutation null is stored as (the rest is derived from it)


@dataclass(frozen=True)
class SearchlightResult:
    """Kendall tau-b and one-sided p of every unit (rows, layer-major) against every attribute (columns).

    Derived tables: ``rank`` (1 = highest tau per attribute, average ties, NaN kept), ``q_paper``
    (``p N / rank(p)`` over all tests), ``q_bh`` (Benjamini-Hochberg), ``significant``,
    ``n_significant`` and ``selective`` (exactly one significant attribute) per unit. With a
    label-permutation null (``permutation``, :func:`emolib.rsa.permutation.permutation_searchlight`)
    also ``perm_p``, ``perm_fdr_q`` and ``fwer_p``, and the corrections ``"perm_fdr"`` and ``"fwer"``.
    """

    tau: pd.DataFrame
    p: pd.DataFrame
    units_per_layer: int
    alpha: float = 0.01
    correction: str = "paper"
    permutation: PermutationResult | None = None
    #: ``[units, shams]`` tau-b against label-permuted attribute RDMs (:func:`sham_targets`): the selection
    #: procedure without attribute meaning, whose top-k units make the sham masks
    sham_tau: pd.DataFrame | None = None
    #: per unit, how well its RDM replicates across seeds (:func:`emolib.rsa.reliability.unit_reliability`)
    reliability: pd.DataFrame | None = None
    #: the global test with a control RDM partialled out (:func:`emolib.rsa.partial.partial_global_test`):
    #: ``control`` (its name), ``max_r``, ``p``, ``n_units``
    partial: dict | None = None

    def __post_init__(self) -> None:
        if self.correction not in CORRECTIONS:
            raise ValueError(f"unknown correction {self.correction!r}; valid choices: {', '.join(CORRECTIONS)}")
        if self.correction in ("perm_fdr", "fwer") and self.permutation is None:
            raise ValueError(f"correction {self.correction!r} needs a permutation null; run searchlight(..., "
                             "permutations=P)")
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

    def _permutation_frame(self, name: str) -> pd.DataFrame:
        if self.permutation is None:
            raise ValueError(f"{name} needs a permutation null; run searchlight(..., permutations=P)")
        return self._frame(getattr(self.permutation, name))

    @property
    def perm_p(self) -> pd.DataFrame:
        """One-sided label-permutation p of every test (``(1 + #exceeding) / (1 + P)``)."""
        return self._permutation_frame("perm_p")

    @property
    def perm_fdr_q(self) -> pd.DataFrame:
        """Benjamini-Hochberg q of :attr:`perm_p` over all tests."""
        return self._permutation_frame("perm_fdr_q")

    @property
    def fwer_p(self) -> pd.DataFrame:
        """Max-statistic (family-wise) permutation p per attribute."""
        return self._permutation_frame("fwer_p")

    @property
    def fwer_p_all(self) -> pd.DataFrame:
        """Max-statistic (family-wise) permutation p over all units and attributes."""
        return self._permutation_frame("fwer_p_all")

    def _q(self, correction: str) -> pd.DataFrame:
        return {"paper": lambda: self.q_paper, "bh": lambda: self.q_bh, "perm_fdr": lambda: self.perm_fdr_q,
                "fwer": lambda: self.fwer_p}[correction]()

    @property
    def significant(self) -> pd.DataFrame:
        """Boolean ``[units, attributes]``: q (or the FWER p) < alpha under ``correction``."""
        return self._q(self.correction) < self.alpha

    @property
    def n_significant(self) -> pd.Series:
        return self.significant.sum(axis=1).rename("n_significant")

    @property
    def selective(self) -> pd.Series:
        return (self.n_significant == 1).rename("selective")

    def with_correction(self, correction: str, alpha: float | None = None) -> SearchlightResult:
        """The same result judged with another correction (``"paper"`` or ``"bh"``) or alpha."""
        alpha = self.alpha if alpha is None else alpha
        return SearchlightResult(self.tau, self.p, self.units_per_layer, alpha, correction, self.permutation,
                                 self.sham_tau, self.reliability, self.partial)

    def criteria(self, alpha: float | None = None) -> pd.DataFrame:
        """Significant units per attribute under each available correction (columns ``paper``, ``bh``, and
        with a permutation null ``perm_fdr``, ``fwer``, ``fwer_all``), at ``alpha`` (default: the result's)."""
        alpha = self.alpha if alpha is None else alpha
        names = ["paper", "bh"] + (["perm_fdr", "fwer"] if self.permutation is not None else [])
        table = pd.DataFrame({name: (self._q(name) < alpha).sum() for name in names})
        if self.permutation is not None:
            table["fwer_all"] = (self.fwer_p_all < alpha).sum()
        return table.rename_axis("attribute")

    def significance_table(self) -> pd.DataFrame:
        """One row per (unit, attribute): ``unit, attribute, tau, paper_q`` and, with a permutation null,
        ``perm_p, perm_fdr_q, fwer_p`` (the columns of ``neuron_significance.csv``)."""
        parts = {"tau": self.tau, "paper_q": self.q_paper}
        if self.permutation is not None:
            parts |= {"perm_p": self.perm_p, "perm_fdr_q": self.perm_fdr_q, "fwer_p": self.fwer_p}
        long = {name: frame.to_numpy().ravel() for name, frame in parts.items()}
        n_units, n_attr = self.tau.shape
        return pd.DataFrame({"unit": np.repeat(np.arange(n_units), n_attr),
                             "attribute": np.tile(np.asarray(self.attributes, dtype=object), n_units), **long})

    def summary(self, total: bool = False) -> pd.DataFrame:
        """Per attribute: ``n_significant``, ``n_selective`` (selective units of that attribute), ``max_tau``.

        With ``total``, a last row ``"any attribute"``: units significant for at least one attribute,
        all selective units, the largest tau.
        """
        sig = self.significant
        table = pd.DataFrame(
            {
                "attribute": self.attributes,
                "n_significant": sig.sum().to_numpy(),
                "n_selective": sig[self.selective].sum().to_numpy(),
                "max_tau": self.tau.max().to_numpy(),
            }
        )
        if total:
            table.loc[len(table)] = ["any attribute", int(sig.any(axis=1).sum()), int(self.selective.sum()),
                                     float(self.tau.max().max())]
        return table

    def per_layer(self) -> pd.DataFrame:
        """Significant units per layer (rows) and attribute (columns)."""
        return self.significant.groupby(self.layer).sum().rename_axis("layer")

    @property
    def ceiling_fraction(self) -> pd.DataFrame:
        """tau as a share of the largest tau each unit's reliability allows (:func:`~emolib.rsa.reliability.tau_ceiling`);
        NaN for units without a positive reliability (or without a measured one)."""
        from emolib.rsa.reliability import tau_ceiling

        if self.reliability is None:
            return self._frame(np.full(self.tau.shape, np.nan))
        ceiling = tau_ceiling(self.reliability["reliability"].to_numpy())[:, None]  # [U, 1]
        with np.errstate(invalid="ignore", divide="ignore"):
            return self._frame(self.tau.to_numpy() / ceiling)

    def best_unit(self, attribute: str) -> dict[str, float | int]:
        """The unit ranked first for ``attribute``: ``unit``, ``layer`` and ``within`` (0-based), ``tau``.

        Example:
            >>> r = SearchlightResult(pd.DataFrame({"a": [0.1, 0.5, 0.2, 0.0]}), pd.DataFrame({"a": [0.5] * 4}), 2)
            >>> r.best_unit("a")
            {'unit': 1, 'layer': 0, 'within': 1, 'tau': 0.5}
        """
        if attribute not in self.attributes:
            raise ValueError(f"unknown attribute {attribute!r}; valid choices: {', '.join(self.attributes)}")
        unit = int(self.rank[attribute].idxmin())
        layer, within = divmod(unit, self.units_per_layer)
        return {"unit": unit, "layer": layer, "within": within, "tau": float(self.tau.loc[unit, attribute])}

    def top(self, n: int) -> pd.DataFrame:
        """Boolean ``[units, attributes]``: rank <= n (the paper's top-n units per attribute)."""
        return self.rank <= n

    def _frame(self, values: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(values, index=self.tau.index, columns=self.tau.columns)

    def to_arrays(self) -> tuple[dict[str, np.ndarray], dict]:
        """``({"tau", "p"} [units, attributes], settings)``: what :meth:`from_arrays` rebuilds it from."""
        settings = {"attributes": self.attributes, "units_per_layer": self.units_per_layer, "alpha": self.alpha,
                    "correction": self.correction}
        arrays = {"tau": self.tau.to_numpy(), "p": self.p.to_numpy()}
        if self.permutation is not None:
            settings |= {"n_permutations": self.permutation.n_permutations, "seed": self.permutation.seed}
            arrays |= {"n_exceed": np.asarray(self.permutation.n_exceed, dtype=np.int32),
                       "null_max": self.permutation.null_max}
            if self.permutation.null_count is not None:
                arrays["null_count"] = self.permutation.null_count
                settings |= {"obs_count": self.permutation.obs_count, "count_alpha": self.permutation.count_alpha}
        if self.sham_tau is not None:
            arrays["sham_tau"] = self.sham_tau.to_numpy()
            settings["sham_columns"] = list(self.sham_tau.columns)
        if self.reliability is not None:
            arrays |= {"r_pair": self.reliability["r_pair"].to_numpy(),
                       "reliability": self.reliability["reliability"].to_numpy()}
            settings |= {"reliability_method": str(self.reliability["method"].iloc[0]),
                         "reliability_seeds": int(self.reliability["n_seeds"].iloc[0])}
        if self.partial is not None:
            settings["partial"] = dict(self.partial)
        return arrays, settings

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], settings: dict) -> SearchlightResult:
        """The result whose :meth:`to_arrays` gave ``arrays`` and ``settings``.

        Example:
            >>> r = SearchlightResult(pd.DataFrame({"a": [0.1, 0.2]}), pd.DataFrame({"a": [0.5, 0.01]}), 1)
            >>> SearchlightResult.from_arrays(*r.to_arrays()).rank["a"].tolist()
            [2.0, 1.0]
        """
        settings = dict(settings)
        columns = pd.Index(settings.pop("attributes"), name="attribute")
        frame = lambda v: pd.DataFrame(v, columns=columns).rename_axis("unit")  # noqa: E731
        tau, p = np.asarray(arrays["tau"]), np.asarray(arrays["p"])
        if tau.shape != p.shape or tau.ndim != 2 or tau.shape[1] != len(columns):
            raise ValueError(f"tau {tau.shape} and p {p.shape} must both be [units, {len(columns)} attributes]")
        sham = None
        if "sham_columns" in settings:
            sham = pd.DataFrame(np.asarray(arrays["sham_tau"]), columns=pd.Index(settings.pop("sham_columns"),
                                                                                 name="sham")).rename_axis("unit")
        partial = settings.pop("partial", None)
        reliability = None
        if "reliability_method" in settings:
            reliability = pd.DataFrame({"r_pair": np.asarray(arrays["r_pair"]),
                                        "reliability": np.asarray(arrays["reliability"]),
                                        "method": settings.pop("reliability_method"),
                                        "n_seeds": int(settings.pop("reliability_seeds"))}).rename_axis("unit")
        permutation = None
        if "n_permutations" in settings:
            n_perm, seed = int(settings.pop("n_permutations")), settings.pop("seed")
            counts = {"null_count": arrays.get("null_count"), "obs_count": settings.pop("obs_count", None),
                      "count_alpha": settings.pop("count_alpha", 0.01)}
            permutation = from_counts(tau, arrays["n_exceed"], arrays["null_max"], n_perm, seed, tuple(columns),
                                      **counts)
        return cls(frame(tau), frame(p), permutation=permutation, sham_tau=sham, reliability=reliability,
                   partial=partial, **settings)


def sham_targets(attribute_rdms: pd.DataFrame, n_sham: int, seed: int = 1) -> pd.DataFrame:
    """``n_sham`` label-permuted attribute RDMs, in sets: sham ``j`` is attribute ``j mod A`` with its emotions
    relabelled by permutation ``j // A`` of :func:`~emolib.rsa.permutation.emotion_permutations` (``seed``). One
    relabelling serves a whole set of A shams, so a set keeps the attribute RDMs' correlations with each other
    (and hence how much their top-k units overlap): the same distances, ties and structure, no attribute meaning.

    Example:
        >>> rdms = pd.DataFrame({"a": np.arange(10.0), "b": np.arange(10.0)[::-1]})  # 5 items
        >>> shams = sham_targets(rdms, 3)
        >>> list(shams.columns), sorted(shams["sham-0:a"]) == sorted(rdms["a"])
        (['sham-0:a', 'sham-0:b', 'sham-1:a'], True)
        >>> bool(np.corrcoef(shams["sham-0:a"], shams["sham-0:b"])[0, 1] < -0.99)  # the set keeps a and b's relation
        True
    """
    from emolib.rsa.permutation import _n_items, emotion_permutations, pair_permutation

    if isinstance(n_sham, bool) or not isinstance(n_sham, (int, np.integer)) or n_sham < 1:
        raise ValueError(f"n_sham must be an integer >= 1, got {n_sham!r}")
    values = attribute_rdms.to_numpy(np.float64)
    n_attr = values.shape[1]
    n_sets = -(-int(n_sham) // n_attr)
    perms = pair_permutation(emotion_permutations(_n_items(len(attribute_rdms)), n_sets, seed))  # [sets, pairs]
    columns = [f"sham-{j // n_attr}:{attribute_rdms.columns[j % n_attr]}" for j in range(n_sham)]
    return pd.DataFrame(np.column_stack([values[perms[j // n_attr], j % n_attr] for j in range(n_sham)]),
                        columns=columns)


def searchlight(
    unit_rdms: np.ndarray, attribute_rdms: pd.DataFrame, units_per_layer: int, alpha: float = 0.01,
    correction: str = "paper", device: str | None = None, chunk: int | None = None, permutations: int = 0,
    seed: int = 0, n_sham: int = 0, sham_seed: int = 1,
) -> SearchlightResult:
    """Kendall tau-b (one-sided, R ``cor.test`` semantics) of every unit RDM with every attribute RDM.

    Args:
        unit_rdms: ``[pairs, units]`` (:func:`unit_rdms`), units layer-major.
        attribute_rdms: ``[pairs, attributes]`` in the same pair order; columns name the attributes.
        units_per_layer: units per layer (layer of a unit = index // units_per_layer).
        alpha: significance threshold on q; correction: ``"paper"`` (p N / rank p) or ``"bh"``.
        device, chunk: passed to :func:`emolib.rsa.rankcorr.kendall_tau_b` (GPU when available).
        permutations: if > 0, a label-permutation null with that many permutations of the emotions,
            the same permutations (``seed``) for every unit x attribute test
            (:func:`emolib.rsa.permutation.permutation_searchlight`), which also counts the paper's criterion.
        n_sham: tau-b against that many label-permuted attribute RDMs (:func:`sham_targets` with ``sham_seed``).
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
    null = permutation_searchlight(unit_rdms, attribute_rdms, permutations, seed, device) if permutations else None
    sham = None
    if n_sham:
        shams = sham_targets(attribute_rdms, n_sham, sham_seed)
        sham_tau, _ = kendall_tau_b(unit_rdms, shams.to_numpy(), "greater", chunk=chunk, device=device)
        sham = pd.DataFrame(sham_tau, columns=pd.Index(shams.columns, name="sham")).rename_axis("unit")
    return SearchlightResult(frame(tau), frame(p), units_per_layer, alpha, correction, null, sham)


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
