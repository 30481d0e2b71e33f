import contextlib
import os

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from emolib.model.backbones import SUPPORTED_FAMILIES, Backbone, find_sites, load_backbone
from emolib.model import tiny_backbone


@contextlib.contextmanager
def capture(modules: dict[str, nn.Module]):
    """Record (inputs[0], output) of named modules during a forward pass."""
    seen, handles = {}, []
    for name, module in modules.items():
        handles.append(module.register_forward_hook(lambda m, i, o, name=name: seen.__setitem__(name, (i[0], o))))
    try:
        yield seen
    finally:
        for h in handles:
            h.remove()


def _layers(bb: Backbone):
    owner = {"roberta": "roberta", "bert": "bert"}.get(bb.family)
    if owner:
        return getattr(bb.model, owner).encoder.layer
    return bb.model.transformer.h if bb.family == "gpt2" else bb.model.model.layers


def _forward(bb: Backbone):
    enc = bb.tokenizer(["i am so happy today", "this is bad"], return_tensors="pt", padding=True)
    with torch.no_grad():
        bb.model(**enc)


@pytest.mark.parametrize("family", SUPPORTED_FAMILIES)
def test_ffn_site_input_is_the_post_activation_vector_computed_from_weights(family):
    bb = tiny_backbone(family, seed=3)
    site = bb.sites[1]
    layer = _layers(bb)[1]
    if family in ("roberta", "bert"):
        pre = layer.intermediate.dense
        with capture({"pre": pre, "ffn": site.ffn}) as seen:
            _forward(bb)
        x = seen["pre"][0]
        manual = F.gelu(x @ pre.weight.T + pre.bias)
    elif family == "gpt2":
        with capture({"mlp": layer.mlp, "ffn": site.ffn}) as seen:
            _forward(bb)
        x = seen["mlp"][0]
        w, b = layer.mlp.c_fc.weight, layer.mlp.c_fc.bias  # Conv1D: [in, out]
        c = (2 / torch.pi) ** 0.5
        h = x @ w + b
        manual = 0.5 * h * (1 + torch.tanh(c * (h + 0.044715 * h**3)))  # gelu_new
    else:
        with capture({"mlp": layer.mlp, "ffn": site.ffn}) as seen:
            _forward(bb)
        x = seen["mlp"][0]
        manual = F.silu(x @ layer.mlp.gate_proj.weight.T) * (x @ layer.mlp.up_proj.weight.T)
    torch.testing.assert_close(seen["ffn"][0], manual, rtol=1e-5, atol=1e-6)
    assert seen["ffn"][0].shape[-1] == bb.units_per_layer
    assert bb.n_units == bb.n_layers * bb.units_per_layer


