import numpy as np
import pandas as pd
import pytest
import torch

from emolib import neurons
from emolib.backbones import load_backbone
from emolib.neurons import mask_units, random_masks, record_units, resolve_k, top_k_masks
from emolib.tiny import tiny_backbone


def _batch(bb):
    return bb.tokenizer(["i am so happy today", "this is bad", "what"], return_tensors="pt", padding=True)


@pytest.mark.parametrize("family", ["roberta", "gpt2", "llama"])
def test_record_units_equals_manual_capture_at_the_position(family):
    bb = tiny_backbone(family, seed=1)
    enc = _batch(bb)
    full = {}
    handles = [s.ffn.register_forward_pre_hook(lambda m, a, l=l: full.__setitem__(l, a[0].clone()))
               for l, s in enumerate(bb.sites)]
    with torch.no_grad():
        bb.model(**enc)
    for h in handles:
        h.remove()
    positions = torch.tensor([0, 2, 1])
    with record_units(bb, position=positions) as rec, torch.no_grad():
        bb.model(**enc)
    expected = torch.cat([full[l][torch.arange(3), positions] for l in range(bb.n_layers)], dim=-1)
    torch.testing.assert_close(rec.values, expected)
    assert rec.values.shape == (3, bb.n_units)
    assert all(not s.ffn._forward_pre_hooks for s in bb.sites)  # hooks removed


def test_masking_equals_zeroing_the_output_projection_columns_and_restores():
    bb = tiny_backbone("llama", seed=2)
    enc = _batch(bb)
    keep = torch.ones(bb.n_units, dtype=torch.bool)
    keep[torch.randperm(bb.n_units, generator=torch.Generator().manual_seed(0))[:50]] = False
    with torch.no_grad():
        clean = bb.model(**enc).logits
        with mask_units(bb, keep):
            masked = bb.model(**enc).logits
        saved = [s.ffn.weight.clone() for s in bb.sites]
        for l, s in enumerate(bb.sites):
            s.ffn.weight[:, ~keep.reshape(bb.n_layers, -1)[l]] = 0
        zeroed = bb.model(**enc).logits
        for s, w in zip(bb.sites, saved):
            s.ffn.weight.copy_(w)
        after = bb.model(**enc).logits
    torch.testing.assert_close(masked, zeroed, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(masked, clean)
    torch.testing.assert_close(after, clean)


def test_masks_as_a_batch_dimension_equal_one_mask_at_a_time():
    bb = tiny_backbone("gpt2", seed=3)
    enc = _batch(bb)
    masks = torch.ones(3, bb.n_units, dtype=torch.bool)
    masks[1, :40] = False
    masks[2, 100:] = False
    with torch.no_grad():
        with mask_units(bb, masks, mask_index=torch.tensor([2, 0, 1])):
            batched = bb.model(**enc).logits
        single = []
        for row, m in enumerate([2, 0, 1]):
            with mask_units(bb, masks[m]):
                single.append(bb.model(**{k: v[row : row + 1] for k, v in enc.items()}).logits[0])
    torch.testing.assert_close(batched, torch.stack(single), rtol=1e-5, atol=1e-5)


def test_mask_validation():
    bb = tiny_backbone("gpt2")
    with pytest.raises(ValueError, match="bool tensor"):
        with mask_units(bb, torch.ones(bb.n_units)):
            pass
    with pytest.raises(ValueError, match="masks have 7 units"):
        with mask_units(bb, torch.ones(7, dtype=torch.bool)):
            pass


def test_resolve_k_counts_and_fractions():
    assert resolve_k(500, 36864) == 500 and resolve_k(0.5, 10) == 5
    for bad in (0, 1.5, 40000, -3):
        with pytest.raises(ValueError, match="invalid mask size"):
            resolve_k(bad, 36864)


def test_top_k_masks_silence_the_best_ranked_units():
    ranks = pd.DataFrame({"valence": [3.0, 1.0, 2.0, 4.0, 5.0], "arousal": [5.0, 4.0, 3.0, 2.0, 1.0]})
    masks, index = top_k_masks(ranks, [2, 0.6])
    assert index[["attribute", "k"]].values.tolist() == [["valence", 2], ["valence", 3], ["arousal", 2], ["arousal", 3]]
    assert masks[0].tolist() == [True, False, False, True, True]
    assert masks[3].tolist() == [True, True, False, False, False]


def test_random_masks_are_seeded_and_of_size_k():
    m1, idx = random_masks(1000, [10, 0.05], n_draws=3, seed=7)
    m2, _ = random_masks(1000, [10, 0.05], n_draws=3, seed=7)
    assert torch.equal(m1, m2) and len(idx) == 6
    assert (~m1).sum(1).tolist() == [10, 10, 10, 50, 50, 50]
    labelled, idx2 = random_masks(1000, [10], labels=["valence", "arousal"], seed=0)
    assert idx2["attribute"].tolist() == ["valence", "arousal"] and labelled.shape == (2, 1000)
    assert not torch.equal(m1[0], m1[1])


@pytest.mark.parametrize("family", ["llama", "roberta", "gpt2"])
def test_prompt_activations_batched_equal_one_at_a_time(family):
    from emolib.prompt_layouts import PromptScorer

    bb = load_backbone(f"tiny-{family}")
    scorer = PromptScorer(bb)
    prompts = torch.randn(5, 3, bb.hidden_size, generator=torch.Generator().manual_seed(2))
    batched = neurons.prompt_activations(bb, prompts, scorer, batch_size=4)
    single = np.concatenate([neurons.prompt_activations(bb, prompts[i : i + 1], scorer) for i in range(5)])
    assert batched.shape == (5, bb.n_units)
    np.testing.assert_allclose(batched, single, atol=1e-5)
    assert not np.allclose(batched[0], batched[1])  # each prompt gives its own activations
    # the read-out position is the one the scorer scores: recording there equals a manual hook
    batch = scorer.prompt_only(prompts[:1])
    seen = []
    handle = bb.sites[0].ffn.register_forward_pre_hook(lambda m, a: seen.append(a[0][0, batch["readout"][0]].clone()))
    try:
        with torch.no_grad():
            scorer.hidden(batch)
    finally:
        handle.remove()
    np.testing.assert_allclose(batched[0, : bb.units_per_layer], seen[0].numpy(), atol=1e-5)


def test_prompt_activations_bad_shape():
    from emolib.prompt_layouts import PromptScorer

    bb = load_backbone("tiny-llama")
    with pytest.raises(ValueError, match="prompts must be"):
        neurons.prompt_activations(bb, torch.zeros(2, 3, bb.hidden_size + 1), PromptScorer(bb))
