import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from emolib.paper import manipulation as M
from emolib import released
from emolib.emotions import ATTRIBUTES

COLUMNS = ["emotion", "seed", "condition", "attribute", "k", "draw", "accuracy"]


def _exact(ks=(10, 20), emotions=("joy", "fear"), seeds=(1, 2, 3), costs=None, draw_costs=(0.02, 0.30)):
    """Noise-free frames: prompt (e, s) has accuracy 0.8 + 0.01 s; the selective mask of attribute a
    costs ``costs[a]``, random draw d (labelled like attribute d) costs ``draw_costs[d]``."""
    costs = {"valence": 0.1, "arousal": 0.0} if costs is None else costs
    rows, base = [], []
    for e in emotions:
        for s in seeds:
            acc = 0.8 + 0.01 * s
            base.append((e, s, acc))
            for k in ks:
                for a, cost in costs.items():
                    rows.append((e, s, "selective", a, k, 0, acc - cost))
                for d, (a, cost) in enumerate(zip(costs, draw_costs)):
                    rows.append((e, s, "random", a, k, d, acc - cost))
    return pd.DataFrame(rows, columns=COLUMNS), pd.DataFrame(base, columns=["emotion", "seed", "accuracy"])


def _noisy(n_seeds=6, seed=0):
    masked, unmasked = _exact(seeds=range(n_seeds), emotions=("joy", "fear", "grief"))
    rng = np.random.default_rng(seed)
    masked["accuracy"] += 0.005 * rng.normal(size=len(masked))
    return masked, unmasked


def test_selective_masks_that_cost_exactly_d_give_diff_minus_d_with_both_baselines():
    masked, _ = _exact(draw_costs=(0.05, 0.05))  # both random draws cost 0.05
    for baseline in M.BASELINES:
        pairs = M.paired_differences(masked, baseline)
        assert len(pairs) == 2 * 3 * 2 * 2  # emotions x seeds x attributes x k
        by_attr = pairs.groupby("attribute")["diff"]
        np.testing.assert_allclose(by_attr.min()["valence"], -0.05, atol=1e-12)
        np.testing.assert_allclose(by_attr.max()["valence"], -0.05, atol=1e-12)
        np.testing.assert_allclose(pairs.loc[pairs.attribute == "arousal", "diff"], 0.05, atol=1e-12)


def test_paper_pairs_by_label_and_pooled_averages_all_draws():
    masked, _ = _exact()  # draw "valence" costs 0.02, draw "arousal" costs 0.30
    paper = M.paired_differences(masked, "paper").groupby("attribute")["diff"].mean()
    pooled = M.paired_differences(masked, "pooled").groupby("attribute")["diff"].mean()
    assert paper["valence"] == pytest.approx(-0.1 + 0.02) and paper["arousal"] == pytest.approx(0.30)
    assert pooled["valence"] == pytest.approx(-0.1 + 0.16) and pooled["arousal"] == pytest.approx(0.16)


def test_pooled_baseline_weighs_every_draw_equally():
    masked, _ = _exact()
    # draw 0 evaluated three times (costs 0.0, 0.02, 0.04; mean 0.02), draw 1 once (0.30)
    extra = masked[(masked.condition == "random") & (masked.draw == 0)].copy()
    more = pd.concat([extra.assign(accuracy=extra.accuracy + 0.02), extra.assign(accuracy=extra.accuracy - 0.02)])
    pooled = M.paired_differences(pd.concat([masked, more], ignore_index=True), "pooled")
    assert pooled.groupby("attribute")["diff"].mean()["arousal"] == pytest.approx(0.16)  # not (3*0.02+0.3)/4


def test_paper_baseline_needs_labelled_random_masks():
    masked, _ = _exact()
    masked.loc[masked["condition"] == "random", "attribute"] = "draw-x"
    with pytest.raises(ValueError, match="use baseline='pooled'"):
        M.paired_differences(masked, "paper")
    assert len(M.paired_differences(masked, "pooled")) > 0


def test_paired_tests_equal_scipy_ttest_rel_one_sided():
    masked, _ = _noisy()
    pairs = M.paired_differences(masked, "paper")
    table = M.paired_tests(pairs, ["attribute", "emotion", "k"])
    assert len(table) == 2 * 3 * 2
    for _, row in table.iterrows():
        g = pairs[(pairs.attribute == row.attribute) & (pairs.emotion == row.emotion) & (pairs.k == row.k)]
        less = stats.ttest_rel(g["selective"], g["random"], alternative="less")
        low, high = stats.ttest_rel(g["selective"], g["random"]).confidence_interval(0.95)
        assert row["t"] == pytest.approx(less.statistic) and row["p"] == pytest.approx(less.pvalue)
        assert row["df"] == less.df == 5 and row["diff"] == pytest.approx(g["diff"].mean())
        assert (row["ci_low"], row["ci_high"]) == (pytest.approx(low), pytest.approx(high))


