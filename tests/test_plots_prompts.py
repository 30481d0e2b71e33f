"""Tests of emolib.plots_prompts."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from emolib.plots import prompts as plots_prompts
from emolib import released


def _accuracy() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = [(e, s, split, rng.uniform(0.5, 1)) for e in ("joy", "grief", "anger") for s in (1, 3)
            for split in ("dev", "test")]
    return pd.DataFrame(rows, columns=["emotion", "seed", "split", "accuracy"])


def _history() -> pd.DataFrame:
    rows = [(e, 1, ep, split, 0.5 + 0.1 * ep if split == "dev" else np.nan, 0.7 - 0.1 * ep)
            for e in ("joy", "grief") for ep in (1, 2) for split in ("train", "dev")]
    return pd.DataFrame(rows, columns=["emotion", "seed", "epoch", "split", "accuracy", "loss"])


def test_accuracy_by_emotion_draws_one_series_per_split_and_released():
    fig = plots_prompts.accuracy_by_emotion(_accuracy(), released.prompt_accuracy(), chance=0.517)
    ax = fig.axes[0]
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert sorted(labels) == sorted(["dev", "test", "released RoBERTa (dev)", "chance (0.517)"])  # chance at its value
    assert [line.get_xdata()[0] for line in ax.lines if line.get_linestyle() == "--"] == [0.517]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["joy", "anger", "grief"]  # paper order
    fig = plots_prompts.accuracy_by_emotion(_accuracy())
    assert len(fig.legends[0].get_texts()) == 2
    with pytest.raises(ValueError, match="split"):
        plots_prompts.accuracy_by_emotion(_accuracy().drop(columns="split"))
    plt.close("all")


def test_training_curves_one_line_per_prompt_plus_mean():
    fig = plots_prompts.training_curves(_history())
    assert len(fig.axes) == 2
    assert len(fig.axes[0].lines) == 2 + 1 and len(fig.axes[1].lines) == 2 + 1
    np.testing.assert_allclose(fig.axes[0].lines[-1].get_ydata(), [0.6, 0.7])
    with pytest.raises(ValueError, match="loss"):
        plots_prompts.training_curves(_history().drop(columns="loss"))
    plt.close("all")


def test_accuracy_vs_released_quotes_the_rank_correlation_of_what_it_plots():
    from scipy import stats

    acc, ref = _accuracy(), released.prompt_accuracy()
    fig = plots_prompts.accuracy_vs_released(acc, ref, split="dev")
    ours = acc[acc["split"] == "dev"].groupby("emotion")["accuracy"].mean()
    theirs = ref.groupby("emotion")["accuracy"].mean().reindex(ours.index)
    r = stats.spearmanr(ours, theirs).statistic
    assert fig.axes[0].get_title().startswith(f"Spearman r = {r:.2f}") and "dev against released dev" in \
        fig.axes[0].get_title()
    fig = plots_prompts.accuracy_vs_released(_accuracy(), released.prompt_accuracy(), split="test")
    offsets = fig.axes[0].collections[0].get_offsets()
    assert len(offsets) == 3
    rel = released.prompt_accuracy().groupby("emotion")["accuracy"].mean()
    assert offsets[0][0] == pytest.approx(rel["joy"])
    with pytest.raises(ValueError, match="no 'train' accuracies"):
        plots_prompts.accuracy_vs_released(_accuracy(), released.prompt_accuracy(), split="train")
    plt.close("all")
