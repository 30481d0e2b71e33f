import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from emolib import profiles
from emolib.emollm import analysis, probes
from emolib.emollm import prompts as valence
from emolib.model import tiny_backbone

TEXTS = ["so happy", "i am not very sad today at all", "calm", "this is a good day", "bad"]


@pytest.fixture(scope="module")
def llama():
    return tiny_backbone("llama")


@pytest.fixture(scope="module")
def gpt2():
    return tiny_backbone("gpt2")


def _unbatched(bb, text):
    """The reference, one text at a time with hand-made hooks: value outputs and block outputs at the last token."""
    ids = bb.tokenizer(text, return_tensors="pt")["input_ids"]
    seen = {}
    handles = []
    for layer, site in enumerate(bb.sites):
        cut = site.value_slice or slice(None)
        handles.append(site.value.register_forward_hook(
            lambda m, a, o, layer=layer, cut=cut: seen.__setitem__(("value", layer), o[0, -1, cut].clone())))
        handles.append(site.block.register_forward_hook(
            lambda m, a, o, layer=layer: seen.__setitem__(("residual", layer), (o[0] if isinstance(o, tuple) else o)[0, -1].clone())))
    try:
        with torch.inference_mode():
            bb.model(input_ids=ids)
    finally:
        for h in handles:
            h.remove()
    value = torch.stack([seen[("value", k)] for k in range(bb.n_layers)])  # [L, value_dim]
    residual = torch.stack([seen[("residual", k)] for k in range(bb.n_layers)])  # [L, d]
    return value.numpy(), residual.numpy()


@pytest.mark.parametrize("family", ["llama", "gpt2"])
@pytest.mark.parametrize("padding", ["left", "right"])
def test_batched_representations_equal_unbatched(family, padding, llama, gpt2):
    bb = llama if family == "llama" else gpt2
    reps = valence.representations(bb, TEXTS, batch_size=3, padding=padding)
    assert reps["value"].dtype == np.float32
    for i, text in enumerate(TEXTS):
        value, residual = _unbatched(bb, text)
        np.testing.assert_allclose(reps["value"][i], value, atol=1e-5)
        np.testing.assert_allclose(reps["residual"][i], residual, atol=1e-5)


@pytest.mark.parametrize("family", ["llama", "gpt2"])
def test_shared_prefix_cache_gives_the_same_representations(family, llama, gpt2):
    bb = llama if family == "llama" else gpt2
    texts = ["i am so happy today", "i am so sad", "i am so", "calm and good", "i am so very very bad"]
    prefixes = ["i am so", "i am so", "i am so", "", "i am so"]  # "i am so" itself cannot share its prefix
    reps = valence.representations(bb, texts, batch_size=2, prefixes=prefixes)
    for i, text in enumerate(texts):
        value, residual = _unbatched(bb, text)
        np.testing.assert_allclose(reps["value"][i], value, atol=1e-5)
        np.testing.assert_allclose(reps["residual"][i], residual, atol=1e-5)
    with pytest.raises(ValueError, match="one per text"):
        valence.representations(bb, texts, prefixes=prefixes[:2])


def test_value_site_is_the_value_projection(llama, gpt2):
    # llama: v_proj output; gpt2: last third of the fused c_attn output
    assert valence.representations(llama, TEXTS[:1])["value"].shape == (1, 2, llama.sites[0].value.out_features)
    reps = valence.representations(gpt2, ["so happy"], sites=["value"])
    ids = gpt2.tokenizer("so happy", return_tensors="pt")["input_ids"]
    attn = gpt2.model.transformer.h[1]
    with torch.inference_mode():
        hidden = gpt2.model(ids, output_hidden_states=True).hidden_states[1]
        expected = attn.attn.c_attn(attn.ln_1(hidden))[0, -1, 64:]  # hidden 32 -> q, k, v thirds
    np.testing.assert_allclose(reps["value"][0, 1], expected.numpy(), atol=1e-5)
    assert set(reps) == {"value"}