@pytest.mark.parametrize("family", SUPPORTED_FAMILIES)
def test_value_site_output_is_the_value_projection_computed_from_weights(family):
    bb = tiny_backbone(family, seed=4)
    site = bb.sites[0]
    layer = _layers(bb)[0]
    if family in ("roberta", "bert"):
        with capture({"value": site.value}) as seen:
            _forward(bb)
        x = seen["value"][0]
        manual = x @ site.value.weight.T + site.value.bias
        got = seen["value"][1]
    elif family == "gpt2":
        with capture({"ln": layer.ln_1, "value": site.value}) as seen:
            _forward(bb)
        x = seen["ln"][1]
        d = bb.hidden_size
        manual = x @ layer.attn.c_attn.weight[:, 2 * d :] + layer.attn.c_attn.bias[2 * d :]
        got = seen["value"][1][..., site.value_slice]
    else:
        with capture({"ln": layer.input_layernorm, "value": site.value}) as seen:
            _forward(bb)
        x = seen["ln"][1]
        manual = x @ layer.self_attn.v_proj.weight.T
        got = seen["value"][1]
        assert got.shape[-1] == 2 * (bb.hidden_size // 4)  # 2 KV heads of GQA
    torch.testing.assert_close(got, manual, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("family,kind", [("roberta", "masked"), ("bert", "masked"), ("gpt2", "causal"), ("llama", "causal")])
def test_kind_family_and_frozen_eval_state(family, kind):
    bb = tiny_backbone(family)
    assert (bb.kind, bb.family, bb.n_layers) == (kind, family, 2)
    assert not bb.model.training
    assert not any(p.requires_grad for p in bb.model.parameters())
    assert bb.readout == ("mask token at position 0" if kind == "masked" else "last position")
    assert bb.tokenizer.pad_token_id is not None


def test_verbalizer_ids_come_from_the_tokenizer_and_multi_token_words_fail():
    bb = tiny_backbone("roberta")
    neg, pos = bb.verbalizer_ids(["negative", "positive"])
    assert bb.tokenizer.convert_ids_to_tokens([neg, pos]) == ["negative", "positive"]
    with pytest.raises(ValueError, match="verbalizer word 'very negative' is 2 tokens"):
        bb.token_id("very negative")
    assert bb.mask_token_id == bb.tokenizer.convert_tokens_to_ids("<mask>")
    with pytest.raises(ValueError, match="has no mask token"):
        tiny_backbone("gpt2").mask_token_id


def test_load_backbone_accepts_objects_pairs_and_local_folders(tmp_path):
    bb = tiny_backbone("llama")
    assert load_backbone(bb) is bb
    pair = load_backbone((bb.model, bb.tokenizer))
    assert pair.family == "llama" and pair.kind == "causal"
    bb.model.save_pretrained(tmp_path)
    bb.tokenizer.save_pretrained(tmp_path)
    local = load_backbone(str(tmp_path))
    assert local.family == "llama" and local.n_units == bb.n_units
    with pytest.raises(ValueError, match=r"\(model, tokenizer\)"):
        load_backbone((bb.model,))


def test_unsupported_architecture_lists_supported_families():
    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([nn.Linear(2, 2)])

    with pytest.raises(ValueError, match="supported families: roberta, bert, gpt2, llama"):
        find_sites(Odd())


def test_unknown_backbone_name_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ValueError, match="cannot load backbone 'no-such-model'.*smollm2-135m"):
        load_backbone("no-such-model")


@pytest.mark.slow
def test_embedded_backbone_is_the_real_smollm2():
    bb = load_backbone("smollm2-135m")
    assert (bb.kind, bb.family, bb.n_layers, bb.units_per_layer, bb.hidden_size) == ("causal", "llama", 30, 1536, 576)
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    ids = bb.tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.no_grad():
        out = bb.model.generate(**ids, max_new_tokens=12, do_sample=False)
    answer = bb.tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)
    assert "Paris" in answer
    assert bb.token_id(" positive") != bb.token_id(" negative")


def test_a_hub_id_fails_fast_offline_without_the_offline_variables(tmp_path):
    """Users of a pip-installed emolib lack the Makefile's HF_*_OFFLINE exports: no hang, the same message."""
    import subprocess
    import sys
    import time

    env = {k: v for k, v in os.environ.items() if not k.endswith("_OFFLINE")}
    env["HF_ENDPOINT"] = "http://10.255.255.1:9"  # unroutable: every connection attempt hangs until its timeout
    env["HF_HOME"] = str(tmp_path / "hf")  # an empty cache
    code = ("import time; from emolib.model.backbones import load_backbone\n"
            "t = time.perf_counter()\n"
            "try:\n    load_backbone('someorg/not-a-local-model', device='cpu')\n"
            "except ValueError as err:\n    print(round(time.perf_counter() - t, 2)); print(err)\n")
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120).stdout
    seconds, message = out.split("\n", 1)
    assert float(seconds) < 8, seconds
    assert "cannot load backbone 'someorg/not-a-local-model'" in message and "Offline, pass a local folder" in message
    assert time.perf_counter() - start < 60
