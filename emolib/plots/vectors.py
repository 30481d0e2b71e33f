"""Figures of emotion vectors and steering: PC scatter, correlation per layer, RSA per layer, dose-response.

Every function returns a matplotlib Figure.

Example:
    >>> import pandas as pd
    >>> from emolib import plots
    >>> table = pd.DataFrame({"layer": [0, 1], "pc": "PC1", "human_scale": "valence",
    ...                       "r": [0.2, 0.5], "ci_low": [0.0, 0.3], "ci_high": [0.4, 0.7]})
    >>> len(plots.vectors.pc_correlation_layers(table).axes)
    1
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from emolib.plots.style import OKABE_ITO, layer_axis

__all__ = ["pc_scatter", "pc_correlation_layers", "rsa_layers", "dose_response_curves"]

_SCALE_COLOURS = {"valence": "#0072B2", "arousal": "#D55E00"}


def _check_columns(frame: pd.DataFrame, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks columns {missing}; expected {columns}")


def pc_scatter(scores: pd.DataFrame, human: pd.DataFrame, colour_by: str = "valence", title: str = "") -> plt.Figure:
    """PC1 vs PC2 scores of the 27 emotions, coloured by a human rating (valence: red = unpleasant, blue =
    pleasant; other ratings: viridis), labelled.

    Args:
        scores: :func:`emolib.emotion_vectors.pca_scores` (index ``emotion``, ``PC1``, ``PC2``).
        human: per-emotion human means (index ``emotion``), e.g. :func:`~emolib.emotion_vectors.human_means`.
        colour_by: the column of ``human`` that sets the colour.
    """
    _check_columns(scores, ["PC1", "PC2"], "scores")
    if colour_by not in human.columns:
        raise ValueError(f"unknown colour_by {colour_by!r}; valid choices: {', '.join(human.columns)}")
    colour = human.loc[scores.index, colour_by]
    fig, ax = plt.subplots(figsize=(6.0, 5.0))
    points = ax.scatter(scores["PC1"], scores["PC2"], c=colour, cmap="RdBu" if colour_by == "valence" else "viridis",
                        s=36, edgecolor="k", linewidth=0.4)
    for name, row in scores.iterrows():
        ax.annotate(name, (row["PC1"], row["PC2"]), fontsize=7.5, xytext=(3, 2), textcoords="offset points")
    explained = scores.attrs.get("explained")
    labels = [f"PC{k + 1}" + (f" ({explained[k]:.0%} of variance)" if explained else "") for k in range(2)]
    ax.set(xlabel=labels[0], ylabel=labels[1], title=title)
    ax.axhline(0, color="0.8", lw=0.6, zorder=0)
    ax.axvline(0, color="0.8", lw=0.6, zorder=0)
    fig.colorbar(points, ax=ax, label=f"human {colour_by} (1-9)")
    return fig


def pc_correlation_layers(table: pd.DataFrame, highlight: int | None = None) -> plt.Figure:
    """r of each PC with each human scale per layer, with CI bands (one panel per PC, shared axes).

    Args:
        table: :func:`emolib.emotion_vectors.pc_correlations` over layers (0-based ``layer``; drawn 1-based).
        highlight: a layer to mark (the headline layer, 0-based as in ``table``).
    """
    _check_columns(table, ["layer", "pc", "human_scale", "r", "ci_low", "ci_high"], "table")
    pcs = list(dict.fromkeys(table["pc"]))
    fig, axes = plt.subplots(1, len(pcs), figsize=(min(6.1, 3.05 * len(pcs)), 3.0), sharex=True, sharey=True,
                             squeeze=False)
    for ax, pc in zip(axes[0], pcs):
        for scale, group in table[table["pc"] == pc].groupby("human_scale", sort=False):
            group = group.sort_values("layer")
            colour = _SCALE_COLOURS.get(scale)
            ax.plot(group["layer"] + 1, group["r"], marker="o", ms=3, color=colour, label=scale)
            ax.fill_between(group["layer"] + 1, group["ci_low"], group["ci_high"], color=colour, alpha=0.15, lw=0)
        ax.axhline(0, color="0.5", lw=0.6)
        if highlight is not None:
            ax.axvline(highlight + 1, color="0.3", ls=":", lw=1)
        ax.set(title=pc, ylim=(-1, 1))
        layer_axis(ax)
    axes[0, 0].set_ylabel("Pearson r with human rating")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), frameon=False, loc="outside lower center",
               ncol=len(_SCALE_COLOURS), title="human rating")
    return fig


def rsa_layers(rsa: pd.DataFrame, highlight: int | None = None,
               ceiling: tuple[float, float] | None = None) -> plt.Figure:
    """RSA (Kendall τ-b; column ``r``) of the emotion-vector RDM with human similarity per layer (drawn 1-based),
    with the permutation null (light grey band) and (``ceiling``) the similarity RDM's (lower, upper) noise
    ceiling (dark grey band, at least 0.01 high so that it shows); ``highlight`` is 0-based, as ``rsa``."""
    _check_columns(rsa, ["layer", "r", "null_low", "null_high"], "rsa")
    rsa = rsa.sort_values("layer")
    x = rsa["layer"] + 1
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    ax.fill_between(x, rsa["null_low"], rsa["null_high"], color="0.85", lw=0, label="permutation null (95%)")
    if ceiling is not None:
        low, high = ceiling
        middle, half = (low + high) / 2, max(high - low, 0.01) / 2
        ax.axhspan(middle - half, middle + half, color="0.35", lw=0, label="human noise ceiling")
    ax.plot(x, rsa["r"], marker="o", ms=3, color=OKABE_ITO[0], label="emotion vectors (subjects' mean RDM)")
    if ceiling is not None and "r_subjects" in rsa:  # the ceiling's scale: each subject's RDM, averaged
        ax.plot(x, rsa["r_subjects"], marker="o", ms=3, color=OKABE_ITO[3],
                label="emotion vectors (each subject, averaged:\nthe ceiling's scale)")
    if highlight is not None:
        ax.axvline(highlight + 1, color="0.3", ls=":", lw=1)
    method = str(rsa["method"].iloc[0]) if "method" in rsa else "kendall"  # the chapters' RSA: Kendall tau-b
    name = {"kendall": "Kendall τ-b", "spearman": "Spearman ρ", "pearson": "Pearson r"}.get(method, method)
    ax.set(ylabel=f"{name} with human\nsimilarity RDM")
    layer_axis(ax)
    fig.legend(*ax.get_legend_handles_labels(), frameon=False, loc="outside lower center", ncol=2)
    return fig


def dose_response_curves(table: pd.DataFrame) -> plt.Figure:
    """Read-out shift against alpha per direction (CI bands), random directions as a grey band; the title names
    the steered layer 1-based (``table``'s ``layer`` is 0-based)."""
    _check_columns(table, ["direction", "layer", "alpha", "effect", "ci_low", "ci_high"], "table")
    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    colours = OKABE_ITO
    named = [d for d in dict.fromkeys(table["direction"]) if d != "random"]
    rand = table[table["direction"] == "random"].sort_values("alpha")
    if len(rand):
        ax.fill_between(rand["alpha"], rand["ci_low"], rand["ci_high"], color="0.6", alpha=0.3, lw=0,
                        label="random directions (95% of draws)")
        ax.plot(rand["alpha"], rand["effect"], color="0.4", lw=1, ls="--")
    for k, name in enumerate(named):
        group = table[table["direction"] == name].sort_values("alpha")
        colour = colours[k % len(colours)]
        ax.plot(group["alpha"], group["effect"], marker="o", ms=3, color=colour, label=name)
        ax.fill_between(group["alpha"], group["ci_low"], group["ci_high"], color=colour, alpha=0.15, lw=0)
    ax.axhline(0, color="0.5", lw=0.6)
    layers = sorted(set(table["layer"]))
    ax.set(xlabel="alpha (units of the typical residual norm)", ylabel="shift of log-odds positive vs negative",
           title=f"steering at layer {', '.join(str(int(layer) + 1) for layer in layers)}")
    ax.legend(frameon=False, fontsize=8)
    return fig
