import numpy as np
import pandas as pd
import pytest
from scipy import stats

from emolib import manipulation as M
from emolib import released
from emolib.emotions import ATTRIBUTES


def _synthetic(n_seeds=6, ks=(10, 20), emotions=("joy", "fear", "grief"), attrs=("valence", "arousal"), seed=0):
    """Selective masks cost 0.1 for valence and 0 for arousal; random masks cost 0.02 (draw 0) or 0.3 (draw 1)."""
    rng = np.random.default_rng(seed)
    rows, base = [], []
    for e in emotions:
        for s in range(n_seeds):
            acc = 0.8 + 0.01 * rng.normal()
            base.append((e, s, acc))
            for k in ks:
                for a in attrs:
                    cost = 0.1 if a == "valence" else 0.0
                    rows.append((e, s, "selective", a, k, 0, acc - cost + 0.005 * rng.normal()))
                for d, a in enumerate(attrs):
                    rows.append((e, s, "random", a, k, d, acc - (0.02 if d == 0 else 0.3) + 0.005 * rng.normal()))
    masked = pd.DataFrame(rows, columns=["emotion", "seed", "condition", "attribute", "k", "draw", "accuracy"])
    return masked, pd.DataFrame(base, columns=["emotion", "seed", "accuracy"])


def test_paired_differences_paper_and_pooled_baselines():
    masked, _ = _synthetic()
    paper = M.paired_differences(masked, "paper").groupby("attribute")["diff"].mean()
    pooled = M.paired_differences(masked, "pooled").groupby("attribute")["diff"].mean()
    assert paper["valence"] == pytest.approx(-0.1 + 0.02, abs=0.01)   # paired with the mild draw
    assert paper["arousal"] == pytest.approx(0.3, abs=0.01)             # paired with the catastrophic draw
    assert pooled["valence"] == pytest.approx(-0.1 + 0.16, abs=0.01)
    assert pooled["arousal"] == pytest.approx(0.16, abs=0.01)
    with pytest.raises(ValueError, match="unknown baseline 'mean'; valid choices: paper, pooled"):
        M.paired_differences(masked, "mean")


def test_paper_baseline_needs_labelled_random_masks():
    masked, _ = _synthetic()
    masked.loc[masked["condition"] == "random", "attribute"] = "draw-x"
    with pytest.raises(ValueError, match="use baseline='pooled'"):
        M.paired_differences(masked, "paper")
    assert len(M.paired_differences(masked, "pooled")) > 0


def test_paired_tests_equal_scipy_ttest_rel():
    masked, _ = _synthetic()
    pairs = M.paired_differences(masked, "paper")
    table = M.paired_tests(pairs, ["attribute", "emotion", "k"])
    for _, row in table.sample(5, random_state=0).iterrows():
        g = pairs[(pairs.attribute == row.attribute) & (pairs.emotion == row.emotion) & (pairs.k == row.k)]
        less = stats.ttest_rel(g["selective"], g["random"], alternative="less")
        two = stats.ttest_rel(g["selective"], g["random"])
        assert row["t"] == pytest.approx(less.statistic) and row["p"] == pytest.approx(less.pvalue)
        assert row["df"] == less.df
        low, high = two.confidence_interval(0.95)
        assert (row["ci_low"], row["ci_high"]) == (pytest.approx(low), pytest.approx(high))
    np.testing.assert_allclose(table["q"], table["p"] * len(table) / stats.rankdata(table["p"]))
    assert (table["q_bh"] <= table["q"] + 1e-12).all()


