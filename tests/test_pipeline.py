"""The paper on a backbone: profiles, masks, the cube layout, and one end-to-end smoke run with caching/resume."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import pytest

from emolib import artifacts, profiles, rsa
from emolib.emotions import ATTRIBUTES, PAPER_ORDER
from emolib.paper import masked_eval, pipeline

SMALL = {"train_size": 4, "dev_size": 4, "test_size": 2, "epochs": 1}


def test_run_paper_rejects_bad_settings_before_training():
    with pytest.raises(ValueError, match="unknown masking setting.*'kvalues'"):
        pipeline.run_paper("tiny-llama", "smoke", kvalues=[0.1])
    with pytest.raises(ValueError, match="must include 'dev'"):
        pipeline.run_paper("tiny-llama", "smoke", splits=["test"])
    with pytest.raises(ValueError, match="unknown split 'val'; valid choices: dev, test"):
        pipeline.run_paper("tiny-llama", "smoke", splits=["dev", "val"])
    with pytest.raises(ValueError, match="random controls"):
        pipeline.run_paper("tiny-llama", "smoke", n_draws=0, paper_random=False)
    with pytest.raises(ValueError, match="repeated seed"):
        pipeline.run_paper("tiny-llama", "smoke", seeds=[1, 1])


def _fake_result(n_units=40, per_layer=10) -> rsa.SearchlightResult:
    rng = np.random.default_rng(0)
    tau = pd.DataFrame(rng.normal(size=(n_units, len(ATTRIBUTES))), columns=list(ATTRIBUTES))
    return rsa.SearchlightResult(tau, tau * 0 + 0.5, per_layer)


def test_build_masks_silences_the_top_units_and_adds_controls():
    result = _fake_result()
    profile = profiles.settings("masking", "quick", k_values=(0.1, 5), n_draws=3, paper_random=True, n_sham=0,
                                layer_matched=False)
    masks, index = pipeline.build_masks(result, 40, profile)
    assert masks.shape == (len(index), 40)
    sel = index[index.condition == "selective"]
    assert len(sel) == 14 * 2 and set(sel.k) == {4, 5}
    row = sel[(sel.attribute == "valence") & (sel.k == 5)].index[0]
    top5 = set(np.argsort(-result.tau["valence"].to_numpy())[:5])
    assert set(np.flatnonzero(~masks[row].numpy())) == top5
    rnd = index[index.condition == "random"]
    assert len(rnd) == 2 * (3 + 14)  # seeded draws plus one draw per attribute label, per k
    assert not rnd.duplicated(["k", "draw"]).any()  # the pooled baseline averages distinct draws
    assert (~masks.numpy()).sum(1).tolist() == index.k.tolist()  # every mask silences exactly k units


def test_sham_and_layer_matched_masks():
    from emolib.paper import units

    rng = np.random.default_rng(1)
    result = _fake_result()
    sham = pd.DataFrame(rng.normal(size=(40, 3)), columns=["sham-0:valence", "sham-1:arousal", "sham-2:control"])
    result = rsa.SearchlightResult(result.tau, result.p, 10, sham_tau=sham)
    profile = profiles.settings("masking", "quick", k_values=(0.1,), n_draws=28, n_sham=3, layer_matched=True,
                                paper_random=True)
    masks, index = pipeline.build_masks(result, 40, profile)
    assert index["condition"].value_counts().to_dict() == {"selective": 14, "matched": 28, "random": 14, "sham": 3}
    shams = index[index.condition == "sham"]
    row = shams[shams.attribute == "sham-1:arousal"].index[0]
    assert set(np.flatnonzero(~masks[row].numpy())) == set(np.argsort(-sham["sham-1:arousal"].to_numpy())[:4])
    sel_index = index[index.condition == "selective"]
    selective = masks[torch.from_numpy(sel_index.index.to_numpy())]
    matched = index[index.condition == "matched"]
    profiles_of = dict(zip(sel_index["attribute"], units.layer_counts(selective, 10)[:-1].tolist()))
    counts = units.layer_counts(masks[torch.from_numpy(matched.index.to_numpy())], 10)[:-1]
    for (_, row), profile_ in zip(matched.iterrows(), counts.tolist()):
        assert profile_ == profiles_of[row["attribute"]]  # each control copies its attribute mask's layer profile
    assert matched["attribute"].value_counts().eq(2).all()  # two controls per attribute
    assert len({tuple(np.flatnonzero(~masks[i].numpy())) for i in matched.index}) == 28  # and they differ
    with pytest.raises(ValueError, match="sham masks need a searchlight run"):
        pipeline.build_masks(_fake_result(), 40, profile)


def test_paper_cube_orders_emotions_and_seeds():
    index = pd.DataFrame([(e, s) for s in (3, 1) for e in reversed(PAPER_ORDER)], columns=["emotion", "seed"])
    values = np.arange(len(index))[:, None].astype(float)
    cube, seeds = pipeline.activation_cube(values, index)
    assert seeds == [1, 3] and cube.shape == (27, 2, 1)
    first = index[(index.emotion == PAPER_ORDER[0]) & (index.seed == 1)].index[0]
    assert cube[0, 0, 0] == first
    with pytest.raises(ValueError, match="needs prompts of every emotion of the run"):
        pipeline.activation_cube(values[:5], index.iloc[:5])


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    root = tmp_path_factory.mktemp("artifacts")
    run = pipeline.run_paper("tiny-llama", "smoke", device="cpu", root=root, progress=False, prompt_overrides=SMALL)
    return run, root


def test_smoke_run_produces_every_table(smoke):
    run, _ = smoke
    assert len(run.store.index) == 27 and run.activations.shape == (27, run.searchlight.tau.shape[0])
    table = run.accuracy["dev"]
    n_masks = len(run.mask_index) + 1
    assert len(table) == 27 * n_masks
    assert set(table.condition) == {"none", "selective", "sham", "matched", "random"}
    pooled = run.manipulation.baselines["pooled"]
    for table in (run.manipulation.summary, run.manipulation.damage, pooled.by_attribute, pooled.correlation,
                  pooled.by_emotion):
        assert len(table)
    assert run.baselines == ("paper", "pooled") and list(run.manipulation.baselines) == ["paper", "pooled"]
    assert run.cube().shape == (27, 1, run.activations.shape[1])
    assert set(run.timings()["stage"]) >= {"prompts", "activations", "searchlight", "masked evaluation"}


def test_unmasked_accuracy_equals_the_store_dev_accuracy(smoke):
    run, _ = smoke
    _, unmasked = run.frames("dev")
    dev = run.store.accuracy.query("split == 'dev'")
    merged = unmasked.merge(dev, on=["emotion", "seed"], suffixes=("", "_store"))
    assert len(merged) == 27
    np.testing.assert_allclose(merged["accuracy"], merged["accuracy_store"])
    with pytest.raises(ValueError, match="split 'test' was not evaluated"):
        run.frames("test")


def test_rerun_reuses_every_artifact(smoke, tmp_path):
    run, root = smoke
    again = pipeline.run_paper("tiny-llama", "smoke", device="cpu", root=root, progress=False, prompt_overrides=SMALL)
    pd.testing.assert_frame_equal(again.accuracy["dev"], run.accuracy["dev"])
    usage = artifacts.read_usage(root)
    last = usage.tail(4)
    assert last["reused"].all(), last


def test_interrupted_masked_evaluation_resumes(smoke, tmp_path, monkeypatch):
    run, _ = smoke
    store = run.store
    masks, index = pipeline.build_masks(run.searchlight, run.activations.shape[1], run.masking)
    calls = {"n": 0}
    original = masked_eval.masked_logits

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("simulated interruption")
        return original(*args, **kwargs)

    monkeypatch.setattr(masked_eval, "masked_logits", flaky)
    with pytest.raises(KeyboardInterrupt):
        masked_eval.masked_accuracy("tiny-llama", store, masks, index, device="cpu", root=tmp_path, progress=False)
    partial = list((tmp_path / ".partial").glob("masked-eval-*/*.csv"))
    assert len(partial) == 2  # the prompts that finished before the interruption
    resumed_calls = {"n": 0}

    def counting(*args, **kwargs):
        resumed_calls["n"] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(masked_eval, "masked_logits", counting)
    resumed = masked_eval.masked_accuracy("tiny-llama", store, masks, index, device="cpu", root=tmp_path, progress=False)
    pd.testing.assert_frame_equal(resumed, run.accuracy["dev"])
    assert resumed_calls["n"] == len(store.index) - 2  # the finished prompts were not evaluated again


def test_a_subset_of_emotions_runs_on_their_pairs():
    order = pipeline.emotion_order(["joy", "anger", "fear", "grief", "pride", "love"])
    assert order == [e for e in PAPER_ORDER if e in order] and len(order) == 6
    rdms = pipeline.subset_rdms(pd.DataFrame({"a": np.arange(351.0)}), order)
    assert len(rdms) == 15
    with pytest.raises(ValueError, match="at least 5 emotions"):
        pipeline.emotion_order(["joy", "anger"])
    run = pipeline.run_paper("tiny-llama", "smoke", emotions=order, device="cpu", progress=False,
                             prompt_overrides=SMALL)
    assert run.emotions == order and run.cube().shape[0] == 6
    assert set(run.store.index["emotion"]) == set(order) and len(run.human_rdms()) == 15
