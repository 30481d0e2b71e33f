import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

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
