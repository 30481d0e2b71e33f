"""Figures of the neuron-attribute searchlight (chapter "Neurons that track emotion attributes").

Every function takes a :class:`emolib.rsa.SearchlightResult` (or tables derived from it) for any
backbone and returns a matplotlib Figure. Layers are numbered from 1 in figures, as in the paper.

Example:
    >>> import numpy as np, pandas as pd
    >>> from emolib import plots, rsa
    >>> units = np.random.default_rng(0).random((351, 8))
    >>> result = rsa.searchlight(units, pd.DataFrame({"a": units[:, 0]}), units_per_layer=4)
    >>> fig = plots.neurons.top_rank_map_figure(result, n=2)
    >>> len(fig.axes)
    2
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from emolib.emotions import ATTRIBUTE_GROUPS
from emolib.plots.style import PALETTE, rdm_heatmap
from emolib.rsa.searchlight import SearchlightResult

__all__ = [
    "top_rank_order", "top_rank_map_figure", "significant_per_layer_figure", "significant_tau_figure",
    "unit_rdm_figure", "whole_model_figure", "prompt_outliers_figure", "robustness_figure", "reliability_figure",
    "baselines_figure",
]  # fmt: skip

_GROUP_OF = {a: g for g, attrs in ATTRIBUTE_GROUPS.items() for a in attrs}
#: Width of every figure (inches): at figure.dpi 110 a 6.3-inch figure fits the 690-px article column unscaled.
WIDTH = 6.3


def layer_ticks(n_layers: int, most: int = 7) -> list[int]:
    """At most ``most`` integer layer ticks, numbered from 1, always with the first and the last layer.

    Example:
        >>> layer_ticks(12), layer_ticks(18), layer_ticks(4)
        ([1, 3, 5, 7, 9, 11, 12], [1, 4, 7, 10, 13, 16, 18], [1, 2, 3, 4])
    """
    if n_layers <= most:
        return list(range(1, n_layers + 1))
    step = int(np.ceil((n_layers - 1) / (most - 1)))
    ticks = list(range(1, n_layers + 1, step))
    if n_layers - ticks[-1] < step / 2 and len(ticks) > 1:
        ticks[-1] = n_layers
    elif ticks[-1] != n_layers:
        ticks.append(n_layers)
    return ticks


def _color_labels(ax: plt.Axes, which: str = "y") -> None:
    for label in ax.get_yticklabels() if which == "y" else ax.get_xticklabels():
        label.set_color(PALETTE.get(_GROUP_OF.get(label.get_text(), ""), "black"))


def top_rank_order(result: SearchlightResult, n: int) -> np.ndarray:
    """Units in the union of the top-``n`` per attribute, ordered by (attribute, rank) of first appearance."""
    rank = result.rank
    order: list[int] = []
    seen: set[int] = set()
    for attribute in result.attributes:
        top = rank.index[rank[attribute] <= n]
        for unit in top[np.argsort(rank.loc[top, attribute].to_numpy(), kind="stable")]:
            if unit not in seen:
                seen.add(unit)
                order.append(int(unit))
    return np.array(order, dtype=np.int64)


def top_rank_map_figure(result: SearchlightResult, n: int = 4000) -> plt.Figure:
    """The paper's top-N map: the union of each attribute's top-``n`` units (x, sorted by attribute,
    then rank), coloured by rank where it is <= n; overlaps show units shared between attributes."""
    units = top_rank_order(result, n)
    ranks = result.rank.loc[units].to_numpy().T  # [attributes, units]
    image = np.where(ranks <= n, ranks, np.nan)
    fig, ax = plt.subplots(figsize=(WIDTH, 3.2))
    shown = ax.imshow(image, aspect="auto", interpolation="nearest", cmap="magma_r", vmin=1, vmax=n)
    ax.set_yticks(range(len(result.attributes)), result.attributes, fontsize=7)
    _color_labels(ax)
    ax.set_xticks([])
    ax.set_xlabel(f"{len(units):,} units in the top {n:,} of at least one attribute\n(sorted by attribute, then rank)",
                  fontsize=8)
    fig.colorbar(shown, ax=ax, label="rank by tau", ticks=[1, n], fraction=0.03)
    return fig


def significant_per_layer_figure(result: SearchlightResult) -> plt.Figure:
    """Significant units per layer, one panel per attribute (layer 1 at the top, as the paper), on shared axes
    (integer layer ticks from 1)."""
    counts = result.per_layer()
    layers = np.arange(1, result.n_layers + 1)
    n_cols = 4
    n_rows = int(np.ceil(len(result.attributes) / n_cols))
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(WIDTH, 1.55 * n_rows + 0.6), sharex=True, sharey=True,
                             squeeze=False)
    for ax, attribute in zip(axes.ravel(), result.attributes):
        ax.barh(layers, counts[attribute].to_numpy(), color=PALETTE.get(_GROUP_OF.get(attribute, ""), "#555555"))
        ax.set_title(f"{attribute} ({counts[attribute].sum():,})", fontsize=7, pad=2)
        ax.tick_params(labelsize=6.5)
    for ax in axes.ravel()[len(result.attributes):]:
        ax.set_axis_off()
    axes[0, 0].set_yticks(layer_ticks(result.n_layers))
    axes[0, 0].invert_yaxis()
    for ax in axes.ravel():
        ax.xaxis.set_major_locator(plt.MaxNLocator(3, integer=True))
    for ax in axes[:, 0]:
        ax.set_ylabel("layer", fontsize=7)
    fig.supxlabel("significant units (q < {:g}, {} correction)".format(result.alpha, result.correction), fontsize=8)
    return fig


def significant_tau_figure(result: SearchlightResult) -> plt.Figure:
    """Tau of the significant units: one row per attribute (labelled), the units of all layers left to right
    (layer 1 first; integer layer ticks from 1, thin lines between layers), magma, blank = not significant; the
    data of the paper's ``RoBERTa_signif_tau`` figure in one labelled panel."""
    tau = result.tau.where(result.significant).to_numpy()  # [units, attributes]
    vmin, vmax = (np.nanmin(tau), np.nanmax(tau)) if np.isfinite(tau).any() else (0.0, 1.0)
    fig, ax = plt.subplots(figsize=(WIDTH, 0.2 * len(result.attributes) + 1.2))
    shown = ax.imshow(tau.T, aspect="auto", interpolation="nearest", cmap="magma", vmin=vmin, vmax=vmax)
    per = result.units_per_layer
    for k in range(1, result.n_layers):
        ax.axvline(k * per - 0.5, color="#bbbbbb", lw=0.4)
    ticks = layer_ticks(result.n_layers)
    ax.set_xticks([(t - 0.5) * per for t in ticks], [str(t) for t in ticks])
    ax.set_xlabel(f"layer ({per:,} units each, left to right)")
    ax.set_yticks(range(len(result.attributes)), result.attributes, fontsize=7)
    _color_labels(ax)
    fig.colorbar(shown, ax=ax, label="Kendall τ\n(significant units)", fraction=0.03)
    return fig