def test_q_is_the_papers_p_n_over_rank_and_q_bh_equals_statsmodels():
    from statsmodels.stats.multitest import multipletests

    masked, _ = _noisy(seed=3)
    table = M.paired_tests(M.paired_differences(masked, "pooled"), ["attribute", "emotion", "k"])
    np.testing.assert_allclose(table["q"], table["p"] * len(table) / stats.rankdata(table["p"]))
    np.testing.assert_allclose(table["q_bh"], multipletests(table["p"], method="fdr_bh")[1])


def test_constant_differences_have_no_test_and_no_warning():
    masked, _ = _exact()  # every difference within a group is identical
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = M.paired_tests(M.paired_differences(masked, "paper"), ["attribute", "k"])
    assert table["p"].isna().all() and table["t"].isna().all()
    np.testing.assert_allclose(table.set_index(["attribute", "k"])["diff"].xs("valence"), -0.08)


def test_human_correlation_fisher_z_mean_rho_and_ci_by_hand():
    rng = np.random.default_rng(1)
    tau = pd.Series(rng.uniform(0, 0.6, size=14), index=ATTRIBUTES)
    emotions = ["joy", "fear", "grief", "love", "anger"]
    rows = [(a, e, k, -tau[a] * (i + 1) + 0.1 * rng.normal()) for k in (1, 2) for i, e in enumerate(emotions)
            for a in ATTRIBUTES]
    per_emotion = pd.DataFrame(rows, columns=["attribute", "emotion", "k", "diff"])
    per_k, per_r = M.human_correlation(per_emotion, tau)
    r = np.array([np.corrcoef(per_emotion.query("k == 1 and emotion == @e").set_index("attribute")["diff"]
                              .loc[list(ATTRIBUTES)], tau)[0, 1] for e in sorted(emotions)])
    np.testing.assert_allclose(per_r.query("k == 1").sort_values("emotion")["r"], r)
    z = np.arctanh(r)
    se = z.std(ddof=1) / np.sqrt(len(z))
    half = stats.t.ppf(0.975, len(z) - 1) * se
    row = per_k.query("k == 1").iloc[0]
    assert row["mean_rho"] == pytest.approx(np.tanh(z.mean())) and row["t"] == pytest.approx(z.mean() / se)
    assert row["p"] == pytest.approx(2 * stats.t.sf(abs(z.mean() / se), len(z) - 1)) and row["df"] == 4
    assert row["ci_low"] == pytest.approx(np.tanh(z.mean() - half))
    assert row["ci_high"] == pytest.approx(np.tanh(z.mean() + half))
    assert row["mean_rho"] < -0.5


def test_dip_test_separates_bimodal_from_unimodal_and_matches_r_options():
    import diptest

    bimodal = np.r_[np.linspace(-1.1, -0.9, 14), np.linspace(0.9, 1.1, 13)]
    unimodal = stats.norm.ppf((np.arange(27) + 0.5) / 27)
    frame = pd.concat([pd.DataFrame({"k": 1, "attribute": a, "emotion": range(27), "diff": x})
                       for a, x in (("valence", bimodal), ("arousal", unimodal))])
    out = M.unimodality(frame).set_index("attribute")
    assert out.loc["valence", "p"] < 0.001 and out.loc["arousal", "p"] > 0.9
    assert tuple(out.loc["arousal", ["D", "p"]]) == pytest.approx(diptest.diptest(unimodal, allow_zero=False))
    assert (out["n"] == 27).all()


def test_dip_test_of_degenerate_groups_is_p_one_without_warnings():
    frame = pd.DataFrame({"k": 1, "attribute": ["a"] * 3 + ["b"] * 27, "emotion": range(30),
                          "diff": [0.1, 0.2, 0.3] + [0.5] * 27})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = M.unimodality(frame).set_index("attribute")
    assert out.loc["a", "p"] == 1.0 and out.loc["a", "D"] == pytest.approx(1 / 6)   # R: D = 1/(2n) for n <= 3
    assert out.loc["b", "p"] == 1.0 and out.loc["b", "D"] == pytest.approx(1 / 54)  # constant: min.is.0 = FALSE


def test_accuracy_summary_conditions_and_standard_errors():
    masked, unmasked = _noisy()
    summary = M.accuracy_summary(masked, unmasked)
    assert set(summary["condition"]) == {"w/o", "random", "attribute-specific"}
    wo = summary[summary.condition == "w/o"]
    assert wo.groupby("emotion")["mean"].nunique().eq(1).all() and sorted(wo["k"].unique()) == [10, 20]
    joy = masked[(masked.emotion == "joy") & (masked.k == 10) & (masked.condition == "random")]["accuracy"]
    row = summary.query("k == 10 and emotion == 'joy' and condition == 'random'").iloc[0]
    assert row["mean"] == pytest.approx(joy.mean()) and row["se"] == pytest.approx(joy.std() / np.sqrt(len(joy)))
    assert row["n"] == 2 * 6
    with pytest.raises(ValueError, match="unknown k 30; valid choices: 10, 20"):
        M.accuracy_summary(masked, unmasked, ks=[30])


