"""Figures of the verdict: the masks as units, and how often the verdict's rule errs at a run's design.

Example:
    >>> import pandas as pd
    >>> table = pd.DataFrame({"condition": ["selective"] * 3 + ["sham"] * 3 + ["random"] * 4,
    ...                       "attribute": ["valence", "arousal", "control"] + ["s0", "s1", "s2"] + ["d"] * 4,
    ...                       "accuracy": [0.60, 0.62, 0.65, 0.64, 0.66, 0.63, 0.65, 0.67, 0.66, 0.64]})
    >>> fig = mask_means(table, unmasked=0.70)
    >>> rates = pd.DataFrame({"claim": ["masks_random"] * 2, "truth": ["no effect", "paper's effect"],
    ...                       "holds": [0.03, 0.4], "does not hold": [0.0, 0.0], "cannot tell": [0.97, 0.6]})
    >>> fig = error_rates(rates)
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

__all__ = ["mask_means", "error_rates"]

_CONDITIONS = {"selective": ("attribute masks", "#00798c"), "sham": ("sham-attribute masks", "#8d96a3"),
               "matched": ("layer-matched random masks", "#edae49"), "random": ("uniform random masks", "#d1495b")}
#: Verdict colours, safe for red-green colour blindness (Okabe-Ito blue and vermilion, grey).
_VERDICT_COLOURS = {"holds": "#0072b2", "does not hold": "#d55e00", "cannot tell": "#b0b0b0"}


def mask_means(table: pd.DataFrame, unmasked: float | None = None, label_attributes: bool = True,
               chance: float | None = None) -> plt.Figure:
    """Each mask's accuracy averaged over the prompts (one dot per mask), by kind of mask, with each kind's mean.

    The verdict's masking tests compare these dots: the masks, not the prompts, are the units. With
    ``label_attributes`` the two lowest and the two highest attribute masks are named.

    Args:
        table: :func:`emolib.paper.mask_inference.mask_table` at one k (``condition, attribute, accuracy``).
        unmasked: the prompts' mean accuracy without a mask (a dashed line).
        chance: the majority share of the same dev samples (a dotted line at its value).
    """
    kinds = [c for c in _CONDITIONS if c in set(table["condition"])]
    fig, ax = plt.subplots(figsize=(6.3, 3.4))
    rng = np.random.default_rng(0)
    for row, kind in enumerate(kinds):
        name, colour = _CONDITIONS[kind]
        values = table[table["condition"] == kind]
        x = values["accuracy"].to_numpy()
        y = row + rng.uniform(-0.18, 0.18, len(x))
        ax.scatter(x, y, s=18, color=colour, alpha=0.8, edgecolor="none")
        ax.plot([x.mean()] * 2, [row - 0.32, row + 0.32], color="black", lw=2)
        if label_attributes and kind == "selective":  # the two lowest and two highest, so that no label overlaps
            ranked = np.argsort(x, kind="stable")
            chosen = sorted(set(ranked[:2]) | set(ranked[-2:]), key=lambda i: x[i])
            for n, i in enumerate(chosen):
                side = 1 if n % 2 == 0 else -1
                ax.annotate(values["attribute"].iloc[i], (x[i], y[i]), (x[i], row + side * 0.42), fontsize=6.5,
                            ha="center", va="bottom" if side > 0 else "top",
                            arrowprops={"arrowstyle": "-", "lw": 0.3, "color": "#999999"})
    if unmasked is not None and np.isfinite(unmasked):
        ax.axvline(unmasked, ls="--", color="grey", lw=1, label=f"no mask ({unmasked:.3f})")
    if chance is not None and np.isfinite(chance):
        ax.axvline(chance, ls=":", color="black", lw=1, label=f"chance ({chance:.3f})")
    if ax.get_legend_handles_labels()[0]:
        fig.legend(*ax.get_legend_handles_labels(), loc="outside upper center", ncol=2, fontsize=7, frameon=False)
    ax.set_yticks(range(len(kinds)), [f"{_CONDITIONS[k][0]} ({(table['condition'] == k).sum()})" for k in kinds])
    ax.set_xlabel("dev accuracy under the mask (mean over prompts)")
    ax.set_ylim(-0.8, len(kinds) - 0.2)
    ax.invert_yaxis()
    return fig


def error_rates(rates: pd.DataFrame) -> plt.Figure:
    """How often each masking verdict says what, simulated under no effect and under the paper's effect.

    Args:
        rates: :func:`emolib.paper.verdict.error_rates` (``claim, truth`` and one column per verdict).
    """
    labels = [f"{c.replace('_', ' vs ').replace('masks vs ', 'masks vs ')}: {t}" for c, t in
              zip(rates["claim"], rates["truth"])]
    fig, ax = plt.subplots(figsize=(6.3, 0.45 * len(rates) + 1.0))
    left = np.zeros(len(rates))
    for verdict, colour in _VERDICT_COLOURS.items():
        share = rates[verdict].to_numpy(dtype=float)
        ax.barh(range(len(rates)), share, left=left, color=colour, label=verdict)
        left += share
    ax.axvline(0.05, color="black", lw=0.8, ls=":")
    ax.set_yticks(range(len(rates)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of simulated runs at this design")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=3, fontsize=8, frameon=False)
    return fig
