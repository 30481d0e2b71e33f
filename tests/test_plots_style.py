import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from emolib import plots
from emolib.emotions import PAPER_ORDER, pairs_to_square


def test_pipeline_figure_has_every_stage():
    fig = plots.data.pipeline_figure()
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    for stage in ("GoEmotions", "soft prompt", "searchlight RSA", "silence top-k", "human ratings", "valence"):
        assert stage in texts
    plt.close(fig)


def test_rdm_heatmap_draws_the_square_matrix_in_rank_units():
    v = np.arange(351.0)
    fig, ax = plt.subplots()
    plots.rdm_heatmap(ax, v, list(PAPER_ORDER))
    image = ax.images[0].get_array()
    assert image.shape == (27, 27)
    expected = pairs_to_square((np.arange(351) + 1) / 351, diagonal=np.nan)
    np.testing.assert_allclose(np.ma.filled(image, np.nan), expected)
    plt.close(fig)


def test_count_figures_draw_one_bar_per_emotion_and_split():
    counts = pd.DataFrame({"train": [5, 10], "dev": [1, 2]}, index=["joy", "grief"])
    fig = plots.data.label_counts_figure(counts)
    assert len(fig.axes[0].patches) == 4
    plt.close(fig)


def test_set_style_lets_tables_show_whole_sentences():
    import pandas as pd

    from emolib.plots import style

    with pd.option_context("display.max_colwidth", 50):
        style.set_style()
        reason = "smaller than the effect of the paper, but the design had power 0.31 to see it at this design"
        assert reason in pd.DataFrame({"reason": [reason]})._repr_html_()


def test_min_text_px_finds_the_smallest_drawn_text():
    from emolib.plots import style

    style.set_style()
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, 1])
    assert style.min_text_px(fig) == pytest.approx(8 * 110 / 72)  # the house tick labels
    ax.annotate("tiny", (0.5, 0.5), fontsize=4)
    assert style.min_text_px(fig) == pytest.approx(4 * 110 / 72)
    assert style.min_text_px(fig, dpi=72) == pytest.approx(4)
    ax.annotate("   ", (0.2, 0.2), fontsize=2)  # blank and hidden texts do not count
    ax.annotate("hidden", (0.2, 0.2), fontsize=1).set_visible(False)
    assert style.min_text_px(fig) == pytest.approx(4 * 110 / 72)
    assert style.displayed_text_px(fig) < style.MIN_TEXT_PX
    plt.close(fig)


def test_png_formatter_embeds_the_text_size(monkeypatch):
    import base64
    import io

    import matplotlib.figure
    from IPython.core.interactiveshell import InteractiveShell
    from PIL import Image

    from emolib.plots import style

    shell = InteractiveShell.instance()
    monkeypatch.setattr("IPython.get_ipython", lambda: shell)
    style.set_style()
    formatter = shell.display_formatter.formatters["image/png"]
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.set_title("small", fontsize=4)
    assert formatter.lookup_by_type(matplotlib.figure.Figure) is style._png_base64
    image = Image.open(io.BytesIO(base64.b64decode(formatter(fig))))
    assert float(image.text[style.TEXT_PX_KEY]) == pytest.approx(4 * 110 / 72, abs=0.01)
    assert image.size == style.png_size(fig)
    plt.close(fig)
    formatter.pop(matplotlib.figure.Figure, None)


def test_rdm_heatmap_labels_are_readable():
    from emolib.plots import style

    style.set_style()
    fig, ax = plt.subplots(figsize=(5, 5))
    plots.rdm_heatmap(ax, np.arange(351.0), list(PAPER_ORDER))
    assert style.displayed_text_px(fig) >= style.MIN_TEXT_PX
    plt.close(fig)


def test_layer_axis_has_integer_ticks():
    from emolib.plots import style

    fig, ax = plt.subplots()
    ax.plot([1, 18], [0, 1])
    style.layer_axis(ax)
    fig.canvas.draw()
    low, high = ax.get_xlim()
    ticks = [t for t in ax.get_xticks() if low <= t <= high]
    assert ticks and all(float(t).is_integer() for t in ticks) and min(ticks) >= 1  # no "layer 0"
    plt.close(fig)


@pytest.mark.parametrize("name", ["pipeline", "counts", "tasks"])
def test_data_figures_are_readable_in_the_690_px_column(name):
    from emolib.plots import style

    style.set_style()
    counts = pd.DataFrame({"train": np.arange(27) * 100 + 50, "dev": np.arange(27) * 10 + 5,
                           "test": np.arange(27) * 10 + 7}, index=list(PAPER_ORDER))
    fig = {"pipeline": plots.data.pipeline_figure, "counts": lambda: plots.data.label_counts_figure(counts),
           "tasks": lambda: plots.data.task_size_figure(counts)}[name]()
    assert style.displayed_text_px(fig) >= style.MIN_TEXT_PX
    if name == "tasks":  # the legend sits above the bars, not over them
        legend = fig.legends[0].get_window_extent()
        assert legend.y0 >= fig.axes[0].get_window_extent().y1 - 1
    plt.close(fig)
