import numpy as np
import pandas as pd
import pytest
import torch

from emolib.model.backbones import load_backbone
from emolib.paper import units as neurons
from emolib.paper.units import random_masks, resolve_k, top_k_masks


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
    from emolib.paper.layouts import PromptScorer

    bb = load_backbone(f"tiny-{family}", device="cpu")
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
    from emolib.paper.layouts import PromptScorer

    bb = load_backbone("tiny-llama", device="cpu")
    with pytest.raises(ValueError, match="prompts must be"):
        neurons.prompt_activations(bb, torch.zeros(2, 3, bb.hidden_size + 1), PromptScorer(bb))