def unit_rdm_figure(
    unit_rdm: np.ndarray, human_rdm: np.ndarray, labels: Sequence[str], titles: tuple[str, str]
) -> plt.Figure:
    """A unit's RDM beside a human attribute RDM (both rank-equalised, as the paper's RDM images), with the colour
    bar of the ranks."""
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 3.7))
    for ax, vector, title in zip(axes, (unit_rdm, human_rdm), titles):
        rdm_heatmap(ax, np.asarray(vector), list(labels), title=title, cmap="viridis")
        ax.title.set_fontsize(8)
    axes[1].set_yticks([])
    fig.colorbar(axes[0].images[0], ax=axes, fraction=0.03, ticks=[0, 1],
                 label="dissimilarity rank (0 = most similar pair, 1 = least)")
    return fig


def whole_model_figure(table: pd.DataFrame, highlight: str = "similarity",
                       ceiling: tuple[float, float] | None = None) -> plt.Figure:
    """Whole-model RSA per layer: tau of each layer's RDM (and the whole model's, at the right) with each
    target, one panel per metric on a shared y axis, each line labelled at its right end (no legend); layers
    numbered from 1. ``table``: columns ``metric, rdm, target, r`` (from compare_rdms).
    ``ceiling``: the (lower, upper) noise ceiling of the ``highlight`` RDM, drawn as a band."""
    from emolib.plots.masking import spread_labels

    if ceiling is not None and f"{highlight} (subjects)" in set(table["target"]):
        highlight = f"{highlight} (subjects)"  # the ceiling's scale: each subject's RDM, averaged
    metrics = list(dict.fromkeys(table["metric"]))
    fig, axes = plt.subplots(len(metrics), 1, figsize=(WIDTH, 3.6 * len(metrics)), sharey=True, squeeze=False)
    targets = list(dict.fromkeys(table["target"]))
    cmap = plt.get_cmap("tab20")
    for ax, metric in zip(axes[:, 0], metrics):
        part = table[table["metric"] == metric]
        layer_rdms = [r for r in dict.fromkeys(part["rdm"]) if r != "all"]
        x = np.arange(1, len(layer_rdms) + 1)
        ends, names, colours = [], [], []
        for k, target in enumerate(targets):
            rows = part[part["target"] == target].set_index("rdm")["r"]
            if target == highlight:
                style = {"color": "black", "lw": 2.2, "zorder": 3}
            else:
                style = {"color": cmap(k % 20), "lw": 0.8, "alpha": 0.8}
            values = rows.loc[layer_rdms].to_numpy()
            ax.plot(x, values, label=target, **style)
            end = values[-1]
            if "all" in rows.index:
                ax.scatter([x[-1] + 1.2], [rows.loc["all"]], color=style["color"], s=14, zorder=3, lw=0)
                end = rows.loc["all"]
            ends.append(float(end))
            names.append(target)
            colours.append(style["color"])
        low, high = np.nanmin(part["r"]), np.nanmax(part["r"])
        placed = spread_labels(ends, gap=0.062 * (high - low if high > low else 1.0))
        for name, y, colour in zip(names, placed, colours):
            ax.text(x[-1] + 1.6, y, name, fontsize=6.5, color=colour, va="center",
                    fontweight="bold" if name == highlight else "normal")
        ax.axhline(0, color="#999999", lw=0.6)
        if ceiling is not None:
            ax.axhspan(*ceiling, color="black", alpha=0.12, lw=0)
            ax.text(1, ceiling[1], f"noise ceiling of {highlight}", fontsize=6.5, va="bottom")
        ticks = layer_ticks(len(layer_rdms), most=12)
        ax.set_xticks(ticks + [x[-1] + 1.2], [str(v) for v in ticks] + ["all"], fontsize=7)
        ax.set_xlim(0.5, x[-1] + 6.5)
        ax.spines["bottom"].set_bounds(1, x[-1] + 1.2)
        ax.set_xlabel("layer")
        ax.set_title(f"{metric} RDMs", fontsize=9)
        ax.set_ylabel("Kendall τ-b with the human RDM", fontsize=8)
    return fig


