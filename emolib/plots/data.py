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

__all__ = ["SPLIT_COLOURS", "pipeline_figure", "label_counts_figure", "task_size_figure"]

#: Colour-blind-safe colours of the three splits (Okabe-Ito blue, orange, reddish purple).
SPLIT_COLOURS = {"train": "#0072B2", "dev": "#E69F00", "test": "#CC79A7"}


_STAGES = [
    # (x, y, width, text, kind)
    (0.09, 0.80, 0.17, "GoEmotions:\n27 binary\ntasks", "human"),
    (0.29, 0.80, 0.17, "soft prompt\nper emotion\nx seed on a\nfrozen LM", "model"),
    (0.49, 0.80, 0.17, "FFN unit\nactivations\nat the\nread-out", "model"),
    (0.69, 0.80, 0.17, "searchlight RSA:\nunit x\nattribute", "analysis"),
    (0.90, 0.80, 0.18, "silence top-k\nunits: accuracy\ndrop vs\nhuman weight", "analysis"),
    (0.09, 0.45, 0.16, "human ratings:\n14 attributes,\nsimilarity", "human"),
    (0.49, 0.45, 0.28, "attribute RDMs,\nsimilarity RDM,\nhuman attribute weights", "analysis"),
    (0.49, 0.10, 0.56, "valence & arousal probes,\nemotion vectors, steering (causal LM)", "model"),
]
_ARROWS = [(0, 1), (1, 2), (2, 3), (3, 4), (5, 6), (6, 3), (6, 4), (5, 7)]


def pipeline_figure() -> plt.Figure:
    """The emobook pipeline as a box-and-arrow diagram (data in green, model stages in blue)."""
    fig, ax = plt.subplots(figsize=(6.1, 4.4))
    ax.set_axis_off()
    ax.set_xlim(-0.01, 1.0)
    ax.set_ylim(-0.03, 0.95)
    h = 0.24
    boxes = []
    for x, y, w, text, kind in _STAGES:
        box = FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.008", fc=PALETTE[kind], ec="none")
        ax.add_patch(box)
        boxes.append(box)
        ax.text(x, y, text, ha="center", va="center", color="white", fontsize=7.5, weight="bold", linespacing=1.1)
    for a, b in _ARROWS:
        (xa, ya), (xb, yb) = _STAGES[a][:2], _STAGES[b][:2]
        ax.add_patch(FancyArrowPatch((xa, ya), (xb, yb), patchA=boxes[a], patchB=boxes[b], arrowstyle="-|>",
                                     mutation_scale=12, color="#444444", lw=1.0, shrinkA=2, shrinkB=2))
    handles = [plt.Rectangle((0, 0), 1, 1, fc=PALETTE[k]) for k in ("human", "model", "analysis")]
    ax.legend(handles, ["data", "model stage", "analysis"], loc="lower right", frameon=False, fontsize=8,
              bbox_to_anchor=(1.0, -0.04))
    return fig


def label_counts_figure(counts: pd.DataFrame) -> plt.Figure:
    """Horizontal bars of label counts per emotion (rows) for each split (columns of ``counts``)."""
    fig, ax = plt.subplots(figsize=(6.1, 6.6))
    order = counts.sum(axis=1).sort_values().index
    counts.loc[order].plot.barh(ax=ax, width=0.8, color=_colours(counts))
    ax.set_xscale("log")
    ax.set_xlabel("comments carrying the label (log scale)")
    ax.set_ylabel("")
    ax.get_legend().remove()  # above the axes, not over the bars
    fig.legend(*ax.get_legend_handles_labels(), title="split", frameon=False, loc="outside upper center",
               ncol=len(counts.columns))
    return fig


def task_size_figure(sizes: pd.DataFrame) -> plt.Figure:
    """Task size per emotion for each split of the paper protocol (2 x positives), log scale."""
    fig, ax = plt.subplots(figsize=(6.1, 3.6))
    sizes.plot.bar(ax=ax, width=0.8, color=_colours(sizes))
    ax.set_yscale("log")
    ax.set_ylabel("examples per task (log)")
    ax.set_xlabel("")
    ax.get_legend().remove()  # above the axes, not over the bars
    fig.legend(*ax.get_legend_handles_labels(), title="split", frameon=False, loc="outside upper center",
               ncol=len(sizes.columns))
    return fig


def _colours(frame: pd.DataFrame) -> list[str]:
    others = iter(["#009E73", "#56B4E9", "#D55E00"])
    return [SPLIT_COLOURS.get(c) or next(others) for c in frame.columns]
