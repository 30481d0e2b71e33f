"""One place for profiles: every stage has each profile, settings are frozen and validated, names are the same."""

from __future__ import annotations

import dataclasses

import pytest

from emolib import profiles
from emolib.emotions import PAPER_SEEDS


def test_every_stage_has_every_profile_and_they_mean_the_same_size():
    for stage in profiles.STAGES:
        assert all(dataclasses.is_dataclass(profiles.settings(stage, p)) for p in profiles.PROFILES)
    # the smoke bootstrap is one number wherever it is read (human weights in every chapter and command)
    assert profiles.settings("human", "smoke").n_boot == 500
    assert profiles.settings("human", "quick").n_boot == profiles.settings("human", "paper").n_boot == 10_000
    assert profiles.PROFILES == ("smoke", "quick", "standard", "paper")


def test_the_paper_prompt_settings_are_the_original_protocol():
    paper = profiles.settings("prompts", "paper")
    assert (paper.n_tokens, paper.lr, paper.eps, paper.weight_decay, paper.epochs, paper.batch_size) == (
        100, 2e-3, 1e-6, 0.01, 2, 1)
    assert paper.seeds == PAPER_SEEDS and paper.train_size is None and paper.max_length == 256
    assert paper.init_std == 0.02 and paper.verbalizer == ("negative", "positive") and paper.dropout
    assert profiles.settings("masking", "paper").k_values == profiles.PAPER_K
    assert profiles.PAPER_K[6] == pytest.approx(4000 / 36864)


def test_overrides_lists_and_none():
    quick = profiles.settings("prompts", "quick", epochs=1, seeds=[3, 4], lr=None)
    assert quick.seeds == (3, 4) and quick.epochs == 1 and quick.lr == profiles.settings("prompts", "quick").lr
    assert profiles.settings("masking", "quick", k_values=[0.1, 0.2]).k_values == (0.1, 0.2)
    assert profiles.settings("prompts", quick).seeds == (3, 4)  # a settings object passes through
    with pytest.raises(dataclasses.FrozenInstanceError):
        quick.epochs = 3  # type: ignore[misc]
    assert profiles.as_dict(quick)["seeds"] == [3, 4]
    assert profiles.default_emotions("smoke") == ("grief", "joy") and profiles.default_emotions("quick") is None


@pytest.mark.parametrize("stage,profile,overrides,message", [
    ("prompts", "fast", {}, "unknown profile 'fast'; valid choices: smoke, quick, standard, paper"),
    ("prompt", "quick", {}, "unknown stage 'prompt'; valid choices: prompts, masking"),
    ("prompts", "quick", {"n_token": 3}, "unknown prompts setting.*'n_token'; valid choices: accuracy_batch"),
    ("prompts", "quick", {"epochs": 0}, "epochs must be a positive integer, got 0"),
    ("prompts", "quick", {"seeds": []}, "seeds must not be empty"),
    ("prompts", "quick", {"seeds": [1, 1]}, r"seeds \[1, 1\] repeat a seed"),
    ("prompts", "quick", {"train_size": -4}, "train_size must be None or an integer >= 2, got -4"),
    ("prompts", "quick", {"precision": "fp8"}, "unknown precision 'fp8'; valid choices: auto, fp32, bf16"),
    ("masking", "quick", {"k_values": []}, "k_values must not be empty"),
    ("masking", "quick", {"k_values": [1.5]}, "invalid mask size 1.5"),
    ("masking", "quick", {"splits": ["val"]}, "unknown split 'val'; valid choices: dev, test"),
    ("masking", "quick", {"n_draws": -1}, "n_draws must be >= 0"),
    ("human", "quick", {"n_boot": 1}, "n_boot must be at least 2"),
    ("probes", "quick", {"n_templates": 3}, "n_templates must be None or an even number"),
    ("probes", "quick", {"adjective_version": "v2"}, "unknown adjective_version 'v2'; valid choices: head, e12b48d"),
    ("vectors", "quick", {"split": "valid"}, "unknown split 'valid'; valid choices: train, dev, test"),
    ("steering", "quick", {"alphas": [float("inf")]}, "alphas must be a non-empty list of finite numbers"),
])
def test_bad_settings_name_the_value_and_the_choices(stage, profile, overrides, message):
    with pytest.raises(ValueError, match=message):
        profiles.settings(stage, profile, **overrides)
