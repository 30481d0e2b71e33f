"""Tests of emolib.emollm.steering_controls: the projected direction and the emotion contrasts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emolib.emollm import steering as S
from emolib.emollm import steering_controls as SC
from emolib.model import tiny_backbone
from test_steering import PROMPTS, _direction, bb  # noqa: F401 (bb is a fixture)


def test_projection_is_orthogonal_to_every_readout_row_and_idempotent(bb):
    d = _direction(bb, seed=3)
    v = SC.project_out_readout(bb, d)
    W = bb.model.get_output_embeddings().weight.detach()
    words = [bb.token_id(w) for w in S.POSITIVE_WORDS + S.NEGATIVE_WORDS]
    assert torch.allclose(W[words] @ v, torch.zeros(6), atol=1e-4 * float(d.norm()))
    assert float((SC.readout_rows(bb).float() @ v).abs().max()) < 1e-4 * float(d.norm())
    torch.testing.assert_close(SC.project_out_readout(bb, v), v, atol=1e-5, rtol=0)
    # what is removed lies in the rows' span: a read-out row difference plus d projects to the same vector
    torch.testing.assert_close(SC.project_out_readout(bb, d + 5 * (W[words[0]] - W[words[3]])), v, atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match="nothing is left"):
        SC.project_out_readout(bb, W[words[0]] - W[words[3]])
    with pytest.raises(ValueError, match="finite"):
        SC.project_out_readout(bb, torch.ones(bb.hidden_size + 1))

def _readout_logits(bb, text="the movie was"):
    """Logits of the six read-out words at the next token: [6]."""
    ids = bb.tokenizer(text, return_tensors="pt")
    words = [bb.token_id(w) for w in S.POSITIVE_WORDS + S.NEGATIVE_WORDS]
    with torch.no_grad():
        return bb.model(**ids).logits[0, -1, words].double()

def test_projection_removes_the_direct_readout_path_through_the_final_norm():
    """At the last layer a vector reaches the logits only through the final norm: orthogonal to the norm-weighted
    rows, it can at most rescale the six read-out logits together (RMS norm); the raw rows alone do not suffice."""
    bb = tiny_backbone("llama", seed=5)
    norm = SC._final_norm(bb)
    with torch.no_grad():
        norm.weight.copy_(torch.rand(bb.hidden_size, generator=torch.Generator().manual_seed(0)) * 2 + 0.1)
    last = bb.n_layers - 1
    before = _readout_logits(bb)
    d = _direction(bb, seed=4)
    ratios = {}
    for through in (True, False):
        with S.steer(bb, SC.project_out_readout(bb, d, through_norm=through), last, alpha=2.0):
            ratios[through] = _readout_logits(bb) / before  # [6]
    assert float(ratios[True].std()) < 1e-4 * float(ratios[True].abs().mean())
    assert float(ratios[False].std()) > 1e-2 * float(ratios[False].abs().mean())

def test_projection_collapses_the_shift_of_a_readout_direction(bb):
    W = bb.model.get_output_embeddings().weight.detach()
    pos, neg = [bb.token_id(w) for w in S.POSITIVE_WORDS], [bb.token_id(w) for w in S.NEGATIVE_WORDS]
    readout = W[pos].mean(0) - W[neg].mean(0)
    d = readout / readout.norm() + 0.05 * _direction(bb, seed=6) / _direction(bb, seed=6).norm()
    projected = SC.project_out_readout(bb, d)
    shifts = S.readout_shifts(bb, {"d": d, "projected": projected}, bb.n_layers - 1, [1.0], PROMPTS, n_random=0)
    size = shifts.groupby("direction")["shift"].apply(lambda x: float(x.abs().mean()))
    assert size["d"] > 0.05 and size["projected"] < 0.2 * size["d"]


class _Vectors:
    """Stands in for EmotionVectors: ``layer(l)`` gives [27, d]."""

    def __init__(self, d=8):
        self.x = np.random.default_rng(0).normal(size=(27, d))

    def layer(self, layer):
        return self.x

def test_contrast_controls_are_emotion_differences_of_similar_valence():
    from emolib.emotions import EMOTIONS

    ev = _Vectors()
    controls = SC.contrast_controls(ev, 0)
    assert list(controls) == [f"{a} - {b}" for a, b in SC.CONTROL_CONTRASTS]
    a, b = SC.CONTROL_CONTRASTS[0]
    np.testing.assert_allclose(controls[f"{a} - {b}"].numpy(), ev.x[EMOTIONS.index(a)] - ev.x[EMOTIONS.index(b)],
                               rtol=1e-6)
    table = SC.contrast_table()
    assert (table["valence difference"].abs() < 0.3).all() and (table["valence difference"] > 0).all()
    with pytest.raises(ValueError, match="joy - sadness"):
        SC.contrast_controls(ev, 0, [("joy", "sadness")])
