"""Families as the unit: folds, the no-oracle baseline, the nested layer choice, intervals and the three-way rule."""

import numpy as np
import pandas as pd
import pytest

from emolib.emollm import families as F


def _synthetic(n_adj: int = 60, n_templates: int = 8, noise: float = 0.3, compose: bool = True, seed: int = 0,
               n_layers: int = 3, width: int = 6, erase: bool = False) -> dict:
    """Emo_LLM-shaped data: y = valence XOR negation. The adjective's lexical features carry its valence; the
    prompt's features carry y (``compose``: negation flips the valence axis) at layer 1 only, or the adjective's
    valence alone; with ``erase``, negated prompts carry the adjective's valence on an axis of their own (dimension
    1), so both labels are decodable and nothing is composed."""
    rng = np.random.default_rng(seed)
    valence = rng.permutation(np.arange(n_adj) % 2)  # 1 = first list (negative)
    rows = [(t, t % 2 == 1, a, bool(valence[a])) for t in range(n_templates) for a in range(n_adj)]
    frame = pd.DataFrame(rows, columns=["template_id", "negation", "adjective", "in_first"])
    frame["adjective"] = "w" + frame["adjective"].astype(str)
    frame["y"] = (frame["in_first"] != frame["negation"]).astype(int)
    frame["lemma_family"] = frame["adjective"].str[1:].astype(int) // 2  # pairs of words form a family
    frame["template_family"] = frame["template_id"] // 2  # plain/negated pairs
    n = len(frame)
    signal = (frame["y"] if compose else frame["in_first"].astype(int)).to_numpy() * 2.0 - 1
    X = rng.normal(scale=noise, size=(n, n_layers, width)) + rng.normal(size=(n_templates, 1, width))[frame["template_id"]]
    if erase:
        neg = frame["negation"].to_numpy()
        valence = frame["in_first"].to_numpy() * 2.0 - 1
        X[~neg, 1, 0] += valence[~neg]
        X[neg, 1, 1] += valence[neg]  # negation moves valence to another axis, unflipped
    else:
        X[:, 1, 0] += signal  # the signal lives at layer 1
    lexical = rng.normal(scale=noise, size=(n, n_layers, width))
    lexical[:, :, 0] += frame["in_first"].to_numpy()[:, None] * 2.0 - 1
    return {"frame": frame, "residual": X.astype(np.float32), "lexical_residual": lexical.astype(np.float32)}


def test_folds_hold_every_family_out_exactly_once():
    groups = np.repeat(np.arange(23), np.arange(1, 24))
    for n_splits in (None, 5, 100):
        folds = F.family_folds(groups, n_splits, seed=3)
        held = np.concatenate(folds)
        assert sorted(held.tolist()) == list(range(23))  # each family once, none twice
    sizes = [np.isin(groups, f).sum() for f in F.family_folds(groups, 5, seed=3)]
    assert max(sizes) - min(sizes) <= 23  # balanced up to one family
    assert [f.tolist() for f in F.family_folds(groups, 5, seed=3)] == [f.tolist() for f in F.family_folds(groups, 5, 3)]
    with pytest.raises(ValueError, match="n_splits must be >= 2"):
        F.family_folds(groups, 1)


@pytest.mark.parametrize("experiment", ["E1", "E2"])
def test_leave_one_family_out_never_puts_a_family_in_train_and_test(experiment, monkeypatch):
    d = _synthetic()
    column = F.GROUPS[experiment]
    seen = []
    real = F._correct

    def spy(problem, train_rows, test):
        train_fam = set(d["frame"][column].to_numpy()[train_rows])
        test_fam = set(d["frame"][column].to_numpy()[test])
        seen.append(not (train_fam & test_fam))
        return real(problem, train_rows, test)

    monkeypatch.setattr(F, "_correct", spy)
    cv = F.family_cv(d, experiment, n_splits=4, inner_splits=2)
    assert seen and all(seen)  # outer and inner fits alike
    per_family = cv[(cv["variant"] == "centred") & (cv["layer"] == 0)].groupby("family")["fold"].nunique()
    assert (per_family == 1).all() and len(per_family) == d["frame"][column].nunique()


def test_on_valence_xor_negation_the_oracle_is_perfect_and_the_additive_baseline_is_at_chance_on_negated_rows():
    d = _synthetic(n_adj=200, noise=0.2)
    cv = F.family_cv(d, "E1", layers=[1], n_splits=5, inner_splits=2)
    summary = F.family_summary(cv, n_boot=200).set_index(["variant", "layer"])
    negated = d["frame"]["negation"].sum()
    mc = 3 * np.sqrt(0.25 / negated)  # Monte Carlo error of a share of `negated` rows
    assert summary.loc[("oracle", 1), "negated"] == 1.0
    assert summary.loc[("additive", 1), "negated"] <= 0.5 + mc
    assert summary.loc[("centred", 1), "negated"] > 0.95  # the composed representation is read


