import numpy as np
import pandas as pd
import pytest

from emolib import released
from emolib.data import data_path
from emolib.emotions import ATTRIBUTES, EMOTIONS, PAPER_ORDER, PAPER_SEEDS


def test_inclusion_counts_per_experiment():
    summary = released.inclusion_summary().set_index("experiment")
    assert summary["included"].tolist() == [30, 30, 299, 61]
    assert summary["responses"].tolist() == [35, 36, 329, 69]


def test_rating_tables_are_tidy_and_flagged():
    aff = released.affective_ratings()
    kept = aff[aff["included"]]
    assert kept.groupby(["emotion", "attribute"], observed=True)["rating"].count().eq(30).all()
    assert set(kept["rating"].unique()) <= set(range(1, 10))
    face = released.face_ratings()
    assert list(face["attribute"].cat.categories) == list(ATTRIBUTES[2:8])
    assert not face.loc[~face["included"], "attention_check"].all()


def test_appraisal_items_and_the_na_event_respondent():
    app = released.appraisal_ratings()
    assert len(released.APPRAISAL_ITEMS) == 38
    assert app[list(released.APPRAISAL_ITEMS.values())].min().min() >= 1  # -99 became NaN
    kept = app[app["included"]]
    assert kept["emotion"].value_counts().loc[["anger", "confusion", "curiosity"]].tolist() == [11, 12, 12]
    assert not (app["included"] & ~app["event_given"]).any()  # "Specific Event" = "n/a" is excluded
    checks_only = app[["finished", "english", "consent", "attention_check"]].all(axis=1)
    assert (checks_only & ~app["event_given"]).sum() == 1  # the one anger respondent who wrote "n/a"
    approved = pd.read_csv(data_path("model_emotion", "raw_data", "emotional_featuers", "appraisal_features",
                                     "subjects.csv"))["participant_id"].dropna()
    assert set(kept["subject"]) == set(approved.str.strip())  # the 299 approved rows of subjects.csv


def test_similarity_ratings_shape_missing_cells_and_released_subject_rdms():
    sim = released.similarity_ratings()
    assert sim.shape == (61, 378)
    assert int(sim.isna().sum().sum()) == 143
    pairs = sim.loc[:, [a != "neutral" and b != "neutral" for a, b in sim.columns]]
    assert int(pairs.isna().sum().sum()) == 133


def test_released_derived_files_shapes():
    assert released.attribute_distances().shape == (351, 14)
    assert list(released.attribute_scores().index) == list(PAPER_ORDER)
    assert released.similarity_distances().shape == (351, 1)
    assert released.similarity_distances(individual=True).shape == (61, 351)


def test_activations_seed_runs_and_the_all_run_is_their_sum():
    act = released.activations(order=EMOTIONS)
    assert act.values.shape == (27, 12, 36864) and act.units_per_layer == 3072
    with np.load(data_path("model_emotion", "roberta_released", "activations.npz")) as npz:
        everything = npz["activations"]
    np.testing.assert_allclose(act.values.astype(np.float64).sum(1), everything[:, 12], rtol=1e-5, atol=1e-4)
    paper = released.activations()
    np.testing.assert_array_equal(paper.values[0], act.values[EMOTIONS.index(PAPER_ORDER[0])])
    assert paper.values.min() >= -0.1701  # post-GELU


def test_r_doubles_gives_the_shortest_decimal_doubles():
    f32 = released.activations().values[:2, :2, :500]
    doubles = released.r_doubles(f32)
    assert doubles.dtype == np.float64
    assert all(d == float(str(f)) for d, f in zip(doubles.ravel()[:200], f32.ravel()[:200]))
    assert (doubles != f32.astype(np.float64)).any()  # plain casting differs in the last digits
    np.testing.assert_allclose(doubles, f32, rtol=1e-6, atol=1e-12)


def test_masking_files_layout_and_best_equals_released_accuracy():
    sel, rnd = released.masking_accuracy("attribute_specific"), released.masking_accuracy("random")
    assert len(sel) == 324 * 98 and len(rnd) == 324 * 126
    assert sorted(sel["k"].unique()) == [1500, 2000, 2500, 3000, 4000, 5000, 6000]
    assert sorted(rnd["k"].unique()) == [500, 1000, 1500, 2000, 2500, 3000, 4000, 5000, 6000]
    acc = released.prompt_accuracy().set_index(["emotion", "seed"])["accuracy"]
    best = sel.groupby(["emotion", "seed"])["best"].first()
    np.testing.assert_allclose(best.loc[acc.index].to_numpy(), acc.to_numpy(), atol=1e-6)
    assert set(acc.index.get_level_values("seed")) == set(PAPER_SEEDS)
    with pytest.raises(ValueError, match="valid choices: attribute_specific, random"):
        released.masking_accuracy("selective")


def test_emotion_agreements_accuracy_is_the_mean_released_accuracy():
    agree = released.emotion_agreements()
    mean_acc = released.prompt_accuracy().groupby("emotion")["accuracy"].mean()
    np.testing.assert_allclose(agree["accuracy"], mean_acc.loc[agree.index], atol=1e-6)


def test_appraisal_helpers_count_per_emotion_the_na_event_and_not_applicable_cells():
    app = released.appraisal_ratings()
    per_emotion = released.appraisal_per_emotion()
    assert per_emotion.sum() == app["included"].sum() == 299
    assert per_emotion.to_dict() == app.loc[app["included"], "emotion"].astype(str).value_counts().to_dict()
    assert per_emotion.iloc[0] == per_emotion.max() == 12
    na_event = released.appraisal_event_na()
    assert na_event["emotion"].astype(str).tolist() == ["anger"] and not na_event["event_given"].any()
    assert na_event[["finished", "english", "consent", "attention_check"]].all(axis=None)
    assert set(na_event["subject"]).isdisjoint(app.loc[app["included"], "subject"])
    # the share of -99 answers, counted in the raw file
    raw = pd.read_csv(data_path("model_emotion", "raw_data", "emotional_featuers", "appraisal_features", "rawdata.csv"),
                      skiprows=[1, 2], keep_default_na=False)
    included = raw["PROLIFIC_PID"].str.strip().isin(app.loc[app["included"], "subject"])
    cells = raw.loc[included, [f"{c}_Item_1" for c in released.APPRAISAL_ITEMS]].apply(pd.to_numeric)
    assert included.sum() == 299
    assert released.appraisal_not_applicable_share() == (cells == -99).to_numpy().mean()
