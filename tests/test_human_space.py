import numpy as np
import pandas as pd
import pingouin as pg
import pytest
from scipy import stats

from emolib import human, released
from emolib.emotions import ATTRIBUTES, PAPER_ORDER, pair_indices


def test_fwrite_round_emulates_data_table_text():
    # R's |2.0666... - 1.7333...| = 0.33333333333333348 is written "0.333333333333334" by fwrite,
    # although correct rounding to 15 digits gives ...333
    x = np.array([2.066666666666667 - 1.7333333333333334, 0.0, -1.5, 123456.7890123456789, 1e-20])
    out = human.fwrite_round(x)
    assert out[0] == 0.333333333333334 and f"{x[0]:.15g}" == "0.333333333333333"
    np.testing.assert_array_equal(out[1:3], [0.0, -1.5])
    assert out[3] == float(f"{x[3]:.15g}") and out[4] == 1e-20
    np.testing.assert_array_equal(human.fwrite_round(out), out)  # idempotent


def test_affective_and_face_rdms_equal_the_released_file_bit_for_bit():
    ours = human.attribute_rdms("recomputed")
    theirs = released.attribute_distances()
    assert list(ours.columns) == list(ATTRIBUTES) and ours.shape == (351, 14)
    np.testing.assert_array_equal(ours.iloc[:, :8].to_numpy(), theirs.iloc[:, :8].to_numpy())
    # without the 15-digit writer they differ by float noise only
    raw = np.abs(np.subtract(*[human.rating_means().to_numpy()[k] for k in pair_indices(27)]))
    assert 0 < np.abs(raw - theirs.iloc[:, :8].to_numpy()).max() < 1e-13


def test_appraisal_rdms_match_released_only_with_the_event_criterion():
    theirs = released.attribute_distances().iloc[:, 8:].to_numpy()
    ours = human.attribute_rdms("recomputed").iloc[:, 8:].to_numpy()
    r = [np.corrcoef(ours[:, k], theirs[:, k])[0, 1] for k in range(6)]
    assert min(r) > 1 - 1e-12 and np.abs(ours - theirs).max() < 1e-12  # the issue asks r >= 0.99
    # keeping the anger respondent who wrote "n/a" as the specific event (300) does not reproduce them
    kept300 = human.attribute_rdms("recomputed", event_given=False).iloc[:, 8:].to_numpy()
    assert np.abs(kept300 - theirs).max() > 0.01
    assert min(np.corrcoef(kept300[:, k], theirs[:, k])[0, 1] for k in range(6)) < 0.999


def test_attribute_scores_rescaled_equal_the_released_scores():
    scores = human.attribute_scores()
    assert list(scores.index) == list(PAPER_ORDER) and list(scores.columns) == list(ATTRIBUTES)
    assert scores.iloc[:, :8].min().min() >= 1 and scores.iloc[:, :8].max().max() <= 9  # raw 1-9 units
    rescaled = (scores - scores.min()) / (scores.max() - scores.min())
    np.testing.assert_allclose(rescaled.to_numpy(), released.attribute_scores().to_numpy(), atol=1e-12)


def test_exact_source_restores_ties_and_released_source_is_the_file():
    exact = human.attribute_rdms("exact")
    sums = human.rating_means(exact=True)
    assert sums.attrs["n"] == 30
    i, j = pair_indices(27)
    integer_gaps = np.abs(sums.to_numpy()[i] - sums.to_numpy()[j])
    for k in range(8):
        assert len(np.unique(exact.iloc[:, k])) == len(np.unique(integer_gaps[:, k]))
        assert len(np.unique(exact.iloc[:, k])) < len(np.unique(released.attribute_distances().iloc[:, k]))
    np.testing.assert_allclose(exact.to_numpy(), released.attribute_distances().to_numpy(), atol=1e-12)
    pd.testing.assert_frame_equal(human.attribute_rdms("released"), released.attribute_distances())
    with pytest.raises(ValueError, match="valid choices"):
        human.attribute_rdms("paper")


def test_similarity_rdm_equals_released_files_exactly():
    np.testing.assert_array_equal(human.similarity_rdm(), released.similarity_distances()["distance"].to_numpy())
    individual = human.similarity_rdm(individual=True)
    assert individual.shape == (61, 351)
    np.testing.assert_array_equal(individual, released.similarity_distances(individual=True).to_numpy())


def test_similarity_reliability_is_leave_one_out_spearman():
    table = human.similarity_reliability()
    x = human.similarity_rdm(individual=True)
    rest = np.delete(x, 5, axis=0).mean(0)
    assert table["r"].iloc[5] == pytest.approx(stats.spearmanr(x[5], rest).statistic, rel=1e-10)
    assert len(table) == 61 and 0 < table.attrs["spearman_brown"] < 1


def test_reliability_table_follows_psych_conventions():
    table = human.attribute_reliability().set_index("attribute")
    assert list(table.index) == list(ATTRIBUTES)
    assert (table.loc[list(ATTRIBUTES[:8]), "df2"] == 26 * 29).all()  # 27 emotions x 30 raters
    assert (table.loc[list(ATTRIBUTES[8:]), "df2"] == 27 * 11).all()  # nominal df2 of the padded 27 x 12
    ratings = released.affective_ratings()
    long = ratings[ratings["included"] & (ratings["attribute"] == "arousal")]
    ref = pg.intraclass_corr(long, targets="emotion", raters="subject", ratings="rating").set_index("Type")
    assert table.loc["arousal", "icc"] == pytest.approx(ref.loc["ICC(A,k)", "ICC"], rel=1e-10)
    assert (table["ci_low"] < table["icc"]).all() and (table["icc"] < table["ci_high"]).all()


