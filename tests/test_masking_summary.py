import numpy as np
import pandas as pd
import pytest

from emolib import released
from emolib.paper import manipulation, masking_summary

COLUMNS = ["emotion", "seed", "condition", "attribute", "k", "draw", "accuracy"]


@pytest.fixture(scope="module")
def synthetic():
    """Three emotions x six seeds, two attributes, two k; valence masks hurt joy, draws differ in damage."""
    rng = np.random.default_rng(0)
    rows, base = [], []
    for e in ("joy", "fear", "grief"):
        for s in range(6):
            acc = 0.8 + 0.01 * s
            base.append((e, s, acc))
            for k in (10, 20):
                for a, cost in (("valence", 0.1 if e == "joy" else 0.01), ("arousal", 0.0)):
                    rows.append((e, s, "selective", a, k, 0, acc - cost + 0.005 * rng.normal()))
                for d, (a, cost) in enumerate((("valence", 0.02), ("arousal", 0.03 * k / 10))):
                    rows.append((e, s, "random", a, k, d, acc - cost + 0.005 * rng.normal()))
    masked = pd.DataFrame(rows, columns=COLUMNS)
    unmasked = pd.DataFrame(base, columns=["emotion", "seed", "accuracy"])
    return masked, unmasked, manipulation.analyse(masked, unmasked, pd.Series({"valence": 0.3, "arousal": 0.1}))


def test_significance_counts_equal_a_loop_over_the_tests(synthetic):
    _, _, result = synthetic
    for alpha in (0.05, 0.5):
        counts = masking_summary.significance_counts(result, k=20, alpha=alpha)
        tables = ("emotion", "attribute_emotion")
        assert counts.index.tolist() == [(b, t) for b in manipulation.BASELINES for t in tables]
        assert counts.columns.tolist() == ["sig_k", "n_k", "sig", "n", "sig_bh"]
        for (baseline, name), row in counts.iterrows():
            table = getattr(result.baselines[baseline], masking_summary.SIGNIFICANCE_TABLES[name])
            records = table.to_dict("records")
            assert row["n"] == len(records) and row["n_k"] == sum(r["k"] == 20 for r in records)
            assert row["sig_k"] == sum(r["k"] == 20 and r["q"] < alpha for r in records)
            assert row["sig"] == sum(r["q"] < alpha for r in records)
            assert row["sig_bh"] == sum(r["q_bh"] < alpha for r in records)
    assert counts.loc[("paper", "emotion"), "n_k"] == 3 and counts.loc[("paper", "attribute_emotion"), "n"] == 12
    loose, strict = (masking_summary.significance_counts(result, k=10, alpha=a) for a in (0.5, 0.001))
    assert (loose >= strict).all(axis=None) and (loose["sig"] > strict["sig"]).any()
    with pytest.raises(ValueError, match="unknown k 30"):
        masking_summary.significance_counts(result, k=30)
    with pytest.raises(ValueError, match="alpha"):
        masking_summary.significance_counts(result, k=10, alpha=5)


def test_significance_counts_of_the_released_results():
    masked, unmasked = released.masking_frames()
    tau = pd.Series(0.1, index=masked["attribute"].unique())  # the counts do not depend on the weights
    counts = masking_summary.significance_counts(manipulation.analyse(masked, unmasked, tau), k=4000)
    assert counts.loc[("paper", "emotion")].tolist() == [20, 27, 109, 189, 109]
    assert counts.loc[("paper", "attribute_emotion")].tolist() == [97, 378, 516, 2646, 516]


def test_worst_draws_equal_a_loop_over_the_draws(synthetic):
    masked, unmasked, _ = synthetic
    damage = manipulation.random_mask_damage(masked, unmasked)
    worst = masking_summary.worst_draws(damage, [10])
    assert worst.index.tolist() == ["all", "compared"]
    for name, ks in (("all", (10, 20)), ("compared", (10,))):
        records = [r for r in damage.to_dict("records") if r["k"] in ks]
        top = max(records, key=lambda r: r["relative"])
        assert worst.loc[name, ["label", "k", "drop", "relative"]].tolist() == [top["attribute"], top["k"], top["drop"],
                                                                                 top["relative"]]
        assert worst.loc[name, "over_2"] == sum(r["relative"] > 2 for r in records)
        assert worst.loc[name, "n"] == len(records)
    assert worst.loc["all", "k"] == 20 and worst.loc["compared", "k"] == 10  # the costlier draw grows with k
    assert worst.to_dict("index")["all"]["label"] == "arousal"
    with pytest.raises(ValueError, match="unknown k \\[30\\]"):
        masking_summary.worst_draws(damage, [30])