def test_bad_inputs_name_the_choices(llama):
    with pytest.raises(ValueError, match="valid choices: left, right"):
        valence.representations(llama, TEXTS, padding="middle")
    with pytest.raises(ValueError, match="valid choices: value, residual"):
        valence.representations(llama, TEXTS, sites=["keys"])
    with pytest.raises(ValueError, match="valid choices: valence, arousal"):
        valence.prompt_frame("dominance")
    with pytest.raises(ValueError, match="valid choices: valence, arousal"):
        valence.probe_data(llama, profiles.settings("probes", "smoke"), scales=["dominance"])


def test_prompt_frame_labels_follow_emo_llm():
    frame = valence.prompt_frame("valence", template_ids=[16, 17])  # "Bob was (not) very {}, therefore Bob"
    assert len(frame) == 2 * 180 and frame["key"].duplicated().sum() == 2  # "satisfied" twice
    row = frame.set_index(["template_id", "adjective"])
    assert row.loc[(16, "sad"), "y"] == 1 and row.loc[(17, "sad"), "y"] == 0  # y = 1: negative valence
    assert row.loc[(16, "happy"), "y"].item() == 0 and row.loc[(17, "happy"), "y"].item() == 1
    assert row.loc[(17, "sad"), "text"] == "Bob was not very sad, therefore Bob"
    assert len(valence.prompt_frame("arousal", "e12b48d", [0, 1])) == 2 * 101
    assert valence.template_subset(4) == [0, 1, 252, 253] and len(valence.template_subset(None)) == 254


def test_cached_representations_reuse_the_artifact(llama):
    first = valence.cached_representations(llama, TEXTS[:3])
    second = valence.cached_representations(llama, TEXTS[:3])
    np.testing.assert_allclose(first["residual"], second["residual"])
    np.testing.assert_allclose(first["value"], valence.representations(llama, TEXTS[:3])["value"], atol=1e-2)


