"""Tests of emolib.prompts: profiles, task splits, the cached/resumable job, the command."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from emolib import profiles
from emolib.data import paper_task
from emolib.emotions import EMOTIONS
from emolib.model.backbones import load_backbone
from emolib.paper import prompts


def test_task_split_is_the_papers_sample():
    full = prompts.task_split("grief", 1, "dev", "paper")
    pd.testing.assert_frame_equal(full, paper_task("grief", 1, "dev"))
    quick = prompts.task_split("joy", 1, "train", "quick")
    assert len(quick) == profiles.settings("prompts", "quick").train_size
    assert set(quick["label"]) == {0, 1}
    assert set(quick["row"]) <= set(paper_task("joy", 1, "train")["row"])
    with pytest.raises(ValueError, match="happiness"):
        prompts.task_split("happiness", 1, "dev")
    with pytest.raises(ValueError, match="valid choices: train, dev, test"):
        prompts.task_split("joy", 1, "validation")


def test_train_prompts_smoke_is_cached_and_complete(tmp_path):
    bb = load_backbone("tiny-llama", device="cpu")
    store = prompts.train_prompts(bb, "smoke", seeds=[1, 2], root=tmp_path, progress=False)
    assert store.prompts.shape == (4, 4, bb.hidden_size)
    assert store.index.values.tolist() == [["joy", 1], ["grief", 1], ["joy", 2], ["grief", 2]]  # paper order
    again = prompts.train_prompts(bb, "smoke", emotions=["grief", "joy"], seeds=[1, 2], root=tmp_path, progress=False)
    assert torch.equal(again.prompts, store.prompts)  # the same artifact in either order
    acc = store.accuracy
    assert set(acc["split"]) == {"dev", "test"} and len(acc) == 8 and acc["accuracy"].between(0, 1).all()
    assert set(store.history["epoch"]) == {1, 2} and set(store.history["split"]) == {"train", "dev"}
    # the kept prompt's dev accuracy is the best epoch's, strictly the first best
    dev_hist = store.history[store.history.split == "dev"]
    best = dev_hist.groupby(["emotion", "seed"])["accuracy"].max()
    kept = acc[acc.split == "dev"].set_index(["emotion", "seed"])["accuracy"]
    pd.testing.assert_series_equal(kept.sort_index(), best.sort_index(), check_names=False)
    # same seed: same init for every emotion, as the original
    again = prompts.train_prompts(bb, "smoke", seeds=[1, 2], root=tmp_path, progress=False)
    assert torch.equal(again.prompts, store.prompts)
    assert len(list(tmp_path.glob("prompts-*"))) == 1
    other = prompts.train_prompts(bb, "smoke", seeds=[1, 2], root=tmp_path, progress=False, lr=1e-2)
    assert not torch.equal(other.prompts, store.prompts) and len(list(tmp_path.glob("prompts-*"))) == 2


def test_interrupted_job_resumes_to_the_same_prompts(tmp_path):
    bb = load_backbone("tiny-llama", device="cpu")
    full = prompts.train_prompts(bb, "smoke", root=tmp_path / "a", progress=False)

    def stop(epoch):
        raise RuntimeError(f"stopped after epoch {epoch}")

    with pytest.raises(RuntimeError, match="epoch 1"):
        prompts.train_prompts(bb, "smoke", root=tmp_path / "b", progress=False, on_epoch_end=stop)
    assert not list((tmp_path / "b").glob("prompts-*"))
    assert list((tmp_path / "b" / ".partial").glob("prompts-*/epoch-1.pt"))
    resumed = prompts.train_prompts(bb, "smoke", root=tmp_path / "b", progress=False)
    assert torch.equal(resumed.prompts, full.prompts)
    pd.testing.assert_frame_equal(resumed.accuracy, full.accuracy)


def test_bad_input(tmp_path):
    with pytest.raises(ValueError, match="happiness"):
        prompts.train_prompts("tiny-llama", "smoke", emotions=["happiness"], root=tmp_path)
    with pytest.raises(ValueError, match="unknown profile 'slow'"):
        prompts.train_prompts("tiny-llama", "slow", root=tmp_path)
    with pytest.raises(ValueError, match="unknown prompts setting"):
        prompts.train_prompts("tiny-llama", "smoke", root=tmp_path, learning_rate=1.0)
    with pytest.raises(ValueError, match="repeated emotion.*joy"):
        prompts.train_prompts("tiny-llama", "smoke", emotions=["joy", "joy"], root=tmp_path)
    with pytest.raises(ValueError, match="repeated seed"):
        prompts.train_prompts("tiny-llama", "smoke", seeds=[1, 1], root=tmp_path)
    with pytest.raises(ValueError, match="tiny-"):
        prompts.train_prompts("tiny-t5", "smoke", root=tmp_path)


def test_every_emotion_has_a_quick_task():
    sizes = [len(prompts.task_split(e, 1, "test", "quick")) for e in EMOTIONS]
    assert min(sizes) >= 8


@pytest.mark.slow
def test_smollm2_trains_a_few_steps(tmp_path):
    store = prompts.train_prompts("smollm2-135m", "smoke", emotions=["joy"], root=tmp_path, progress=False)
    assert store.prompts.shape == (1, 4, 576)
    assert store.accuracy["accuracy"].between(0, 1).all()
    first = store.history[(store.history.split == "train")]["loss"]
    assert first.notna().all()


@pytest.mark.slow
def test_accelerate_launch_two_cpu_processes_equals_one(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "run.py"
    script.write_text(
        "import torch\nfrom emolib.paper import prompts\n"
        f"store = prompts.train_prompts('tiny-llama', 'smoke', root={str(tmp_path / 'dp')!r}, progress=False,"
        " micro_batch=2)\n"
        "if torch.distributed.get_rank() == 0:\n"
        f"    torch.save(store.prompts, {str(tmp_path / 'dp.pt')!r})\n"
    )
    repo = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": repo, "OMP_NUM_THREADS": "1"}
    launcher = Path(sys.executable).parent / "accelerate"
    # accelerate's --cpu multi-process mode needs mpirun; --multi_gpu runs torchrun, which uses gloo without GPUs
    done = subprocess.run([str(launcher), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                           "--mixed_precision", "no", "--dynamo_backend", "no", str(script)],
                          env=env, timeout=600, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-4000:]
    single = prompts.train_prompts("tiny-llama", "smoke", root=tmp_path / "single", progress=False, micro_batch=2)
    torch.testing.assert_close(torch.load(tmp_path / "dp.pt"), single.prompts, atol=2e-5, rtol=1e-4)


def test_masked_backbone_with_the_originals_position_quirk(tmp_path):
    store = prompts.train_prompts("tiny-roberta", "smoke", emotions=["anger"], root=tmp_path, progress=False,
                                  position_quirk=True)
    assert store.profile["position_quirk"] is True and store.prompts.shape == (1, 4, 32)
    plain = prompts.train_prompts("tiny-roberta", "smoke", emotions=["anger"], root=tmp_path, progress=False)
    assert not torch.equal(plain.prompts, store.prompts)
