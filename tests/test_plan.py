"""emolib.plan: the plan finds cached stages by the run's own keys, counts the run's work, and takes no locks."""

import numpy as np
import pytest

from emolib import plan
from emolib.cli import main
from emolib.model import load_backbone
from emolib.paper import control
from emolib.paper.pipeline import run_paper


@pytest.fixture(scope="module")
def llama():
    return load_backbone("tiny-llama", device="cpu")


def test_a_fresh_root_plans_every_stage_and_takes_no_lock(llama, tmp_path):
    p = plan.plan_paper(llama, "smoke", device="cpu", root=tmp_path, measure=False)
    assert p.stages.columns.tolist() == plan.COLUMNS
    assert (p.stages["status"] == "to compute").all()
    assert p.stages["stage"].tolist()[:4] == ["prompts", "prompts", "activations", "searchlight"]
    assert not list(tmp_path.rglob("*.lock")) and not (tmp_path / "usage.jsonl").exists()
    assert np.isnan(p.remaining_s)  # no rates, no estimate
    assert "next: prompts-" in p.notes[0]


def test_after_the_run_every_stage_is_cached_and_the_work_is_the_runs(llama, tmp_path):
    run = run_paper(llama, "smoke", device="cpu", root=tmp_path, progress=False)
    null = control.null_control(run, root=tmp_path)
    usage = (tmp_path / "usage.jsonl").read_text()
    p = plan.plan_paper(llama, "smoke", device="cpu", root=tmp_path, measure=False)
    assert (tmp_path / "usage.jsonl").read_text() == usage  # planning logs nothing
    assert (p.stages["status"] == "cached").all() and p.remaining_s == 0
    rows = p.stages.set_index(["stage", "part"])
    k = run.masking.k_values[0]
    for split, table in run.accuracy.items():  # masked passes = masks x examples of every prompt
        assert rows.loc[("masked-eval", f"{split}, k = {k:.4g}"), "work"] == table["n"].sum()
    assert rows.loc[("masked-eval", f"null prompts, dev, k = {k:.4g}"), "work"] == null.accuracy["dev"]["n"].sum()
    assert rows.loc[("searchlight", "trained prompts"), "work"] == (
        run.searchlight.tau.size * (1 + run.searchlight.permutation.n_permutations))
    assert rows.loc[("prompts", "training"), "measured_s"] > 0
    assert np.isnan(rows.loc[("prompts", "dev and test evaluation"), "measured_s"])  # one time per artifact


def test_measured_rates_turn_work_into_an_estimate(llama, tmp_path):
    p = plan.plan_paper(llama, "smoke", device="cpu", root=tmp_path)
    r = p.rates
    assert r.device == "cpu" and min(r.train, r.evaluate, r.masked, r.kendall) > 0 and r.peak_memory_gb > 0
    assert (p.stages["estimate_s"] > 0).all() and p.remaining_s == pytest.approx(p.stages["estimate_s"].sum())
    text = str(p)
    assert "rates measured on cpu" in text and "still to compute" in text


def test_the_command_prints_the_plan_and_names_bad_parameters(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EMOLIB_ARTIFACTS", str(tmp_path))
    assert main(["plan", "--profile", "smoke", "-p", "backbone", "tiny-llama", "--device", "cpu", "--no-measure"]) == 0
    out = capsys.readouterr().out
    assert "plan: the paper on tiny-llama (profile smoke)" in out and "masked-eval" in out
    assert main(["plan", "-p", "bakcbone", "gpt2"]) == 2
    assert "unknown parameter(s) ['bakcbone']; valid choices: backbone, emotions" in capsys.readouterr().err
    assert main(["plan", "-p", "seeds", "one", "--no-measure"]) == 2
    assert "seeds" in capsys.readouterr().err
