"""Tests of emolib.emotion_vectors: pooling, caching, PCA/correlations against sklearn/scipy, RSA."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats
from sklearn.decomposition import PCA

from emolib.emollm import vectors as E
from emolib.emotions import EMOTIONS, PAPER_ORDER, reorder_pairs
from emolib.model import tiny_backbone


@pytest.fixture(scope="module")
def llama():
    return tiny_backbone("llama")


@pytest.fixture(scope="module")
def ev():
    return E.emotion_vectors("tiny-llama", profile="smoke", seed=0)


def _fake(seed: int = 0, layers: int = 2, d: int = 12) -> E.EmotionVectors:
    """Emotion vectors whose first coordinate is human valence plus noise."""
    rng = np.random.default_rng(seed)
    human = E.human_means()
    x = rng.normal(size=(layers, 27, d))
    x[:, :, 0] += 3 * (human["valence"].to_numpy() - 5)
    return E.EmotionVectors(x.astype(np.float32), np.ones(layers), np.ones((layers, d), np.float32),
                            np.ones(27, int), "fake")


def test_sample_comments_multilabel_and_seed():
    comments, member = E.sample_comments("dev", 5, seed=1)
    assert member.shape == (len(comments), 27)
    assert (member.sum(0) == 5).all()  # every emotion has >= 5 dev comments
    assert (member.sum(1) >= 1).all()  # every comment was sampled for at least one emotion
    from emolib.data import goemotions_frame

    labels = goemotions_frame("dev")["labels"].to_numpy()[comments["row"]]
    for row, label_ids in zip(member, labels):  # label id k == EMOTIONS index k for the 27 emotions
        assert set(np.flatnonzero(row).tolist()) <= set(label_ids)
    again, member2 = E.sample_comments("dev", 5, seed=1)
    assert comments.equals(again) and (member == member2).all()
    other, _ = E.sample_comments("dev", 5, seed=2)
    assert not comments["row"].equals(other["row"])
    with pytest.raises(ValueError, match="n_per_emotion"):
        E.sample_comments("dev", 0, seed=1)
    with pytest.raises(ValueError, match="split"):
        E.sample_comments("nope", 3, seed=1)


@pytest.mark.parametrize("family", ["llama", "gpt2"])
def test_pooled_batched_equals_unbatched(family):
    bb = tiny_backbone(family)
    texts = ["so happy for you", "this is the worst thing that could happen to anyone", "ok", "what a day"]
    batched, norms = E.pooled_residuals(bb, texts, batch_size=4)
    single = np.concatenate([E.pooled_residuals(bb, [t], batch_size=1)[0] for t in texts])
    np.testing.assert_allclose(batched, single, atol=1e-5)
    assert norms.shape[0] == bb.n_layers and batched.shape == (4, bb.n_layers, bb.hidden_size)


def test_pooling_skips_first_position_and_specials(llama):
    text = "so happy for you"
    ids = llama.tokenizer(text, return_tensors="pt")  # <s> so happy for you
    with torch.no_grad():
        after_block_0 = llama.model(**ids, output_hidden_states=True).hidden_states[1]
    expected = after_block_0[0, 1:].mean(0)  # BOS at 0 is both special and the sink position
    pooled, _ = E.pooled_residuals(llama, [text])
    np.testing.assert_allclose(pooled[0, 0], expected.numpy(), atol=1e-6)


def test_a_truncated_vector_file_is_set_aside_and_recomputed(ev, tmp_path):
    first = E.emotion_vectors("tiny-llama", profile="smoke", seed=0, root=tmp_path)
    folder = Path(first.meta["artifact"])
    (folder / "vectors.npz").write_bytes((folder / "vectors.npz").read_bytes()[:100])
    again = E.emotion_vectors("tiny-llama", profile="smoke", seed=0, root=tmp_path)
    np.testing.assert_array_equal(again.vectors, first.vectors)
    assert len(list(tmp_path.glob(f"{folder.name}.corrupt-*"))) == 1


def test_emotion_vectors_definition_and_cache(ev, llama):
    assert ev.vectors.shape == (2, 27, llama.hidden_size) and ev.emotions == EMOTIONS
    comments, member = E.sample_comments("dev", 3, seed=0)
    pooled, _ = E.pooled_residuals(llama, comments["text"].tolist(), max_length=32)
    joy = EMOTIONS.index("joy")
    expected = pooled[member[:, joy], 1].mean(0) - pooled[:, 1].mean(0)
    np.testing.assert_allclose(ev.vectors[1, joy], expected, atol=1e-5)
    again = E.emotion_vectors("tiny-llama", profile="smoke", seed=0)  # from the artifact
    np.testing.assert_array_equal(again.vectors, ev.vectors)
    assert ev.meta["artifact"] == again.meta["artifact"]
    assert E.emotion_vectors("tiny-llama", profile="smoke", seed=1).meta["artifact"] != ev.meta["artifact"]
    with pytest.raises(ValueError, match="unknown profile 'huge'"):
        E.emotion_vectors("tiny-llama", profile="huge")
    with pytest.raises(ValueError, match="unknown vectors setting.*'n_comments'; valid choices: batch_size"):
        E.emotion_vectors("tiny-llama", profile="smoke", n_comments=3)
    with pytest.raises(ValueError, match="layer"):
        ev.layer(2)


def test_pca_scores_match_sklearn():
    ev = _fake()
    for standardize in (False, True):
        x = ev.layer(1, standardize)
        ref = PCA(n_components=2).fit(x)
        ours = E.pca_scores(ev, 1, standardize=standardize)
        ref_scores = ref.transform(x)
        for k in range(2):
            np.testing.assert_allclose(np.abs(ours.iloc[:, k]), np.abs(ref_scores[:, k]), atol=1e-8)
        np.testing.assert_allclose(ours.attrs["explained"], ref.explained_variance_ratio_, atol=1e-10)
    # orientation: joy above sadness on PC1, excitement above relief on PC2
    scores = E.pca_scores(ev, 0)
    assert scores.loc["joy", "PC1"] > scores.loc["sadness", "PC1"]


def test_pc_correlations_match_scipy_and_ci():
    ev = _fake()
    table = E.pc_correlations(ev, n_boot=300, seed=3)
    assert list(table.columns) == ["layer", "pc", "human_scale", "r", "ci_low", "ci_high"]
    assert len(table) == 2 * 2 * 2
    human = E.human_means()
    scores = E.pca_scores(ev, 1)
    row = table[(table.layer == 1) & (table.pc == "PC1") & (table.human_scale == "valence")].iloc[0]
    assert row.r == pytest.approx(stats.pearsonr(scores["PC1"], human["valence"])[0], abs=1e-10)
    assert row.r > 0.8  # planted valence axis
    assert (table.ci_low <= table.r + 1e-12).all() and (table.r <= table.ci_high + 1e-12).all()
    pd.testing.assert_frame_equal(table, E.pc_correlations(ev, n_boot=300, seed=3))
    assert not table.equals(E.pc_correlations(ev, n_boot=300, seed=4))
    fixed = E.pc_correlations(ev, n_boot=300, seed=3, refit=False)
    np.testing.assert_allclose(fixed.r, table.r)
    scores1 = E.pca_scores(ev, 1)["PC1"].to_numpy()
    boot = np.random.default_rng(3).integers(0, 27, size=(300, 27))
    dist = [stats.pearsonr(scores1[b], human["valence"].to_numpy()[b])[0] for b in boot]
    row_fixed = fixed[(fixed.layer == 1) & (fixed.pc == "PC1") & (fixed.human_scale == "valence")].iloc[0]
    assert row_fixed.ci_low == pytest.approx(np.nanpercentile(dist, 2.5), abs=1e-10)
    one = E.pc_correlations(ev, layer=0, n_boot=300, seed=3)
    pd.testing.assert_frame_equal(one, table[table.layer == 0].reset_index(drop=True))
    with pytest.raises(ValueError, match="n_boot"):
        E.pc_correlations(ev, n_boot=0)
    with pytest.raises(ValueError, match="layer"):
        E.pc_correlations(ev, layer=5)
    with pytest.raises(ValueError, match="emotion"):
        E.pc_correlations(ev, anchors={1: ("joy", "glee"), 2: ("joy", "fear")})


def test_directions(ev):
    fake = _fake()
    d = E.pc_direction(fake, 1)
    assert d.shape == (12,) and float(d.norm()) == pytest.approx(1.0, abs=1e-6)
    assert abs(float(d[0])) > 0.9  # the planted axis
    x = fake.layer(1)
    assert (x[EMOTIONS.index("joy")] - x[EMOTIONS.index("sadness")]) @ d.numpy() > 0
    c = E.contrast_direction(fake, 1, ["joy", "love"], ["grief"])
    np.testing.assert_allclose(c.numpy(), (x[[17, 18]].mean(0) - x[16]).astype(np.float32), rtol=1e-6)
    with pytest.raises(ValueError, match="emotion"):
        E.contrast_direction(fake, 1, ["happiness"], ["grief"])
    with pytest.raises(ValueError, match="PC3"):
        E.pc_direction(fake, 1, pc=3)


def test_vector_rdms_and_rsa(ev):
    rdms = E.vector_rdms(ev, "correlation", standardize=False)
    x = ev.layer(1)
    square = 1 - np.corrcoef(x)
    i, j = np.tril_indices(27, -1)
    alphabetical = np.array([square[a, b] for b in range(27) for a in range(b + 1, 27)])
    np.testing.assert_allclose(rdms["layer 1"], reorder_pairs(alphabetical, EMOTIONS, PAPER_ORDER), atol=1e-10)
    rsa = E.vector_rsa(ev, n_perm=99, seed=1)
    assert list(rsa.layer) == [0, 1] and rsa.p_perm.between(0.01, 1).all()
    pd.testing.assert_frame_equal(rsa, E.vector_rsa(ev, n_perm=99, seed=1))
    with pytest.raises(ValueError, match="metric"):
        E.vector_rdms(ev, "cosine-ish")
    with pytest.raises(ValueError, match="n_perm"):
        E.vector_rsa(ev, n_perm=0)


def test_rsa_detects_planted_structure():
    """Vectors built from the human similarity RDM's MDS map correlate with it; shuffled ones do not."""
    from emolib import human

    mds = human.similarity_mds().loc[list(EMOTIONS)].to_numpy()[:, :2]
    x = np.concatenate([mds, np.zeros((27, 1))], 1)[None].astype(np.float32)
    ev = E.EmotionVectors(x, np.ones(1), np.ones((1, 3), np.float32), np.ones(27, int), "planted")
    rsa = E.vector_rsa(ev, metric="euclidean", n_perm=199, seed=0, standardize=False)
    assert rsa.r[0] > 0.3 and rsa.p_perm[0] <= 0.01


