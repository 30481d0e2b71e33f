"""``emolib reproduce``: every target writes its tables with the documented columns; options are validated."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emolib import profiles, released, reproduce, rsa
from emolib.emotions import ATTRIBUTES, PAPER_ORDER


@pytest.fixture
def small_bootstrap(monkeypatch):
    """The human bootstrap of every profile with 50 resamples (the tables do not depend on it)."""
    original = profiles.settings

    def settings(stage, profile="quick", **overrides):
        if stage == "human":
            overrides.setdefault("n_boot", 50)
        return original(stage, profile, **overrides)

    monkeypatch.setattr(profiles, "settings", settings)


def test_human_writes_the_four_tables(tmp_path, small_bootstrap):
    paths = reproduce.reproduce("human", tmp_path, bootstrap_seed=6, profile="quick")
    assert [p.name for p in paths] == ["attribute_distances.csv", "attribute_scores.csv", "similarity_rdm.csv",
                                       "human_attribute_weights.csv"]
    distances = pd.read_csv(paths[0])
    assert distances.shape == (351, 14) and list(distances.columns) == list(ATTRIBUTES)
    np.testing.assert_array_equal(distances.iloc[:, :8].to_numpy(), released.attribute_distances().iloc[:, :8])
    scores = pd.read_csv(paths[1])
    assert list(scores.columns) == ["emotion", *ATTRIBUTES] and list(scores["emotion"]) == list(PAPER_ORDER)
    assert list(pd.read_csv(paths[2]).columns) == ["distance"] and len(pd.read_csv(paths[2])) == 351
    weights = pd.read_csv(paths[3])
    assert list(weights.columns) == ["attribute", "tau", "se", "ci_low", "ci_high", "p", "q"] and len(weights) == 14


def test_searchlight_writes_the_searchlight_and_confound_tables(tmp_path, monkeypatch):
    units = np.random.default_rng(0).random((351, 12))
    res = rsa.searchlight(units, pd.DataFrame({"a": units[:, 2], "b": units[:, 7]}), units_per_layer=4)
    monkeypatch.setattr(reproduce, "released_searchlight", lambda **kw: res)
    paths = reproduce.reproduce("searchlight", tmp_path)
    assert sorted(p.name for p in paths) == ["confound_rdms.csv", "controlled_whole_model.csv", "neuron_p.csv",
                                             "neuron_ranks.csv", "neuron_tau.csv", "searchlight_summary.csv"]
    confound = pd.read_csv(tmp_path / "confound_rdms.csv")
    assert list(confound.columns[:3]) == ["baseline", "target", "tau"] and confound["tau"].between(-1, 1).all()
    ranks = pd.read_csv(tmp_path / "neuron_ranks.csv")
    assert list(ranks.columns) == ["a", "b"] and len(ranks) == 12 and ranks.loc[2, "a"] == 1.0
    summary = pd.read_csv(tmp_path / "searchlight_summary.csv")
    assert list(summary.columns) == ["attribute", "n_significant", "n_selective", "max_tau"]


def test_manipulation_writes_exactly_the_four_tables(tmp_path, small_bootstrap):
    paths = reproduce.reproduce("manipulation", tmp_path, profile="smoke")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(reproduce.MANIPULATION_COLUMNS)
    frames = {p.name: pd.read_csv(p) for p in paths}
    for name, columns in reproduce.MANIPULATION_COLUMNS.items():
        assert list(frames[name].columns) == columns
    correlation = frames["per_emotion_human_correlation.csv"]
    assert set(correlation["baseline"]) == {"paper", "pooled"} and len(correlation) == 14
    assert correlation["df"].eq(26).all() and len(frames["unimodality.csv"]) == 98
    assert len(frames["attribute_drop.csv"]) == 2 * 98 and len(frames["accuracy_summary.csv"]) == 7 * 27 * 3


def test_valence_on_a_tiny_model_writes_probes_vectors_and_steering(tmp_path):
    files = reproduce.reproduce("valence", tmp_path, backbone="tiny-llama", profile="smoke", device="cpu")
    names = [f.name for f in files]
    assert names[:5] == ["probe_results.csv", "probe_families.csv", "probe_gains.csv", "probe_memorisation.csv",
                         "probe_divergent.csv"]
    assert {"emotion_vector_pcs.csv", "emotion_vector_rsa.csv", "steering.csv", "steering_best.csv"} <= set(names)
    gains = pd.read_csv(tmp_path / "probe_gains.csv")
    claim = gains[(gains["scale"] == "valence") & (gains["experiment"] == "E1") & (gains["probe"] == "transfer")]
    assert len(claim) == 1 and claim["verdict"].iloc[0] in ("holds", "does not hold", "cannot tell")
    assert (gains.drop(claim.index)["verdict"] == "descriptive").all()
    families = pd.read_csv(tmp_path / "probe_families.csv")
    assert {"nested", "0"} <= set(families["layer"].astype(str)) and {"negated", "plain"} <= set(families.columns)
    assert set(pd.read_csv(tmp_path / "probe_memorisation.csv")["variant"]) >= {"centred", "random-label"}
    table = pd.read_csv(files[0])
    assert list(table.columns) == ["scale", "experiment", "variant", "features", "layer", "accuracy", "ci_low", "ci_high"]
    assert set(table["experiment"]) == {"E1", "E2", "E3"} and set(table["scale"]) == {"valence", "arousal"}
    steering = pd.read_csv(tmp_path / "steering.csv")
    assert "valence probe" in set(steering["direction"])  # the probe of the residual after the headline layer
    assert list(steering.columns[:6]) == ["direction", "layer", "alpha", "effect", "ci_low", "ci_high"]


def test_train_grid_and_the_cli(tmp_path):
    from emolib.cli import main

    paths = reproduce.train_grid(tmp_path, backbone="tiny-gpt2", profile="smoke", emotions=["fear"], seeds=[1],
                                 device="cpu")
    table = pd.read_csv(tmp_path / "prompt_accuracy.csv")
    assert list(table.columns) == ["emotion", "seed", "split", "accuracy"] and len(table) == 2
    assert (tmp_path / "prompt_store" / "prompts.safetensors").is_file() and len(paths) == 2
    assert main(["train", "--backbone", "tiny-gpt2", "--profile", "smoke", "--emotions", "fear",
                 "--seeds", "1", "--device", "cpu", "--out", str(tmp_path / "cli")]) == 0
    assert (tmp_path / "cli" / "prompt_accuracy.csv").read_text() == (tmp_path / "prompt_accuracy.csv").read_text()
    assert main(["train", "--backbone", "tiny-gpt2", "--profile", "smoke", "--emotions", "bliss",
                 "--out", str(tmp_path / "x")]) == 2


@pytest.mark.parametrize("target,options,message", [
    ("everything", {}, "unknown target 'everything'; valid choices: backbone, human"),
    ("human", {"backbone": "gpt2"}, "emolib reproduce human does not take --backbone; it takes: --profile, --bootstrap-seed"),
    ("searchlight", {"sample_seed": 1}, "does not take --sample-seed"),
    ("manipulation", {"profile": "fast"}, "unknown profile 'fast'; valid choices: smoke, quick, standard, paper"),
    ("human", {"bootstrap_seed": "six"}, "bootstrap_seed must be an integer, got 'six'"),
    ("valence", {"device": "tpu"}, "unknown device 'tpu'"),
])
def test_bad_options_name_the_valid_choices(tmp_path, target, options, message):
    with pytest.raises(ValueError, match=message):
        reproduce.reproduce(target, tmp_path, **options)
    assert not any(tmp_path.iterdir())  # nothing written


def test_searchlight_with_permutations_writes_the_significance_tables(tmp_path, monkeypatch):
    units = np.random.default_rng(1).random((351, 8))
    target = pd.DataFrame({"a": units[:, 2], "b": np.random.default_rng(2).random(351)})
    res = rsa.searchlight(units, target, units_per_layer=4, permutations=49, seed=0)
    calls = []
    monkeypatch.setattr(reproduce, "released_searchlight", lambda **kw: calls.append(kw) or res)
    paths = reproduce.reproduce("searchlight", tmp_path, permutations=49, seed=0, device="cpu")
    assert calls == [{"permutations": 49, "seed": 0, "device": "cpu"}]
    names = {p.name for p in paths}
    assert {"neuron_p_perm.csv", "neuron_significance.csv", "searchlight_criteria.csv"} <= names
    table = pd.read_csv(tmp_path / "neuron_significance.csv")
    assert list(table.columns) == ["unit", "attribute", "tau", "paper_q", "perm_p", "perm_fdr_q", "fwer_p"]
    assert len(table) == 16 and pd.read_csv(tmp_path / "neuron_p_perm.csv").shape == (8, 2)
    with pytest.raises(ValueError, match="permutations must be >= 0"):
        reproduce.reproduce("searchlight", tmp_path / "x", permutations=-1)
