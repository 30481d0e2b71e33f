"""Golden results: every expensive stage, recomputed on a small fixed input, equals its stored results at its
version (:mod:`emolib.golden`), and a deliberate change of a stage's computation fails the comparison."""

from __future__ import annotations

import copy

import pytest

from emolib import golden, versions

STORED = golden.load()


@pytest.fixture(scope="module")
def computed():
    return {stage: golden.compute(stage) for stage in golden.STAGES}


@pytest.mark.parametrize("stage", sorted(golden.STAGES))
def test_each_stage_reproduces_its_golden_results(stage, computed):
    problems = golden.compare(stage, computed[stage], STORED.get(stage))
    assert not problems, "\n".join(problems)


def test_every_versioned_stage_has_golden_results():
    covered = {golden._VERSION_OF.get(s, s) for s in golden.STAGES}
    assert set(versions.STAGE_VERSIONS) <= covered


def test_a_version_bump_without_new_golden_results_is_named(computed):
    stored = copy.deepcopy(STORED["prompts"])
    stored["version"] -= 1
    (problem,) = golden.compare("prompts", computed["prompts"], stored)
    assert "regenerate" in problem and "--write prompts" in problem


@pytest.mark.parametrize("stage,patch", [
    ("prompts", "lr"), ("masked-eval", "mask"), ("searchlight", "tau"), ("activations", "site"),
])
def test_a_deliberate_change_of_a_stage_fails_until_its_version_is_bumped(stage, patch, monkeypatch):
    """Change what a stage computes (a learning rate, the mask hook, the searchlight's ranks, the recorded site) and
    the golden comparison names the stage and says to bump its version."""
    import torch

    from emolib.model import hooks
    from emolib.paper import train
    from emolib.rsa import rankcorr

    if patch == "lr":
        step = train.BankAdamW.step
        monkeypatch.setattr(train.BankAdamW, "step", lambda self, g, a: step(self, 1.5 * g, a))
    elif patch == "mask":
        original = hooks.mask_units

        def half_masks(backbone, masks, mask_index=None):
            return original(backbone, masks | (torch.rand(masks.shape) < 0.5), mask_index)

        monkeypatch.setattr(hooks, "mask_units", half_masks)
        monkeypatch.setattr("emolib.paper.masked_eval.mask_units", half_masks)
    elif patch == "tau":
        original = rankcorr.kendall_tau_b
        import sys

        module = sys.modules["emolib.rsa.searchlight"]  # (emolib.rsa.searchlight is also the function's name)
        monkeypatch.setattr(module, "kendall_tau_b", lambda *a, **k: tuple(v * 0.99 for v in original(*a, **k)))
    elif patch == "site":
        original = hooks.record

        def shifted(backbone, site, **kwargs):
            return original(backbone, "residual" if site == "ffn" else site, **kwargs)

        monkeypatch.setattr("emolib.paper.units.record", shifted)
    problems = golden.compare(stage, golden.compute(stage), STORED[stage])
    assert problems and all("bump emolib.versions.STAGE_VERSIONS" in p or "values" in p for p in problems)
