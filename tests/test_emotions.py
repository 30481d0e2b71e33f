import numpy as np
import pytest

from emolib import emotions as E
from emolib import released


def test_emotion_lists_are_permutations_of_each_other():
    assert len(E.EMOTIONS) == 27 and list(E.EMOTIONS) == sorted(E.EMOTIONS)
    assert sorted(E.PAPER_ORDER) == list(E.EMOTIONS)
    assert sorted(E.ACTIVATION_ORDER) == list(E.EMOTIONS)
    assert E.NEUTRAL not in E.EMOTIONS


def test_goemotions_label_file_matches_alphabetical_order():
    from emolib.data import data_path

    labels = data_path("goemotions", "labels.txt").read_text().split()
    assert labels == list(E.EMOTIONS) + ["neutral"]


def test_attribute_names_and_old_name_mapping():
    assert len(E.ATTRIBUTES) == 14 and len(set(E.ATTRIBUTES)) == 14
    assert sorted(E.OLD_ATTRIBUTE_NAMES.values()) == sorted(E.ATTRIBUTES)
    assert E.new_attribute_name("non-novelty") == "novelty"
    assert E.new_attribute_name("happy-face") == "happy-face"
    with pytest.raises(ValueError, match="unknown attribute name 'happiness'.*non-novelty"):
        E.new_attribute_name("happiness")
    assert sum(len(v) for v in E.ATTRIBUTE_GROUPS.values()) == 14


def test_pair_order_is_r_lower_triangle_column_major():
    m = np.arange(16.0).reshape(4, 4)
    r_lower_tri = [m[i, j] for j in range(4) for i in range(j + 1, 4)]  # R: m[lower.tri(m)]
    assert E.square_to_pairs(m).tolist() == r_lower_tri
    assert E.pair_list(27)[:3] == [(1, 0), (2, 0), (3, 0)]
    assert len(E.pair_list(27)) == E.n_pairs(27) == 351


def test_pairs_round_trip_and_bad_lengths():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(5, 351))
    square = E.pairs_to_square(v)
    assert square.shape == (5, 27, 27)
    np.testing.assert_array_equal(square, np.swapaxes(square, -1, -2))
    np.testing.assert_array_equal(E.square_to_pairs(square), v)
    with pytest.raises(ValueError, match="not a number of pairs"):
        E.pairs_to_square(np.zeros(350))


def test_pair_reordering_equals_the_papers_reorder_files():
    files = released.reorder_files()
    assert files["reordered_emotions"] == list(E.PAPER_ORDER)
    np.testing.assert_array_equal(np.array(E.EMOTIONS)[files["reorder_emotions"] - 1], E.PAPER_ORDER)
    np.testing.assert_array_equal(E.pair_reorder_index(E.EMOTIONS, E.PAPER_ORDER), files["reorder_distance"] - 1)


def test_reordering_pairs_matches_reordering_the_square_matrix():
    rng = np.random.default_rng(1)
    x = rng.normal(size=27)
    rdm_alpha = E.square_to_pairs(np.abs(x[:, None] - x[None, :]))
    xr = E.reorder_items(x)
    rdm_paper = E.square_to_pairs(np.abs(xr[:, None] - xr[None, :]))
    np.testing.assert_array_equal(E.reorder_pairs(rdm_alpha), rdm_paper)
    back = E.reorder_pairs(rdm_paper, E.PAPER_ORDER, E.EMOTIONS)
    np.testing.assert_array_equal(back, rdm_alpha)


def test_check_emotions_names_the_bad_value_and_choices():
    assert E.check_emotions("joy") == ["joy"]
    with pytest.raises(ValueError, match=r"unknown emotion \['happiness'\]; valid choices: admiration"):
        E.check_emotions(["joy", "happiness"])
    with pytest.raises(ValueError, match="not in the source order"):
        E.order_index(["a", "b"], ["c"])
