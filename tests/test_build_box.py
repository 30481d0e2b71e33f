"""emolib.build_box: the "This build" box says what the run resolved, never what a profile name suggests."""

from types import SimpleNamespace

import pandas as pd

from emolib import build_box, profiles


def test_an_embedded_backbone_carries_its_quantisation_caveat_and_a_hub_model_none():
    line = build_box.backbone_line("gemma3-270m", 18, 36_864)
    assert "4-bit quantised (Q4_K_M)" in line and "describes the quantised model" in line
    assert line.endswith("(18 layers, 36,864 FFN units)")
    assert "quantised" not in build_box.backbone_line("roberta-base")


def test_the_prompt_line_follows_the_settings_not_the_profile_name():
    standard = profiles.settings("prompts", "standard")
    line = build_box.prompt_line(standard, 27)
    assert "seeds 1, 2, 3 (81 prompts)" in line and '"no" / "yes"' in line and "[comment, P1..PL" in line
    changed = profiles.settings("prompts", "standard", verbalizer=["bad", "good"], prompt_position="before",
                                init="normal", seeds=[4])
    other = build_box.prompt_line(changed, 27)
    assert '"bad" / "good"' in other and "[P1..PL, comment" in other and "N(0, 0.02²)" in other
    assert "seed 4 (27 prompts)" in other
    # a trained store's settings mapping (lists, an extra "profile" key) reads the same as the settings
    stored = dict(profiles.as_dict(standard), profile="standard", seeds=[1, 2, 3], verbalizer=["no", "yes"])
    assert build_box.prompt_line(stored, 27) == line


def test_the_masking_line_counts_what_the_masked_evaluation_used():
    masking = profiles.settings("masking", "standard")
    line = build_box.masking_line(masking, 36_864, 27, seeds=[1, 2, 3], dev_size=100)
    assert line.startswith("seed 1 of each emotion (27 prompts) on 40 dev examples each")  # not the 3 trained seeds
    assert "k = 1,500, 4,000, 6,000 units (the verdict at k = 4,000" in line
    assert "56 layer-matched random masks" in line and "14 sham-attribute masks" in line
    assert "14 uniform random masks (the paper's one per attribute label)" in line
    quick = build_box.masking_line(profiles.settings("masking", "quick"), 36_864, 27, seeds=[1], dev_size=12)
    assert "on 12 dev examples" in quick and "k = 4,000 units" in quick


def test_the_paper_box_reads_the_run():
    settings = dict(profiles.as_dict(profiles.settings("prompts", "standard")), profile="standard")
    run = SimpleNamespace(
        backbone="gemma3-270m", profile="standard", emotions=["joy"] * 27, masking=profiles.settings("masking", "standard"),
        store=SimpleNamespace(profile=settings, index=pd.DataFrame({"emotion": range(81)}), seeds=[1, 2, 3]),
        searchlight=SimpleNamespace(tau=pd.DataFrame(index=range(36_864)), n_layers=18,
                                    permutation=SimpleNamespace(n_permutations=1000)),
        loaded=SimpleNamespace(kind="causal"))
    text = build_box.paper_box(run, bootstrap_seed=6)
    assert text.startswith(":::{admonition} This build") and text.endswith(":::")
    assert "1,000 emotion-label permutations" in text and "10,000 bootstrap resamples of the subjects (seed 6)" in text
    assert "**Profile**: `standard`" in text


def test_the_intro_box_names_the_recorded_backbones_or_says_none_ran():
    records = {"paper": {"backbone": "gemma3-270m", "profile": "standard", "cells": {}}}
    assert "**gemma3-270m**" in build_box.intro_box("standard", records)
    assert "not run in this build" in build_box.intro_box("standard", None)
