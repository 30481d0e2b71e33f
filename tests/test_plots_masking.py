import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from emolib import released
from emolib.emotions import ATTRIBUTES
from emolib.paper import manipulation
from emolib.plots import masking as plots_masking


@pytest.fixture(scope="module")
def tables():
    masked, unmasked = released.masking_frames()
    tau = pd.Series(range(14), index=list(ATTRIBUTES), dtype=float) / 20
    return manipulation.analyse(masked, unmasked, tau), tau


def _both(t, name):
    return t.table(name)


def test_accuracy_bars_draw_three_bars_per_emotion_and_reject_missing_k(tables):
    t, _ = tables
    fig = plots_masking.accuracy_bars(t.summary, 4000)
    assert len(fig.axes[0].patches) == 3 * 27
    with pytest.raises(ValueError, match="unknown k 123; valid choices: 1500, 2000"):
        plots_masking.accuracy_bars(t.summary, 123)
    fig = plots_masking.accuracy_vs_k(t.summary)
    assert sum(ax.get_visible() and ax.axison for ax in fig.axes) == 27
    plt.close("all")


def test_drop_figures_have_one_mark_per_attribute_or_emotion_and_baseline(tables):
    t, tau = tables
    assert len(plots_masking.emotion_drop(t.baselines["paper"].by_emotion, 4000).axes[0].patches) == 27
    assert len(plots_masking.emotion_drop(_both(t, "by_emotion"), 4000).axes[0].patches) == 2 * 27
    fig = plots_masking.attribute_drop(_both(t, "by_attribute"), 4000, list(ATTRIBUTES))
    assert [tick.get_text() for tick in fig.axes[0].get_yticklabels()] == list(ATTRIBUTES)
    with pytest.raises(ValueError, match="unknown attribute 'happy'"):
        plots_masking.attribute_drop(t.baselines["paper"].by_attribute, 4000, ["happy"])
    fig = plots_masking.drop_vs_weight(_both(t, "by_attribute_emotion"), tau, 4000)
    assert len(fig.axes) == 2 and all(len(ax.lines) == 27 + 1 for ax in fig.axes)  # 27 fits + the zero line
    fig = plots_masking.rho_by_k(_both(t, "correlation"), _both(t, "emotion_r"))
    assert len(fig.axes[0].get_xticklabels()) == 7
    plt.close("all")


def test_random_damage_figures_show_every_draw(tables):
    t, _ = tables
    ax = plots_masking.random_damage(t.damage).axes[0]
    assert len(ax.collections[0].get_offsets()) == len(t.damage)  # one dot per draw and k
    assert len(ax.lines) == 1  # only the median; no line joins independent draws
    fig = plots_masking.damage_heatmap(t.damage)
    image = fig.axes[0].images[0].get_array()
    assert image.shape == (14, 9)  # draws x k (the random masks have k = 500 ... 6000)
    assert image.max() == pytest.approx(t.damage["relative"].max())
    with pytest.raises(ValueError, match="unknown value 'ratio'; valid choices: relative, drop"):
        plots_masking.damage_heatmap(t.damage, value="ratio")
    plt.close("all")


def _smallest_text_px(fig) -> float:
    """Smallest rendered text height (px) of ``fig`` in the 690-px article column at figure.dpi 110."""
    fig.canvas.draw()
    width = fig.get_size_inches()[0]
    scale = min(1.0, 690 / (width * 110))
    sizes = [t.get_fontsize() for t in fig.findobj(plt.Text) if t.get_visible() and t.get_text().strip()]
    return min(sizes) * 110 / 72 * scale


def test_figures_draw_the_tables_sign_and_fit_the_column(tables):
    from emolib import findings

    t, tau = tables
    by_emotion = t.table("by_emotion")
    fig = plots_masking.emotion_drop(by_emotion["pooled"], 4000, baseline="pooled")
    heights = [p.get_height() for p in fig.axes[0].patches]
    shown = findings.masking_tests({"pooled": by_emotion["pooled"]}, 4000, "emotion").set_index("emotion")
    emotions = [label.get_text() for label in fig.axes[0].get_xticklabels()]
    assert [f"{h:+.3f}" for h in heights] == shown.loc[emotions, "extra_loss"].tolist()  # the table's sign
    assert np.mean(heights) > 0  # released RoBERTa: attribute masks cost more than random ones
    correlation = t.table("correlation")
    fig = plots_masking.rho_by_k(correlation)
    drawn = {line.get_color(): line.get_ydata() for line in fig.axes[0].lines if len(line.get_ydata()) == 7}
    pooled = drawn[plots_masking.BASELINE_COLOURS["pooled"]]
    assert np.allclose(pooled, -correlation["pooled"]["mean_rho"].to_numpy())  # rho of the extra loss, not diff
    assert plots_masking.oriented(correlation["pooled"])["rho"].tolist() == pytest.approx(list(pooled))
    assert "ρ" in fig.axes[0].get_ylabel() and "−ρ" not in fig.axes[0].get_ylabel()
    figures = [plots_masking.accuracy_bars(t.summary, 4000, chance=0.516), plots_masking.accuracy_vs_k(t.summary),
               plots_masking.emotion_drop(by_emotion, 4000), fig,
               plots_masking.attribute_drop(t.table("by_attribute"), 4000, list(ATTRIBUTES)),
               plots_masking.drop_vs_weight(t.table("by_attribute_emotion"), tau, 4000),
               plots_masking.random_damage(t.damage), plots_masking.damage_heatmap(t.damage)]
    for figure in figures:
        assert figure.get_size_inches()[0] <= 6.3 + 1e-9
        assert _smallest_text_px(figure) >= 9.0, figure.axes[0].get_title()
    chance = [line for line in figures[0].axes[0].lines if line.get_linestyle() == "--"]
    assert chance[0].get_ydata()[0] == 0.516 and chance[0].get_label() == "chance (0.516)"
    plt.close("all")
