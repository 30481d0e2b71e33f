"""Figures of prompt tuning: accuracy per emotion beside the released RoBERTa prompts, training curves.

Every function returns a matplotlib Figure.

Example:
    >>> import pandas as pd
    >>> acc = pd.DataFrame({"emotion": ["joy", "joy"], "seed": [1, 1], "split": ["dev", "test"],
    ...                     "accuracy": [0.8, 0.7]})
    >>> fig = accuracy_by_emotion(acc)
    >>> len(fig.axes)
    1
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from emolib.emotions import PAPER_ORDER

__all__ = ["accuracy_by_emotion", "training_curves", "accuracy_vs_released"]

_COLOURS = {"dev": "#2e4057", "test": "#00798c", "released": "#d1495b"}


def _summary(accuracy: pd.DataFrame) -> pd.DataFrame:
    """Mean and SD over seeds per (emotion, split) from a tidy ``emotion, seed, split, accuracy`` frame."""
    missing = {"emotion", "split", "accuracy"} - set(accuracy.columns)
    if missing:
        raise ValueError(f"accuracy frame lacks column(s) {', '.join(sorted(missing))}")
    table = accuracy.groupby(["emotion", "split"])["accuracy"].agg(["mean", "std"]).fillna(0.0)
    return table


def accuracy_by_emotion(accuracy: pd.DataFrame, released: pd.DataFrame | None = None,
                        chance: float | None = None) -> plt.Figure:
    """Dots (mean) and bars (± SD over seeds) per emotion: dev and test, plus the released RoBERTa dev accuracy.

    Args:
        accuracy: ``emotion, seed, split, accuracy`` (e.g. ``PromptStore.accuracy``).
        released: ``emotion, seed, accuracy`` of the original's prompts (``released.prompt_accuracy()``).
        chance: the dev samples' mean majority share, drawn and labelled at its value (None: no line).
    """
    table = _summary(accuracy)
    emotions = [e for e in PAPER_ORDER if e in table.index.get_level_values(0)]
    if not emotions:
        raise ValueError("no known emotion in the accuracy frame")
    splits = set(table.index.get_level_values(1))
    series = [(split, table.xs(split, level="split")) for split in ("dev", "test") if split in splits]
    if released is not None:
        rel = released.assign(split="released")
        series.append(("released RoBERTa (dev)", _summary(rel).xs("released", level="split")))
    fig, ax = plt.subplots(figsize=(6.3, max(4.0, 0.22 * len(emotions) + 1.2)))
    y = np.arange(len(emotions))
    offsets = np.linspace(-0.25, 0.25, len(series)) if len(series) > 1 else [0.0]
    for (label, frame), offset in zip(series, offsets):
        frame = frame.reindex(emotions)
        colour = _COLOURS["released"] if label.startswith("released") else _COLOURS.get(label, "#444444")
        ax.errorbar(frame["mean"], y + offset, xerr=frame["std"], fmt="o", ms=3.5, lw=0.8, capsize=0,
                    color=colour, label=label)
    if chance is not None:
        ax.axvline(chance, color="#999999", lw=0.8, ls="--", label=f"chance ({chance:.3f})")
    ax.set_yticks(y, emotions, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("accuracy (mean ± SD over seeds)")
    fig.legend(*ax.get_legend_handles_labels(), frameon=False, loc="outside upper center", ncol=2, fontsize=8)
    return fig


def training_curves(history: pd.DataFrame) -> plt.Figure:
    """Per-epoch dev accuracy and train loss: one thin line per prompt, the mean in bold."""
    missing = {"emotion", "seed", "epoch", "split", "accuracy", "loss"} - set(history.columns)
    if missing:
        raise ValueError(f"history frame lacks column(s) {', '.join(sorted(missing))}")
    fig, axes = plt.subplots(1, 2, figsize=(6.3, 3.0))
    panels = [("dev", "accuracy", "dev accuracy"), ("train", "loss", "train loss (mean over the epoch)")]
    for ax, (split, column, label) in zip(axes, panels):
        part = history[history["split"] == split]
        wide = part.pivot_table(index="epoch", columns=["emotion", "seed"], values=column)
        if wide.empty:
            ax.set_axis_off()
            continue
        ax.plot(wide.index, wide.to_numpy(), color="#8d96a3", lw=0.6, alpha=0.6)
        ax.plot(wide.index, wide.mean(axis=1), color=_COLOURS["dev"], lw=2.2, marker="o", label="mean")
        ax.set_xticks(wide.index)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.legend(frameon=False, fontsize=8)
    return fig


def accuracy_vs_released(accuracy: pd.DataFrame, released: pd.DataFrame, split: str = "dev") -> plt.Figure:
    """Per-emotion mean accuracy of our prompts (``split``) against the released RoBERTa mean (dev); the title
    gives the Spearman r of exactly what is plotted."""
    from scipy import stats

    ours = _summary(accuracy)
    if split not in ours.index.get_level_values(1):
        valid = ", ".join(sorted(set(ours.index.get_level_values(1))))
        raise ValueError(f"no {split!r} accuracies; valid choices: {valid}")
    ours = ours.xs(split, level="split")["mean"]
    theirs = released.groupby("emotion")["accuracy"].mean()
    common = [e for e in PAPER_ORDER if e in ours.index and e in theirs.index]
    from emolib.plots.masking import spread_labels

    fig, ax = plt.subplots(figsize=(6.3, 4.6))
    ax.scatter(theirs[common], ours[common], s=14, color=_COLOURS[split if split in _COLOURS else "dev"], zorder=3)
    low, high = ax.get_ylim()
    ys = spread_labels(ours[common].to_numpy(float), gap=0.032 * (high - low))  # about one 6-pt line
    for emotion, ly in zip(common, ys):
        ax.text(theirs[emotion], ly, "  " + emotion, fontsize=6.5, va="center")
    r = stats.spearmanr(ours[common], theirs[common]).statistic if len(common) > 2 else float("nan")
    ax.set_title(f"Spearman r = {r:.2f} over {len(common)} emotions ({split} against released dev)", fontsize=9)
    lo = min(0.4, float(np.nanmin(ours[common])) - 0.02)
    ax.plot([lo, 1], [lo, 1], color="#999999", lw=0.8, ls="--")
    ax.set_xlabel("released RoBERTa prompts: dev accuracy")
    ax.set_ylabel(f"this backbone: {split} accuracy")
    return fig
