"""Tests of emolib.prompt_layouts: layouts, padding invariance, two-row head, PEFT parity."""

from __future__ import annotations

import pytest
import torch

from emolib.model.backbones import load_backbone
from emolib.paper.layouts import PromptScorer, verbalizer_token_ids

TEXTS = ["i am so happy for you", "what", "this is the worst thing that could happen to anyone here", "ok thanks"]
FAMILIES = ["roberta", "bert", "gpt2", "llama"]


@pytest.fixture(scope="module")
def backbones():
    return {f: load_backbone(f"tiny-{f}") for f in FAMILIES}


def _prompts(n: int, length: int, d: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, length, d, generator=torch.Generator().manual_seed(seed)) * 0.5


@pytest.mark.parametrize("family", FAMILIES)
def test_padding_side_and_batching_do_not_change_logits(backbones, family):
    bb = backbones[family]
    prompts = _prompts(len(TEXTS), 5, bb.hidden_size)
    right = PromptScorer(bb, padding_side="right")
    left = PromptScorer(bb, padding_side="left")
    with torch.no_grad():
        a = right.logits(right.batch(TEXTS, prompts))
        b = left.logits(left.batch(TEXTS, prompts))
        alone = torch.cat([right.logits(right.batch([t], prompts[i: i + 1])) for i, t in enumerate(TEXTS)])
    torch.testing.assert_close(a, alone, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(b, alone, atol=1e-5, rtol=1e-5)
    assert a.shape == (len(TEXTS), 2)


@pytest.mark.parametrize("family", FAMILIES)
def test_two_row_head_equals_full_lm_head(backbones, family):
    bb = backbones[family]
    scorer = PromptScorer(bb)
    batch = scorer.batch(TEXTS, _prompts(len(TEXTS), 3, bb.hidden_size, seed=1))
    kwargs = dict(inputs_embeds=batch["inputs_embeds"], attention_mask=batch["attention_mask"],
                  position_ids=batch["position_ids"])
    if bb.kind == "masked":
        kwargs["token_type_ids"] = torch.zeros_like(batch["attention_mask"])
    with torch.no_grad():
        full = bb.model(**kwargs).logits  # (B, T, V)
        ours = scorer.logits(batch)
    rows = torch.arange(len(TEXTS))
    expected = full[rows, batch["readout"]][:, scorer.verbalizer_ids]
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=1e-5)


def test_masked_layout_is_the_papers(backbones):
    bb = backbones["roberta"]
    scorer = PromptScorer(bb)
    tok = bb.tokenizer
    ids = scorer.encode(["so happy"])[0]
    assert ids[0] == tok.bos_token_id and ids[-1] == tok.eos_token_id
    batch = scorer.batch(["so happy"], torch.zeros(1, 4, bb.hidden_size))
    assert batch["readout"].tolist() == [0]
    # [mask, P1..P4, <s>, so, happy, </s>]: RoBERTa positions start at padding_idx + 1
    pad = bb.model.config.pad_token_id
    assert batch["position_ids"][0].tolist() == list(range(pad + 1, pad + 1 + 9))
    expected_mask = bb.model.get_input_embeddings().weight[bb.mask_token_id]
    torch.testing.assert_close(batch["inputs_embeds"][0, 0], expected_mask)
    # prompt vectors get no token-type embedding: the model adds E_type[0] back
    type0 = bb.model.roberta.embeddings.token_type_embeddings.weight[0]
    torch.testing.assert_close(batch["inputs_embeds"][0, 1] + type0, torch.zeros(bb.hidden_size), atol=1e-6, rtol=0)
    quirk = PromptScorer(bb, position_quirk=True)
    qb = quirk.batch(["so happy", "so"], torch.zeros(2, 4, bb.hidden_size))
    assert qb["position_ids"][0].tolist() == list(range(9))  # the original's 0..T-1
    only = quirk.prompt_only(torch.zeros(3, 4, bb.hidden_size))
    assert only["inputs_embeds"].shape[:2] == (3, 6)  # [<mask>, P1..P4, <s>]
    assert only["readout"].tolist() == [0, 0, 0]


