"""Figures of the silencing (masking) analysis; inputs are the tables of :mod:`emolib.manipulation`.

Shared by the reproduction from the released RoBERTa files and the per-backbone chapters. One sign convention
(:data:`emolib.wording.MASKING_CONVENTION`): every figure draws the **extra accuracy lost** = random minus
attribute-specific accuracy (positive: the attribute's units matter more) and **rho**, the correlation of that
extra loss with the human weight (positive: attributes humans weigh more lose more); :func:`~emolib.paper.masking_summary.oriented` turns the
tests' tables (``diff`` = attribute minus random, ``mean_rho`` of ``diff``) into those quantities.

Example:
    >>> from emolib import plots, released
    >>> from emolib.paper import manipulation
    >>> masked, unmasked = released.masking_frames()
    >>> fig = plots.masking.accuracy_bars(manipulation.accuracy_summary(masked, unmasked), k=4000)
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import TwoSlopeNorm

from emolib.emotions import ATTRIBUTE_GROUPS, ATTRIBUTES, PAPER_ORDER
from emolib.paper.manipulation import select
from emolib.paper.masking_summary import oriented
from emolib.plots.style import PALETTE

#: Width of every figure (inches): at figure.dpi 110 a 6.3-inch figure fits the 690-px article column unscaled.
WIDTH = 6.3

__all__ = [
    "oriented",  # re-exported from emolib.paper.masking_summary, where the convention lives
    "spread_labels",
    "accuracy_bars",
    "accuracy_vs_k",
    "emotion_drop",
    "attribute_drop",
    "drop_vs_weight",
    "rho_by_k",
    "random_damage",
    "damage_heatmap",
    "agreement_vs_accuracy",
]

CONDITION_COLOURS = {"w/o": "#8d96a3", "random": "#edae49", "attribute-specific": "#00798c"}
BASELINE_COLOURS = {"paper": "#d1495b", "pooled": "#2e4057"}
#: Axis labels of the two signed quantities, used by every figure and table of the masking chapters.
EXTRA_LOSS_LABEL = "extra accuracy lost\n(random − attribute)"
RHO_LABEL = "ρ: correlation of the extra loss\nwith the human weight"


def spread_labels(values, gap: float) -> np.ndarray:
    """Label positions near ``values`` (one axis, data units) at least ``gap`` apart, in the input order.

    Example:
        >>> spread_labels([0.0, 0.01, 0.5], gap=0.1).round(3).tolist()
        [-0.045, 0.055, 0.5]
    """
    values = np.asarray(values, float)
    order = np.argsort(values, kind="stable")
    placed = values[order].copy()
    for _ in range(len(placed)):  # push apart, then re-centre each cluster on its values
        moved = False
        for i in range(1, len(placed)):
            if placed[i] - placed[i - 1] < gap - 1e-12:
                j = i
                while j > 0 and placed[j] - placed[j - 1] < gap - 1e-12:
                    j -= 1
                cluster = np.arange(j, i + 1)
                centre = values[order][cluster].mean()
                placed[cluster] = centre + (np.arange(len(cluster)) - (len(cluster) - 1) / 2) * gap
                moved = True
        if not moved:
            break
    out = np.empty_like(placed)
    out[order] = placed
    return out

_GROUP_OF = {a: g for g, attrs in ATTRIBUTE_GROUPS.items() for a in attrs}


def _emotions(frame: pd.DataFrame) -> list[str]:
    present = set(frame["emotion"])
    return [e for e in PAPER_ORDER if e in present]


def _stars(q: float) -> str:
    return "***" if q < 0.001 else "**" if q < 0.01 else "*" if q < 0.05 else ""


def accuracy_bars(summary: pd.DataFrame, k: int, floor: float = 0.0, chance: float | None = None,
                  chance_label: str = "chance") -> plt.Figure:
    """Accuracy per emotion without a mask, with random masks and with attribute-specific masks of size
    ``k`` (bars = mean, error bars = SE); bars start at ``floor`` (0: every bar visible; the paper's
    figure started at 0.5) and a dashed line marks ``chance`` (the evaluation sample's majority share, computed
    by the caller and drawn at its value; None: no line), labelled ``chance_label (value)``."""
    table = select(summary, k=k)
    emotions = _emotions(table)
    fig, ax = plt.subplots(figsize=(WIDTH, 3.2))
    width = 0.27
    for offset, condition in zip((-width, 0, width), CONDITION_COLOURS):
        rows = table[table["condition"] == condition].set_index("emotion").loc[emotions]
        ax.bar(np.arange(len(emotions)) + offset, rows["mean"] - floor, width, bottom=floor, yerr=rows["se"],
               color=CONDITION_COLOURS[condition], label=condition, error_kw={"lw": 0.6})
    ax.set_xticks(np.arange(len(emotions)), emotions, rotation=60, ha="right", fontsize=7)
    ax.set_xlim(-0.6, len(emotions) - 0.4)
    if chance is not None:
        ax.axhline(chance, color="k", ls="--", lw=0.8, label=f"{chance_label} ({chance:.3f})")
    ax.set_ylim(floor, 1.0)
    ax.set_ylabel("dev accuracy")
    ax.set_title(f"k = {k:,} silenced units", fontsize=9)
    fig.legend(*ax.get_legend_handles_labels(), frameon=False, ncol=4, loc="outside upper center", fontsize=7)
    return fig


def accuracy_vs_k(summary: pd.DataFrame, cols: int = 5) -> plt.Figure:
    """Accuracy against the number of silenced units, one panel per emotion (shared axes, ``cols`` per row)."""
    emotions = _emotions(summary)
    rows = int(np.ceil(len(emotions) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(WIDTH, 1.15 * rows + 0.7), sharex=True, sharey=True,
                             squeeze=False)
    ks = np.sort(summary["k"].unique())
    for ax, emotion in zip(axes.ravel(), emotions):
        for condition, colour in CONDITION_COLOURS.items():
            line = summary[(summary["emotion"] == emotion) & (summary["condition"] == condition)].sort_values("k")
            ax.plot(line["k"], line["mean"], color=colour, marker="o", ms=1.5, lw=0.9, label=condition)
            ax.fill_between(line["k"], line["mean"] - line["se"], line["mean"] + line["se"], color=colour, alpha=0.2)
        ax.set_title(emotion, fontsize=7, pad=2)
        ax.tick_params(labelsize=6.5)
    ticks = [ks.min(), ks.max()] if len(ks) > 1 else list(ks)
    axes[0, 0].set_xticks(ticks, [f"{v:,.0f}" for v in ticks])
    for ax in axes.ravel()[len(emotions):]:
        ax.set_axis_off()
    fig.legend(*axes[0, 0].get_legend_handles_labels(), frameon=False, fontsize=7, ncol=3,
               loc="outside upper center")
    fig.supxlabel("silenced units k", fontsize=8)
    fig.supylabel("dev accuracy", fontsize=8)
    return fig


def _by_baseline(tables: pd.DataFrame | dict[str, pd.DataFrame],
                 baseline: str | None = None) -> dict[str, pd.DataFrame]:
    """A dict baseline -> table; a single table is filed under ``baseline`` (None: unnamed, not "paper")."""
    return dict(tables) if isinstance(tables, dict) else {baseline or "": tables}


def _label(baseline: str) -> str:
    return f"{baseline} baseline" if baseline else "random baseline"


def _at_k(table: pd.DataFrame, k: int) -> pd.DataFrame:
    return oriented(select(table, k=k))


def emotion_drop(by_emotion: pd.DataFrame | dict[str, pd.DataFrame], k: int, stars: bool = True,
                 baseline: str | None = None) -> plt.Figure:
    """Extra accuracy lost (random - attribute-specific, :func:`oriented`) per emotion at ``k`` with 95 % CI,
    and stars (paper q) unless ``stars`` is False (where the chapter does not read the tests).

    ``by_emotion``: the by-(emotion, k) tests (of ``baseline``), or a dict baseline -> tests (bars side by side)."""
    tables = {b: _at_k(t, k) for b, t in _by_baseline(by_emotion, baseline).items()}
    emotions = _emotions(next(iter(tables.values())))
    fig, ax = plt.subplots(figsize=(WIDTH, 3.2))
    x = np.arange(len(emotions))
    width = 0.8 / len(tables)
    for i, (baseline, table) in enumerate(tables.items()):
        table = table.set_index("emotion").loc[emotions]
        xi = x + (i - (len(tables) - 1) / 2) * width
        loss = table["extra_loss"]
        ax.bar(xi, loss, width, color=BASELINE_COLOURS.get(baseline, "#00798c"), label=_label(baseline))
        ax.errorbar(xi, loss, yerr=[loss - table["ci_low"], table["ci_high"] - loss], fmt="none", ecolor="k",
                    lw=0.6)
        for xj, d, high, q in zip(xi, loss, table["ci_high"], table["q"]):
            if stars:
                ax.text(xj, max(d, high, 0) + 0.003, _stars(q), ha="center", va="bottom", fontsize=6.5, rotation=90)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(x, emotions, rotation=60, ha="right", fontsize=7)
    ax.set_xlim(-0.6, len(emotions) - 0.4)
    ax.set_ylabel(EXTRA_LOSS_LABEL)
    ax.set_title(f"k = {k:,}; * q < .05, ** q < .01, *** q < .001 (one-sided paired t, paper q)" if stars
                 else f"k = {k:,} (95 % CIs; the tests are not read here)", fontsize=8)
    if len(tables) > 1:
        fig.legend(*ax.get_legend_handles_labels(), frameon=False, fontsize=7, ncol=2, loc="outside upper center")
    return fig


def attribute_drop(tables: pd.DataFrame | dict[str, pd.DataFrame], k: int, order: list[str]) -> plt.Figure:
    """Extra accuracy lost (random - attribute-specific) per attribute at ``k`` for each baseline (``tables``:
    baseline -> by-attribute tests), attributes in ``order`` (the paper: ascending human weight), 95 % CI,
    stars where paper q < .05."""
    tables = {b: _at_k(t, k) for b, t in _by_baseline(tables).items()}
    fig, ax = plt.subplots(figsize=(5.6, 4.2))
    y = np.arange(len(order))
    offsets = np.linspace(-0.18, 0.18, len(tables)) if len(tables) > 1 else [0.0]
    for offset, (baseline, table) in zip(offsets, tables.items()):
        missing = sorted(set(order) - set(table["attribute"]))
        if missing:
            valid = ", ".join(sorted(table["attribute"]))
            raise ValueError(f"unknown attribute {missing[0]!r}; valid choices: {valid}")
        rows = table.set_index("attribute").loc[order]
        loss = rows["extra_loss"]
        colour = BASELINE_COLOURS.get(baseline, "k")
        ax.errorbar(loss, y + offset, xerr=[loss - rows["ci_low"], rows["ci_high"] - loss], fmt="o", ms=4,
                    color=colour, label=_label(baseline), lw=1)
        for yi, high, q in zip(y + offset, rows["ci_high"], rows["q"]):
            ax.text(high, yi, " " + _stars(q), va="center", fontsize=6.5, color=colour)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(y, order)
    for tick in ax.get_yticklabels():
        tick.set_color(PALETTE.get(_GROUP_OF.get(tick.get_text(), ""), "k"))
    ax.set_xlabel("extra accuracy lost (random − attribute; 95 % CI)")
    ax.set_title(f"k = {k:,}", fontsize=9)
    fig.legend(*ax.get_legend_handles_labels(), frameon=False, fontsize=7, ncol=2, loc="outside upper center")
    return fig


def drop_vs_weight(per_attribute_emotion: pd.DataFrame | dict[str, pd.DataFrame], human_tau: pd.Series,
                   k: int, baseline: str | None = None) -> plt.Figure:
    """Per-emotion regression lines of the extra accuracy lost (random - attribute) on the human attribute
    weight at ``k``, one panel per baseline, stacked with shared axes (``per_attribute_emotion``: the
    by-(attribute, emotion, k) tests or a dict baseline -> tests)."""
    tables = {b: _at_k(t, k) for b, t in _by_baseline(per_attribute_emotion, baseline).items()}
    fig, axes = plt.subplots(len(tables), 1, figsize=(WIDTH, 3.3 * len(tables)), sharex=True, sharey=True,
                             squeeze=False)
    x = human_tau.to_numpy(float)
    grid = np.linspace(x.min(), x.max(), 10)
    cmap = plt.get_cmap("viridis")
    for ax, (baseline, table) in zip(axes[:, 0], tables.items()):
        emotions = _emotions(table)
        slopes = []
        for i, emotion in enumerate(emotions):
            rows = table[table["emotion"] == emotion].set_index("attribute")
            loss = rows["extra_loss"].reindex(human_tau.index).to_numpy()
            ok = ~np.isnan(loss)
            slope, intercept = np.polyfit(x[ok], loss[ok], 1)
            slopes.append(slope)
            ax.plot(grid, intercept + slope * grid, color=cmap(i / max(1, len(emotions) - 1)), lw=0.7, alpha=0.6)
        mean_loss = table.groupby("attribute")["extra_loss"].mean().reindex(human_tau.index)
        ax.scatter(x, mean_loss, color="k", s=12, zorder=3, label="mean over emotions")
        low, high = ax.get_ylim()
        ys = spread_labels(mean_loss.to_numpy(float), gap=0.05 * (high - low))  # about one 6-pt line
        for name, xi, ly in zip(human_tau.index, x, ys):
            ax.text(xi, ly, "  " + name, fontsize=6.5, va="center")
        ax.axhline(0, color="grey", lw=0.6)
        ax.set_ylabel(EXTRA_LOSS_LABEL, fontsize=8)
        ax.set_title(f"{_label(baseline)}, k = {k:,}: {sum(s > 0 for s in slopes)} of {len(slopes)} emotions "
                     "lose more for heavier attributes (slope > 0)", fontsize=8)
    axes[-1, 0].set_xlabel("human attribute weight (Kendall τ)")
    axes[0, 0].legend(frameon=False, fontsize=7, loc="upper left")
    return fig


def rho_by_k(correlations: dict[str, pd.DataFrame], per_emotion_r: dict[str, pd.DataFrame] | None = None) -> plt.Figure:
    """Mean rho (:func:`oriented`: the correlation of the extra accuracy lost with the human weight; positive:
    attributes humans weigh more lose more) per k, with 95 % CI, per baseline; per-emotion values jittered
    behind."""
    fig, ax = plt.subplots(figsize=(WIDTH, 3.3))
    rng = np.random.default_rng(0)
    offsets = np.linspace(-0.15, 0.15, len(correlations))
    ks = np.array([])
    for offset, (baseline, table) in zip(offsets, correlations.items()):
        table = oriented(table)
        colour = BASELINE_COLOURS.get(baseline, "k")
        ks = table["k"].to_numpy()
        x = np.arange(len(ks)) + offset
        if per_emotion_r is not None:
            r = oriented(per_emotion_r[baseline])
            for xi, k in zip(x, ks):
                values = r.loc[r["k"] == k, "r"].to_numpy()
                ax.scatter(xi + rng.uniform(-0.05, 0.05, len(values)), values, s=4, color=colour, alpha=0.25)
        rho = table["rho"]
        ax.errorbar(x, rho, yerr=[rho - table["ci_low"], table["ci_high"] - rho],
                    fmt="o-", color=colour, label=f"{_label(baseline)} (mean ρ, 95 % CI)", lw=1.2, ms=4)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(np.arange(len(ks)), [f"{v:,.0f}" for v in ks])
    ax.set_xlabel("silenced units k")
    ax.set_ylabel(RHO_LABEL)
    fig.legend(*ax.get_legend_handles_labels(), frameon=False, fontsize=7, ncol=2, loc="outside upper center")
    return fig


def random_damage(damage: pd.DataFrame) -> plt.Figure:
    """Mean accuracy drop caused by each random mask against k: one dot per draw (draws at different k are
    independent, so no line joins them) and the median draw of each k."""
    fig, ax = plt.subplots(figsize=(WIDTH, 3.3))
    rng = np.random.default_rng(0)
    ks = np.sort(damage["k"].unique())
    spread = 0.015 * (ks.max() - ks.min()) if len(ks) > 1 else 0.0
    ax.scatter(damage["k"] + rng.uniform(-spread, spread, len(damage)), damage["drop"], s=10, color="#edae49",
               alpha=0.8, lw=0, label="one random mask (draws at different k are independent)")
    median = damage.groupby("k")["drop"].median()
    ax.plot(median.index, median.to_numpy(), color="k", lw=1, marker="_", ms=10, label="median mask of each k")
    ax.set_xticks(ks, [f"{v:,.0f}" for v in ks], fontsize=7)
    ax.set_xlabel("silenced units k")
    ax.set_ylabel("accuracy lost (no mask − mask),\nmean over prompts")
    fig.legend(*ax.get_legend_handles_labels(), frameon=False, fontsize=7, ncol=2, loc="outside upper center")
    return fig


def damage_heatmap(damage: pd.DataFrame, value: str = "relative") -> plt.Figure:
    """Heatmap of the damage of each random mask (rows: draw label, columns: k); ``value`` is
    ``"relative"`` (drop / median drop at that k) or ``"drop"`` (mean accuracy drop)."""
    valid = ("relative", "drop")
    if value not in valid:
        raise ValueError(f"unknown value {value!r}; valid choices: {', '.join(valid)}")
    grid = damage.pivot_table(index="attribute", columns="k", values=value, aggfunc="mean")
    if grid.empty or not np.isfinite(grid.to_numpy(float)).any():  # e.g. no random mask changed any accuracy
        fig, ax = plt.subplots(figsize=(5, 1.2))
        ax.axis("off")
        ax.text(0.5, 0.5, "no random mask changed the accuracy (the relative damage is undefined)", ha="center",
                va="center", fontsize=9)
        return fig
    grid = grid.loc[[a for a in ATTRIBUTES if a in grid.index] + [a for a in grid.index if a not in ATTRIBUTES]]
    fig, ax = plt.subplots(figsize=(min(WIDTH, 0.5 * grid.shape[1] + 2.6), 0.3 * grid.shape[0] + 1.2))
    values = grid.to_numpy(float)  # [draws, ks]
    if value == "relative":  # white = a typical draw (1x the median), red = more damaging (red-blue: CVD-safe)
        norm = TwoSlopeNorm(vcenter=1.0, vmin=min(0.0, np.nanmin(values)), vmax=max(2.0, np.nanmax(values)))
        image = ax.imshow(values, cmap="RdBu_r", norm=norm, aspect="auto")
    else:
        image = ax.imshow(values, cmap="magma_r", aspect="auto")
    for (i, j), v in np.ndenumerate(values):
        shade = image.norm(v)
        ax.text(j, i, f"{v:.1f}" if value == "relative" else f"{v:.2f}", ha="center", va="center", fontsize=6.5,
                color="white" if (shade > 0.8 or (value == "relative" and shade < 0.2)) else "k")
    ax.set_xticks(np.arange(grid.shape[1]), [f"{v / 1000:g}" for v in grid.columns], fontsize=7)
    ax.set_yticks(np.arange(grid.shape[0]), grid.index, fontsize=7)
    ax.set_xlabel("silenced units k (thousands)")
    ax.set_ylabel("random draw (label)")
    fig.colorbar(image, ax=ax, label="drop / median drop at k" if value == "relative" else "mean accuracy drop")
    return fig


def agreement_vs_accuracy(agreement: pd.DataFrame, accuracy: pd.Series, column: str = "kappa") -> plt.Figure:
    """GoEmotions annotation agreement (``column``) against mean prompt accuracy per emotion (labels spread
    apart so that none overlaps another)."""
    joined = agreement[[column]].join(accuracy.rename("accuracy"), how="inner")
    fig, ax = plt.subplots(figsize=(WIDTH, 4.4))
    ax.scatter(joined[column], joined["accuracy"], color="#2e4057", s=14, zorder=3)
    low, high = ax.get_ylim()
    ys = spread_labels(joined["accuracy"].to_numpy(float), gap=0.032 * (high - low))  # about one 6-pt line
    for (name, row), ly in zip(joined.iterrows(), ys):
        ax.text(row[column], ly, "  " + str(name), fontsize=6.5, va="center")
    slope, intercept = np.polyfit(joined[column], joined["accuracy"], 1)
    grid = np.linspace(joined[column].min(), joined[column].max(), 10)
    ax.plot(grid, intercept + slope * grid, color="grey", lw=1)
    r = np.corrcoef(joined[column], joined["accuracy"])[0, 1]
    ax.set_xlabel(f"GoEmotions annotation agreement ({column})")
    ax.set_ylabel("mean prompt accuracy (no mask)")
    ax.set_title(f"Pearson r = {r:.2f} over {len(joined)} emotions", fontsize=9)
    ax.margins(x=0.12)
    return fig