def test_a_failed_computation_releases_the_artifact_lock(llama, tmp_path, monkeypatch):
    from emolib import artifacts

    def broken(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(valence, "representations", broken)
    with pytest.raises(RuntimeError, match="out of memory"):
        valence.cached_representations(llama, TEXTS[:2], root=tmp_path)
    assert not artifacts._HELD  # nothing left locked in this process
    monkeypatch.undo()  # the next call computes it
    assert valence.cached_representations(llama, TEXTS[:2], root=tmp_path)["residual"].shape[0] == 2


def test_a_truncated_representation_file_is_set_aside_and_recomputed(llama, tmp_path):
    first = valence.cached_representations(llama, TEXTS[:2], root=tmp_path)
    (folder,) = [p for p in tmp_path.glob("representations-*") if p.is_dir()]
    (folder / "representations.npz").write_bytes(b"not a zip file")
    again = valence.cached_representations(llama, TEXTS[:2], root=tmp_path)
    np.testing.assert_array_equal(again["residual"], first["residual"])
    assert len(list(tmp_path.glob(f"{folder.name}.corrupt-*"))) == 1


def test_families_group_word_forms_and_template_pairs():
    assert probes.lemma_families(["happy", "unhappy", "content", "contented", "discontented", "sad"]) == [0, 0, 1, 1, 1, 2]
    frame = valence.prompt_frame("valence", template_ids=valence.template_subset(None))
    templates = frame.drop_duplicates("template_id")
    assert (templates.groupby(templates["template_id"] // 2)["template_family"].nunique() == 1).all()  # pairs
    assert templates["template_family"].nunique() < 127


def _toy_frame(n_adj=40, n_tpl=20):
    rng = np.random.default_rng(0)
    rows = [(f"w{a}", t, t % 2 == 1, a % 2 == 0, a // 2, t // 4) for t in range(n_tpl) for a in range(n_adj)]
    frame = pd.DataFrame(rows, columns=["adjective", "template_id", "negation", "in_first", "lemma_family", "template_family"])
    frame["key"] = frame["template_id"].astype(str) + frame["adjective"]
    frame["y"] = (frame["in_first"] != frame["negation"]).astype(int)
    return frame, rng


def test_faithful_split_follows_the_original_priorities():
    frame, _ = _toy_frame()
    split = probes.faithful_split(frame, seed=3)
    assert (frame.loc[split == "E1", "adjective"].nunique()) == 6  # floor(.15 x 40)
    e1_adj = set(frame.loc[split == "E1", "adjective"])
    assert not (set(frame.loc[split != "E1", "adjective"]) & e1_adj)  # all rows of held-out adjectives
    assert frame.loc[split == "E2", "template_id"].nunique() == 3 and not set(frame.loc[split == "E2", "adjective"]) & e1_adj
    pool = (split == "train").sum() + (split == "unused").sum()
    assert (split == "train").sum() == int(0.6 * pool)
    np.testing.assert_array_equal(split, probes.faithful_split(frame, seed=3))  # seeded


def test_grouped_split_keeps_families_on_one_side():
    frame, _ = _toy_frame()
    split = probes.grouped_split(frame, seed=1)
    for col, test_set in (("lemma_family", "E1"), ("template_family", "E2")):
        held = set(frame.loc[split == test_set, col])
        assert held and not held & set(frame.loc[split == "train", col])


def test_grouped_split_draws_e3_by_key_so_duplicates_never_straddle():
    frame, _ = _toy_frame()
    frame = pd.concat([frame, frame.iloc[::3]], ignore_index=True)  # duplicate entries share a key
    for seed in range(5):
        split = probes.grouped_split(frame, seed=seed)
        sets_per_key = pd.Series(split).groupby(frame["key"].to_numpy()).agg(lambda v: set(v))
        straddle = sets_per_key.map(lambda v: "E3" in v and "train" in v)
        assert (split == "E3").any() and not straddle.any()


def test_fit_logistic_fits_each_problem_as_sklearn():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2, 200, 6))
    y = (X[0, :, 0] + 0.5 * rng.normal(size=200) > 0).astype(int)
    coef, intercept = probes.fit_logistic(X, y, C=0.5)
    assert coef.shape == (2, 6) and intercept.shape == (2,)
    for b in range(2):
        ref = LogisticRegression(C=0.5, tol=1e-10, max_iter=10_000).fit(X[b], y)
        np.testing.assert_allclose(coef[b], ref.coef_[0], atol=2e-3)
    np.testing.assert_allclose(probes.fit_logistic(X[1], y, C=0.5)[0], coef[1], atol=1e-3)  # warm start: tol-level


def test_probe_keeps_its_scaler_and_direction_lives_in_raw_space():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3)) * np.array([100.0, 1.0, 1.0])
    y = (X[:, 0] / 100 + X[:, 1] > 0).astype(int)
    probe = probes.ValenceProbe().fit(X, y)
    assert probe.score(X, y) > 0.95
    ref = LogisticRegression(tol=1e-10, max_iter=10_000).fit((X - X.mean(0)) / X.std(0), y)
    np.testing.assert_allclose(probe.coef_, ref.coef_[0], atol=2e-2)
    assert abs(np.linalg.norm(probe.direction_) - 1) < 1e-9
    assert abs(probe.direction_[1]) > abs(probe.direction_[0])  # raw space: feature 0 is 100x wider
    with pytest.raises(ValueError, match="both classes"):
        probes.ValenceProbe().fit(X, np.zeros(300))


def test_centring_and_ci():
    X = np.arange(12, dtype=float).reshape(6, 2)
    centred = probes.centre_by_group(X, np.array([0, 0, 1, 1, 1, 0]))
    np.testing.assert_allclose(centred[[0, 1, 5]].mean(0), 0, atol=1e-6)
    mean, low, high = probes.mean_ci([0.6, 0.7, 0.8])
    assert mean == pytest.approx(0.7) and low < 0.7 < high and high - low == pytest.approx(2 * 4.302653 * 0.1 / 3 ** 0.5, rel=1e-5)


def test_probes_find_a_planted_signal_and_baselines_stay_at_chance():
    frame, rng = _toy_frame()
    n = len(frame)
    lexical = rng.normal(size=(40, 2, 8))
    lexical[:, :, 0] += np.where(np.arange(40) % 2 == 0, 2.0, -2.0)[:, None]  # the adjective's list
    adj = frame["adjective"].str[1:].astype(int).to_numpy()
    value = lexical[adj] + 0.3 * rng.normal(size=(n, 2, 8))
    value[:, :, 1] += np.where(frame["y"] == 1, 1.5, -1.5)[:, None]  # the label after negation
    data = {"valence": {"frame": frame, "value": value.astype(np.float32), "residual": value.astype(np.float32),
                        "lexical_value": lexical[adj], "lexical_residual": lexical[adj]}}
    results = probes.run_probes(data, n_repeats=2, seed=0, features=["value"])
    table = probes.summarise(results).set_index(["variant", "experiment", "layer"])["accuracy"]
    assert table[("faithful", "E1", "all")] > 0.9 and table[("grouped", "E2", 0)] > 0.9
    assert table[("oracle", "E1", 0)] > 0.9  # the oracle knows the list and the negation flag
    assert 0.2 < table[("random-label", "E1", 0)] < 0.8
    assert set(results["variant"]) == set(probes.VARIANTS)
    with pytest.raises(ValueError, match="valid choices"):
        probes.run_probes(data, variants=["bogus"])
    subset = probes.run_probes(data, n_repeats=2, seed=0, features=["value"], layers=[1])
    per_layer = results[results["layer"].astype(str) != "0"].reset_index(drop=True)
    pd.testing.assert_frame_equal(subset, per_layer)  # a layer subset gives the same rows for those layers
    assert valence.probe_layers(30, profiles.settings("probes", "quick")) == [0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 29]


def test_arousal_confound_counts_shared_words():
    crosstab, summary = analysis.arousal_confound("head")
    assert crosstab.loc["low", "positive"] == 24 and crosstab.loc["low", "negative"] == 1
    assert crosstab.loc["high", "negative"] == 9 and summary["n_shared"] == 58
    assert crosstab.loc["low", "negative"] == 1 and analysis.arousal_confound("e12b48d")[0].loc["low"].get("negative", 0) == 0


@pytest.mark.parametrize("family", ["roberta", "bert"])
def test_masked_lms_are_read_at_the_mask_of_a_cloze_prompt(family):
    bb = tiny_backbone(family, seed=3)
    reps = valence.representations(bb, TEXTS, batch_size=2)
    for i, text in enumerate(TEXTS):
        enc = bb.tokenizer(valence.cloze(bb, text), return_tensors="pt")
        at = int((enc["input_ids"][0] == bb.mask_token_id).nonzero()[0, 0])
        seen = {}
        handles = [site.block.register_forward_hook(
            lambda m, a, o, k=k: seen.__setitem__(k, (o[0] if isinstance(o, tuple) else o)[0, at].clone()))
            for k, site in enumerate(bb.sites)]
        try:
            with torch.inference_mode():
                bb.model(**enc)
        finally:
            for h in handles:
                h.remove()
        np.testing.assert_allclose(reps["residual"][i], torch.stack([seen[k] for k in range(bb.n_layers)]).numpy(),
                                   atol=1e-5)
    assert valence.cloze(bb, "Bob was sad, therefore Bob").endswith(bb.tokenizer.mask_token)
    assert valence.cloze(tiny_backbone("llama"), "Bob was sad") == "Bob was sad"
