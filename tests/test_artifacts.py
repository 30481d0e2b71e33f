import json

import numpy as np
import pandas as pd
import pytest

from emolib import artifacts


def test_input_hash_is_order_insensitive_and_type_normalised():
    assert artifacts.input_hash({"a": 1, "b": (1, 2)}) == artifacts.input_hash({"b": [1, 2], "a": np.int64(1)})
    assert artifacts.input_hash({"a": 1}) != artifacts.input_hash({"a": 2})


def test_artifact_is_written_atomically_and_reused(tmp_path):
    art = artifacts.artifact("stage", {"x": 1}, root=tmp_path)
    assert not art.exists()
    with art.writing(note="hello") as folder:
        (folder / "out.txt").write_text("42")
        assert not art.path.exists()  # nothing visible before the rename
    assert art.exists() and (art.path / "out.txt").read_text() == "42"
    assert art.meta["inputs"] == {"x": 1} and art.meta["note"] == "hello" and "torch" in art.meta["versions"]
    art.mark_used()
    usage = artifacts.read_usage(tmp_path)
    assert usage["reused"].tolist() == [False, True] and set(usage["stage"]) == {"stage"}


def test_failed_stage_leaves_no_folder_but_keeps_partial_progress(tmp_path):
    art = artifacts.artifact("stage", {"x": 2}, root=tmp_path)
    (art.partial_dir / "checkpoint.txt").write_text("epoch 1")
    with pytest.raises(RuntimeError):
        with art.writing() as folder:
            (folder / "half.txt").write_text("...")
            raise RuntimeError("interrupted")
    assert not art.exists()
    assert not list(tmp_path.glob(".tmp-*"))
    assert (art.partial_dir / "checkpoint.txt").read_text() == "epoch 1"
    with art.writing():
        pass
    assert not (tmp_path / ".partial" / f"stage-{art.key}").exists()  # cleaned on success


def test_corrupt_metadata_and_arrays_give_clear_errors(tmp_path):
    art = artifacts.artifact("stage", {"x": 3}, root=tmp_path)
    with art.writing():
        pass
    (art.path / "meta.json").write_text("{not json")
    with pytest.raises(ValueError, match="corrupt artifact metadata"):
        art.meta
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="corrupt array file"):
        artifacts.load_arrays(bad)


def test_atomic_helpers_round_trip(tmp_path):
    path = artifacts.save_arrays(tmp_path / "a.npz", {"x": np.arange(3)})
    assert artifacts.load_arrays(path)["x"].tolist() == [0, 1, 2]
    frame = pd.DataFrame({"a": [1, 2]})
    artifacts.atomic_write_csv(frame, tmp_path / "f.csv")
    assert pd.read_csv(tmp_path / "f.csv").equals(frame)
    artifacts.atomic_write_text(tmp_path / "t.json", json.dumps({"k": 1}))
    assert json.loads((tmp_path / "t.json").read_text()) == {"k": 1}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_root_defaults_to_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("EMOLIB_ARTIFACTS", str(tmp_path / "root"))
    assert artifacts.artifact_root() == (tmp_path / "root").resolve()
    assert artifacts.artifact_root(tmp_path) == tmp_path.resolve()


def test_stage_time_counts_the_work_before_the_write(tmp_path):
    import time

    from emolib.artifacts import artifact, read_usage

    art = artifact("slow-stage", {"x": 1}, root=tmp_path)
    time.sleep(0.3)  # the stage computes before it writes
    with art.writing() as folder:
        (folder / "out.txt").write_text("done")
    assert art.meta["seconds"] >= 0.3
    assert read_usage(tmp_path)["seconds"].iloc[-1] >= 0.3


def test_usage_table_has_one_row_per_stage_artifact_and_status_with_the_longest_time(tmp_path):
    first = artifacts.artifact("prompts", {"x": 1}, root=tmp_path)
    with first.writing():
        pass
    first.mark_used()
    first.mark_used()
    second = artifacts.artifact("eval", {"x": 2}, root=tmp_path)
    with second.writing():
        pass
    usage = artifacts.read_usage(tmp_path)
    table = artifacts.usage_table(usage)
    assert table.columns.tolist() == ["stage", "artifact", "status", "stage wall time (s)"]
    expected = sorted({(r["stage"], r["path"].rsplit("/", 1)[-1], "reused" if r["reused"] else "computed")
                       for r in usage.to_dict("records")})
    assert [tuple(row) for row in table[["stage", "artifact", "status"]].values] == expected
    assert len(table) == 3 and first.path.name in set(table["artifact"])
    for row in table.to_dict("records"):
        same = usage[(usage["stage"] == row["stage"]) & (usage["reused"] == (row["status"] == "reused"))]
        assert row["stage wall time (s)"] == same["seconds"].max()
    assert artifacts.usage_table(artifacts.read_usage(tmp_path / "empty")).empty
    with pytest.raises(ValueError, match="lacks columns \\['path'\\]"):
        artifacts.usage_table(usage.drop(columns="path"))
