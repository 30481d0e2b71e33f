"""Tests of emolib.plots_vectors: each figure builds from the analysis tables and rejects bad input."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from emolib.emollm import vectors as E  # noqa: E402
from emolib.plots import vectors as P  # noqa: E402
from emolib.emotions import EMOTIONS  # noqa: E402


@pytest.fixture(scope="module")
def ev():
    rng = np.random.default_rng(0)
    return E.EmotionVectors(rng.normal(size=(3, 27, 8)).astype(np.float32), np.ones(3), np.ones((3, 8), np.float32),
                            np.ones(27, int), "fake")


def test_pc_scatter(ev):
    scores = E.pca_scores(ev, 1)
    fig = P.pc_scatter(scores, E.human_means())
    ax = fig.axes[0]
    assert len(ax.texts) == 27 and {t.get_text() for t in ax.texts} == set(EMOTIONS)
    assert "variance" in ax.get_xlabel()
    plt.close(fig)
    with pytest.raises(ValueError, match="colour_by"):
        P.pc_scatter(scores, E.human_means(), colour_by="dominance")
    with pytest.raises(ValueError, match="PC2"):
        P.pc_scatter(scores[["PC1"]], E.human_means())


def test_layer_figures(ev):
    table = E.pc_correlations(ev, n_boot=50)
    fig = P.pc_correlation_layers(table, highlight=1)
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) >= 2
    plt.close(fig)
    rsa = E.vector_rsa(ev, n_perm=20)
    fig = P.rsa_layers(rsa, highlight=1)
    assert len(fig.axes[0].lines[0].get_xdata()) == 3
    plt.close(fig)
    with pytest.raises(ValueError, match="ci_low"):
        P.pc_correlation_layers(table.drop(columns="ci_low"))


def test_dose_response_curves():
    table = pd.DataFrame({"direction": ["a"] * 3 + ["random"] * 3, "layer": 1, "alpha": [-1, 0, 1] * 2,
                          "effect": [-1, 0, 1, 0, 0, 0.1], "ci_low": [-2, 0, 0, -1, 0, -1],
                          "ci_high": [0, 0, 2, 1, 0, 1]})
    fig = P.dose_response_curves(table)
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert "a" in labels and any("random" in label for label in labels)
    plt.close(fig)
    with pytest.raises(ValueError, match="effect"):
        P.dose_response_curves(table.drop(columns="effect"))