def prompt_outliers_figure(prompts: pd.DataFrame, flagged: Sequence[tuple[str, int]]) -> plt.Figure:
    """Share of positive units vs maximum activation of every prompt, ``flagged`` prompts labelled.
    ``prompts``: output of :func:`emolib.rsa.prompt_statistics`."""
    fig, ax = plt.subplots(figsize=(6, 4))
    is_flagged = np.array([(e, s) in set(map(tuple, flagged)) for e, s in zip(prompts["emotion"], prompts["seed"])])
    ax.scatter(prompts.loc[~is_flagged, "share_positive"], prompts.loc[~is_flagged, "max"], s=10, color="#8d96a3",
               label="other prompts")
    ax.scatter(prompts.loc[is_flagged, "share_positive"], prompts.loc[is_flagged, "max"], s=30, color="#d1495b",
               label="flagged prompts")
    for _, row in prompts[is_flagged].iterrows():
        ax.annotate(f"{row['emotion']}-{row['seed']}", (row["share_positive"], row["max"]), fontsize=8,
                    xytext=(4, 2), textcoords="offset points")
    ax.set_xlabel("share of units with a positive activation")
    ax.set_ylabel("largest activation")
    ax.legend(frameon=False, fontsize=8)
    return fig


def robustness_figure(
    comparison: pd.DataFrame, labels: tuple[str, str] = ("all prompts", "without flagged")
) -> plt.Figure:
    """Significant units per attribute in two searchlights, and how much of the first's top-N the
    second keeps. ``comparison``: output of :func:`emolib.rsa.compare_searchlights`."""
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 3.8), gridspec_kw={"width_ratios": [2, 1]})
    y = np.arange(len(comparison))
    axes[0].barh(y - 0.2, comparison["significant_a"], height=0.4, label=labels[0], color="#2e4057")
    axes[0].barh(y + 0.2, comparison["significant_b"], height=0.4, label=labels[1], color="#edae49")
    axes[0].set_yticks(y, comparison.index)
    axes[0].invert_yaxis()
    axes[0].set_xlabel("significant units")
    axes[0].legend(frameon=False, fontsize=8)
    axes[1].barh(y, comparison["top_n_overlap"], color="#00798c")
    axes[1].set_yticks(y, [])
    axes[1].invert_yaxis()
    axes[1].set_xlim(0, 1)
    axes[1].set_xlabel("share of the top-N kept")
    _color_labels(axes[0])
    return fig


