"""plots.verdict: one dot per mask by kind, and one stacked bar per claim and truth."""

from __future__ import annotations

import pandas as pd

from emolib.plots import verdict


def test_mask_means_draws_one_dot_per_mask_and_labels_attributes():
    table = pd.DataFrame({"condition": ["selective"] * 2 + ["sham"] * 2 + ["random"] * 3,
                          "attribute": ["valence", "arousal", "s0", "s1", "d0", "d1", "d2"],
                          "accuracy": [0.6, 0.62, 0.64, 0.66, 0.65, 0.67, 0.66]})
    fig = verdict.mask_means(table, unmasked=0.7)
    ax = fig.axes[0]
    assert sum(len(c.get_offsets()) for c in ax.collections) == 7
    assert [t.get_text() for t in ax.texts] == ["valence", "arousal"]
    assert "(3)" in ax.get_yticklabels()[-1].get_text()


def test_error_rates_stacks_the_three_verdicts_to_one():
    rates = pd.DataFrame({"claim": ["masks_random", "weights"], "truth": ["no effect", "paper's effect"],
                          "holds": [0.04, 0.3], "does not hold": [0.5, 0.1], "cannot tell": [0.46, 0.6]})
    fig = verdict.error_rates(rates)
    widths = [p.get_width() for p in fig.axes[0].patches]
    assert len(widths) == 6 and abs(sum(widths) - 2.0) < 1e-9
