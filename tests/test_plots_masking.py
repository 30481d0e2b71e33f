import matplotlib.pyplot as plt
import pytest

from emolib import manipulation, plots_masking
from emolib.emotions import ATTRIBUTES


@pytest.fixture(scope="module")
def tables():
    masked, unmasked = manipulation.released_frames()
    tau = manipulation.pd.Series(range(14), index=ATTRIBUTES, dtype=float) / 20
    return manipulation.analyse(masked, unmasked, tau), tau


def test_accuracy_bars_draw_three_bars_per_emotion_and_reject_missing_k(tables):
    t, _ = tables
    fig = plots_masking.accuracy_bars(t["summary"], 4000)
    assert len(fig.axes[0].patches) == 3 * 27
    with pytest.raises(ValueError, match="no accuracies for k = 123"):
        plots_masking.accuracy_bars(t["summary"], 123)
    plt.close("all")


def test_drop_figures_have_one_mark_per_attribute_or_emotion(tables):
    t, tau = tables
    fig = plots_masking.emotion_drop(t["by_emotion_paper"], 4000)
    assert len(fig.axes[0].patches) == 27
    fig = plots_masking.attribute_drop({b: t[f"by_attribute_{b}"] for b in manipulation.BASELINES}, 4000, list(ATTRIBUTES))
    assert [tick.get_text() for tick in fig.axes[0].get_yticklabels()] == list(ATTRIBUTES)
    fig = plots_masking.drop_vs_weight(t["by_attribute_emotion_paper"], tau, 4000)
    assert len(fig.axes[0].lines) == 27
    fig = plots_masking.rho_by_k({b: t[f"correlation_{b}"] for b in manipulation.BASELINES})
    assert len(fig.axes[0].get_xticklabels()) == 7
    fig = plots_masking.random_damage(t["damage"])
    assert len(fig.axes[0].lines) == 14
    plt.close("all")