def test_layer_selection_p_is_the_max_over_layers_of_a_permutation_loop(ev):
    table = E.pc_layer_selection(ev, n_perm=99, seed=3)
    human = E.human_means().to_numpy()
    rng = np.random.default_rng(3)
    perms = [rng.permutation(27) for _ in range(99)]
    row = table.set_index(["pc", "human_scale"]).loc[("PC1", "valence")]
    scores = [E.pca_scores(ev, k)["PC1"].to_numpy() for k in range(ev.n_layers)]
    r = [np.corrcoef(s, human[:, 0])[0, 1] for s in scores]
    assert row["best_layer"] == int(np.argmax(r)) and row["r"] == pytest.approx(max(r))
    null_max = [max(np.corrcoef(s, human[p, 0])[0, 1] for s in scores) for p in perms]
    assert row["p_max"] == pytest.approx((1 + sum(m >= max(r) for m in null_max)) / 100)
    rsa = E.vector_rsa(ev, n_perm=99, seed=3)
    assert (rsa["p_max"] >= rsa["p_perm"] - 1e-12).all()  # choosing the best layer can only cost


def test_against_baselines_puts_the_vectors_beside_each_baseline():
    from emolib.emollm import vectors as V
    from emolib.human import similarity_rdm

    ev = V.emotion_vectors("tiny-llama", profile="smoke", device="cpu")
    same = V.vector_rdms(ev)["layer 1"].to_numpy()
    baselines = pd.DataFrame({"copy of layer 1": same, "reversed": -same})
    table = V.against_baselines(ev, baselines, [1], similarity_rdm()).set_index("rdm")["tau"]
    assert table["copy of layer 1"] == pytest.approx(table["emotion vectors, layer 1"])
    assert table["reversed"] == pytest.approx(-table["emotion vectors, layer 1"])
