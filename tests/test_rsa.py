"""Tests of unit RDMs, the searchlight result, whole-model RSA and the reproduce command."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import pdist, squareform

from emolib import emotions, reproduce, rsa
from emolib.stats import bh_q, paper_q


@pytest.fixture(scope="module")
def acts() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(27, 4, 12))  # [emotions, seeds, units]


def _loop_rdm(a: np.ndarray, unit: int, seeds: list[int]) -> np.ndarray:
    per_seed = [emotions.square_to_pairs(np.abs(np.subtract.outer(a[:, s, unit], a[:, s, unit]))) for s in seeds]
    return np.mean(per_seed, axis=0)


def test_unit_rdms_are_mean_over_seeds_of_distances(acts):
    rdms = rsa.unit_rdms(acts, chunk=5)
    assert rdms.shape == (351, 12)
    for unit in (0, 7, 11):
        np.testing.assert_allclose(rdms[:, unit], _loop_rdm(acts, unit, [0, 1, 2, 3]), rtol=1e-14)
    mean_then_distance = rsa.unit_rdms(acts.mean(1))  # not the paper's RDM
    assert not np.allclose(rdms, mean_then_distance)
    np.testing.assert_allclose(rsa.unit_rdms(acts, emulate_r=True), rdms, rtol=1e-13)


def test_unit_rdms_drop_excluded_prompts_per_pair(acts):
    valid = rsa.prompt_mask(emotions.PAPER_ORDER, (1, 3, 5, 7), [("relief", 3)])
    rdms = rsa.unit_rdms(acts, valid=valid)
    relief = emotions.PAPER_ORDER.index("relief")
    for p, (i, j) in enumerate(emotions.pair_list(27)):
        seeds = [0, 2, 3] if relief in (i, j) else [0, 1, 2, 3]
        assert rdms[p, 4] == pytest.approx(np.mean(np.abs(acts[i, seeds, 4] - acts[j, seeds, 4])), rel=1e-14)
    np.testing.assert_allclose(rsa.unit_rdms(acts, valid=valid, emulate_r=True), rdms, rtol=1e-13)


def test_unit_rdms_bad_input():
    with pytest.raises(ValueError, match="activations must be"):
        rsa.unit_rdms(np.zeros((27, 2, 3, 4)))
    with pytest.raises(ValueError, match="valid must have shape"):
        rsa.unit_rdms(np.zeros((27, 2, 3)), valid=np.ones((27, 3), bool))
    with pytest.raises(ValueError, match="not among"):
        rsa.prompt_mask(emotions.PAPER_ORDER, (1, 3), [("joy", 99)])


@pytest.fixture(scope="module")
def planted() -> tuple[np.ndarray, pd.DataFrame]:
    """12 units in 3 layers; unit 2 copies attribute a, units 5 and 6 are identical copies of b, 9 is dead."""
    rng = np.random.default_rng(1)
    target = pd.DataFrame({"a": rng.random(351), "b": rng.integers(0, 9, 351).astype(float)})
    units = rng.random((351, 12))
    units[:, 2] = target["a"]
    units[:, 5] = units[:, 6] = target["b"] + 0.1 * rng.random(351)
    units[:, 9] = 0.5
    return units, target


def test_searchlight_tables(planted):
    units, target = planted
    res = rsa.searchlight(units, target, units_per_layer=4)
    ref = np.array([[stats.kendalltau(units[:, u], target[c], alternative="greater", method="asymptotic").pvalue
                     for c in "ab"] for u in range(12) if u != 9])
    np.testing.assert_allclose(res.p.drop(index=9).to_numpy(), ref, rtol=1e-10)
    assert res.rank.loc[2, "a"] == 1.0
    assert res.rank.loc[5, "b"] == res.rank.loc[6, "b"] == 1.5  # average ties, like R's rank(-tau)
    assert res.tau.loc[9].isna().all() and res.rank.loc[9].isna().all()
    np.testing.assert_array_equal(res.layer, np.repeat([0, 1, 2], 4))
    np.testing.assert_allclose(res.q_paper.to_numpy().ravel(), paper_q(res.p.to_numpy().ravel()), equal_nan=True)
    np.testing.assert_allclose(res.q_bh.to_numpy().ravel(), bh_q(res.p.to_numpy().ravel()), equal_nan=True)


def test_significance_counts_and_selectivity(planted):
    units, target = planted
    res = rsa.searchlight(units, target, units_per_layer=4, alpha=0.01)
    sig = res.significant
    assert sig.loc[2, "a"] and sig.loc[5, "b"] and sig.loc[6, "b"]
    np.testing.assert_array_equal(res.n_significant, sig.sum(axis=1))
    np.testing.assert_array_equal(res.selective, sig.sum(axis=1) == 1)
    summary = res.summary()
    assert list(summary.columns) == ["attribute", "n_significant", "n_selective", "max_tau"]
    assert summary.set_index("attribute").loc["a", "max_tau"] == pytest.approx(1.0)
    for attr in "ab":
        expected = int((sig[attr] & res.selective).sum())
        assert summary.set_index("attribute").loc[attr, "n_selective"] == expected
    assert res.per_layer().to_numpy().sum() == sig.to_numpy().sum()
    assert res.per_layer().loc[1, "b"] >= 2
    bh = res.with_correction("bh")
    assert (bh.significant | ~res.significant).all().all()  # BH rejects at least what p*N/rank(p) rejects


def test_searchlight_validation_and_round_trip(planted, tmp_path):
    units, target = planted
    with pytest.raises(ValueError, match="does not divide"):
        rsa.searchlight(units, target, units_per_layer=5)
    with pytest.raises(ValueError, match="same pairs"):
        rsa.searchlight(units[:-1], target, units_per_layer=4)
    with pytest.raises(ValueError, match="DataFrame"):
        rsa.searchlight(units, target.to_numpy(), units_per_layer=4)
    res = rsa.searchlight(units, target, units_per_layer=4)
    with pytest.raises(ValueError, match="unknown correction 'fdr'"):
        res.with_correction("fdr")
    from emolib.paper.pipeline import load_searchlight, save_searchlight

    save_searchlight(res, tmp_path)
    back = load_searchlight(tmp_path)
    pd.testing.assert_frame_equal(back.tau, res.tau)
    pd.testing.assert_frame_equal(back.rank, res.rank)
    assert back.units_per_layer == 4


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_model_rdms_match_scipy_pdist(acts, metric):
    rdms = rsa.model_rdms(acts, units_per_layer=4, metric=metric)
    assert list(rdms.columns) == ["layer 1", "layer 2", "layer 3", "all"]
    i, j = emotions.pair_indices(27)

    def ref(cols: slice) -> np.ndarray:
        return np.mean([squareform(pdist(acts[:, s, cols], metric))[i, j] for s in range(4)], axis=0)

    np.testing.assert_allclose(rdms["layer 2"], ref(slice(4, 8)), rtol=1e-12)
    np.testing.assert_allclose(rdms["all"], ref(slice(0, 12)), rtol=1e-12)
    with pytest.raises(ValueError, match="unknown metric 'manhattan'"):
        rsa.model_rdms(acts, 4, metric="manhattan")


def test_compare_rdms_against_scipy(acts):
    rdms = rsa.model_rdms(acts, units_per_layer=4)
    targets = pd.DataFrame({"t1": np.random.default_rng(2).random(351), "t2": rdms["layer 1"].to_numpy() ** 2})
    table = rsa.compare_rdms(rdms, targets)
    assert len(table) == 8 and list(table.columns) == ["rdm", "target", "r", "p"]
    row = table.set_index(["rdm", "target"]).loc[("layer 1", "t2")]
    assert row["r"] == pytest.approx(1.0)
    for (rdm, target), r in table.set_index(["rdm", "target"])["r"].items():
        assert r == pytest.approx(stats.kendalltau(rdms[rdm], targets[target]).statistic, abs=1e-13)
    sp = rsa.compare_rdms(rdms, targets, method="spearman").set_index(["rdm", "target"])["r"]
    for (rdm, target), r in sp.items():
        assert r == pytest.approx(stats.spearmanr(rdms[rdm], targets[target]).statistic, abs=1e-13)


@pytest.mark.slow
def test_released_searchlight_paper_path(tmp_path):
    """The real released data (~40 s): shape, R emulation close to plain float64, significance present."""
    res = reproduce.released_searchlight(root=tmp_path)
    assert res.tau.shape == (36864, 14) and res.units_per_layer == 3072
    assert list(res.tau.columns) == list(emotions.ATTRIBUTES)
    assert not res.tau.isna().any().any()
    plain = reproduce.released_searchlight(root=tmp_path, emulate_r=False)
    assert np.abs(plain.tau.to_numpy() - res.tau.to_numpy()).max() < 1e-3
    assert (plain.tau.to_numpy() != res.tau.to_numpy()).sum() < 1000
    assert (res.summary()["n_significant"] > 0).all()
    again = reproduce.released_searchlight(root=tmp_path)  # from the artifact
    pd.testing.assert_frame_equal(again.rank, res.rank)


def test_prompt_statistics_flags_an_extreme_prompt():
    rng = np.random.default_rng(4)
    a = rng.normal(-1, 0.5, size=(27, 3, 200))
    a[5, 1] = rng.normal(2, 3, size=200)  # one prompt with many positive units and a large maximum
    stats_ = rsa.prompt_statistics(a, emotions.PAPER_ORDER, (1, 3, 5))
    assert len(stats_) == 81
    top = stats_.sort_values("z_share_positive").iloc[-1]
    assert (top["emotion"], top["seed"]) == (emotions.PAPER_ORDER[5], 3)
    assert top["share_positive"] == pytest.approx((a[5, 1] > 0).mean())


def test_prompt_influence_is_the_share_of_distance_mass(acts):
    valid = rsa.prompt_mask(emotions.PAPER_ORDER, (1, 3, 5, 7), [("joy", 5)])
    share = rsa.prompt_influence(acts, valid, chunk=5)
    joy = emotions.PAPER_ORDER.index("joy")
    unit = 3
    total = touched = 0.0
    for i, j in emotions.pair_list(27):
        for s in range(4):
            d = abs(acts[i, s, unit] - acts[j, s, unit])
            total += d
            touched += d if (s == 2 and joy in (i, j)) else 0.0
    assert share[unit] == pytest.approx(touched / total, rel=1e-12)
    assert np.all(rsa.prompt_influence(acts, np.ones((27, 4), bool)) == 0)


def test_compare_searchlights(planted):
    units, target = planted
    res = rsa.searchlight(units, target, units_per_layer=4)
    same = rsa.compare_searchlights(res, res, n=3)
    np.testing.assert_array_equal(same["top_n_overlap"], [1.0, 1.0])
    np.testing.assert_allclose(same["tau_spearman"], [1.0, 1.0])
    shuffled = rsa.searchlight(units[::-1].copy(), target, units_per_layer=4)
    assert (rsa.compare_searchlights(res, shuffled)["tau_spearman"] < 1).all()
    with pytest.raises(ValueError, match="same units and attributes"):
        rsa.compare_searchlights(res, rsa.searchlight(units[:, :8], target, units_per_layer=4))


def test_best_layers_equal_a_loop_over_metric_and_target(acts):
    targets = pd.DataFrame({"t1": rsa.unit_rdms(acts)[:, 0], "t2": rsa.unit_rdms(acts)[:, 5]})
    whole = rsa.whole_model_rsa(acts, 4, targets)
    table = rsa.rdms.best_layers(whole)
    assert table.index.tolist() == ["t1", "t2"]
    assert table.columns.tolist() == ["cosine: rdm", "euclidean: rdm", "cosine: r", "euclidean: r"]
    for metric in rsa.METRICS:
        for target in targets:
            rows = whole[(whole["metric"] == metric) & (whole["target"] == target) & (whole["rdm"] != "all")]
            best = rows.loc[rows["r"].idxmax()]
            assert table.loc[target, f"{metric}: rdm"] == best["rdm"]
            assert table.loc[target, f"{metric}: r"] == best["r"]
    with pytest.raises(ValueError, match="lacks columns \\['metric'\\]"):
        rsa.rdms.best_layers(whole.drop(columns="metric"))


def test_flagged_cells_equal_a_loop_over_pairs_and_seeds():
    seeds = (1, 3, 5, 7)
    valid = rsa.prompt_mask(emotions.PAPER_ORDER, seeds, [("relief", 3), ("fear", 7), ("disgust", 7)])
    flagged = sum(not (valid[i, s] and valid[j, s]) for i, j in emotions.pair_list(27) for s in range(len(seeds)))
    assert rsa.rdms.flagged_cells(valid) == (flagged, 351 * 4)
    assert flagged == 26 + 2 * 26 - 1  # relief in seed 3; fear or disgust in seed 7 (their pair counted once)
    assert rsa.rdms.flagged_cells(np.ones((27, 4), bool)) == (0, 1404)
    with pytest.raises(ValueError, match="emotions, seeds"):
        rsa.rdms.flagged_cells(np.ones(27, bool))


def test_rsatoolbox_check_agrees_and_shows_the_shift_after_a_constant_rdm(acts, monkeypatch):
    pytest.importorskip("rsatoolbox")
    rdms = rsa.model_rdms(acts, 4, "cosine").drop(columns="all")
    target = pd.DataFrame({"t": rsa.unit_rdms(acts)[:, 7]})
    check = rsa.rdms.rsatoolbox_check(rdms, target)
    assert check.index.tolist() == rdms.columns.tolist()
    np.testing.assert_allclose(check["emolib"], [stats.spearmanr(rdms[c], target["t"]).statistic for c in rdms],
                               atol=1e-13)
    assert check.attrs["max_difference"] < 1e-12
    shifted = check["rsatoolbox, constant RDM inserted"]
    assert shifted.iloc[0] == pytest.approx(check["emolib"].iloc[0])  # before the constant RDM: unchanged
    assert not np.allclose(shifted.iloc[1:], check["emolib"].iloc[1:])  # after it: shifted
    with pytest.raises(ValueError, match="one RDM"):
        rsa.rdms.rsatoolbox_check(rdms, pd.concat([target, target.add_suffix("2")], axis=1))
    monkeypatch.setitem(__import__("sys").modules, "rsatoolbox.rdm", None)  # rsatoolbox "not installed"
    absent = rsa.rdms.rsatoolbox_check(rdms, target["t"])
    np.testing.assert_array_equal(absent["emolib"], check["emolib"])
    assert absent["rsatoolbox, constant RDM inserted"].isna().all() and np.isnan(absent.attrs["max_difference"])


def test_kendall_speed_times_all_tests_and_extrapolates_scipy():
    rng = np.random.default_rng(1)
    speed = rsa.rdms.kendall_speed(rng.random((40, 50)), rng.random((40, 3)), n_picks=7, seed=2)
    assert set(speed) == {"emolib_seconds", "scipy_ms_per_test", "scipy_minutes", "n_picks", "n_tests"}
    assert speed["n_tests"] == 150 and speed["n_picks"] == 7 and speed["emolib_seconds"] > 0
    assert speed["scipy_minutes"] == pytest.approx(speed["scipy_ms_per_test"] / 1e3 * 150 / 60)
    with pytest.raises(ValueError, match="same pairs"):
        rsa.rdms.kendall_speed(rng.random((40, 5)), rng.random((30, 3)))


def test_searchlight_with_a_permutation_null_adds_corrections_and_round_trips(planted):
    units, target = planted
    res = rsa.searchlight(units, target, units_per_layer=4, permutations=99, seed=3)
    direct = rsa.permutation_searchlight(units, target, 99, seed=3)
    np.testing.assert_array_equal(res.perm_p.to_numpy(), direct.perm_p)
    np.testing.assert_array_equal(res.fwer_p.to_numpy(), direct.fwer_p)
    assert res.perm_p.loc[2, "a"] == pytest.approx(1 / 100)  # the planted unit beats every relabelling
    fwer = res.with_correction("fwer", 0.05)
    assert fwer.significant.loc[2, "a"] and fwer.permutation is res.permutation
    table = res.criteria(0.05)
    assert list(table.columns) == ["paper", "bh", "perm_fdr", "fwer", "fwer_all"]
    assert (table["fwer"] <= table["paper"]).all()  # the FWER control rejects no more than the paper's q here
    long = res.significance_table()
    assert list(long.columns) == ["unit", "attribute", "tau", "paper_q", "perm_p", "perm_fdr_q", "fwer_p"]
    assert len(long) == units.shape[1] * 2
    row = long[(long.unit == 2) & (long.attribute == "a")].iloc[0]
    assert row.perm_p == res.perm_p.loc[2, "a"] and row.tau == res.tau.loc[2, "a"]
    back = rsa.SearchlightResult.from_arrays(*res.to_arrays())
    pd.testing.assert_frame_equal(back.perm_fdr_q, res.perm_fdr_q)
    assert back.permutation.n_permutations == 99 and back.permutation.seed == 3
    plain = rsa.searchlight(units, target, units_per_layer=4)
    with pytest.raises(ValueError, match="needs a permutation null"):
        plain.with_correction("perm_fdr")
    with pytest.raises(ValueError, match="needs a permutation null"):
        plain.perm_p
    assert list(plain.criteria().columns) == ["paper", "bh"]
