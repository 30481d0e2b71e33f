"""Tests of emolib.emollm.steering: the steering hook, the typical norm, the read-out, shifts and the dose-response."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from emolib.emollm import steering as S
from emolib.model.hooks import record, reuse_prefix
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

def test_typical_norm_is_the_median_token_norm_around_the_mean(bb):
    texts = PROMPTS[:3]
    norms = []
    for t in texts:
        ids = bb.tokenizer(t, return_tensors="pt", return_special_tokens_mask=True)
        special = ids.pop("special_tokens_mask").bool()[0]
        with torch.no_grad(), record(bb, "residual", [1]) as store:
            bb.model(**ids)
        norms.append(store[1][0, ~special])  # [n, d]
    tokens = torch.cat(norms)
    assert S.typical_norm(bb, 1, texts, centred=False) == pytest.approx(float(tokens.norm(dim=-1).median()), rel=1e-6)
    centred = (tokens - tokens.mean(0)).norm(dim=-1).median()
    assert S.typical_norm(bb, 1, texts) == pytest.approx(float(centred), rel=1e-5)

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

def test_the_prefix_is_run_once_and_reused(bb):
    batch = bb.encode(PROMPTS)
    calls = []
    handle = bb.sites[0].ffn.register_forward_pre_hook(lambda m, a: calls.append(1))  # inside block 0
    try:
        with torch.no_grad(), reuse_prefix(bb, 1, batch) as state:
            assert state["active"] and len(calls) == 1
            state["rows"] = torch.tensor([2, 0])
            S._forward(bb, {k: v[[2, 0]] for k, v in batch.items()})
            assert len(calls) == 1  # block 0 did not run again
        S._forward(bb, batch)
        assert len(calls) == 2  # restored
    finally:
        handle.remove()
    assert "forward" not in bb.sites[0].block.__dict__
