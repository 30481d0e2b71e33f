"""Tests of emolib.emollm.behaviour: greedy continuations under steering and their valence words."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from emolib.emollm import behaviour as B
from emolib.emollm import steering as S
from emolib.model import tiny_backbone
from test_steering import PROMPTS, _direction, _logits, bb  # noqa: F401 (bb is a fixture)


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
    examples = B.generate_examples(bb, torch.ones(bb.hidden_size), 0, [1.0])
    assert examples.empty and "masked LM" in examples.attrs["note"]

def test_generate_examples(bb):
    d = _direction(bb)
    before = _logits(bb)
    ex = B.generate_examples(bb, d, 1, [0.0, 4.0], PROMPTS[:2], max_new_tokens=3)
    assert list(ex.columns) == ["prompt", "alpha", "continuation"] and len(ex) == 4
    assert torch.equal(_logits(bb), before)
    again = B.generate_examples(bb, d, 1, [0.0], PROMPTS[:2], max_new_tokens=3)
    assert again.continuation.tolist() == ex[ex.alpha == 0].continuation.tolist()
    with pytest.raises(ValueError, match="max_new_tokens"):
        B.generate_examples(bb, d, 1, [0.0], PROMPTS[:1], max_new_tokens=0)

def test_count_valence_words_leaves_out_the_readout_words():
    good, bad = B.behaviour_words()
    for word in S.POSITIVE_WORDS + S.NEGATIVE_WORDS:
        assert word.strip() not in good | bad
    assert not good & bad and len(good) > 50 and len(bad) > 50
    assert B.count_valence_words("So happy, cheerful and CHEERFUL; a bit lonely and sad.", good, bad) == (2, 1)

def test_batched_greedy_continuations_equal_one_at_a_time(bb):
    d = _direction(bb, seed=7)
    prompts = ["the movie was", "my day at work today was", "so"]
    scale = S.typical_norm(bb, 1)
    alphas = [0.0, 2.0, -2.0]
    vectors = torch.stack([d / d.norm() * a * scale for a in alphas])
    batched = B.greedy_continuations(bb, 1, prompts, vectors, max_new_tokens=4)
    for prompt, alpha, text in zip(prompts, alphas, batched):
        single = B.generate_examples(bb, d, 1, [alpha], [prompt], max_new_tokens=4)
        assert text == single["continuation"].iloc[0]


def test_behaviour_table_keeps_each_steering_size_apart():
    rows = [("unsteered", 0, 0.0, p, "", "", 0, 0, 0, 1.0) for p in range(2)]
    rows += [("c", 0, s * size, p, "", "", 0, 0, int(s * size), 1.0)
             for size in (1.0, 2.0) for s in (-1.0, 1.0) for p in range(2)]
    table = B.behaviour_table(pd.DataFrame(rows, columns=B._CONTINUATION_COLUMNS))
    assert table[["alpha", "minus", "plus", "difference"]].values.tolist() == [[1.0, -1.0, 1.0, 2.0],
                                                                              [2.0, -2.0, 2.0, 4.0]]
