"""emolib verify: a tiny artifact set recomputes to its stored values; an altered value whose checksum was rewritten
to match is caught and named; stale versions are named."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from emolib.artifacts import file_checksums, load_arrays, save_arrays
from emolib.verify import report, verify


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    from emolib.paper import control, pipeline

    folder = tmp_path_factory.mktemp("artifacts")
    run = pipeline.run_paper("tiny-llama", "smoke", device="cpu", progress=False, root=folder,
                             prompt_overrides={"train_size": 4, "dev_size": 4, "test_size": 2, "epochs": 1})
    control.null_control(run, root=folder)
    return folder


def _copy(root, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(root, target, ignore=shutil.ignore_patterns(".partial", "*.lock", "usage.jsonl"))
    return target


def _rewrite_checksums(folder):
    meta = json.loads((folder / "meta.json").read_text())
    meta["files"] = file_checksums(folder)
    (folder / "meta.json").write_text(json.dumps(meta))


def test_every_artifact_of_a_run_recomputes_to_its_values(root):
    checks = verify(root, full=True)
    assert checks and all(c.ok for c in checks), report(checks)
    assert {c.artifact.split("-")[0] for c in checks} >= {"prompts", "activations", "searchlight", "masked"}
    assert any("retrained alone" in c.what for c in checks)


@pytest.mark.parametrize("stage", ["masked-eval", "prompts", "activations", "searchlight"])
def test_an_altered_value_with_matching_checksums_is_named(root, tmp_path, stage):
    copy = _copy(root, tmp_path)
    folder = sorted(copy.glob(f"{stage}-*"))[0]
    if stage == "masked-eval":
        arrays = load_arrays(folder / "examples.npz")
        arrays["margin"] = arrays["margin"] + 5.0
        save_arrays(folder / "examples.npz", arrays)
    elif stage == "prompts":
        path = folder / "store" / "accuracy.csv"
        table = pd.read_csv(path)
        table["accuracy"] = table["accuracy"] + 0.125
        table.to_csv(path, index=False)
    elif stage == "activations":
        arrays = load_arrays(folder / "activations.npz")
        save_arrays(folder / "activations.npz", {"activations": arrays["activations"] * 1.01 + 0.01})
    else:
        arrays = load_arrays(folder / "searchlight.npz")
        arrays["tau"] = np.where(np.isnan(arrays["tau"]), np.nan, arrays["tau"] + 0.001)
        save_arrays(folder / "searchlight.npz", arrays)
    _rewrite_checksums(folder)
    checks = verify(copy, stages=[stage])
    failed = [c for c in checks if not c.ok]
    assert failed and all(c.artifact == folder.name for c in failed), report(checks)
    text = report(checks)
    assert f"FAIL {folder.name}" in text and "tolerance" in text


def test_an_artifact_of_another_stage_version_is_stale(root, tmp_path):
    from emolib.artifacts import input_hash

    copy = _copy(root, tmp_path)
    folder = sorted(copy.glob("activations-*"))[0]
    meta = json.loads((folder / "meta.json").read_text())
    meta["inputs"]["version"] = 1
    meta["key"] = input_hash(meta["inputs"])
    (folder / "meta.json").write_text(json.dumps(meta))
    folder.rename(folder.with_name(f"activations-{meta['key']}"))
    checks = verify(copy, stages=["activations"])
    stale = [c for c in checks if c.what == "stage version"]
    assert stale and not stale[0].ok and "version 1" in stale[0].detail


def test_bad_arguments():
    with pytest.raises(ValueError, match="no artifact root"):
        verify("/nonexistent-root")
    with pytest.raises(ValueError, match="unknown stage"):
        verify(".", stages=["nonsense"])