def test_bootstrap_equals_a_scipy_loop_over_resamples():
    sim = human.similarity_rdm(individual=True)
    att = released.attribute_distances().to_numpy()[:, [1, 2, 9]]
    boot = human.bootstrap_taus(sim, att, n_boot=8, seed=11)
    draws = np.random.default_rng(11).integers(0, 61, size=(8, 61))
    for b in range(8):
        mean = np.round(sim[draws[b]].mean(0), 9)  # exact ties whatever the summation order
        for a in range(3):
            assert boot[b, a] == pytest.approx(stats.kendalltau(mean, att[:, a]).statistic, abs=1e-12)


def test_unrounded_bootstrap_means_break_exact_ties_by_float_noise():
    sim = human.similarity_rdm(individual=True)
    draws = np.random.default_rng(6).integers(0, 61, size=(200, 61))
    exact_ties = [len(np.unique(np.round(sim[d].mean(0), 9))) for d in draws]
    noisy = [len(np.unique(np.bincount(d, minlength=61) @ sim / 61)) for d in draws]
    assert all(n >= e for n, e in zip(noisy, exact_ties)) and sum(noisy) > sum(exact_ties)


def test_attribute_weights_table_and_determinism():
    weights = human.attribute_weights(n_boot=300, seed=6)
    assert list(weights.columns) == ["attribute", "tau", "se", "ci_low", "ci_high", "p", "q", "q_bh"]
    assert list(weights["attribute"]) == list(ATTRIBUTES)
    observed = released.similarity_distances()["distance"].to_numpy()
    valence = released.attribute_distances()["valence"].to_numpy()
    assert weights.loc[1, "tau"] == pytest.approx(stats.kendalltau(observed, valence).statistic, abs=1e-12)
    assert weights["p"].between(0, 1).all() and (weights["se"] > 0).all()
    assert (weights["q_bh"] >= weights["p"] - 1e-15).all()
    pd.testing.assert_frame_equal(weights, human.attribute_weights(n_boot=300, seed=6))
    assert not weights["se"].equals(human.attribute_weights(n_boot=300, seed=7)["se"])
    recomputed = human.attribute_weights(attributes=human.attribute_rdms("recomputed"), n_boot=300, seed=6)
    np.testing.assert_allclose(recomputed["tau"], weights["tau"], atol=1e-15)
    with pytest.raises(ValueError, match="n_boot"):
        human.attribute_weights(n_boot=1)
    with pytest.raises(ValueError, match="subjects, pairs"):
        human.attribute_weights(similarity=observed)


def test_mds_map_is_deterministic_and_preserves_distances():
    mds = human.similarity_mds(seed=0)
    assert list(mds.index) == list(PAPER_ORDER) and list(mds.columns) == ["dim1", "dim2"]
    pd.testing.assert_frame_equal(mds, human.similarity_mds(seed=0))
    i, j = pair_indices(27)
    embedded = np.linalg.norm(mds.to_numpy()[i] - mds.to_numpy()[j], axis=1)
    assert stats.spearmanr(embedded, human.similarity_rdm()).statistic > 0.7
    assert 0 < mds.attrs["stress"] < 0.5


def test_parallel_analysis_counts_equal_a_loop_over_seeds():
    from emolib.human.appraisal import parallel_analysis

    counts = human.space.parallel_analysis_counts(n_seeds=6)
    assert counts.name == "simulation seeds" and counts.index.name == "components retained"
    assert counts.sum() == 6
    items = released.appraisal_ratings().query("included")[list(released.APPRAISAL_ITEMS.values())]
    values = items.fillna(5.0).to_numpy(np.float64)  # "not applicable" -> the midpoint, as AppraisalPCA
    loop = pd.Series([parallel_analysis(values, seed=s).n_components for s in range(6)]).value_counts()
    assert counts.to_dict() == loop.to_dict()
    fitted = pd.Series([human.appraisal_pca(seed=s).n_components_ for s in range(6)])
    assert counts.to_dict() == fitted.value_counts().to_dict()
    with pytest.raises(ValueError, match="at least 1"):
        human.space.parallel_analysis_counts(n_seeds=0)


def test_appraisal_parity_compares_both_inclusions_with_the_released_file():
    parity = human.space.appraisal_parity()
    assert parity.index.tolist() == ["299 (event criterion applied)", "300 (one 'n/a' respondent kept)"]
    theirs = released.attribute_distances().iloc[:, 8:].to_numpy()
    for label, event in zip(parity.index, (True, False)):
        ours = human.attribute_rdms("recomputed", event_given=event).iloc[:, 8:].to_numpy()
        r = [stats.pearsonr(ours[:, k], theirs[:, k])[0] for k in range(6)]
        assert parity.loc[label, "min r with released"] == pytest.approx(min(r), abs=1e-12)
        assert parity.loc[label, "max |difference|"] == np.abs(ours - theirs).max()
    assert parity.iloc[0, 1] < 1e-12 < 0.01 < parity.iloc[1, 1]