def test_position_quirk_changes_logits_but_not_padding_invariance(backbones):
    bb = backbones["roberta"]
    prompts = _prompts(len(TEXTS), 4, bb.hidden_size)
    plain, quirk = PromptScorer(bb), PromptScorer(bb, position_quirk=True)
    quirk_left = PromptScorer(bb, position_quirk=True, padding_side="left")
    with torch.no_grad():
        a = plain.logits(plain.batch(TEXTS, prompts))
        b = quirk.logits(quirk.batch(TEXTS, prompts))
        c = quirk_left.logits(quirk_left.batch(TEXTS, prompts))
    assert not torch.allclose(a, b)
    torch.testing.assert_close(b, c, atol=1e-5, rtol=1e-5)


def test_causal_layout_reads_last_position(backbones):
    bb = backbones["gpt2"]
    scorer = PromptScorer(bb, suffix=" happy")
    ids = scorer.encode(["so sad", "ok"])
    assert ids[0][-1] == bb.tokenizer(" happy", add_special_tokens=False)["input_ids"][-1]
    batch = scorer.batch_ids(ids, torch.zeros(2, 3, bb.hidden_size))
    assert batch["readout"].tolist() == [3 + len(ids[0]) - 1, 3 + len(ids[1]) - 1]
    only = scorer.prompt_only(torch.zeros(2, 3, bb.hidden_size))
    assert only["readout"].tolist() == [3, 3]  # P1..P3 then the suffix token


def test_truncation_keeps_suffix(backbones):
    bb = backbones["llama"]
    scorer = PromptScorer(bb, max_length=3, suffix=" happy")
    ids = scorer.encode([TEXTS[2]])[0]
    assert len(ids) == 4 and ids[-1] == bb.tokenizer(" happy", add_special_tokens=False)["input_ids"][-1]


def test_logits_equal_peft_prompt_tuning(backbones):
    peft = pytest.importorskip("peft")
    bb = load_backbone("tiny-llama")
    length = 6
    prompt = _prompts(1, length, bb.hidden_size, seed=3)[0]
    config = peft.PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=length)
    model = peft.get_peft_model(bb.model, config)
    with torch.no_grad():
        model.prompt_encoder["default"].embedding.weight.copy_(prompt)
    scorer = PromptScorer(bb, padding_side="left")
    ids = scorer.encode(TEXTS)
    with torch.no_grad():
        ours = scorer.logits(scorer.batch_ids(ids, prompt.expand(len(ids), -1, -1)))
        ref = []
        for seq in ids:
            out = model(input_ids=torch.tensor([seq]), attention_mask=torch.ones(1, len(seq), dtype=torch.long))
            ref.append(out.logits[0, -1, scorer.verbalizer_ids])
    torch.testing.assert_close(ours, torch.stack(ref), atol=1e-5, rtol=1e-5)


def test_gradient_reaches_prompts_only(backbones):
    bb = backbones["roberta"]
    scorer = PromptScorer(bb)
    prompts = _prompts(2, 3, bb.hidden_size).requires_grad_(True)
    scorer.logits(scorer.batch(TEXTS[:2], prompts)).sum().backward()
    assert prompts.grad is not None and prompts.grad.abs().sum() > 0
    assert all(p.grad is None for p in bb.model.parameters())


def test_bad_input(backbones):
    bb = backbones["gpt2"]
    with pytest.raises(ValueError, match="padding_side"):
        PromptScorer(bb, padding_side="middle")
    with pytest.raises(ValueError, match="position_quirk"):
        PromptScorer(bb, position_quirk=True)
    with pytest.raises(ValueError, match="zzzunknownword"):
        PromptScorer(load_backbone("tiny-llama"), verbalizer=("zzzunknownword and more", "positive"))
    with pytest.raises(ValueError, match="two different"):
        verbalizer_token_ids(bb, ("positive", "positive"))
    scorer = PromptScorer(bb)
    with pytest.raises(ValueError, match="shape"):
        scorer.batch(["a", "b"], torch.zeros(3, 2, bb.hidden_size))
    with pytest.raises(ValueError, match="list of strings"):
        scorer.encode("one string")


@pytest.mark.slow
def test_smollm2_verbalizer_and_padding():
    bb = load_backbone("smollm2-135m")
    scorer = PromptScorer(bb)
    assert scorer.verbalizer_ids.tolist() == [bb.token_id(" negative"), bb.token_id(" positive")]
    prompts = _prompts(2, 4, bb.hidden_size) * 0.05
    left = PromptScorer(bb, padding_side="left")
    with torch.no_grad():
        a = scorer.logits(scorer.batch(TEXTS[:2], prompts))
        b = left.logits(left.batch(TEXTS[:2], prompts))
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