def test_the_nested_layer_is_chosen_without_the_test_families():
    d = _synthetic(n_adj=80)
    cv = F.family_cv(d, "E1", n_splits=4, inner_splits=2)
    nested = cv[(cv["variant"] == "centred") & (cv["layer"] == "nested")]
    assert (nested["chosen"] == 1).all()  # the signal's layer
    at_one = cv[(cv["variant"] == "centred") & (cv["layer"] == 1)]
    assert nested["correct"].sum() == at_one["correct"].sum()  # the same held-out predictions


def test_family_bootstrap_matches_a_loop_and_widens_with_fewer_families():
    cv = pd.DataFrame({"experiment": "E1", "variant": "centred", "layer": 0, "chosen": 0, "fold": 0,
                       "family": np.arange(10), "negation": False, "n": 10,
                       "correct": [10, 9, 8, 10, 2, 9, 10, 7, 9, 10]})
    summary = F.family_summary(cv, n_boot=4000, seed=1).iloc[0]
    rng = np.random.default_rng(5)
    loop = []
    for _ in range(4000):
        pick = rng.integers(0, 10, 10)
        loop.append(cv["correct"].to_numpy()[pick].sum() / 100)
    assert summary["accuracy"] == pytest.approx(0.84)
    assert summary["ci_low"] == pytest.approx(np.percentile(loop, 2.5), abs=0.02)
    assert summary["ci_high"] == pytest.approx(np.percentile(loop, 97.5), abs=0.02)


def _paired(gain: float, n_families: int, rng: np.random.Generator, n: int = 16, base: float = 0.6) -> pd.DataFrame:
    """Two variants on the same families; each family has its own difficulty (shared by both variants)."""
    difficulty = np.clip(rng.normal(base, 0.15, n_families), 0.05, 0.95)
    a = rng.binomial(n, np.clip(difficulty + gain, 0, 1))
    b = rng.binomial(n, difficulty)
    rows = [{"experiment": "E1", "variant": v, "layer": "nested", "chosen": 0, "fold": 0, "family": f,
             "negation": False, "n": n, "correct": int(c)} for v, counts in (("a", a), ("b", b))
            for f, c in enumerate(counts)]
    return pd.DataFrame(rows)


def _rates(gain: float, n_families: int, n_sim: int = 200) -> dict[str, float]:
    rng = np.random.default_rng(11)
    labels = [F.decide_gain(F.paired_gain(_paired(gain, n_families, rng), "a", "b", n_perm=999, n_boot=200,
                                          seed=int(rng.integers(1 << 30))))[0] for _ in range(n_sim)]
    return {v: labels.count(v) / n_sim for v in ("holds", "does not hold", "cannot tell")}


def _shift_size(n_families: int, n_sim: int = 200) -> float:
    """How often the inferiority test rejects "gain >= SMALLEST_GAIN" when the gain is exactly that."""
    rng = np.random.default_rng(12)
    hits = [F.paired_gain(_paired(F.SMALLEST_GAIN, n_families, rng), "a", "b", n_perm=999, n_boot=50,
                          seed=int(rng.integers(1 << 30)))["p_shift"] < 0.05 for _ in range(n_sim)]
    return float(np.mean(hits))


@pytest.mark.parametrize("n_families", [169, 7])  # the standard profile's E1 and E2
def test_the_three_way_rule_errs_at_its_nominal_rate(n_families):
    mc = 3 * np.sqrt(0.05 * 0.95 / 200)
    assert _rates(0.0, n_families)["holds"] <= 0.05 + mc  # no gain: "holds" at most alpha
    assert _shift_size(n_families) <= 0.05 + mc  # a gain of the smallest size: the inferiority test's size
    if n_families >= 40:
        assert _rates(0.0, n_families)["does not hold"] > 0.5  # with power, no gain is called "does not hold"
        assert _rates(0.3, n_families)["holds"] > 0.9  # a large gain is seen
    else:
        assert _rates(0.0, n_families)["does not hold"] < 0.5  # too few families: mostly "cannot tell"


def test_too_few_families_cannot_say_does_not_hold():
    rng = np.random.default_rng(2)
    row = F.paired_gain(_paired(0.0, 3, rng), "a", "b", n_perm=999, n_boot=200)
    assert row["power"] < 0.8 and F.decide_gain(row)[0] == "cannot tell"
    with pytest.raises(ValueError, match="no rows of 'a' and 'zz'"):
        F.paired_gain(_paired(0.0, 3, rng), "a", "zz")
