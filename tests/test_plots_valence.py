import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from emolib.plots import valence as plots_valence
from emolib.emollm import analysis


def _summary():
    rows = []
    for scale in ("valence", "arousal"):
        for experiment in ("E1", "E2", "E3"):
            for variant in ("faithful", "grouped", "centred", "random-label", "oracle"):
                for features in ("value", "residual"):
                    for layer in range(3):
                        a = 0.5 + 0.1 * layer
                        rows.append((scale, experiment, variant, features, str(layer), a, a - 0.05, a + 0.05))
            rows.append((scale, experiment, "faithful", "value", "all", 0.9, 0.85, 0.95))
            rows.append((scale, experiment, "faithful-knn", "value", "all", 0.8, np.nan, np.nan))
    return pd.DataFrame(rows, columns=["scale", "experiment", "variant", "features", "layer", "accuracy", "ci_low", "ci_high"])


def test_accuracy_by_layer_draws_one_line_per_variant_and_the_all_layer_probes():
    fig = plots_valence.accuracy_by_layer(_summary(), "valence", "residual")
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["valence E1", "valence E2", "valence E3"]
    labels = [line.get_label() for line in fig.axes[0].lines]
    assert {"faithful", "grouped", "centred", "random-label", "oracle"} <= set(labels)
    assert "faithful (all layers, value)" in labels and "faithful-knn (all layers, value)" in labels
    assert list(fig.axes[0].lines[0].get_xdata()) == [1, 2, 3]  # layers shown 1-based
    assert panels[0].get_shared_y_axes().joined(panels[0], panels[2])  # panels compared on one scale
    assert fig.axes[3].get_legend() is not None  # the spare cell holds the legend
    with pytest.raises(ValueError, match="valid choices: arousal, valence"):
        plots_valence.accuracy_by_layer(_summary(), "dominance")
    plt.close("all")


def test_features_by_layer_has_a_line_per_scale_and_feature():
    fig = plots_valence.features_by_layer(_summary())
    assert len([line for line in fig.axes[0].lines if not line.get_label().startswith("_")]) == 4
    with pytest.raises(ValueError, match="no per-layer results"):
        plots_valence.features_by_layer(_summary(), variant="faithful-knn")
    plt.close("all")


def test_confound_bars_stack_the_crosstab():
    crosstab, _ = analysis.arousal_confound("head")
    fig = plots_valence.confound_bars(crosstab)
    assert sum(p.get_width() for p in fig.axes[0].patches) == crosstab.to_numpy().sum() == 108
    plt.close("all")


def _ticks_are_integers(ax):
    ax.figure.canvas.draw()
    low, high = ax.get_xlim()
    ticks = [t for t in ax.get_xticks() if low <= t <= high]
    return bool(ticks) and all(float(t).is_integer() for t in ticks)


@pytest.mark.parametrize("name", ["accuracy", "features", "confound"])
def test_valence_figures_are_readable_in_the_690_px_column(name):
    from emolib.plots.style import MIN_TEXT_PX, displayed_text_px, set_style

    set_style()
    summary = _summary()
    summary["layer"] = summary["layer"].replace({str(k): str(k * 3) for k in range(3)})  # layers 0, 3, 6
    fig = {"accuracy": lambda: plots_valence.accuracy_by_layer(summary, "valence", "residual"),
           "features": lambda: plots_valence.features_by_layer(summary),
           "confound": lambda: plots_valence.confound_bars(analysis.arousal_confound("head")[0])}[name]()
    assert displayed_text_px(fig) >= MIN_TEXT_PX
    if name != "confound":
        assert _ticks_are_integers(fig.axes[0])  # no 2.5-layer ticks
        assert min(fig.axes[0].lines[0].get_xdata()) == 1
    plt.close("all")


def test_valence_colours_avoid_red_against_green():
    assert "#66a182" not in plots_valence.VARIANT_COLOURS.values()
