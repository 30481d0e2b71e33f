"""Tests of emolib.prompt_train: the bank equals independent training, optimiser, resume, data parallel."""

from __future__ import annotations

import math
import os

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from emolib.model.backbones import load_backbone
from emolib.data import paper_task
from emolib.paper.layouts import PromptScorer
from emolib.paper.train import BankAdamW, Examples, evaluate_bank, train_bank

SIZES = (5, 3, 8)  # unequal task sizes: prompts run out of examples at different steps


def _data(scorer: PromptScorer, sizes=SIZES, split="dev") -> list[Examples]:
    out = []
    for k, (emotion, n) in enumerate(zip(("grief", "joy", "anger"), sizes)):
        task = paper_task(emotion, 1, split).iloc[::3].head(n)
        out.append(Examples(scorer.encode(task["text"].tolist()), task["label"].to_numpy()))
    return out


def _init(k: int, length: int, d: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(k, length, d, generator=torch.Generator().manual_seed(seed)) * 0.3


@pytest.fixture(scope="module")
def roberta():
    return PromptScorer(load_backbone("tiny-roberta"), max_length=12)


def test_bank_gradient_equals_single_prompt_gradient(roberta):
    scorer, data = roberta, _data(roberta)
    init = _init(3, 4, scorer.hidden_size).requires_grad_(True)
    counts = [len(ex.ids) for ex in data]
    ks = [k for k, ex in enumerate(data) for _ in ex.ids]
    ids = [i for ex in data for i in ex.ids]
    labels = torch.tensor([int(y) for ex in data for y in ex.labels])
    logits = scorer.logits(scorer.batch_ids(ids, init[torch.tensor(ks)]))
    weights = torch.tensor([1 / counts[k] for k in ks])
    (F.cross_entropy(logits, labels, reduction="none") * weights).sum().backward()
    for k, ex in enumerate(data):
        alone = init.detach()[k: k + 1].clone().requires_grad_(True)
        out = scorer.logits(scorer.batch_ids(ex.ids, alone.expand(len(ex.ids), -1, -1)))
        F.cross_entropy(out, torch.tensor(ex.labels)).backward()
        torch.testing.assert_close(init.grad[k], alone.grad[0], atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("batch_size", [1, 2])
def test_bank_training_equals_training_each_prompt_alone(roberta, batch_size):
    scorer = roberta
    train, dev = _data(scorer), _data(scorer, (4, 4, 4), split="test")
    init = _init(3, 4, scorer.hidden_size, seed=1)
    keys = [[7, k] for k in range(3)]
    kw = dict(epochs=2, batch_size=batch_size, lr=0.05, dropout=False, micro_batch=4, progress=False)
    bank = train_bank(scorer, init, train, dev, keys=keys, **kw)
    for k in range(3):
        alone = train_bank(scorer, init[k: k + 1], [train[k]], [dev[k]], keys=[keys[k]], **kw)
        torch.testing.assert_close(bank.final[k], alone.final[0], atol=2e-5, rtol=1e-4)
        torch.testing.assert_close(bank.best[k], alone.best[0], atol=2e-5, rtol=1e-4)
        assert bank.best_dev[k] == alone.best_dev[0]
    assert not torch.allclose(bank.final, init)


#: Tolerance of "the same prompt" between a bank and a lone run. On one machine the two are bit-identical in
#: bf16 and differ by at most ~3e-7 in fp32 (a CPU kernel may round a row by its place in the batch); the
#: dev and test accuracies are identical in both precisions.
ALONE_ATOL = 1e-5


@pytest.fixture(scope="module")
def llama_after():
    """The standard profile's layout on a causal LM: the prompt after the comment, then the suffix."""
    return PromptScorer(load_backbone("tiny-llama"), max_length=12, prompt_position="after", suffix=" Answer:")


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_bank_equals_alone_with_the_prompt_after_the_comment(llama_after, precision):
    scorer = llama_after
    train, dev, test = _data(scorer, (9, 5, 13), "train"), _data(scorer, (6, 7, 5), "test"), _data(scorer, (7, 6, 8))
    init = _init(3, 4, scorer.hidden_size)
    keys = [[7, k] for k in range(3)]
    kw = dict(epochs=3, batch_size=3, lr=0.05, dropout=False, micro_batch=4, precision=precision, progress=False)
    bank = train_bank(scorer, init, train, dev, keys=keys, **kw)
    bank_test, _ = evaluate_bank(scorer, bank.best, test, micro_batch=4, precision=precision)
    for k in range(3):
        alone = train_bank(scorer, init[k: k + 1], [train[k]], [dev[k]], keys=[keys[k]], **kw)
        torch.testing.assert_close(bank.final[k], alone.final[0], atol=ALONE_ATOL, rtol=0)
        torch.testing.assert_close(bank.best[k], alone.best[0], atol=ALONE_ATOL, rtol=0)
        assert bank.best_dev[k] == alone.best_dev[0]
        assert [h["accuracy"] for h in bank.history if h["prompt"] == k and h["split"] == "dev"] == \
            [h["accuracy"] for h in alone.history if h["split"] == "dev"]
        alone_test, _ = evaluate_bank(scorer, alone.best, [test[k]], micro_batch=4, precision=precision)
        assert bank_test[k] == alone_test[0]
    assert not torch.allclose(bank.final, init)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_a_prompts_accuracy_does_not_depend_on_the_prompts_beside_it(llama_after, precision):
    scorer = llama_after
    data = _data(scorer, (8, 5, 7))
    prompts = _init(3, 4, scorer.hidden_size, seed=3)
    acc, loss = evaluate_bank(scorer, prompts, data, micro_batch=4, precision=precision)
    for k in range(3):  # alone, and beside other prompts in another order
        acc1, loss1 = evaluate_bank(scorer, prompts[k: k + 1], data[k: k + 1], micro_batch=4, precision=precision)
        others = [j for j in (2, 1, 0) if j != k] + [k]
        acc2, _ = evaluate_bank(scorer, prompts[others], [data[j] for j in others], micro_batch=4, precision=precision)
        assert acc[k] == acc1[0] == acc2[-1]
        assert loss[k] == pytest.approx(loss1[0], abs=1e-6)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_a_row_in_a_fixed_shape_batch_does_not_depend_on_its_mates(llama_after, precision):
    scorer = llama_after
    ids = _data(scorer, (8, 5, 7))
    rows, mates = ids[0].ids[:2], ids[1].ids[:2] + ids[2].ids[:2]
    prompts = _init(5, 4, scorer.hidden_size, seed=5)
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    with torch.no_grad(), torch.autocast("cpu", dtype=dtype, enabled=precision == "bf16"):
        filler = scorer.score(rows + [rows[0]] * 2, prompts[[0, 1, 0, 0]], width=24).float()[:2]
        others = scorer.score(rows + mates[:2], prompts[[0, 1, 2, 3]], width=24).float()[:2]
        swapped = scorer.score(mates[2:] + rows, prompts[[4, 2, 0, 1]], width=24).float()[2:]
    torch.testing.assert_close(filler, others, atol=1e-6, rtol=0)
    torch.testing.assert_close(filler, swapped, atol=1e-6, rtol=0)


def _reference_adamw(p, grads, lr, eps, wd, correct_bias, betas=(0.9, 0.999)):
    """transformers.AdamW as the original used it, one tensor, plain loop."""
    p, m, v = p.clone(), torch.zeros_like(p), torch.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        step = lr * math.sqrt(1 - betas[1] ** t) / (1 - betas[0] ** t) if correct_bias else lr
        p = p - step * m / (v.sqrt() + eps)
        p = p - lr * wd * p
    return p


@pytest.mark.parametrize("correct_bias", [False, True])
def test_bank_adamw_matches_reference_and_skips_inactive_prompts(correct_bias):
    gen = torch.Generator().manual_seed(0)
    bank = torch.randn(3, 2, 4, generator=gen)
    start = bank.clone()
    opt = BankAdamW(bank, lr=0.1, eps=1e-6, weight_decay=0.01, correct_bias=correct_bias)
    grads = [torch.randn(3, 2, 4, generator=gen) for _ in range(4)]
    active = [torch.tensor(a) for a in ([1, 1, 1], [1, 0, 1], [1, 0, 0], [1, 1, 0])]
    for g, a in zip(grads, active):
        opt.step(g, a.bool())
    for k in range(3):
        mine = [g[k] for g, a in zip(grads, active) if a[k]]
        expected = _reference_adamw(start[k], mine, 0.1, 1e-6, 0.01, correct_bias)
        torch.testing.assert_close(bank[k], expected, atol=1e-6, rtol=1e-5)
    assert opt.steps.tolist() == [4, 2, 2]
    if not correct_bias:  # with equal weight decay and no bias correction torch's AdamW differs (decay first)
        assert not torch.allclose(bank, start)


def test_resume_after_interruption_gives_identical_prompts(roberta, tmp_path):
    scorer = roberta
    train, dev = _data(scorer), _data(scorer, (4, 4, 4), split="test")
    init = _init(3, 4, scorer.hidden_size, seed=2)
    kw = dict(epochs=3, batch_size=2, lr=0.05, dropout=True, micro_batch=4, progress=False, seed=5)
    full = train_bank(scorer, init, train, dev, **kw)

    def boom(epoch):
        if epoch == 1:
            raise KeyboardInterrupt("interrupted")

    with pytest.raises(KeyboardInterrupt):
        train_bank(scorer, init, train, dev, state_dir=tmp_path, on_epoch_end=boom, **kw)
    assert sorted(p.name for p in tmp_path.glob("epoch-*.pt")) == ["epoch-1.pt"]
    seen = []
    resumed = train_bank(scorer, init, train, dev, state_dir=tmp_path, on_epoch_end=seen.append, **kw)
    assert seen == [2, 3]
    torch.testing.assert_close(resumed.final, full.final, atol=0, rtol=0)
    torch.testing.assert_close(resumed.best, full.best, atol=0, rtol=0)
    pd.testing.assert_frame_equal(pd.DataFrame(resumed.history), pd.DataFrame(full.history))


def test_evaluate_bank_accuracy_definitions(roberta):
    scorer = roberta
    data = _data(scorer, (8, 5, 7))
    prompts = _init(3, 4, scorer.hidden_size, seed=3)
    acc, loss = evaluate_bank(scorer, prompts, data, micro_batch=3)
    acc3, _ = evaluate_bank(scorer, prompts, data, micro_batch=5, accuracy_batch=3)
    with torch.no_grad():
        for k, ex in enumerate(data):
            logits = scorer.logits(scorer.batch_ids(ex.ids, prompts[k].expand(len(ex.ids), -1, -1)))
            hits = (logits.argmax(-1).numpy() == ex.labels).astype(float)
            assert acc[k] == pytest.approx(hits.mean())
            assert acc3[k] == pytest.approx(np.mean([hits[i: i + 3].mean() for i in range(0, len(hits), 3)]))
            assert loss[k] == pytest.approx(float(F.cross_entropy(logits, torch.tensor(ex.labels))), rel=1e-5)


def test_bad_arguments(roberta):
    data = _data(roberta)
    with pytest.raises(ValueError, match="3 prompts"):
        train_bank(roberta, _init(3, 2, roberta.hidden_size), data[:2], data, progress=False)
    with pytest.raises(ValueError, match="positive"):
        train_bank(roberta, _init(3, 2, roberta.hidden_size), data, data, batch_size=0, progress=False)
    with pytest.raises(ValueError, match="labels"):
        Examples([[1, 2]], np.array([0, 1]))


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), OMP_NUM_THREADS="1")
    torch.set_num_threads(1)
    torch.distributed.init_process_group("gloo", rank=rank, world_size=world)
    try:
        scorer = PromptScorer(load_backbone("tiny-roberta"), max_length=12)
        train, dev = _data(scorer), _data(scorer, (4, 4, 4), split="test")
        result = train_bank(scorer, _init(3, 4, scorer.hidden_size, seed=4), train, dev, epochs=2, batch_size=2,
                            lr=0.05, dropout=False, micro_batch=2, progress=False)
        if rank == 0:
            torch.save({"final": result.final, "best_dev": result.best_dev, "history": result.history}, out)
    finally:
        torch.distributed.destroy_process_group()


