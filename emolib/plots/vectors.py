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

__all__ = ["pc_scatter", "pc_correlation_layers", "rsa_layers", "dose_response_curves"]

_SCALE_COLOURS = {"valence": "#d1495b", "arousal": "#00798c"}


def _check_columns(frame: pd.DataFrame, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks columns {missing}; expected {columns}")


def pc_scatter(scores: pd.DataFrame, human: pd.DataFrame, colour_by: str = "valence", title: str = "") -> plt.Figure:
    """PC1 vs PC2 scores of the 27 emotions, coloured by a human rating, labelled.

    Args:
        scores: :func:`emolib.emotion_vectors.pca_scores` (index ``emotion``, ``PC1``, ``PC2``).
        human: per-emotion human means (index ``emotion``), e.g. :func:`~emolib.emotion_vectors.human_means`.
        colour_by: the column of ``human`` that sets the colour.
    """
    _check_columns(scores, ["PC1", "PC2"], "scores")
    if colour_by not in human.columns:
        raise ValueError(f"unknown colour_by {colour_by!r}; valid choices: {', '.join(human.columns)}")
    colour = human.loc[scores.index, colour_by]
    fig, ax = plt.subplots(figsize=(6.2, 5.0))
    points = ax.scatter(scores["PC1"], scores["PC2"], c=colour, cmap="RdYlGn" if colour_by == "valence" else "viridis",
                        s=36, edgecolor="k", linewidth=0.4)
    for name, row in scores.iterrows():
        ax.annotate(name, (row["PC1"], row["PC2"]), fontsize=7, xytext=(3, 2), textcoords="offset points")
    explained = scores.attrs.get("explained")
    labels = [f"PC{k + 1}" + (f" ({explained[k]:.0%} of variance)" if explained else "") for k in range(2)]
    ax.set(xlabel=labels[0], ylabel=labels[1], title=title)
    ax.axhline(0, color="0.8", lw=0.6, zorder=0)
    ax.axvline(0, color="0.8", lw=0.6, zorder=0)
    fig.colorbar(points, ax=ax, label=f"human {colour_by} (1-9)")
    return fig


def pc_correlation_layers(table: pd.DataFrame, highlight: int | None = None) -> plt.Figure:
    """r of each PC with each human scale per layer, with CI bands (one panel per PC).

    Args:
        table: :func:`emolib.emotion_vectors.pc_correlations` over layers.
        highlight: a layer to mark (the headline layer).
    """
    _check_columns(table, ["layer", "pc", "human_scale", "r", "ci_low", "ci_high"], "table")
    pcs = list(dict.fromkeys(table["pc"]))
    fig, axes = plt.subplots(1, len(pcs), figsize=(4.2 * len(pcs), 3.2), sharey=True, squeeze=False)
    for ax, pc in zip(axes[0], pcs):
        for scale, group in table[table["pc"] == pc].groupby("human_scale", sort=False):
            group = group.sort_values("layer")
            colour = _SCALE_COLOURS.get(scale)
            ax.plot(group["layer"], group["r"], marker="o", ms=3, color=colour, label=scale)
            ax.fill_between(group["layer"], group["ci_low"], group["ci_high"], color=colour, alpha=0.15, lw=0)
        ax.axhline(0, color="0.5", lw=0.6)
        if highlight is not None:
            ax.axvline(highlight, color="0.3", ls=":", lw=1)
        ax.set(title=pc, xlabel="layer", ylim=(-1, 1))
    axes[0, 0].set_ylabel("Pearson r with human rating")
    axes[0, -1].legend(frameon=False, fontsize=8)
    return fig


def rsa_layers(rsa: pd.DataFrame, highlight: int | None = None,
               ceiling: tuple[float, float] | None = None) -> plt.Figure:
    """RSA (Kendall τ-b; column ``r``) of the emotion-vector RDM with human similarity per layer, with the
    permutation null band and (``ceiling``) the similarity RDM's (lower, upper) noise ceiling."""
    _check_columns(rsa, ["layer", "r", "null_low", "null_high"], "rsa")
    rsa = rsa.sort_values("layer")
    fig, ax = plt.subplots(figsize=(5.0, 3.0))
    ax.fill_between(rsa["layer"], rsa["null_low"], rsa["null_high"], color="0.6", alpha=0.3, lw=0,
                    label="permutation null (95%)")
    if ceiling is not None:
        ax.axhspan(*ceiling, color="black", alpha=0.12, lw=0, label="human noise ceiling")
    ax.plot(rsa["layer"], rsa["r"], marker="o", ms=3, color="#2e4057", label="emotion vectors (subjects' mean RDM)")
    if ceiling is not None and "r_subjects" in rsa:  # the ceiling's scale: each subject's RDM, averaged
        ax.plot(rsa["layer"], rsa["r_subjects"], marker="o", ms=3, color="#d1495b",
                label="emotion vectors (each subject, averaged: the ceiling's scale)")
    if highlight is not None:
        ax.axvline(highlight, color="0.3", ls=":", lw=1)
    method = str(rsa["method"].iloc[0]) if "method" in rsa else "kendall"  # the chapters' RSA: Kendall tau-b
    name = {"kendall": "Kendall τ-b", "spearman": "Spearman ρ", "pearson": "Pearson r"}.get(method, method)
    ax.set(xlabel="layer", ylabel=f"{name} with human similarity RDM")
    ax.legend(frameon=False, fontsize=8)
    return fig


def dose_response_curves(table: pd.DataFrame) -> plt.Figure:
    """Read-out shift against alpha per direction (CI bands), random directions as a grey band."""
    _check_columns(table, ["direction", "layer", "alpha", "effect", "ci_low", "ci_high"], "table")
    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
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
           title=f"steering at layer {', '.join(map(str, layers))}")
    ax.legend(frameon=False, fontsize=8)
    return fig
