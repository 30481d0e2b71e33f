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
    assert list(fig.axes[0].lines[0].get_xdata()) == [1, 2, 3]  # layers shown 1-based
    assert fig.axes[0].get_shared_y_axes().joined(fig.axes[0], fig.axes[1])
    assert [line.get_xdata()[0] for line in fig.axes[0].lines if line.get_linestyle() == ":"] == [2]
    plt.close(fig)
    rsa = E.vector_rsa(ev, n_perm=20)
    fig = P.rsa_layers(rsa, highlight=1, ceiling=(0.5, 0.5))
    assert list(fig.axes[0].lines[0].get_xdata()) == [1, 2, 3]
    band = [p for p in fig.axes[0].patches if p.get_label() == "human noise ceiling"][0]
    assert np.mean(matplotlib.colors.to_rgb(band.get_facecolor())) < 0.5  # the caption's "dark band" is dark
    assert band.get_window_extent().height > 2  # and shows even when the bounds coincide
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
    assert fig.axes[0].get_title() == "steering at layer 2"  # 1-based
    plt.close(fig)
    with pytest.raises(ValueError, match="effect"):
        P.dose_response_curves(table.drop(columns="effect"))


def _figures(ev):
    table = pd.DataFrame({"direction": ["valence axis"] * 3 + ["random"] * 3, "layer": 12, "alpha": [-1, 0, 1] * 2,
                          "effect": [-1, 0, 1, 0, 0, 0.1], "ci_low": [-2, 0, 0, -1, 0, -1],
                          "ci_high": [0, 0, 2, 1, 0, 1]})
    return {"scatter": lambda: P.pc_scatter(E.pca_scores(ev, 1), E.human_means(), title="layer 2"),
            "pcs": lambda: P.pc_correlation_layers(E.pc_correlations(ev, n_boot=20), highlight=1),
            "rsa": lambda: P.rsa_layers(E.vector_rsa(ev, n_perm=20), highlight=1, ceiling=(0.4, 0.45)),
            "dose": lambda: P.dose_response_curves(table)}


@pytest.mark.parametrize("name", ["scatter", "pcs", "rsa", "dose"])
def test_vector_figures_are_readable_in_the_690_px_column(ev, name):
    from emolib.plots.style import MIN_TEXT_PX, displayed_text_px, set_style

    set_style()
    fig = _figures(ev)[name]()
    assert displayed_text_px(fig) >= MIN_TEXT_PX
    if name in ("pcs", "rsa"):
        fig.canvas.draw()
        low, high = fig.axes[0].get_xlim()
        ticks = [t for t in fig.axes[0].get_xticks() if low <= t <= high]
        assert ticks and all(float(t).is_integer() for t in ticks)
    if name == "scatter":
        assert fig.axes[0].collections[0].get_cmap().name == "RdBu"
    plt.close("all")
