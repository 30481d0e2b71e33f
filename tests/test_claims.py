"""claims: each claim's row at its unit (the shipped rule's error rates are measured in test_verdict.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emolib.paper import claims


@pytest.fixture(scope="module")
def smoke():
    from emolib.paper import control, pipeline

    run = pipeline.run_paper("tiny-llama", "smoke", device="cpu", progress=False, k_values=[0.05, 0.1],
                             prompt_overrides={"train_size": 4, "dev_size": 6, "test_size": 6, "epochs": 1})
    return run, control.null_control(run)


def test_run_evidence_reads_inference_on_the_test_split_and_counts_overlapping_masks(smoke):
    run, null = smoke
    ev = claims.run_evidence(run)
    test = run.store.accuracy[run.store.accuracy["split"] == "test"]
    assert ev.split == "test" and ev.accuracy["accuracy"].tolist() == test["accuracy"].tolist()
    assert set(ev.effective) == {"selective", "sham"}
    assert 1.0 <= ev.effective["selective"] <= 14.0
    null_ev = claims.run_evidence(run, null)  # null prompts have no accuracies of their own
    assert null_ev.split.startswith("dev") and len(null_ev.accuracy) == 27


def test_rows_have_every_claim_the_verdict_k_and_descriptive_others(smoke):
    run, _ = smoke
    rows = claims.claim_rows(claims.run_evidence(run), run.human_tau, None, None, run.masking.verdict_k,
                             n_perm=199, n_boot=100)
    assert set(rows["claim"]) == set(claims.CLAIM_TESTS)
    main = rows[~rows["descriptive"]]
    assert sorted(main["claim"]) == sorted(claims.CLAIM_TESTS)
    from emolib.paper.units import resolve_k

    n_units = run.searchlight.tau.shape[0]
    assert set(rows.loc[rows["descriptive"], "k"]) == {resolve_k(0.05, n_units)}
    assert set(main.loc[main["k"].notna(), "k"]) == {resolve_k(0.1, n_units)}
    assert rows.loc[rows["descriptive"], "reason"].str.startswith("descriptive").all()
    sham = main.set_index("claim").loc["masks_sham"]
    assert np.isnan(sham["p_shift"]) and "the paper ran no sham masks" in sham["reason_if_not_held"]


def test_powers_and_the_papers_effect_can_be_given(smoke):
    run, _ = smoke
    ev = claims.run_evidence(run)
    rows = claims.claim_rows(ev, run.human_tau, None, (None, None, 0.1), run.masking.verdict_k, n_perm=199,
                             n_boot=100, paper={"delta": -0.03, "rho": -0.47},
                             powers={"masks_random": 0.9, "weights": 0.4})
    main = rows[~rows["descriptive"]].set_index("claim")
    assert main.loc["masks_random", "power"] == 0.9 and main.loc["weights", "power"] == 0.4
    assert main.loc["masks_random", "paper_at_design"] == -0.03 and main.loc["weights", "paper_at_design"] == -0.47
    assert main.loc["inference", "paper_at_design"] == pytest.approx(main.loc["inference", "chance"] + 0.1)


def test_counts_without_a_permutation_null_say_so():
    from emolib import rsa

    rdms = rsa.unit_rdms(np.random.default_rng(0).random((27, 2, 8)))
    result = rsa.searchlight(rdms, pd.DataFrame({"a": rdms[:, 0]}), 4)
    ev = claims.Evidence(pd.DataFrame({"emotion": ["joy"], "seed": [1], "accuracy": [0.7]}),
                         pd.DataFrame({"emotion": ["joy"], "seed": [1], "chance": [0.5]}), result, None, 40.0, 8)
    rows = claims.claim_rows(ev, pd.Series(np.linspace(0, 1, 14)))
    counts = rows.set_index("claim").loc[["units_paper", "units_fwer"]]
    assert counts["reason_if_not_held"].eq("no permutation null was run").all() and counts["p"].isna().all()


def test_a_count_beyond_its_permutation_null_holds():
    """The count rows can hold (their reason only explains a "cannot tell")."""
    from emolib import rsa
    from emolib.paper.verdict import judge

    acts = np.random.default_rng(1).random((27, 2, 40))
    acts[:, :, :5] += 2 * np.linspace(0, 1, 27)[:, None, None]
    rdms = rsa.unit_rdms(acts)
    target = rsa.unit_rdms(np.linspace(0, 1, 27)[:, None, None])[:, 0]
    result = rsa.searchlight(rdms, pd.DataFrame({"a": target}), 20, permutations=99)
    ev = claims.Evidence(pd.DataFrame({"emotion": ["joy", "fear"], "seed": [1, 1], "accuracy": [0.7, 0.8]}),
                         pd.DataFrame({"emotion": ["joy", "fear"], "seed": [1, 1], "chance": [0.5, 0.5]}), result,
                         None, 40.0, 40)
    table = judge(claims.claim_rows(ev, pd.Series(np.linspace(0, 1, 14)))).set_index("claim")
    assert table.loc["units_fwer", "p_holm"] < 0.05 and table.loc["units_fwer", "verdict"] == "holds"
    assert table.loc["units_fwer", "reason"] == ""
