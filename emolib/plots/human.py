"""Figures of the human emotion space (chapter "The human emotion space"); each returns a Figure.

Example:
    >>> from emolib import human, plots
    >>> fig = plots.human.attribute_rdms_figure(human.attribute_rdms("released"))
    >>> len(fig.axes)  # 14 RDMs and one colour bar
    15
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from emolib.human.appraisal import ParallelAnalysis
from emolib.emotions import ATTRIBUTE_GROUPS, PAPER_ORDER
from emolib.plots.style import PALETTE, rdm_heatmap

__all__ = [
    "attribute_rdms_figure", "attribute_scores_figure", "loadings_figure", "parallel_analysis_figure",
    "icc_figure", "similarity_figure", "weights_figure",
]  # fmt: skip

_GROUP_OF = {a: g for g, attrs in ATTRIBUTE_GROUPS.items() for a in attrs}


def attribute_rdms_figure(rdms: pd.DataFrame, labels: list[str] | None = None) -> plt.Figure:
    """The 14 attribute RDMs as 27 x 27 heatmaps (rank-equalised, cividis; dark = similar), emotion labels on the
    first column and the last row, and one colour bar (the rank of a pair's distance among the 351)."""
    import matplotlib as mpl

    labels = list(PAPER_ORDER) if labels is None else labels
    fig, axes = plt.subplots(2, 7, figsize=(16, 5.4), constrained_layout=True)
    for k, (ax, name) in enumerate(zip(axes.ravel(), rdms.columns)):
        rdm_heatmap(ax, rdms[name].to_numpy(), labels, title=name)
        ax.title.set_color(PALETTE.get(_GROUP_OF.get(name, ""), "black"))
        ax.title.set_fontsize(11)
        if k % 7:
            ax.set_yticks([])
        else:
            ax.tick_params(axis="y", labelsize=7)
        ax.set_xticks([])  # the same emotions, in the same order, as the rows
    mappable = mpl.cm.ScalarMappable(norm=mpl.colors.Normalize(0, 1), cmap="cividis")
    fig.colorbar(mappable, ax=axes, shrink=0.7, label="distance rank (0 = most similar pair, 1 = most dissimilar)")
    return fig


def attribute_scores_figure(scores: pd.DataFrame) -> plt.Figure:
    """Heatmap of the 14 attribute scores per emotion, each min-max rescaled to [0, 1], in three
    panels: Affective / Basic emotions (faces) / Appraisal."""
    rescaled = (scores - scores.min()) / (scores.max() - scores.min())
    widths = [len(attrs) for attrs in ATTRIBUTE_GROUPS.values()]
    fig, axes = plt.subplots(1, 3, figsize=(7.5, 6.4), gridspec_kw={"width_ratios": widths}, sharey=True)
    for ax, (group, attrs) in zip(axes, ATTRIBUTE_GROUPS.items()):
        image = ax.imshow(rescaled[list(attrs)].to_numpy(), cmap="cividis", vmin=0, vmax=1, aspect="auto")
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
    image = ax.imshow(table.to_numpy(), cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
    for (r, c), value in np.ndenumerate(table.to_numpy()):
        if abs(value) >= 0.3:
            ax.text(c, r, f"{value:.2f}", ha="center", va="center", fontsize=6,
                    color="white" if abs(value) > 0.6 else "black")
    ax.set_xticks(range(table.shape[1]), table.columns, rotation=45, ha="right")
    ax.set_yticks(range(table.shape[0]), table.index, fontsize=7)
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
                      colour_label: str = "valence") -> plt.Figure:
    """The similarity-judgment RDM (rank-equalised) and its 2-D MDS map, points coloured by ``colour``."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5.4), gridspec_kw={"width_ratios": [1, 1.15]})
    rdm_heatmap(left, rdm, list(mds.index), title="similarity-judgment RDM (rank)")
    values = None if colour is None else colour.loc[mds.index].to_numpy()
    points = right.scatter(mds["dim1"], mds["dim2"], c=values, cmap="RdYlGn", s=30, edgecolor="black", lw=0.4)
    for name, (x, y) in mds.iterrows():
        right.annotate(name, (x, y), xytext=(3, 3), textcoords="offset points", fontsize=7)
    right.set_xlabel("MDS dimension 1")
    right.set_ylabel("MDS dimension 2")
    right.set_aspect("equal", adjustable="datalim")
    right.set_title(f"metric MDS (stress-1 = {mds.attrs.get('stress', float('nan')):.3f})")
    if values is not None:
        fig.colorbar(points, ax=right, shrink=0.6, label=colour_label)
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

