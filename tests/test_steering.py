"""Tests of emolib.steering: the steering hook, typical norm, read-out, dose-response, examples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from emolib.emollm import steering as S
from emolib.model.hooks import record
from emolib.model import tiny_backbone

PROMPTS = ["the movie was", "my day was", "the food here is", "the weather today is", "the party was", "this song is"]


@pytest.fixture(scope="module", params=["llama", "gpt2"])
def bb(request):
    return tiny_backbone(request.param)


def _direction(bb, seed=1):
    return torch.randn(bb.hidden_size, generator=torch.Generator().manual_seed(seed))


def _logits(bb, text="the movie was so"):
    ids = bb.tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        return bb.model(**ids).logits


def test_steer_changes_inside_and_restores(bb):
    before = _logits(bb)
    for layer in range(bb.n_layers):
        with S.steer(bb, _direction(bb), layer, alpha=1.0) as added:
            inside = _logits(bb)
        assert added == pytest.approx(S.typical_norm(bb, layer))
        assert not torch.allclose(inside, before)
        assert torch.equal(_logits(bb), before)
    with S.steer(bb, _direction(bb), 0, alpha=0.0):
        assert torch.equal(_logits(bb), before)


def test_steer_restores_after_error(bb):
    before = _logits(bb)
    with pytest.raises(RuntimeError, match="boom"):
        with S.steer(bb, _direction(bb), 0, alpha=3.0):
            raise RuntimeError("boom")
    assert torch.equal(_logits(bb), before)


def test_steer_adds_exactly(bb):
    d = _direction(bb)
    ids = bb.tokenizer("the movie was", return_tensors="pt")
    with torch.no_grad(), record(bb, "residual", [0]) as store:
        bb.model(**ids)
    clean = store[0].clone()
    with torch.no_grad(), S.steer(bb, d, 0, alpha=0.5, scale=2.0), record(bb, "residual", [0]) as store:
        bb.model(**ids)
    # the capture hook was registered after the steering hook, so it sees the steered output
    torch.testing.assert_close(store[0] - clean, (d / d.norm() * 1.0).expand_as(clean), atol=1e-5, rtol=0)


def test_steer_bad_input(bb):
    with pytest.raises(ValueError, match="layer"):
        with S.steer(bb, _direction(bb), bb.n_layers, 1.0):
            pass
    with pytest.raises(ValueError, match="hidden size"):
        with S.steer(bb, torch.ones(bb.hidden_size + 1), 0, 1.0):
            pass
    with pytest.raises(ValueError, match="non-zero"):
        with S.steer(bb, torch.zeros(bb.hidden_size), 0, 1.0):
            pass


def test_typical_norm_is_median_token_norm(bb):
    texts = PROMPTS[:3]
    norms = []
    for t in texts:
        ids = bb.tokenizer(t, return_tensors="pt", return_special_tokens_mask=True)
        special = ids.pop("special_tokens_mask").bool()[0]
        with torch.no_grad(), record(bb, "residual", [1]) as store:
            bb.model(**ids)
        norms.append(store[1][0, ~special].norm(dim=-1))
    assert S.typical_norm(bb, 1, texts) == pytest.approx(float(torch.cat(norms).median()), rel=1e-6)


def test_readout_matches_unbatched_and_words(bb):
    batched = S.valence_readout(bb, PROMPTS, batch_size=4)
    single = np.array([S.valence_readout(bb, [p])[0] for p in PROMPTS])
    np.testing.assert_allclose(batched, single, atol=1e-5)
    ids = bb.tokenizer("the movie was", return_tensors="pt")
    with torch.no_grad():
        logp = bb.model(**ids).logits[0, -1].log_softmax(-1)
    pos, neg = bb.verbalizer_ids([" good", " great", " happy"]), bb.verbalizer_ids([" bad", " terrible", " sad"])
    assert batched[0] == pytest.approx(float(logp[pos].logsumexp(0) - logp[neg].logsumexp(0)), abs=1e-5)
    with pytest.raises(ValueError, match="single tokens"):
        S.valence_readout(bb, PROMPTS, positive=[" good zzzqqq"])



@pytest.mark.parametrize("family", ["roberta", "bert"])
def test_a_masked_lm_is_read_at_the_mask_and_writes_no_continuations(family):
    bb = tiny_backbone(family)
    out = S.valence_readout(bb, PROMPTS[:3])
    text = PROMPTS[0] + " " + bb.tokenizer.mask_token
    enc = bb.tokenizer(text, return_tensors="pt")
    at = int((enc["input_ids"][0] == bb.mask_token_id).nonzero()[0, 0])
    with torch.no_grad():
        logp = bb.model(**enc).logits[0, at].log_softmax(-1)
    pos = [bb.token_id(w.strip()) if family == "bert" else bb.token_id(w) for w in S.POSITIVE_WORDS]
    neg = [bb.token_id(w.strip()) if family == "bert" else bb.token_id(w) for w in S.NEGATIVE_WORDS]
    assert out[0] == pytest.approx(float(logp[pos].logsumexp(0) - logp[neg].logsumexp(0)), abs=1e-5)
    examples = S.generate_examples(bb, torch.ones(bb.hidden_size), 0, [1.0])
    assert examples.empty and "masked LM" in examples.attrs["note"]


def test_readout_shifts_match_steer_loop(bb):
    d = _direction(bb)
    shifts = S.readout_shifts(bb, {"d": d}, 1, [-1.0, 0.0, 2.0], PROMPTS, n_random=2, seed=0, batch_size=5)
    base = S.valence_readout(bb, PROMPTS)
    with S.steer(bb, d, 1, 2.0):
        moved = S.valence_readout(bb, PROMPTS)
    mine = shifts[(shifts.direction == "d") & (shifts.alpha == 2.0)].sort_values("prompt")
    np.testing.assert_allclose(mine["shift"], moved - base, atol=1e-5)
    assert (shifts[shifts.alpha == 0]["shift"] == 0).all()
    rand = S.random_directions(bb.hidden_size, 2, seed=0)[1]
    with S.steer(bb, rand, 1, -1.0):
        moved = S.valence_readout(bb, PROMPTS)
    r = shifts[(shifts.direction == "random") & (shifts.draw == 1) & (shifts.alpha == -1.0)].sort_values("prompt")
    np.testing.assert_allclose(r["shift"], moved - base, atol=1e-5)


def test_dose_response_table(bb):
    d = _direction(bb)
    dr = S.dose_response(bb, {"d": d}, 1, [-1.0, 0.0, 1.0], PROMPTS, n_random=4, seed=0)
    assert list(dr.columns) == ["direction", "layer", "alpha", "effect", "ci_low", "ci_high"]
    assert set(dr.direction) == {"d", "random"} and len(dr) == 6
    assert (dr.ci_low <= dr.effect + 1e-12).all() and (dr.effect <= dr.ci_high + 1e-12).all()
    pd.testing.assert_frame_equal(dr, S.dose_response(bb, {"d": d}, 1, [-1.0, 0.0, 1.0], PROMPTS, n_random=4, seed=0))
    other = S.dose_response(bb, {"d": d}, 1, [-1.0, 0.0, 1.0], PROMPTS, n_random=4, seed=1)
    assert not np.allclose(dr[dr.direction == "random"].effect, other[other.direction == "random"].effect)
    with pytest.raises(ValueError, match="reserved"):
        S.dose_response(bb, {"random": d}, 1, [1.0], PROMPTS)
    with pytest.raises(ValueError, match="alphas"):
        S.dose_response(bb, {"d": d}, 1, [], PROMPTS)


def test_summarise_shifts_statistics():
    rng = np.random.default_rng(0)
    rows = [("d", 0, 2, 1.0, p, 1 + rng.normal()) for p in range(10)]
    rows += [("random", k, 2, 1.0, p, 0.1 * k) for k in range(5) for p in range(10)]
    shifts = pd.DataFrame(rows, columns=["direction", "draw", "layer", "alpha", "prompt", "shift"])
    table = S.summarise_shifts(shifts).set_index("direction")
    x = shifts[shifts.direction == "d"]["shift"]
    half = 2.2621571627409915 * x.std() / np.sqrt(10)  # t(0.975, 9)
    assert table.loc["d", "ci_high"] - table.loc["d", "effect"] == pytest.approx(half)
    assert table.loc["random", "effect"] == pytest.approx(0.2)
    assert table.loc["random", "ci_low"] == pytest.approx(np.percentile([0, 0.1, 0.2, 0.3, 0.4], 2.5))
    best = S.best_alpha(shifts).iloc[0]
    assert best.alpha == 1.0 and best.p_random == pytest.approx(1 / 6)


def test_generate_examples(bb):
    d = _direction(bb)
    before = _logits(bb)
    ex = S.generate_examples(bb, d, 1, [0.0, 4.0], PROMPTS[:2], max_new_tokens=3)
    assert list(ex.columns) == ["prompt", "alpha", "continuation"] and len(ex) == 4
    assert torch.equal(_logits(bb), before)
    again = S.generate_examples(bb, d, 1, [0.0], PROMPTS[:2], max_new_tokens=3)
    assert again.continuation.tolist() == ex[ex.alpha == 0].continuation.tolist()
    with pytest.raises(ValueError, match="max_new_tokens"):
        S.generate_examples(bb, d, 1, [0.0], PROMPTS[:1], max_new_tokens=0)


def test_best_alpha_prefers_distance_from_random():
    """alpha 2 has the larger shift, but random draws swing as much there; alpha 1 stands out."""
    rng = np.random.default_rng(1)
    rows = []
    for p in range(8):
        rows += [("d", 0, 0, 1.0, p, 1.0 + 0.01 * rng.normal()), ("d", 0, 0, 2.0, p, 3.0 + 0.01 * rng.normal())]
        for k in range(6):
            rows += [("random", k, 0, 1.0, p, 0.01 * (k - 2.5)), ("random", k, 0, 2.0, p, 2.0 * (k - 2.5))]
    shifts = pd.DataFrame(rows, columns=["direction", "draw", "layer", "alpha", "prompt", "shift"])
    best = S.best_alpha(shifts, seed=0).iloc[0]
    assert best.alpha == 1.0 and best.z > 10 and best.p_random == pytest.approx(1 / 7)
    assert best.n_prompts == 4
    with pytest.raises(ValueError, match="2 prompts"):
        S.best_alpha(shifts[shifts.prompt == 0])