def test_human_correlation_recovers_a_known_negative_relation():
    rng = np.random.default_rng(1)
    tau = pd.Series(rng.uniform(0, 0.6, size=14), index=ATTRIBUTES)
    rows = [(a, e, k, -tau[a] + 0.05 * rng.normal()) for k in (1, 2) for e in ("joy", "fear", "grief", "love") for a in ATTRIBUTES]
    per_emotion = pd.DataFrame(rows, columns=["attribute", "emotion", "k", "diff"])
    per_k, per_r = M.human_correlation(per_emotion, tau)
    g = per_emotion[(per_emotion.k == 1) & (per_emotion.emotion == "joy")].set_index("attribute")["diff"]
    r = per_r.query("k == 1 and emotion == 'joy'")["r"].item()
    assert r == pytest.approx(stats.pearsonr(g.loc[tau.index], tau).statistic)
    z = np.arctanh(per_r.query("k == 1")["r"])
    ref = stats.ttest_1samp(z, 0)
    row = per_k.query("k == 1").iloc[0]
    assert row["mean_rho"] == pytest.approx(np.tanh(z.mean())) and row["t"] == pytest.approx(ref.statistic)
    assert row["ci_low"] == pytest.approx(np.tanh(ref.confidence_interval().low))
    assert row["mean_rho"] < -0.9 and row["df"] == 3


def test_unimodality_uses_the_dip_test():
    import diptest

    rng = np.random.default_rng(2)
    bimodal = np.r_[rng.normal(-1, 0.1, 20), rng.normal(1, 0.1, 20)]
    per_emotion = pd.DataFrame({"k": 1, "attribute": "valence", "emotion": [f"e{i}" for i in range(40)], "diff": bimodal})
    out = M.unimodality(per_emotion)
    d, p = diptest.diptest(bimodal)
    assert out.loc[0, "D"] == pytest.approx(d) and out.loc[0, "p"] == pytest.approx(p) and p < 0.01


def test_accuracy_summary_conditions_and_standard_errors():
    masked, unmasked = _synthetic()
    summary = M.accuracy_summary(masked, unmasked)
    assert set(summary["condition"]) == {"w/o", "random", "attribute-specific"}
    wo = summary[summary.condition == "w/o"]
    assert wo.groupby("emotion")["mean"].nunique().eq(1).all() and sorted(wo["k"].unique()) == [10, 20]
    joy = masked[(masked.emotion == "joy") & (masked.k == 10) & (masked.condition == "random")]["accuracy"]
    row = summary.query("k == 10 and emotion == 'joy' and condition == 'random'").iloc[0]
    assert row["mean"] == pytest.approx(joy.mean()) and row["se"] == pytest.approx(joy.std() / np.sqrt(len(joy)))


def test_released_frames_and_the_original_positional_mapping_agree():
    masked, unmasked = M.released_frames()
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
    masked, _ = M.released_frames()
    pairs = M.paired_differences(masked, "paper")
    assert len(M.paired_tests(pairs, ["attribute", "emotion", "k"])) == 2646
    assert len(M.paired_tests(pairs, ["emotion", "k"])) == 189
    assert len(M.paired_tests(pairs, ["attribute", "k"])) == 98


def test_reproduce_writes_the_four_tables(tmp_path):
    paths = M.reproduce(tmp_path, profile="smoke")
    frames = {p.name: pd.read_csv(p) for p in paths}
    assert list(frames["per_emotion_human_correlation.csv"].columns) == ["baseline", "k", "mean_rho", "t", "df", "p", "ci_low", "ci_high"]
    assert set(frames["per_emotion_human_correlation.csv"]["baseline"]) == {"paper", "pooled"}
    assert list(frames["unimodality.csv"].columns) == ["k", "attribute", "D", "p"] and len(frames["unimodality.csv"]) == 98
    assert list(frames["accuracy_summary.csv"].columns) == ["k", "emotion", "condition", "mean", "se"]
    assert list(frames["attribute_drop.csv"].columns) == ["baseline", "k", "attribute", "diff", "t", "p", "q"]
    assert len(frames["attribute_drop.csv"]) == 2 * 98
    with pytest.raises(ValueError, match="unknown profile"):
        M.reproduce(tmp_path, profile="fast")
