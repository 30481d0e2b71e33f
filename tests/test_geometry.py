"""paper.geometry: the seeds a reliable design needs, the top units with their ceilings, held-out alignment against a
loop, and one seed handled."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from emolib import rsa
from emolib.paper import geometry
from emolib.rsa.reliability import spearman_brown


@pytest.mark.parametrize("r", [0.01, 0.05, 0.2])
@pytest.mark.parametrize("target", [0.5, 0.8])
def test_seeds_needed_is_the_smallest_count_that_reaches_the_target(r, target):
    n = geometry.seeds_needed(r, target)
    assert spearman_brown(r, n) >= target - 1e-12 and spearman_brown(r, n - 1) < target


@pytest.fixture(scope="module")
def searchlight():
    rng = np.random.default_rng(0)
    cube = rng.random((27, 4, 24))
    cube[:, :, :4] += 2 * rng.random((27, 1, 4))  # four reliable units
    targets = pd.DataFrame({"a": rsa.unit_rdms(cube[:, :, :1].mean(1, keepdims=True))[:, 0],
                            "b": rsa.unit_rdms(rng.random((27, 1, 1)))[:, 0]})
    result = rsa.searchlight(rsa.unit_rdms(cube), targets, 12, permutations=19)
    return cube, targets, dataclasses.replace(result, reliability=rsa.unit_reliability(cube))


def test_findings_and_top_units(searchlight):
    cube, _, result = searchlight
    facts = geometry.reliability_findings(result)
    assert facts["n_seeds"] == 4 and facts["r_pair"] == pytest.approx(result.reliability["r_pair"].median())
    top = geometry.top_units(result, 3)
    assert top["unit"].iloc[0] == 0 and top["attribute"].iloc[0] == "a"
    assert top["layer"].iloc[0] == 1  # unit 0 sits in the first layer, numbered 1 as on every page
    expected = top["tau"] / rsa.tau_ceiling(top["reliability"])
    np.testing.assert_allclose(top["share_of_ceiling"], expected)
    none = geometry.reliability_findings(dataclasses.replace(result, reliability=None))
    assert np.isnan(none["reliability"]) and none["seeds_5"].startswith("n/a")


def test_held_out_alignment_equals_choosing_on_some_seeds_and_measuring_on_the_others(searchlight):
    from emolib.human import subject_mean_tau

    cube, targets, _ = searchlight
    ceiling = type("Ceiling", (), {"lower": 0.5, "upper": 0.6})()
    subjects = np.stack([targets["a"] + 0.1 * i * np.random.default_rng(i).random(351) for i in range(5)])
    table = geometry.held_out_alignment(cube, targets["a"], ceiling, subjects, units_per_layer=12)
    taus, subject_taus = [], []
    for held in range(4):  # four seeds: leave one seed out
        train = [s for s in range(4) if s != held]
        tau_train, _ = rsa.kendall_tau_b(rsa.unit_rdms(cube[:, train]), targets[["a"]].to_numpy())
        best = int(np.argmax(tau_train[:, 0]))
        rdm = rsa.unit_rdms(cube[:, [held], best: best + 1])
        taus.append(rsa.kendall_tau_b(rdm, targets[["a"]].to_numpy())[0][0, 0])
        subject_taus.append(subject_mean_tau(rdm, subjects)[0])
    row = table.iloc[0]
    assert row["n_splits"] == 4 and row["tau"] == pytest.approx(np.mean(taus))
    assert row["tau_subjects"] == pytest.approx(np.mean(subject_taus))
    assert row["share_of_lower"] == pytest.approx(row["tau_subjects"] / 0.5)
    assert len(table) == 2 and geometry.held_out_alignment(cube[:, :1], targets["a"], ceiling).empty


def test_cv_comparison_has_both_searchlights(searchlight):
    cube, targets, result = searchlight
    table = geometry.cv_comparison(cube, result, targets)
    tau_cv, _ = rsa.kendall_tau_b(rsa.cv_unit_rdms(cube), targets.to_numpy())
    assert list(table.index) == ["a", "b"]
    assert table["max tau (cross-validated)"].tolist() == pytest.approx(np.nanmax(tau_cv, axis=0).tolist())
    assert table.loc["a", "max tau (cross-validated)"] > 0.3  # the reliable units keep their geometry
    assert "note" in geometry.cv_comparison(cube[:, :1], result, targets).columns


def test_on_the_human_scale_and_the_controlled_whole_model(searchlight):
    cube, targets, _ = searchlight
    ceiling = type("Ceiling", (), {"lower": 0.5, "upper": 0.6})()
    base = pd.DataFrame({"baseline": ["x"], "target": ["similarity"], "tau": [0.4], "tau_subjects": [0.3]})
    align = pd.DataFrame({"what": ["best unit"], "tau": [0.25], "tau_subjects": [0.2]})
    table = geometry.on_the_human_scale(base, align, ceiling)
    assert table["kind"].tolist() == ["baseline", "model"] and table["tau"].tolist() == [0.3, 0.2]
    assert (table["ceiling_low"] == 0.5).all()
    controlled = geometry.controlled_whole_model(cube, 12, targets, targets["b"], n_perm=19)
    assert set(controlled.columns) >= {"tau", "p", "tau_partial", "r_partial", "p_partial"}