def test_random_mask_damage_relative_to_the_median_draw():
    masked, unmasked = _exact(costs={"valence": 0.1, "arousal": 0.0, "control": 0.0}, draw_costs=(0.02, 0.04, 0.40))
    damage = M.random_mask_damage(masked, unmasked).query("k == 10").set_index("attribute")
    np.testing.assert_allclose(damage.loc[["valence", "arousal", "control"], "drop"], [0.02, 0.04, 0.40])
    np.testing.assert_allclose(damage.loc[["valence", "arousal", "control"], "relative"], [0.5, 1.0, 10.0])


def test_bad_inputs_raise_value_errors_naming_the_choices():
    masked, unmasked = _exact()
    with pytest.raises(ValueError, match="unknown baseline 'mean'; valid choices: paper, pooled"):
        M.paired_differences(masked, "mean")
    with pytest.raises(ValueError, match="unknown baseline 'both'"):
        M.analyse(masked, unmasked, pd.Series(0.1, index=["valence", "arousal"]), baselines=["both"])
    with pytest.raises(ValueError, match="unknown condition 'control'; valid choices: selective, random"):
        M.common_k(masked.assign(condition="control"))
    with pytest.raises(ValueError, match="masked lacks columns"):
        M.common_k(masked.drop(columns="k"))
    with pytest.raises(ValueError, match="unknown grouping column 'prompt'; valid choices: emotion, seed, attribute, k"):
        M.paired_tests(M.paired_differences(masked), ["prompt"])
    per_ae = M.paired_tests(M.paired_differences(masked), ["attribute", "emotion", "k"])
    with pytest.raises(ValueError, match="unknown attribute 'arousal' .*valid choices: valence"):
        M.human_correlation(per_ae, pd.Series({"valence": 0.3}))
    with pytest.raises(ValueError, match="unknown k 4000; valid choices: 10, 20"):
        M.select(per_ae, k=4000)
    with pytest.raises(ValueError, match="unknown emotion 'glee'; valid choices: fear, joy"):
        M.select(per_ae, emotion="glee")
    with pytest.raises(ValueError, match="unknown attribute 'happy'; valid choices: arousal, valence"):
        M.select(per_ae, attribute="happy")
    assert len(M.select(per_ae, k=10, emotion="joy", attribute="valence")) == 1


def test_analyse_on_synthetic_frames_gives_every_table_per_baseline():
    masked, unmasked = _noisy()
    result = M.analyse(masked, unmasked, pd.Series({"valence": 0.5, "arousal": 0.1}), baselines=["pooled"])
    assert list(result.baselines) == ["pooled"] and M.TABLES == (
        "pairs", "by_attribute_emotion", "by_emotion", "by_attribute", "unimodality", "correlation", "emotion_r")
    pooled = result.baselines["pooled"]
    assert pooled.by_attribute.set_index(["attribute", "k"])["human_tau"].xs("valence").eq(0.5).all()
    assert result.table("correlation") == {"pooled": pooled.correlation}
    stacked = result.stacked("by_attribute")
    assert stacked.columns[0] == "baseline" and len(stacked) == len(pooled.by_attribute)
    with pytest.raises(ValueError, match="unknown table 'correlations'; valid choices: pairs"):
        result.table("correlations")


def test_released_frames_and_the_original_positional_mapping_agree():
    masked, unmasked = released.masking_frames()
    assert M.common_k(masked) == [1500, 2000, 2500, 3000, 4000, 5000, 6000]
    assert len(unmasked) == 324
    for kind in ("attribute_specific", "random"):
        frame = released.masking_accuracy(kind)
        ks = sorted(frame["k"].unique())
        expected = [(a, k) for a in ATTRIBUTES for k in ks]  # R maps by position: attribute-major, k ascending
        for _, g in frame.groupby(["emotion", "seed"]):
            got = list(zip(g.sort_values("position")["attribute"].astype(str), g.sort_values("position")["k"]))
            assert got == expected
    summary = M.accuracy_summary(masked, unmasked)
    assert summary.query("condition != 'w/o'")["n"].eq(168).all()


def test_released_tables_have_the_papers_sizes():
    masked, _ = released.masking_frames()
    pairs = M.paired_differences(masked, "paper")
    assert len(M.paired_tests(pairs, ["attribute", "emotion", "k"])) == 2646
    assert len(M.paired_tests(pairs, ["emotion", "k"])) == 189
    assert len(M.paired_tests(pairs, ["attribute", "k"])) == 98
    # averaged over the 14 attributes, the paper's pairing and the pooled baseline agree
    pooled = M.paired_tests(M.paired_differences(masked, "pooled"), ["emotion", "k"])
    np.testing.assert_allclose(M.paired_tests(pairs, ["emotion", "k"])["diff"], pooled["diff"])
