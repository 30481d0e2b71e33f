"""Figures of the human emotion space (chapter "The human emotion space"); each returns a Figure.

Example:
    >>> from emolib import human, plots
    >>> fig = plots.human.attribute_rdms_figure(human.attribute_rdms("released"))
    >>> len(fig.axes)  # 14 RDMs in a 4 x 4 grid; a spare cell holds the colour bar
    16
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from emolib.human.appraisal import ParallelAnalysis
from emolib.emotions import ATTRIBUTE_GROUPS
from emolib.plots.style import DIVERGING, PALETTE, SEQUENTIAL, rdm_heatmap

__all__ = [
    "attribute_rdms_figure", "attribute_scores_figure", "loadings_figure", "parallel_analysis_figure",
    "icc_figure", "similarity_figure", "weights_figure",
]  # fmt: skip

_GROUP_OF = {a: g for g, attrs in ATTRIBUTE_GROUPS.items() for a in attrs}


def attribute_rdms_figure(rdms: pd.DataFrame, labels: list[str] | None = None, ncols: int = 4) -> plt.Figure:
    """The 14 attribute RDMs as 27 x 27 heatmaps (rank-equalised, cividis; dark = similar) in ``ncols`` columns
    that fit the 690-px column, each titled in its group's colour; rows and columns in ``labels``' order (paper
    order, left unlabelled: 27 names do not fit a small panel), and one colour bar in the last free cell."""
    import matplotlib as mpl

    del labels  # the order is the rows' (paper order); kept for callers that pass it
    nrows = -(-len(rdms.columns) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(6.2, 1.62 * nrows + 0.2), constrained_layout=True)
    for ax, name in zip(axes.ravel(), rdms.columns):
        rdm_heatmap(ax, rdms[name].to_numpy(), None, title=name)
        ax.title.set_color(PALETTE.get(_GROUP_OF.get(name, ""), "black"))
        ax.title.set_fontsize(9)
    spare = axes.ravel()[len(rdms.columns):]
    for ax in spare:
        ax.set_axis_off()
    mappable = mpl.cm.ScalarMappable(norm=mpl.colors.Normalize(0, 1), cmap=SEQUENTIAL)
    where = {"cax": spare[0].inset_axes((0.1, 0.45, 0.8, 0.1)), "orientation": "horizontal"} if len(spare) else \
        {"ax": axes, "shrink": 0.6}
    bar = fig.colorbar(mappable, **where)
    bar.set_label("distance rank\n(0 = most similar pair,\n1 = most dissimilar)", fontsize=8)
    return fig


def attribute_scores_figure(scores: pd.DataFrame) -> plt.Figure:
    """Heatmap of the 14 attribute scores per emotion, each min-max rescaled to [0, 1], in three
    panels: Affective / Basic emotions (faces) / Appraisal."""
    rescaled = (scores - scores.min()) / (scores.max() - scores.min())
    widths = [len(attrs) for attrs in ATTRIBUTE_GROUPS.values()]
    fig, axes = plt.subplots(1, 3, figsize=(6.1, 6.4), gridspec_kw={"width_ratios": widths}, sharey=True)
    for ax, (group, attrs) in zip(axes, ATTRIBUTE_GROUPS.items()):
        image = ax.imshow(rescaled[list(attrs)].to_numpy(), cmap=SEQUENTIAL, vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(len(attrs)), attrs, rotation=90)
        ax.set_title(group, color=PALETTE[group], fontsize=9)
    axes[0].set_yticks(range(len(rescaled)), rescaled.index, fontsize=8)
    axes[0].set_ylabel("emotion (paper order)")
    fig.colorbar(image, ax=axes, shrink=0.6, label="score (min-max rescaled)")
    return fig


def loadings_figure(loadings: pd.DataFrame) -> plt.Figure:
    """Rotated appraisal loadings (items x components), items grouped by their strongest component."""
    strongest = loadings.abs().to_numpy().argmax(axis=1)
    peak = loadings.abs().max(axis=1).to_numpy()
    order = np.lexsort((-peak, strongest))
    table = loadings.iloc[order]
    fig, ax = plt.subplots(figsize=(5.2, 8.5))
    image = ax.imshow(table.to_numpy(), cmap=DIVERGING, vmin=-1, vmax=1, aspect="auto")
    for (r, c), value in np.ndenumerate(table.to_numpy()):
        if abs(value) >= 0.3:
            ax.text(c, r, f"{value:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if abs(value) > 0.6 else "black")
    ax.set_xticks(range(table.shape[1]), table.columns, rotation=45, ha="right")
    ax.set_yticks(range(table.shape[0]), table.index, fontsize=7.5)
    fig.colorbar(image, ax=ax, shrink=0.5, label="loading")
    return fig


def parallel_analysis_figure(result: ParallelAnalysis, n_show: int = 15) -> plt.Figure:
    """Scree plot: observed eigenvalues vs the simulated percentile of parallel analysis."""
    ranks = np.arange(1, min(n_show, len(result.observed)) + 1)
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot(ranks, result.observed[: len(ranks)], "o-", color=PALETTE["Appraisal"], label="observed")
    ax.plot(ranks, result.simulated[: len(ranks)], "s--", color=PALETTE["analysis"],
            label=f"simulated ({result.quantile:.0%} of {result.n_sets} sets)")
    ax.axvspan(0.5, result.n_components + 0.5, color=PALETTE["Appraisal"], alpha=0.08)
    ax.set_xlabel("component rank")
    ax.set_ylabel("eigenvalue")
    ax.set_xticks(ranks)
    ax.legend(frameon=False)
    ax.set_title(f"{result.n_components} components retained")
    return fig


def icc_figure(table: pd.DataFrame) -> plt.Figure:
    """ICC per attribute with its interval (columns ``attribute, type, icc, ci_low, ci_high``)."""
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    y = np.arange(len(table))[::-1]
    colours = [PALETTE[_GROUP_OF[a]] for a in table["attribute"]]
    ax.hlines(y, table["ci_low"], table["ci_high"], colors=colours, lw=2)
    ax.scatter(table["icc"], y, c=colours, zorder=3)
    ax.set_yticks(y, [f"{a} ({t})" for a, t in zip(table["attribute"], table["type"])])
    ax.set_xlabel("intraclass correlation")
    ax.set_xlim(min(0.0, float(table["ci_low"].min())) - 0.02, 1.02)
    return fig


def similarity_figure(rdm: np.ndarray, mds: pd.DataFrame, colour: pd.Series | None = None,
                      colour_label: str = "valence", cmap: str = "RdBu") -> plt.Figure:
    """The similarity-judgment RDM (rank-equalised; top) and its 2-D MDS map (bottom), points coloured by
    ``colour`` on a colour-blind-safe diverging map (default: red = low, e.g. unpleasant; blue = high)."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6.0, 10.6), gridspec_kw={"height_ratios": [1, 1]})
    rdm_heatmap(top, rdm, list(mds.index), title="similarity-judgment RDM (rank)", fontsize=8)
    values = None if colour is None else colour.loc[mds.index].to_numpy()
    points = bottom.scatter(mds["dim1"], mds["dim2"], c=values, cmap=cmap, s=30, edgecolor="black", lw=0.4)
    for name, (x, y) in mds.iterrows():
        bottom.annotate(name, (x, y), xytext=(3, 3), textcoords="offset points", fontsize=8)
    bottom.set_xlabel("MDS dimension 1")
    bottom.set_ylabel("MDS dimension 2")
    bottom.set_aspect("equal", adjustable="datalim")
    bottom.set_title(f"metric MDS (stress-1 = {mds.attrs.get('stress', float('nan')):.3f})")
    if values is not None:
        fig.colorbar(points, ax=bottom, shrink=0.6, label=colour_label)
    return fig


def weights_figure(weights: pd.DataFrame, threshold: float = 0.001) -> plt.Figure:
    """Human attribute weights: Kendall tau with bootstrap intervals, ascending (the paper's order);
    filled markers where the paper's q < ``threshold``."""
    table = weights.sort_values("tau").reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    y = np.arange(len(table))
    colours = [PALETTE.get(_GROUP_OF.get(a, ""), "grey") for a in table["attribute"]]
    ax.hlines(y, table["ci_low"], table["ci_high"], colors=colours, lw=2)
    filled = table["q"] < threshold
    ax.scatter(table["tau"][filled], y[filled], c=np.array(colours)[filled], zorder=3, label=f"q < {threshold:g}")
    ax.scatter(table["tau"][~filled], y[~filled], facecolors="white", edgecolors=np.array(colours)[~filled],
               zorder=3, label=f"q >= {threshold:g}")
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(y, table["attribute"])
    ax.set_xlabel("Kendall tau-b with the similarity-judgment RDM")
    ax.legend(frameon=False, loc="lower right")
    return fig

