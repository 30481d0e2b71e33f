"""versions: one registry of stage versions, enforced at the artifact door, with stale artifacts named."""

from __future__ import annotations

import json
import logging

import pytest

from emolib import artifacts, versions


def test_an_artifact_must_carry_its_stages_current_version(tmp_path):
    with pytest.raises(ValueError, match="this code computes version"):
        artifacts.artifact("prompts", {"version": versions.version("prompts") - 1}, root=tmp_path)
    art = artifacts.artifact("prompts", {"x": 1, "version": versions.version("prompts")}, root=tmp_path)
    assert art.inputs["version"] == versions.version("prompts")
    artifacts.artifact("demo", {"x": 1}, root=tmp_path)  # stages outside the registry are free


def test_an_artifact_of_an_older_version_is_named_with_its_command(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("EMOLIB_SHIPPED", "")
    old = {"x": 1, "backbone": {"name": "gemma3-270m"}, "version": versions.version("activations") - 1}
    folder = tmp_path / f"activations-{artifacts.input_hash(old)}"
    folder.mkdir()
    (folder / "meta.json").write_text(json.dumps({"stage": "activations", "inputs": old}))
    art = artifacts.artifact("activations", {**old, "version": versions.version("activations")}, root=tmp_path)
    with caplog.at_level(logging.WARNING):
        assert not art.exists()
    art.release()
    assert "was computed by version" in caplog.text and "emolib reproduce backbone --backbone gemma3-270m" in caplog.text


def test_unknown_stage_is_named():
    with pytest.raises(ValueError, match="valid choices: activations"):
        versions.version("nonsense")
