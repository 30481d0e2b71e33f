"""The shipped artifacts (data/artifacts): whole, keyed by their inputs, and found by today's code.

Hours of CPU training are shipped as cached artifacts. Their keys depend on the inputs and an explicit
stage version, never on unrelated code; if a change alters a key, this test fails, and the stage version
must be bumped and the artifacts recomputed on purpose (data/README.md says how).
"""

from __future__ import annotations

import json

import pytest

from emolib import artifacts, profiles
from emolib.artifacts import input_hash, shipped_root
from emolib.emotions import PAPER_ORDER
from emolib.paper import prompts

ROOT = shipped_root()
SHIPPED = sorted(p for p in ROOT.iterdir() if p.is_dir()) if ROOT is not None else []
pytestmark = pytest.mark.skipif(not SHIPPED, reason="no shipped artifacts in data/artifacts")


@pytest.mark.parametrize("folder", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_artifact_is_whole_and_keyed_by_its_inputs(folder):
    meta = json.loads((folder / "meta.json").read_text())
    assert folder.name == f"{meta['stage']}-{meta['key']}" and input_hash(meta["inputs"]) == meta["key"]
    assert meta.get("files"), f"{folder.name} records no checksums"
    artifacts.Artifact(meta["stage"], meta["inputs"], ROOT).verify()  # raises on a missing or changed file


def test_the_standard_prompts_are_found_by_todays_key():
    from emolib.model.backbones import embedded_identity

    settings = profiles.settings("prompts", "standard")
    inputs = prompts.prompt_inputs(embedded_identity("gemma3-270m"), settings, list(PAPER_ORDER), "bf16")  # run_paper trains in paper order
    art = artifacts.artifact("prompts", inputs, root="/nonexistent-local-root")
    assert art.path.parent == ROOT, "the standard prompt grid's key changed: bump STAGE_VERSION and recompute"
    assert art.exists()


def test_the_prompt_chapter_and_the_pipeline_share_the_shipped_prompts(monkeypatch):
    """``train_prompts`` with the default emotions (alphabetical) finds the grid that ``run_paper`` trained in
    the paper's order: one artifact, whichever order is asked (a fresh clone's book must not retrain)."""
    from emolib.model.backbones import load_backbone

    monkeypatch.setenv("EMOLIB_ARTIFACTS", "/nonexistent-local-root")
    monkeypatch.setattr(prompts, "train_bank", lambda *a, **k: pytest.fail("retrained the shipped prompts"))
    store = prompts.train_prompts(load_backbone("gemma3-270m", device="cpu"), "standard", progress=False)
    assert list(store.index["emotion"].unique()) == list(PAPER_ORDER)


def test_a_changed_file_is_refused_with_its_name(tmp_path):
    import shutil

    source = next(p for p in SHIPPED if p.name.startswith("prompts-"))
    copy = tmp_path / source.name
    shutil.copytree(source, copy)
    target = next(p for p in copy.rglob("*.csv"))
    target.write_text(target.read_text() + "\n")
    meta = json.loads((copy / "meta.json").read_text())
    with pytest.raises(ValueError, match=f"corrupt: .*{target.name}"):
        artifacts.Artifact(meta["stage"], meta["inputs"], tmp_path).verify()


@pytest.mark.slow
def test_a_sample_of_every_shipped_artifact_recomputes_to_its_values():
    """emolib verify on the shipped artifacts (one prompt, 64 units, two masks per artifact; about two minutes on
    a 2-core CPU): today's code computes what was shipped. ``emolib verify --full`` also retrains prompts alone."""
    from emolib.verify import report, verify

    checks = verify(ROOT, sample=1)
    assert checks and all(c.ok for c in checks), report(checks)
    stages = {c.artifact.rsplit("-", 1)[0] for c in checks}
    assert {"prompts", "activations", "searchlight", "masked-eval", "searchlight-released"} <= stages
