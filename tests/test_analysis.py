"""Tests of emolib.emollm.analysis: the valence chapter's analyses in one call each."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emolib import profiles
from emolib.emollm import analysis as A
from emolib.emollm import steering_controls
from emolib.emollm import vectors as E


@pytest.fixture(scope="module")
def steering_result():
    return A.vectors_and_steering("tiny-llama", "smoke", seed=0, device="cpu")


def test_vectors_and_steering_gives_every_table(steering_result):
    r = steering_result
    assert r.layer == 1  # the headline layer of a 2-layer model: (2 * n_layers) // 3
    assert list(r.pcs.columns) == ["layer", "pc", "human_scale", "r", "ci_low", "ci_high"]
    assert set(r.pcs["layer"]) == {0, 1} and len(r.headline) == 4
    assert {"ci_low_fixed_pca", "ci_high_fixed_pca"} <= set(r.headline.columns)
    assert list(r.steering.columns) == ["direction", "layer", "alpha", "effect", "ci_low", "ci_high"]
    valence = {"emotion PC1", "joy - sadness", "valence probe"}
    contrasts = {f"{a} - {b}" for a, b in steering_controls.CONTROL_CONTRASTS}
    projected = {steering_controls.projected_name(n) for n in valence}
    assert set(r.steering["direction"]) == valence | contrasts | projected | {"random"}
    assert (r.steering["layer"] == 1).all()
    n_random = profiles.settings("steering", "smoke").n_random
    assert r.shifts.query("direction == 'random'")["draw"].nunique() == n_random
    assert set(r.best.query("role == 'valence'")["direction"]) == valence
    assert (r.best["n_random"] == n_random).all() and set(r.best["alpha_of"]) == valence
    assert set(r.controls.slopes["direction"]) == valence | contrasts | projected
    assert set(r.controls.behaviour["direction"]) == valence | projected | {"random"} | contrasts
    assert sorted(r.examples["alpha"].unique())[1] == 0.0 and r.examples["continuation"].map(len).gt(0).all()
    assert set(r.seconds) == {"emotion vectors", "PC correlations", "RSA", "steering", "continuations"}


def test_vectors_and_steering_is_deterministic_and_validates(steering_result):
    again = A.vectors_and_steering("tiny-llama", "smoke", seed=0, device="cpu")
    pd.testing.assert_frame_equal(again.steering, steering_result.steering)
    pd.testing.assert_frame_equal(again.rsa, steering_result.rsa)
    without = A.vectors_and_steering("tiny-llama", "smoke", seed=0, device="cpu", probe=False)
    assert "valence probe" not in set(without.steering["direction"])
    with pytest.raises(ValueError, match="unknown profile 'fast'"):
        A.vectors_and_steering("tiny-llama", "fast")


def test_valence_directions_are_unit_pc1_and_the_contrast():
    ev = E.emotion_vectors("tiny-llama", profile="smoke", device="cpu")
    dirs = A.valence_directions(ev, 1)
    assert set(dirs) == {"emotion PC1", "joy - sadness"}
    assert all(d.shape == (ev.vectors.shape[-1],) for d in dirs.values())
    assert float(dirs["emotion PC1"].norm()) == pytest.approx(1.0, abs=1e-5)
    joy, sad = E.EMOTIONS.index("joy"), E.EMOTIONS.index("sadness")
    np.testing.assert_allclose(dirs["joy - sadness"].numpy(), ev.vectors[1, joy] - ev.vectors[1, sad], rtol=1e-5)


def _summary(rows):
    return pd.DataFrame(rows, columns=["scale", "experiment", "variant", "features", "layer", "accuracy", "ci_low",
                                       "ci_high"])


def test_best_layers_and_the_probe_comparison_pick_the_rigorous_best_layer():
    rows = []
    for layer, centred in ((0, 0.6), (1, 0.8), (2, 0.7)):
        for variant, acc in (("faithful", 0.9), ("grouped", 0.85), ("centred", centred), ("oracle", 0.75),
                             ("random-label", 0.5)):
            rows.append(("valence", "E1", variant, "residual", layer, acc + 0.01 * layer, 0, 1))
        rows.append(("valence", "E3", "random-label", "residual", layer, 0.9, 0, 1))
    rows.append(("valence", "E1", "faithful", "value", "all", 0.95, 0.9, 1.0))
    summary = _summary(rows)
    best = A.best_layers(summary)
    assert best.to_dict("records") == [{"scale": "valence", "features": "residual", "layer": 1}]
    table = A.probe_comparison(summary)
    row = table.iloc[0]
    assert row["layer"] == 1 and row["centred E1"] == pytest.approx(0.81) and "random-label E3" not in row
    assert row["centred - oracle"] == pytest.approx(0.81 - 0.76)
    cells = A.best_layer_table(summary)
    assert "E3" not in cells.columns  # E3 is a memorisation check, in a table of its own
    assert ("valence", "value", "faithful (all layers)", "all") in cells.index
    with pytest.raises(ValueError, match="no per-layer rows of variant 'nope'"):
        A.best_layers(summary, ("nope", "E1"))


def test_arousal_confound_counts_shared_words():
    crosstab, summary = A.arousal_confound()
    assert set(crosstab.index) == {"low", "high"}
    assert summary["n_shared"] == int(crosstab.drop(columns="none", errors="ignore").to_numpy().sum())
    assert 0 <= summary["accuracy"] <= 1 and summary["n_arousal_words"] == int(crosstab.to_numpy().sum())


def test_faithful_spread_is_the_range_over_repeats():
    results = pd.DataFrame({"scale": "valence", "experiment": "E1", "variant": "faithful", "features": "value",
                            "layer": "all", "repeat": [0, 1, 2], "accuracy": [0.7, 0.9, 0.8]})
    spread = A.faithful_spread(results)
    assert spread.loc[("valence", "E1")].tolist() == [0.7, 0.9]