def criteria_map_figure(result: SearchlightResult, alpha: float = 0.01, fwer_alpha: float = 0.05) -> plt.Figure:
    """The significant units of each attribute under the paper's q (< ``alpha``), the permutation FDR
    (< ``alpha``) and the max-statistic FWER (< ``fwer_alpha``): one map per criterion, the union of the
    attributes' units on x (sorted by attribute, then rank), coloured by rank. Needs a permutation null."""
    if result.permutation is None:
        raise ValueError("criteria_map_figure needs a searchlight with a permutation null (permutations=P)")
    criteria = [("paper", alpha, "the paper's q"), ("perm_fdr", alpha, "permutation FDR"),
                ("fwer", fwer_alpha, "permutation FWER")]
    fig, axes = plt.subplots(len(criteria), 1, figsize=(WIDTH, 2.2 * len(criteria)))
    for ax, (name, level, title) in zip(axes, criteria):
        significant = result.with_correction(name, level).significant
        order = [u for a in result.attributes
                 for u in significant.index[significant[a]][np.argsort(result.rank.loc[significant[a], a].to_numpy(),
                                                                     kind="stable")]]
        units = list(dict.fromkeys(order))
        ax.set_yticks(range(len(result.attributes)), result.attributes, fontsize=6.5)
        _color_labels(ax)
        ax.set_xticks([])
        if units:
            ranks = result.rank.loc[units].to_numpy().T  # [attributes, units]
            image = np.where(significant.loc[units].to_numpy().T, ranks, np.nan)
            shown = ax.imshow(image, aspect="auto", interpolation="nearest", cmap="magma_r", vmin=1,
                              vmax=np.nanmax(image))
            fig.colorbar(shown, ax=ax, label="rank by tau", fraction=0.03)
        else:
            ax.imshow(np.full((len(result.attributes), 1), np.nan), aspect="auto")
        ax.set_title(f"{title} < {level:g}: {len(units):,} units", fontsize=9)
    return fig


