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
