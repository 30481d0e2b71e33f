"""The hooks module: recording each site, silencing units, adding to the residual stream, device routing."""

import pytest
import torch

from emolib.model import tiny_backbone
from emolib.model.backbones import load_backbone
from emolib.model.hooks import add_to_layer, mask_units, record

FAMILIES = ["roberta", "bert", "gpt2", "llama"]


def _batch(bb):
    return bb.tokenizer(["i am so happy today", "this is bad", "what"], return_tensors="pt", padding=True)


@pytest.mark.parametrize("family", ["roberta", "gpt2", "llama"])
def test_record_ffn_equals_manual_capture_at_the_position(family):
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
    with record(bb, "ffn", positions=positions) as rec, torch.no_grad():
        bb.model(**enc)
    expected = torch.cat([full[l][torch.arange(3), positions] for l in range(bb.n_layers)], dim=-1)
    torch.testing.assert_close(rec.concatenated(), expected)
    assert rec.concatenated().shape == (3, bb.n_units)
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


@pytest.mark.parametrize("family", FAMILIES)
def test_record_residual_is_the_block_output_of_hidden_states(family):
    """The residual after block l equals hidden_states[l + 1] (the last one before any final norm)."""
    bb = tiny_backbone(family, seed=4)
    enc = _batch(bb)
    with torch.no_grad(), record(bb, "residual") as rec:
        states = bb.model(**enc, output_hidden_states=True).hidden_states
    for layer in range(bb.n_layers - 1):
        torch.testing.assert_close(rec[layer], states[layer + 1])
    assert rec.stacked().shape == (3, bb.n_layers, enc["input_ids"].shape[1], bb.hidden_size)
    with torch.no_grad(), record(bb, "residual", layers=[0], positions=torch.tensor([1, 0, 2])) as picked:
        bb.model(**enc)
    torch.testing.assert_close(picked[0], states[1][torch.arange(3), torch.tensor([1, 0, 2])])


@pytest.mark.parametrize("family", FAMILIES)
def test_record_value_is_the_value_projection_output(family):
    bb = tiny_backbone(family, seed=5)
    enc = _batch(bb)
    seen = {}
    site = bb.sites[1]
    handle = site.value.register_forward_hook(lambda m, a, o: seen.__setitem__("out", o.clone()))
    try:
        with torch.no_grad(), record(bb, "value", positions=-1) as rec:
            bb.model(**enc)
    finally:
        handle.remove()
    expected = seen["out"][..., site.value_slice] if site.value_slice is not None else seen["out"]
    torch.testing.assert_close(rec[1], expected[:, -1])
    if family == "gpt2":
        assert rec[1].shape[-1] == bb.hidden_size  # the value third of the fused c_attn


def test_record_rejects_bad_sites_and_layers_and_removes_its_hooks():
    bb = tiny_backbone("llama")
    with pytest.raises(ValueError, match="unknown site 'mlp'; valid choices: ffn, value, residual"):
        with record(bb, "mlp"):
            pass
    with pytest.raises(ValueError, match=r"layer 5 out of range; valid choices: 0..1"):
        with record(bb, "ffn", layers=[5]):
            pass
    with pytest.raises(RuntimeError, match="inside the record block"), record(bb, "ffn") as rec:
        rec.stacked()
    for site in bb.sites:
        assert not site.ffn._forward_pre_hooks and not site.block._forward_hooks and not site.value._forward_hooks


def test_add_to_layer_shifts_the_block_output_and_restores():
    bb = tiny_backbone("gpt2", seed=6)
    enc = _batch(bb)
    vector = torch.randn(bb.hidden_size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        with record(bb, "residual", layers=[0]) as rec:
            clean_logits = bb.model(**enc).logits
        clean = rec[0].clone()
        with add_to_layer(bb, 0, vector), record(bb, "residual", layers=[0]) as rec:  # added first, then recorded
            steered_logits = bb.model(**enc).logits
        # the same edit by hand: the next block's input shifted by the vector
        handle = bb.sites[1].block.register_forward_pre_hook(lambda m, a: (a[0] + vector,) + tuple(a[1:]))
        try:
            manual_logits = bb.model(**enc).logits
        finally:
            handle.remove()
        after_logits = bb.model(**enc).logits
    torch.testing.assert_close(rec[0], clean + vector)
    torch.testing.assert_close(steered_logits, manual_logits)
    assert not torch.allclose(steered_logits, clean_logits)
    torch.testing.assert_close(after_logits, clean_logits)
    with torch.no_grad(), add_to_layer(bb, 1, torch.zeros(3, bb.hidden_size)) as state:
        state["vectors"] = torch.stack([vector, -vector, 0 * vector])
        bb.model(**enc)
    assert not bb.sites[1].block._forward_hooks


def test_models_and_recordings_go_to_the_requested_device():
    bb = load_backbone("tiny-llama", device="cpu")
    assert all(p.device.type == "cpu" for p in bb.model.parameters())
    with torch.no_grad(), record(bb, "ffn", positions=0) as rec:
        bb.model(**_batch(bb))
    assert all(v.device == bb.device for v in rec.values.values())
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device 'cuda' is not available"):
            load_backbone("tiny-llama", device="cuda")
        with pytest.raises(ValueError, match="device 'cuda:1' is not available"):
            load_backbone(bb, device="cuda:1")
    with pytest.raises(ValueError, match="unknown device 'gpu'; valid choices: auto, cpu, cuda, cuda:N"):
        load_backbone(bb, device="gpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_auto_puts_models_and_recordings_on_the_gpu():
    bb = load_backbone("tiny-llama")
    assert bb.device.type == "cuda"
    enc = {k: v.to(bb.device) for k, v in _batch(bb).items()}
    with torch.no_grad(), record(bb, "residual") as rec:
        bb.model(**enc)
    assert all(v.device.type == "cuda" for v in rec.values.values())
