import numpy as np
import pandas as pd
import pingouin as pg
import pytest
from scipy import stats

from emolib.human.icc import anova_two_way, icc


def _ratings(n: int = 12, k: int = 5, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 1)) * 2 + rng.normal(size=(1, k)) * 0.5 + rng.normal(size=(n, k))


def test_complete_matrix_equals_pingouin():
    x = _ratings()
    ours = icc(x, interval="two-sided")
    long = pd.DataFrame(x).rename_axis("target").reset_index().melt(id_vars="target", var_name="rater")
    old = dict(pg.options)
    pg.options.pop("round.column.CI95", None)  # pingouin rounds its intervals to 2 decimals by default
    try:
        ref = pg.intraclass_corr(long, targets="target", raters="rater", ratings="value").set_index("Type")
    finally:
        pg.options.clear()
        pg.options.update(old)
    names = {"ICC1": "ICC(1,1)", "ICC2": "ICC(A,1)", "ICC3": "ICC(C,1)", "ICC1k": "ICC(1,k)",
             "ICC2k": "ICC(A,k)", "ICC3k": "ICC(C,k)"}  # fmt: skip
    for ours_name, ref_name in names.items():
        row = ref.loc[ref_name]
        np.testing.assert_allclose(ours.loc[ours_name, ["icc", "F", "df1", "df2", "p"]].to_numpy(float),
                                   [row["ICC"], row["F"], row["df1"], row["df2"], row["pval"]], rtol=1e-9)
        np.testing.assert_allclose(ours.loc[ours_name, ["ci_low", "ci_high"]].to_numpy(float), row["CI95"], rtol=1e-9)


def test_psych_bounds_are_two_sided_bounds_at_twice_alpha():
    x = _ratings(seed=1)
    np.testing.assert_allclose(icc(x, alpha=0.05, interval="psych").to_numpy(float),
                               icc(x, alpha=0.10, interval="two-sided").to_numpy(float))
    assert (icc(x, interval="psych")["ci_low"] > icc(x, interval="two-sided")["ci_low"]).all()


def test_na_padded_matrix_uses_aov_on_present_cells_and_nominal_df():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(6, 4)) + np.arange(6)[:, None]
    x[[0, 2, 5], 3] = np.nan  # padded rows with 3 of 4 raters
    table = anova_two_way(x)
    # statsmodels' sequential (type I) ANOVA of the same model on the present cells
    import statsmodels.api as sm
    from statsmodels.formula.api import ols

    target, judge = np.indices(x.shape)
    ok = ~np.isnan(x)
    frame = pd.DataFrame({"y": x[ok], "t": target[ok], "j": judge[ok]})
    ref = sm.stats.anova_lm(ols("y ~ C(t) + C(j)", data=frame).fit(), typ=1)
    np.testing.assert_allclose(table["ss"].to_numpy(), ref["sum_sq"].to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(table["df"].to_numpy(), ref["df"].to_numpy())
    # ICC(1,k): F is the one-way ANOVA F of the present cells, df2 stays nominal n (k - 1)
    result = icc(x).loc["ICC1k"]
    groups = [row[~np.isnan(row)] for row in x]
    assert result["F"] == pytest.approx(stats.f_oneway(*groups).statistic, rel=1e-9)
    assert result["df2"] == 6 * 3 and result["icc"] == pytest.approx(1 - 1 / result["F"], rel=1e-12)


def test_bad_input_raises_value_errors():
    with pytest.raises(ValueError, match="interval"):
        icc(_ratings(), interval="one-sided")
    with pytest.raises(ValueError, match="targets x judges"):
        icc(np.ones(5))
