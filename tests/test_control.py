"""The null-prompt control: untrained prompts of the trained prompts' displacement, through the whole pipeline."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emolib.paper import control, pipeline, prompts


@pytest.fixture(scope="module")
def run():
    return pipeline.run_paper("tiny-llama", "smoke", device="cpu", progress=False,
                              prompt_overrides={"train_size": 4, "dev_size": 4, "test_size": 2, "epochs": 1})


def test_null_prompts_move_as_far_as_training_did_in_random_directions(run):
    bb = run.loaded
    init = prompts.initial_prompts(bb, prompts.store_settings(run.store), run.store.index["seed"])
    null = control.null_prompts(bb, run.store, seed=0)
    trained_step = (run.store.prompts - init).flatten(1).norm(dim=1)
    null_step = (null - init).flatten(1).norm(dim=1)
    torch.testing.assert_close(null_step, trained_step, rtol=1e-4, atol=1e-6)
    cosine = torch.nn.functional.cosine_similarity((null - init).flatten(1), (run.store.prompts - init).flatten(1))
    assert cosine.abs().max() < 0.5  # random directions, not the trained ones
    torch.testing.assert_close(control.null_prompts(bb, run.store, seed=0), null)
    assert not torch.equal(control.null_prompts(bb, run.store, seed=1), null)


def test_null_control_runs_the_same_pipeline(run):
    result = control.null_control(run)
    assert result.activations.shape == run.activations.shape
    assert not np.allclose(result.activations, run.activations)
    assert result.searchlight.tau.shape == run.searchlight.tau.shape
    assert (result.searchlight.permutation is None) == (run.searchlight.permutation is None)
    assert len(result.unmasked_accuracy()) == len(run.store.index)
    assert list(result.manipulation.baselines) == list(run.manipulation.baselines)
    with pytest.raises(ValueError, match="needs the run's backbone"):
        control.null_control(type(run)(**{**run.__dict__, "loaded": None}))


def test_null_control_masks_only_its_own_k_values(tmp_path):
    run2 = pipeline.run_paper("tiny-llama", "smoke", device="cpu", progress=False, root=tmp_path,
                              k_values=[0.05, 0.1], null_k_values=[0.1],
                              prompt_overrides={"train_size": 4, "dev_size": 4, "test_size": 2, "epochs": 1})
    assert run2.mask_index["k"].nunique() == 2
    result = control.null_control(run2, root=tmp_path)
    assert result.mask_index["k"].nunique() == 1
    assert result.mask_index["k"].iloc[0] == run2.mask_index["k"].max()
    table = control.correlation_table(run2, result)
    assert table[("null", "rho")].notna().sum() == 1 and table[("trained", "rho")].notna().sum() == 2
    trained = run2.manipulation.baselines["pooled"].correlation  # rho of the extra loss = -(rho of attribute - random)
    assert table[("trained", "rho")].to_numpy() == pytest.approx(-trained["mean_rho"].to_numpy(), nan_ok=True)


def test_null_k_values_must_be_among_the_k_values():
    from emolib import profiles

    with pytest.raises(ValueError, match="null_k_values .* subset of k_values"):
        profiles.settings("masking", "smoke", k_values=[0.05, 0.1], null_k_values=[0.2])
