"""Tests of emolib.prompt_store: save/load round trip, corrupt files, PEFT export."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from emolib.model.backbones import load_backbone
from emolib.paper.layouts import PromptScorer
from emolib.paper.store import PromptStore


def _store(d: int = 32) -> PromptStore:
    index = pd.DataFrame({"emotion": ["grief", "joy", "grief"], "seed": [1, 1, 3]})
    prompts = torch.randn(3, 5, d, generator=torch.Generator().manual_seed(0))
    accuracy = index.assign(split="dev", accuracy=[0.5, 0.75, 1.0])[["emotion", "seed", "split", "accuracy"]]
    history = index.assign(epoch=1, split="dev", accuracy=[0.5, 0.75, 1.0], loss=[0.7, 0.6, 0.5])
    return PromptStore(prompts, index, accuracy, history, {"n_tokens": 5}, "tiny-llama")


def test_roundtrip(tmp_path):
    store = _store()
    path = store.save(tmp_path / "store")
    back = PromptStore.load(path)
    assert torch.equal(back.prompts, store.prompts)
    pd.testing.assert_frame_equal(back.index, store.index)
    pd.testing.assert_frame_equal(back.accuracy, store.accuracy)
    pd.testing.assert_frame_equal(back.history, store.history)
    assert back.profile == {"n_tokens": 5} and back.backbone == "tiny-llama"
    assert torch.equal(back.get("grief", 3), store.prompts[2])
    assert back.emotions == ["grief", "joy"] and back.seeds == [1, 3]
    store.prompts[0] += 1  # saving again replaces the old folder atomically
    PromptStore(store.prompts, store.index).save(path)
    assert torch.equal(PromptStore.load(path).prompts, store.prompts)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_missing_and_corrupt_files(tmp_path):
    path = _store().save(tmp_path / "store")
    with pytest.raises(FileNotFoundError, match="no prompt store"):
        PromptStore.load(tmp_path / "nothing")
    (path / "history.csv").unlink()
    with pytest.raises(FileNotFoundError, match="history.csv"):
        PromptStore.load(path)
    path = _store().save(tmp_path / "store")
    (path / "prompts.safetensors").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="corrupt prompt store"):
        PromptStore.load(path)
    path = _store().save(tmp_path / "store")
    (path / "accuracy.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="accuracy.csv"):
        PromptStore.load(path)
    path = _store().save(tmp_path / "store")
    (path / "store.json").write_text("{not json")
    with pytest.raises(ValueError, match="corrupt"):
        PromptStore.load(path)


def test_bad_input():
    store = _store()
    with pytest.raises(ValueError, match="no prompt for emotion 'anger'.*grief, joy"):
        store.get("anger", 1)
    with pytest.raises(ValueError, match="K = 3"):
        PromptStore(torch.zeros(2, 5, 4), store.index)
    with pytest.raises(ValueError, match="duplicate"):
        PromptStore(torch.zeros(2, 5, 4), pd.DataFrame({"emotion": ["joy", "joy"], "seed": [1, 1]}))


def test_export_peft_loads_and_scores_like_the_scorer(tmp_path):
    peft = pytest.importorskip("peft")
    bb = load_backbone("tiny-llama")
    store = _store(bb.hidden_size)
    folder = store.export_peft("joy", 1, tmp_path / "adapter", bb)
    scorer = PromptScorer(bb)
    texts = ["i am so happy", "this is bad"]
    with torch.no_grad():
        ours = scorer.logits(scorer.batch(texts, store.get("joy", 1).expand(2, -1, -1)))
    model = peft.PeftModel.from_pretrained(load_backbone("tiny-llama").model, str(folder))
    model.eval()
    with torch.no_grad():
        for row, ids in enumerate(scorer.encode(texts)):
            out = model(input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long))
            torch.testing.assert_close(out.logits[0, -1, scorer.verbalizer_ids], ours[row], atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="hidden size"):
        _store(8).export_peft("joy", 1, tmp_path / "bad", bb)