def false_positive_figure(rates: pd.DataFrame) -> plt.Figure:
    """Rejection rates of the paper's test and of the permutation test on random RDMs (one panel per
    dimensionality of the simulated points), with Wilson 95 % intervals; dashed: the nominal alpha.
    ``rates``: :func:`emolib.rsa.permutation.false_positive_rates`."""
    dims = sorted(rates["dims"].unique())
    fig, axes = plt.subplots(1, len(dims), figsize=(WIDTH, 3.2), sharey=True, squeeze=False)
    colours = {"paper": "#d1495b", "permutation": "#2e4057"}
    for ax, dim in zip(axes[0], dims):
        part = rates[rates["dims"] == dim]
        alphas = sorted(part["alpha"].unique())
        x = np.arange(len(alphas))
        for offset, test in ((-0.15, "paper"), (0.15, "permutation")):
            rows = part[part["test"] == test].set_index("alpha").loc[alphas]
            ax.bar(x + offset, rows["rate"], width=0.3, color=colours.get(test, "0.5"), label=f"{test} test")
            ax.errorbar(x + offset, rows["rate"], yerr=[rows["rate"] - rows["ci_low"], rows["ci_high"] - rows["rate"]],
                        fmt="none", color="k", lw=0.8, capsize=2)
        for i, a in enumerate(alphas):
            ax.hlines(a, i - 0.35, i + 0.35, colors="k", linestyles="--", lw=1)
        ax.set_xticks(x, [f"α = {a:g}" for a in alphas], fontsize=7)
        ax.set_title(f"random RDMs of {dim}-D points")
    axes[0, 0].set_ylabel("false-positive rate")
    axes[0, 0].legend(frameon=False, fontsize=8)
    return fig


def reliability_figure(frame: pd.DataFrame, title: str = "") -> plt.Figure:
    """How well unit RDMs replicate across seeds, one curve per source: the share of units (y) whose seed-to-seed
    Spearman agreement is at most x (left) and the reliability of the mean over the seeds averaged (right).

    Args:
        frame: :func:`emolib.paper.geometry.reliability_frame` (``source, r_pair, reliability``).
    """
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 2.8), sharey=True)
    for source, part in frame.groupby("source", sort=False):
        measurable = part["r_pair"].notna().any()  # one seed: nothing to agree with; named, not silently dropped
        label = source if measurable else f"{source}: one seed, not measurable"
        for ax, column in zip(axes, ("r_pair", "reliability")):
            values = np.sort(part[column].dropna().to_numpy())
            ax.plot(values, np.arange(1, len(values) + 1) / max(len(values), 1), label=label, lw=1.4)
    for ax, xlabel in zip(axes, ("two seeds agree (Spearman)", "reliability of the seed mean")):
        ax.axvline(0, color="#999999", lw=0.6)
        ax.set_xlabel(xlabel)
        ax.set_xlim(-0.3, 1.0)
    axes[0].set_ylabel("share of units")
    axes[1].legend(fontsize=7, frameon=False, loc="lower right")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def baselines_figure(table: pd.DataFrame, highlight: str = "similarity") -> plt.Figure:
    """Model-free baselines and model RDMs against the human similarity RDM on one scale, with its noise ceiling.

    Args:
        table: ``what, tau`` rows (baselines and model results) and ``ceiling_low, ceiling_high`` on any row.
    """
    fig, ax = plt.subplots(figsize=(WIDTH, 0.32 * len(table) + 1.0))
    y = np.arange(len(table))
    ax.barh(y, table["tau"], color=["#8d96a3" if kind == "baseline" else "#00798c" for kind in table["kind"]])
    low, high = table["ceiling_low"].dropna(), table["ceiling_high"].dropna()
    if len(low) and len(high):
        ax.axvspan(float(low.iloc[0]), float(high.iloc[0]), color="black", alpha=0.12, lw=0,
                   label=f"noise ceiling of {highlight}")
        ax.legend(fontsize=7, frameon=False, loc="lower right")
    ax.set_yticks(y, table["what"], fontsize=8)
    ax.invert_yaxis()
    ax.axvline(0, color="#999999", lw=0.6)
    ax.set_xlabel(f"Kendall τ-b with each subject's {highlight} RDM (mean over subjects)")
    fig.tight_layout()
    return fig
