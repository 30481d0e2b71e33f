"""Tests of the searchlight figures: each builds from a small result and shows what it claims."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from emolib import emotions, rsa
from emolib.plots import neurons as plots_neurons  # noqa: E402


@pytest.fixture(scope="module")
def result() -> rsa.SearchlightResult:
    rng = np.random.default_rng(0)
    target = pd.DataFrame({"arousal": rng.random(351), "valence": rng.random(351), "control": rng.random(351)})
    units = rng.random((351, 24))
    units[:, 3] = target["arousal"] + 0.05 * rng.random(351)
    units[:, 10] = target["valence"]
    units[:, 17] = target["valence"] + 0.01 * rng.random(351)
    return rsa.searchlight(units, target, units_per_layer=8)


def test_top_rank_order_follows_attribute_then_rank(result):
    order = plots_neurons.top_rank_order(result, n=2)
    rank = result.rank
    first = rank.index[rank["arousal"] <= 2][np.argsort(rank.loc[rank["arousal"] <= 2, "arousal"].to_numpy())]
    assert list(order[: len(first)]) == list(first)
    assert order[0] == 3 and len(set(order)) == len(order)
    assert set(order) == set(rank.index[(rank <= 2).any(axis=1)])


def test_figures_build(result):
    figures = [
        plots_neurons.top_rank_map_figure(result, n=3),
        plots_neurons.significant_per_layer_figure(result),
        plots_neurons.significant_tau_figure(result),
        plots_neurons.unit_rdm_figure(np.arange(351.0), np.arange(351.0)[::-1], emotions.PAPER_ORDER,
                                      ("unit", "human")),
    ]
    assert len(figures[1].axes) == 4  # 3 attribute panels + 1 blank cell of the 4-wide grid
    ticks = figures[1].axes[0].get_yticks()
    assert list(ticks) == [1, 2, 3] and all(float(t).is_integer() for t in ticks)  # integer layers from 1
    tau = figures[2].axes[0]
    assert len(figures[2].axes) == 1 + 1  # one labelled panel + colour bar
    assert [t.get_text() for t in tau.get_yticklabels()] == list(result.attributes)  # every row labelled
    assert [t.get_text() for t in tau.get_xticklabels()] == ["1", "2", "3"]  # layers from 1, integers
    assert len(figures[3].axes) == 3  # two RDMs + their colour bar
    image = figures[0].axes[0].images[0].get_array()
    assert image.shape[0] == 3 and np.nanmax(image) <= 3
    table = pd.DataFrame({"metric": "cosine", "rdm": ["layer 0", "layer 1", "all"] * 2,
                          "target": ["similarity"] * 3 + ["valence"] * 3, "r": [0.1, 0.2, 0.15, 0.3, 0.2, 0.25]})
    fig = plots_neurons.whole_model_figure(table)
    assert [line.get_label() for line in fig.axes[0].lines[:2]] == ["similarity", "valence"]
    prompts = rsa.prompt_statistics(np.random.default_rng(1).normal(size=(27, 2, 50)), emotions.PAPER_ORDER, (1, 2))
    fig = plots_neurons.prompt_outliers_figure(prompts, [("joy", 2)])
    assert [t.get_text() for t in fig.axes[0].texts] == ["joy-2"]
    comparison = rsa.compare_searchlights(result, result, n=2)
    assert len(plots_neurons.robustness_figure(comparison).axes) == 2
    for figure in [*figures, fig, plots_neurons.whole_model_figure(table), plots_neurons.robustness_figure(comparison)]:
        figure.canvas.draw()
        width = figure.get_size_inches()[0]
        sizes = [t.get_fontsize() for t in figure.findobj(plt.Text) if t.get_visible() and t.get_text().strip()]
        assert width <= 6.3 + 1e-9 and min(sizes) * 110 / 72 >= 9.0  # readable in the 690-px column
    plt.close("all")


def test_layer_ticks_are_integers_from_one_ending_at_the_last_layer():
    for n in (1, 4, 12, 18, 24, 36):
        ticks = plots_neurons.layer_ticks(n)
        assert ticks[0] == 1 and ticks[-1] == n and all(isinstance(t, int) for t in ticks)
        assert ticks == sorted(set(ticks)) and len(ticks) <= 8


def test_reliability_and_baselines_figures():
    import pandas as pd

    from emolib.plots import neurons

    frame = pd.DataFrame({"source": ["a"] * 5 + ["b"] * 5, "r_pair": np.linspace(-0.1, 0.3, 10),
                          "reliability": np.linspace(-0.2, 0.8, 10)})
    fig = neurons.reliability_figure(frame)
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) >= 2
    table = pd.DataFrame({"what": ["baseline: -PMI", "best unit"], "kind": ["baseline", "model"], "tau": [0.39, 0.1],
                          "ceiling_low": 0.5, "ceiling_high": 0.6})
    fig = neurons.baselines_figure(table)
    assert len(fig.axes[0].patches) >= 2


def test_a_one_seed_source_is_named_in_the_reliability_legend_not_dropped():
    """With one seed a backbone's curves are empty; without its name the figure would be the released RoBERTa's alone
    (the same image on two pages)."""
    import numpy as np
    import pandas as pd

    from emolib.plots import neurons

    frame = pd.DataFrame({"source": ["released"] * 3 + ["trained prompts"] * 3,
                          "r_pair": [0.1, 0.2, 0.3] + [np.nan] * 3, "reliability": [0.1, 0.2, 0.3] + [np.nan] * 3})
    labels = [t.get_text() for t in neurons.reliability_figure(frame).axes[1].get_legend().get_texts()]
    assert labels == ["released", "trained prompts: one seed, not measurable"]


def test_the_reliability_figure_carries_its_title_only_when_given():
    import pandas as pd

    from emolib.plots import neurons

    frame = pd.DataFrame({"source": ["a"] * 3, "r_pair": [0.1, 0.2, 0.3], "reliability": [0.1, 0.2, 0.3]})
    assert neurons.reliability_figure(frame)._suptitle is None
    assert neurons.reliability_figure(frame, title="gemma, 3 seeds")._suptitle.get_text() == "gemma, 3 seeds"
