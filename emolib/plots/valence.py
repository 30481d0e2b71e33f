"""Figures of the valence/arousal probes; inputs are the tables of :mod:`emolib.probes` / :mod:`emolib.valence`.

Example:
    >>> import pandas as pd
    >>> from emolib import plots
    >>> table = pd.DataFrame({"scale": "valence", "experiment": "E1", "variant": "centred", "features": "value",
    ...                       "layer": [0, 1], "accuracy": [0.6, 0.8], "ci_low": [0.5, 0.7], "ci_high": [0.7, 0.9]})
    >>> fig = plots.valence.accuracy_by_layer(table, "valence", "value")
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from emolib.plots.style import layer_axis

__all__ = ["VARIANT_COLOURS", "SCALE_COLOURS", "accuracy_by_layer", "features_by_layer", "confound_bars"]

#: One colour per probe variant (faithful = Emo_LLM's protocol; the rest the rigorous one and its baselines),
#: from the colour-blind-safe Okabe-Ito palette.
VARIANT_COLOURS = {"faithful": "#D55E00", "faithful-knn": "#E69F00", "grouped": "#CC79A7", "centred": "#0072B2",
                   "random-label": "#999999", "oracle": "#000000"}  # fmt: skip
#: Valence and arousal lines (blue / vermillion).
SCALE_COLOURS = {"valence": "#0072B2", "arousal": "#D55E00"}
FEATURE_STYLES = {"value": "-", "residual": "--"}


def _select(summary: pd.DataFrame, scale: str) -> pd.DataFrame:
    table = summary[summary["scale"] == scale]
    if table.empty:
        choices = ", ".join(sorted(summary["scale"].unique()))
        raise ValueError(f"no results for scale {scale!r}; valid choices: {choices}")
    return table


def _band(ax: plt.Axes, rows: pd.DataFrame, colour: str, label: str, style: str = "-") -> None:
    x = rows["layer"].astype(int).to_numpy() + 1  # the book shows layers 1-based
    ax.plot(x, rows["accuracy"], color=colour, lw=1.3, ls=style, label=label)
    if rows["ci_low"].notna().any():
        ax.fill_between(x, rows["ci_low"], rows["ci_high"], color=colour, alpha=0.18, lw=0)


def accuracy_by_layer(summary: pd.DataFrame, scale: str, features: str = "residual",
                      variants: Sequence[str] = tuple(VARIANT_COLOURS)) -> plt.Figure:
    """Accuracy per layer (1-based) for each experiment (panels E1/E2/E3, shared axes) and probe variant (lines,
    95 % CI bands); three panels take a 2 x 2 grid whose fourth cell holds the legend.

    The original's all-layer probes (``layer == "all"``) are drawn as horizontal lines; dotted: chance.
    """
    table = _select(summary, scale)
    experiments = [e for e in ("E1", "E2", "E3") if e in set(table["experiment"])]
    grid = (2, 2) if len(experiments) == 3 else (1, len(experiments))
    fig, axes = plt.subplots(*grid, figsize=(6.1, 5.4 if grid[0] == 2 else 3.2), sharex=True, sharey=True,
                             squeeze=False)
    panels = list(axes.ravel())
    for ax, experiment in zip(panels, experiments):
        rows = table[table["experiment"] == experiment]
        for variant in variants:
            part = rows[rows["variant"] == variant]
            per_layer = part[(part["layer"].astype(str) != "all") & (part["features"] == features)]
            if len(per_layer):
                _band(ax, per_layer.assign(layer=per_layer["layer"].astype(int)).sort_values("layer"),
                      VARIANT_COLOURS[variant], variant)
            for _, row in part[part["layer"].astype(str) == "all"].iterrows():
                ax.axhline(row["accuracy"], color=VARIANT_COLOURS[variant], lw=1, ls="-.",
                           label=f"{variant} (all layers, value)")
        ax.axhline(0.5, color="black", lw=0.7, ls=":")
        ax.set_title(f"{scale} {experiment}")
        layer_axis(ax)
        ax.xaxis.set_tick_params(labelbottom=True)
        ax.set_ylabel(f"accuracy ({features})")
    panels[0].set_ylim(0.3, 1.02)
    handles, labels = panels[0].get_legend_handles_labels()
    if len(panels) > len(experiments):  # the spare cell holds the legend
        spare = panels[len(experiments)]
        spare.set_axis_off()
        spare.legend(handles, labels, loc="center", frameon=False, fontsize=8, title="probe variant")
    else:
        fig.legend(handles, labels, loc="outside lower center", ncol=3, frameon=False, fontsize=8)
    return fig


def features_by_layer(summary: pd.DataFrame, variant: str = "centred", experiment: str = "E1") -> plt.Figure:
    """Value against residual-stream features per layer (1-based), one line per scale and feature (95 % CI bands)."""
    rows = summary[(summary["variant"] == variant) & (summary["experiment"] == experiment)
                   & (summary["layer"].astype(str) != "all")]
    if rows.empty:
        raise ValueError(f"no per-layer results for variant {variant!r}, experiment {experiment!r}")
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    for (scale, features), part in rows.groupby(["scale", "features"], sort=False):
        _band(ax, part.assign(layer=part["layer"].astype(int)).sort_values("layer"), SCALE_COLOURS.get(scale, "grey"),
              f"{scale}, {features}", FEATURE_STYLES.get(features, "-"))
    ax.axhline(0.5, color="black", lw=0.7, ls=":")
    layer_axis(ax)
    ax.set_ylabel(f"{experiment} accuracy ({variant})")
    fig.legend(frameon=False, fontsize=8, loc="outside right center")
    return fig


def confound_bars(crosstab: pd.DataFrame) -> plt.Figure:
    """The arousal adjectives by arousal list, stacked by their valence label (``none``: not a valence word)."""
    colours = {"negative": "#D55E00", "positive": "#0072B2", "none": "#c9ced6"}  # no red against green
    fig, ax = plt.subplots(figsize=(5.0, 2.2))
    left = np.zeros(len(crosstab))
    for column in [c for c in ("negative", "positive", "none") if c in crosstab.columns]:
        values = crosstab[column].to_numpy()
        ax.barh(crosstab.index.astype(str), values, left=left, color=colours[column], label=f"valence: {column}")
        for y, (l, v) in enumerate(zip(left, values)):
            if v:
                ax.text(l + v / 2, y, str(int(v)), ha="center", va="center", fontsize=8,
                        color="white" if column != "none" else "black")
        left += values
    ax.set_xlabel("arousal adjectives")
    ax.set_ylabel("arousal list")
    fig.legend(frameon=False, fontsize=8, loc="outside right center")
    return fig
