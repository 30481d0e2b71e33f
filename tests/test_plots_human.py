import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from emolib.plots import human as plots_human
from emolib.plots.style import MIN_TEXT_PX, displayed_text_px, png_size
from emolib.human.appraisal import ParallelAnalysis
from emolib.emotions import ATTRIBUTES, PAPER_ORDER


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_attribute_rdm_panels_are_titled_by_attribute():
    rdms = pd.DataFrame(np.random.default_rng(0).random((351, 14)), columns=list(ATTRIBUTES))
    fig = plots_human.attribute_rdms_figure(rdms)
    assert [ax.get_title() for ax in fig.axes[:14]] == list(ATTRIBUTES)
    assert fig.axes[3].images[0].get_array().shape == (27, 27)
    bars = [child for ax in fig.axes for child in ax.child_axes]
    assert len(bars) == 1 and "distance rank" in bars[0].get_xlabel()  # one colour bar for all 14 panels
    assert png_size(fig)[0] <= 700  # fits the 690-px column, not a 1,768-px strip shown at 39 %


def test_scores_heatmap_rescales_each_attribute_within_three_groups():
    scores = pd.DataFrame(np.arange(27 * 14, dtype=float).reshape(27, 14), index=list(PAPER_ORDER),
                          columns=list(ATTRIBUTES))
    fig = plots_human.attribute_scores_figure(scores)
    panels = [ax for ax in fig.axes if ax.images]
    assert [ax.images[0].get_array().shape for ax in panels] == [(27, 2), (27, 6), (27, 6)]
    values = panels[1].images[0].get_array()
    assert values.min() == 0 and values.max() == 1


def test_loadings_heatmap_groups_items_by_their_strongest_component():
    loadings = pd.DataFrame([[0.1, 0.8], [0.9, 0.0], [0.2, -0.5]], index=["a", "b", "c"], columns=["x", "y"])
    fig = plots_human.loadings_figure(loadings)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["b", "a", "c"]


def test_weight_icc_parallel_and_similarity_figures_draw_one_mark_per_row():
    table = pd.DataFrame({"attribute": list(ATTRIBUTES), "type": "ICC2k", "icc": np.linspace(0.5, 0.9, 14),
                          "ci_low": 0.4, "ci_high": 0.95, "tau": np.linspace(-0.1, 0.6, 14), "q": 0.0})
    table["ci_low"], table["ci_high"] = table["tau"] - 0.05, table["tau"] + 0.05
    fig = plots_human.weights_figure(table)
    assert sum(len(c.get_offsets()) for c in fig.axes[0].collections if hasattr(c, "get_offsets")) >= 14
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == list(table.sort_values("tau")["attribute"])
    table["icc"], table["ci_low"], table["ci_high"] = 0.8, 0.7, 0.9
    assert len(plots_human.icc_figure(table).axes[0].get_yticklabels()) == 14
    pa = ParallelAnalysis(np.array([3.0, 1.5, 0.5]), np.array([1.2, 1.1, 1.0]), 2, 20, 0.95)
    assert plots_human.parallel_analysis_figure(pa).axes[0].get_title() == "2 components retained"
    mds = pd.DataFrame(np.random.default_rng(1).random((27, 2)), index=list(PAPER_ORDER), columns=["dim1", "dim2"])
    fig = plots_human.similarity_figure(np.arange(351.0), mds, pd.Series(np.arange(27.0), index=list(PAPER_ORDER)))
    assert len(fig.axes[1].texts) == 27


def _every_figure():
    rng = np.random.default_rng(2)
    table = pd.DataFrame({"attribute": list(ATTRIBUTES), "type": "ICC2k", "icc": np.linspace(0.5, 0.9, 14),
                          "ci_low": 0.4, "ci_high": 0.95, "tau": np.linspace(-0.1, 0.6, 14), "q": 0.0})
    mds = pd.DataFrame(rng.random((27, 2)), index=list(PAPER_ORDER), columns=["dim1", "dim2"])
    loadings = pd.DataFrame(rng.uniform(-1, 1, (38, 6)), index=[f"appraisal item {k}" for k in range(38)],
                            columns=[f"component {k}" for k in range(6)])
    return {
        "rdms": lambda: plots_human.attribute_rdms_figure(
            pd.DataFrame(rng.random((351, 14)), columns=list(ATTRIBUTES))),
        "scores": lambda: plots_human.attribute_scores_figure(
            pd.DataFrame(rng.random((27, 14)), index=list(PAPER_ORDER), columns=list(ATTRIBUTES))),
        "loadings": lambda: plots_human.loadings_figure(loadings),
        "parallel": lambda: plots_human.parallel_analysis_figure(
            ParallelAnalysis(np.linspace(5, 0.2, 38), np.linspace(1.5, 0.5, 38), 6, 100, 0.95)),
        "icc": lambda: plots_human.icc_figure(table),
        "weights": lambda: plots_human.weights_figure(table),
        "similarity": lambda: plots_human.similarity_figure(np.arange(351.0), mds,
                                                            pd.Series(np.arange(27.0), index=list(PAPER_ORDER))),
    }


@pytest.mark.parametrize("name", list(_every_figure()))
def test_every_figure_is_readable_in_the_690_px_column(name):
    from emolib.plots import set_style

    set_style()
    assert displayed_text_px(_every_figure()[name]()) >= MIN_TEXT_PX


def test_similarity_map_uses_no_red_green_colour_map():
    mds = pd.DataFrame(np.random.default_rng(1).random((27, 2)), index=list(PAPER_ORDER), columns=["dim1", "dim2"])
    fig = plots_human.similarity_figure(np.arange(351.0), mds, pd.Series(np.arange(27.0), index=list(PAPER_ORDER)))
    names = {c.get_cmap().name for ax in fig.axes for c in ax.collections + ax.images if c.get_array() is not None}
    assert names and not names & {"RdYlGn", "RdYlGn_r", "PiYG", "PRGn", "RdGy"}
