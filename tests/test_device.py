"""Devices: "auto" resolves to the machine's device, a missing device is a clear error at every entry point."""

from __future__ import annotations

import pytest
import torch

from emolib.device import autocast, resolve_device, resolve_precision


def test_resolve_device_names_and_auto():
    assert resolve_device("cpu") == torch.device("cpu") == resolve_device(torch.device("cpu"))
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device(None) == resolve_device("auto") == resolve_device(" AUTO ")
    for bad in ("gpu", "cuda:x", "mps0", 3):
        with pytest.raises(ValueError, match="unknown device .*; valid choices: auto, cpu, cuda, cuda:N"):
            resolve_device(bad)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without a GPU")
def test_cuda_without_a_gpu_is_an_error_naming_it():
    for name in ("cuda", "cuda:0", "cuda:1"):
        with pytest.raises(ValueError, match=f"device '{name}' is not available: this machine has no CUDA GPU"):
            resolve_device(name)


def test_precision_follows_the_device_and_autocast_applies_it():
    assert resolve_precision("auto", torch.device("cpu")) == "fp32"
    assert resolve_precision("auto", torch.device("cuda")) == "bf16"
    assert resolve_precision("bf16", torch.device("cpu")) == "bf16"
    with pytest.raises(ValueError, match="unknown precision 'fp16'; valid choices: auto, fp32, bf16"):
        resolve_precision("fp16", torch.device("cpu"))
    a, b = torch.randn(4, 4), torch.randn(4, 4)
    with autocast(torch.device("cpu"), "bf16"):
        assert (a @ b).dtype == torch.bfloat16
    with autocast(torch.device("cpu"), "auto"):
        assert (a @ b).dtype == torch.float32


def _entry_points():
    from emolib import reproduce
    from emolib.emollm import analysis, vectors
    from emolib.paper import pipeline, prompts

    return {
        "train_prompts": lambda d: prompts.train_prompts("tiny-llama", "smoke", device=d),
        "run_paper": lambda d: pipeline.run_paper("tiny-llama", "smoke", device=d),
        "emotion_vectors": lambda d: vectors.emotion_vectors("tiny-llama", "smoke", device=d),
        "vectors_and_steering": lambda d: analysis.vectors_and_steering("tiny-llama", "smoke", device=d),
        "probe_direction": lambda d: analysis.probe_direction("tiny-llama", layer=1, profile="smoke", device=d),
        "reproduce valence": lambda d: reproduce.reproduce("valence", "/tmp/unused", backbone="tiny-llama", device=d),
        "reproduce backbone": lambda d: reproduce.reproduce("backbone", "/tmp/unused", backbone="tiny-llama", device=d),
    }


@pytest.mark.parametrize("entry", sorted(_entry_points()))
def test_every_entry_point_rejects_a_device_that_is_not_there(entry):
    missing = f"cuda:{torch.cuda.device_count()}"  # one past the last GPU (cuda:0 on a CPU machine)
    with pytest.raises(ValueError, match=f"device '{missing}' is not available"):
        _entry_points()[entry](missing)


def test_entry_points_put_the_model_on_the_requested_device(tmp_path):
    from emolib.model import load_backbone
    from emolib.paper import prompts

    bb = load_backbone("tiny-llama", device="cpu")
    store = prompts.train_prompts(bb, "smoke", device="cpu", root=tmp_path, progress=False)
    assert bb.device.type == "cpu" and all(p.device.type == "cpu" for p in bb.model.parameters())
    assert store.prompts.device.type == "cpu"  # stores always hold CPU tensors
