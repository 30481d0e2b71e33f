import numpy as np
from statsmodels.stats.multitest import multipletests

from emolib.stats import bh_q, paper_q


def test_paper_q_is_p_times_n_over_average_rank_without_monotone_step():
    p = np.array([0.01, 0.02, 0.02, 0.5, np.nan])
    q = paper_q(p)
    np.testing.assert_allclose(q[:4], [0.01 * 4 / 1, 0.02 * 4 / 2.5, 0.02 * 4 / 2.5, 0.5 * 4 / 4])
    assert np.isnan(q[4])
    # not monotone and may exceed the BH value
    p2 = np.array([0.001, 0.03, 0.031])
    assert paper_q(p2)[1] > paper_q(p2)[2] or np.isclose(paper_q(p2)[1], 0.045)


def test_bh_q_matches_statsmodels_and_ignores_nan():
    rng = np.random.default_rng(0)
    p = rng.uniform(size=200) ** 2
    p[5] = np.nan
    q = bh_q(p)
    ok = ~np.isnan(p)
    np.testing.assert_allclose(q[ok], multipletests(p[ok], method="fdr_bh")[1])
    assert np.isnan(q[5])
