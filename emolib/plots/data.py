"""Figures of the intro and the data chapter: the pipeline diagram, label counts, task sizes.

Example:
    >>> from emolib import plots
    >>> fig = plots.data.pipeline_figure()
    >>> len(fig.axes)
    1
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from emolib.plots.style import PALETTE

__all__ = ["pipeline_figure", "label_counts_figure", "task_size_figure"]


_STAGES = [
    # (x, y, width, text, kind)
    (0.09, 0.80, 0.16, "GoEmotions:\n27 binary tasks", "human"),
    (0.29, 0.80, 0.16, "soft prompt per\nemotion x seed\non a frozen LM", "model"),
    (0.49, 0.80, 0.16, "FFN unit\nactivations at\nthe read-out", "model"),
    (0.69, 0.80, 0.16, "searchlight RSA:\nunit x attribute", "analysis"),
    (0.90, 0.80, 0.17, "silence top-k units:\naccuracy drop vs\nhuman weight", "analysis"),
    (0.09, 0.45, 0.16, "human ratings:\n14 attributes,\nsimilarity", "human"),
    (0.49, 0.45, 0.28, "attribute RDMs,\nsimilarity RDM,\nhuman attribute weights", "analysis"),
    (0.49, 0.10, 0.50, "valence & arousal probes, emotion vectors,\nsteering (causal LM)", "model"),
]
_ARROWS = [(0, 1), (1, 2), (2, 3), (3, 4), (5, 6), (6, 3), (6, 4), (5, 7)]


def pipeline_figure() -> plt.Figure:
    """The emobook pipeline as a box-and-arrow diagram (data in green, model stages in blue)."""
    fig, ax = plt.subplots(figsize=(9.5, 4.2))
    ax.set_axis_off()
    ax.set_xlim(-0.01, 1.0)
    ax.set_ylim(-0.03, 0.95)
    h = 0.2
    boxes = []
    for x, y, w, text, kind in _STAGES:
        box = FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.008", fc=PALETTE[kind], ec="none")
        ax.add_patch(box)
        boxes.append(box)
        ax.text(x, y, text, ha="center", va="center", color="white", fontsize=8, weight="bold")
    for a, b in _ARROWS:
        (xa, ya), (xb, yb) = _STAGES[a][:2], _STAGES[b][:2]
        ax.add_patch(FancyArrowPatch((xa, ya), (xb, yb), patchA=boxes[a], patchB=boxes[b], arrowstyle="-|>",
                                     mutation_scale=12, color="#444444", lw=1.0, shrinkA=2, shrinkB=2))
    handles = [plt.Rectangle((0, 0), 1, 1, fc=PALETTE[k]) for k in ("human", "model", "analysis")]
    ax.legend(handles, ["data", "model stage", "analysis"], loc="lower right", frameon=False, fontsize=8)
    return fig


def label_counts_figure(counts: pd.DataFrame) -> plt.Figure:
    """Horizontal bars of label counts per emotion (rows) for each split (columns of ``counts``)."""
    fig, ax = plt.subplots(figsize=(7, 6))
    order = counts.sum(axis=1).sort_values().index
    counts.loc[order].plot.barh(ax=ax, width=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("comments carrying the label (log scale)")
    ax.set_ylabel("")
    ax.legend(title="split", frameon=False)
    return fig


def task_size_figure(sizes: pd.DataFrame) -> plt.Figure:
    """Task size per emotion for each split of the paper protocol (2 x positives), log scale."""
    fig, ax = plt.subplots(figsize=(7, 3.2))
    sizes.plot.bar(ax=ax, width=0.8)
    ax.set_yscale("log")
    ax.set_ylabel("examples per task (log)")
    ax.set_xlabel("")
    ax.legend(title="split", frameon=False, ncol=3)
    return fig