def test_data_parallel_two_processes_equals_one(roberta, tmp_path):
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out = str(tmp_path / "dp.pt")
    mp.spawn(_worker, args=(2, port, out), nprocs=2, join=True)
    parallel = torch.load(out, weights_only=False)
    train, dev = _data(roberta), _data(roberta, (4, 4, 4), split="test")
    single = train_bank(roberta, _init(3, 4, roberta.hidden_size, seed=4), train, dev, epochs=2, batch_size=2,
                        lr=0.05, dropout=False, micro_batch=2, progress=False)
    torch.testing.assert_close(parallel["final"], single.final, atol=2e-5, rtol=1e-4)
    np.testing.assert_array_equal(parallel["best_dev"], single.best_dev)


class _Payload:
    """A pickled object whose unpickling would run code (create the marker file)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_planted_pickle_in_the_resume_folder_is_refused_and_never_runs(roberta, tmp_path):
    from emolib.integrity import UnsafeFileError

    scorer = roberta
    train, dev = _data(scorer), _data(scorer, (4, 4, 4), split="test")
    marker = tmp_path / "payload-ran"
    state = tmp_path / "state"
    state.mkdir()
    torch.save({"bank": torch.zeros(1), "epoch": 1, "evil": _Payload(marker)}, state / "epoch-1.pt")
    with pytest.raises(UnsafeFileError, match=r"refusing to load .*epoch-1\.pt.*pickled Python objects.*GLOBAL"):
        train_bank(scorer, _init(3, 4, scorer.hidden_size), train, dev, epochs=1, state_dir=state, progress=False)
    assert not marker.exists()  # nothing of the payload ran
    assert (state / "epoch-1.pt").is_file()  # and it is left for the user to inspect


def test_a_torn_resume_state_is_set_aside_and_training_restarts(roberta, tmp_path, monkeypatch, caplog):
    monkeypatch.delenv("EMOLIB_STRICT", raising=False)
    scorer = roberta
    train, dev = _data(scorer), _data(scorer, (4, 4, 4), split="test")
    init = _init(3, 4, scorer.hidden_size, seed=2)
    kw = dict(epochs=1, batch_size=2, lr=0.05, micro_batch=4, progress=False, seed=5)
    full = train_bank(scorer, init, train, dev, **kw)
    state = tmp_path / "state"
    state.mkdir()
    (state / "epoch-1.pt").write_bytes(b"PK\x03\x04 torn by a kill")
    with caplog.at_level("WARNING"):
        resumed = train_bank(scorer, init, train, dev, state_dir=state, **kw)
    torch.testing.assert_close(resumed.final, full.final, atol=0, rtol=0)  # recomputed from scratch
    assert len(list(state.glob("epoch-1.pt.corrupt-*"))) == 1 and "set aside" in caplog.text
    (state / "epoch-1.pt").write_bytes(b"torn again")
    monkeypatch.setenv("EMOLIB_STRICT", "1")
    with pytest.raises(ValueError, match=r"broken artifact .*epoch-1\.pt.*corrupt torch file.*strict"):
        train_bank(scorer, init, train, dev, state_dir=state, **kw)
