"""Masked evaluation: batched masks equal a per-mask loop and zeroed weight columns; accuracy modes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emolib.model.backbones import load_backbone
from emolib.model.hooks import mask_units
from emolib.paper import units as neurons
from emolib.paper.layouts import PromptScorer
from emolib.paper.masked_eval import batch_accuracy, masked_logits, masked_predictions

TEXTS = ["so happy today", "meh", "what a terrible thing to say", "ok", "I miss you so much"]


@pytest.fixture(scope="module", params=["llama", "roberta", "gpt2"])
def setup(request):
    bb = load_backbone(f"tiny-{request.param}", device="cpu")
    scorer = PromptScorer(bb)
    prompt = torch.randn(4, bb.hidden_size, generator=torch.Generator().manual_seed(0))
    masks, _ = neurons.random_masks(bb.n_units, [0.3, 0.6], n_draws=2, seed=1)
    masks = torch.cat([torch.ones(1, bb.n_units, dtype=torch.bool), masks])  # mask 0 keeps everything
    return bb, scorer, prompt, masks


def _reference(bb, scorer, prompt, masks) -> torch.Tensor:
    """One mask at a time, one text at a time."""
    out = torch.empty(len(masks), len(TEXTS), 2)
    for m in range(len(masks)):
        with mask_units(bb, masks[m]), torch.no_grad():
            for j, text in enumerate(TEXTS):
                out[m, j] = scorer.logits(scorer.batch([text], prompt[None]))[0]
    return out


def test_masks_as_batch_dimension_equal_a_loop(setup):
    bb, scorer, prompt, masks = setup
    fast = masked_logits(bb, scorer, prompt, TEXTS, masks, batch_size=3)  # chunks straddle masks
    torch.testing.assert_close(fast, _reference(bb, scorer, prompt, masks), atol=1e-5, rtol=1e-4)
    assert not torch.allclose(fast[0], fast[-1])  # the masks matter


def test_masking_equals_zeroed_output_projection_columns(setup):
    bb, scorer, prompt, masks = setup
    mask = masks[2]
    fast = masked_logits(bb, scorer, prompt, TEXTS, mask[None])[0]
    keep = mask.reshape(bb.n_layers, bb.units_per_layer)
    saved = []
    try:
        for layer, site in enumerate(bb.sites):
            weight = site.ffn.weight
            saved.append(weight.detach().clone())
            with torch.no_grad():  # nn.Linear [out, in]; GPT-2 Conv1D [in, out]
                if weight.shape[-1] == bb.units_per_layer and type(site.ffn).__name__ != "Conv1D":
                    weight.mul_(keep[layer].to(weight.dtype)[None, :])
                else:
                    weight.mul_(keep[layer].to(weight.dtype)[:, None])
        with torch.no_grad():
            zeroed = torch.stack([scorer.logits(scorer.batch([t], prompt[None]))[0] for t in TEXTS])
    finally:
        with torch.no_grad():
            for site, weight in zip(bb.sites, saved):
                site.ffn.weight.copy_(weight)
    torch.testing.assert_close(fast, zeroed, atol=1e-5, rtol=1e-4)


def test_model_is_restored_after_masked_evaluation(setup):
    bb, scorer, prompt, masks = setup
    with torch.no_grad():
        before = scorer.logits(scorer.batch(TEXTS, prompt[None].expand(len(TEXTS), -1, -1)))
    masked_predictions(bb, scorer, prompt, TEXTS, masks)
    with torch.no_grad():
        after = scorer.logits(scorer.batch(TEXTS, prompt[None].expand(len(TEXTS), -1, -1)))
    torch.testing.assert_close(before, after)


def test_batch_accuracy_modes():
    correct = np.array([1] * 100 + [0] * 10)
    assert batch_accuracy(correct) == pytest.approx(100 / 110)
    assert batch_accuracy(correct, "batch100") == pytest.approx(0.5)  # the last small batch counts fully
    assert batch_accuracy(correct[:100], "batch100") == batch_accuracy(correct[:100])


def test_batch_accuracy_bad_input():
    with pytest.raises(ValueError, match="exact, batch100"):
        batch_accuracy(np.ones(3), "batch256")
    with pytest.raises(ValueError, match="no examples"):
        batch_accuracy(np.array([]))


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_a_masks_logits_do_not_depend_on_the_masks_beside_it(precision):
    """A (prompt, mask) pair gives the same logits evaluated with other masks or alone, with the prompt
    after the comment (the standard profile's layout and its KV-cache path)."""
    bb = load_backbone("tiny-llama", device="cpu")
    scorer = PromptScorer(bb, prompt_position="after", suffix=" Answer:")
    prompt = torch.randn(4, bb.hidden_size, generator=torch.Generator().manual_seed(2))
    masks, _ = neurons.random_masks(bb.n_units, [0.2], n_draws=4, seed=3)
    together = masked_logits(bb, scorer, prompt, TEXTS, masks, batch_size=4, precision=precision)
    for m in (0, 3):
        alone = masked_logits(bb, scorer, prompt, TEXTS, masks[m: m + 1], batch_size=4, precision=precision)
        torch.testing.assert_close(together[m], alone[0], atol=1e-6, rtol=0)
    assert not torch.allclose(together[0], together[3])  # the masks matter
