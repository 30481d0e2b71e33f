import json
from pathlib import Path

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


def test_planning_reuses_notes_and_never_locks_or_sets_aside(tmp_path):
    from emolib.integrity import WouldCompute, planning

    good = artifacts.artifact("stage", {"x": "good"}, root=tmp_path)
    with good.writing() as folder:
        (folder / "out.txt").write_text("42")
    unreadable = artifacts.artifact("stage", {"x": "bad"}, root=tmp_path)
    with unreadable.writing() as folder:
        (folder / "out.txt").write_text("not a number")  # checksums match; the loader refuses it
    missing = artifacts.artifact("stage", {"x": "missing"}, root=tmp_path)
    before = artifacts.read_usage(tmp_path)
    with planning() as reused:
        assert good.reuse(lambda p: int((p / "out.txt").read_text())) == 42
        with pytest.raises(WouldCompute):
            unreadable.reuse(lambda p: int((p / "out.txt").read_text()))
        with pytest.raises(WouldCompute) as stop:
            missing.exists()
    assert reused == [good] and stop.value.artifact == missing
    assert unreadable.path.is_dir() and not list(tmp_path.glob("*.corrupt-*"))  # left as it was
    assert not artifacts._HELD and len(artifacts.read_usage(tmp_path)) == len(before)


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
    from emolib.versions import version

    first = artifacts.artifact("prompts", {"x": 1, "version": version("prompts")}, root=tmp_path)
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


# ------------------------------------------------------------------ recovery, strict mode, locks, full disk

def _written(tmp_path, files: dict[str, bytes], key: int = 10) -> artifacts.Artifact:
    art = artifacts.artifact("stage", {"x": key}, root=tmp_path)
    assert not art.exists()
    with art.writing() as folder:
        for name, data in files.items():
            (folder / name).write_bytes(data)
    return art


def _npz(tmp_path, shape) -> bytes:
    path = artifacts.save_arrays(tmp_path / "scratch" / "a.npz", {"a": np.zeros(shape, dtype=np.float32)})
    return path.read_bytes()


def _refresh_checksums(art) -> None:
    """Rewrite meta.json's checksums so that only a loader can notice a change."""
    meta = json.loads((art.path / "meta.json").read_text())
    meta["files"] = artifacts.file_checksums(art.path)
    (art.path / "meta.json").write_text(json.dumps(meta))


def _load_shape(shape):
    def load(path):
        values = artifacts.load_arrays(path / "a.npz")["a"]
        if values.shape != shape:
            raise ValueError(f"{path} holds {values.shape}, expected {shape}")
        return values
    return load


@pytest.mark.parametrize("damage", ["truncated array", "wrong shape", "bad json", "missing file", "missing meta"])
def test_a_broken_artifact_is_set_aside_warned_and_recomputed(tmp_path, damage, caplog, monkeypatch):
    monkeypatch.delenv("EMOLIB_STRICT", raising=False)
    art = _written(tmp_path, {"a.npz": _npz(tmp_path, (3, 4))})
    target = art.path / "a.npz"
    if damage == "truncated array":
        target.write_bytes(target.read_bytes()[:40])
    elif damage == "wrong shape":
        target.write_bytes(_npz(tmp_path, (2, 2)))
        _refresh_checksums(art)  # checksums match: only the loader's shape check sees it
    elif damage == "bad json":
        (art.path / "meta.json").write_text("{not json")
    elif damage == "missing file":
        target.unlink()
    else:
        (art.path / "meta.json").unlink()
    with caplog.at_level("WARNING", logger="emolib.integrity"):
        assert art.reuse(_load_shape((3, 4))) is None  # must be recomputed; this process holds the lock
    aside = sorted(tmp_path.glob(f"{art.name}.corrupt-*"))
    if damage == "missing meta":  # no meta.json: an unfinished folder, replaced by the next write
        assert not aside
    else:
        assert len(aside) == 1 and "set aside" in caplog.text and str(art.path) in caplog.text
        assert not art.path.exists()
    with art.writing() as folder:
        (folder / "a.npz").write_bytes(_npz(tmp_path, (3, 4)))
    assert art.reuse(_load_shape((3, 4))).shape == (3, 4)
    assert not artifacts._HELD  # every lock taken was released


@pytest.mark.parametrize("how", ["env", "cli"])
def test_strict_mode_stops_at_a_broken_artifact(tmp_path, monkeypatch, how, capsys):
    art = _written(tmp_path, {"a.npz": _npz(tmp_path, (3, 4))}, key=11)
    (art.path / "a.npz").write_bytes(b"torn")
    if how == "env":
        monkeypatch.setenv("EMOLIB_STRICT", "1")
        with pytest.raises(ValueError, match=r"broken artifact .*stage-.*does not match its checksum.*strict"):
            art.exists()
    else:
        from emolib import cli

        monkeypatch.setenv("EMOLIB_STRICT", "")
        assert cli.build_parser().parse_args(["--strict", "train", "--out", "x"]).strict
        monkeypatch.setattr("emolib.reproduce.train_grid", lambda *a, **k: [art.exists()])
        assert cli.main(["--strict", "train", "--backbone", "tiny-llama", "--out", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert "broken artifact" in err and "strict" in err and "Traceback" not in err
    art.release()
    assert art.path.is_dir() and not list(tmp_path.glob("*.corrupt-*"))  # nothing moved


_WORKER = r"""
import json, os, sys, time
from pathlib import Path
from emolib import artifacts
root, log = Path(sys.argv[1]), Path(sys.argv[2])
art = artifacts.artifact("shared", {"x": 1}, root=root)
done = art.reuse(lambda p: (p / "out.txt").read_text())
if done is None:
    start = 0
    checkpoint = art.partial_dir / "progress.txt"
    if checkpoint.exists():  # resume from the .partial folder
        start = int(checkpoint.read_text())
    with art.writing() as folder:
        with open(log, "a") as fh:
            fh.write(f"compute {os.getpid()} from {start}\n")
        for step in range(start, 5):
            time.sleep(0.3)
            checkpoint.write_text(str(step + 1))
        (folder / "out.txt").write_text("steps " + str(step + 1 - start))
    done = (art.path / "out.txt").read_text()
print(done)
"""


def _workers(tmp_path, n, env_extra=None):
    import os
    import subprocess
    import sys

    env = {**os.environ, **(env_extra or {})}
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    return [subprocess.Popen([sys.executable, str(script), str(tmp_path / "root"), str(tmp_path / "log.txt")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for _ in range(n)]


def test_two_processes_on_one_stage_compute_once_and_both_end_well(tmp_path):
    root = tmp_path / "root"
    art = artifacts.artifact("shared", {"x": 1}, root=root)
    (art.partial_dir / "progress.txt").write_text("2")  # an earlier run stopped after step 2
    outputs = [p.communicate(timeout=120) + (p.returncode,) for p in _workers(tmp_path, 2)]
    assert [rc for _, _, rc in outputs] == [0, 0], outputs
    assert [out.strip() for out, _, _ in outputs] == ["steps 3", "steps 3"]  # resumed once, reused once
    computed = (tmp_path / "log.txt").read_text().splitlines()
    assert len(computed) == 1 and computed[0].endswith("from 2")
    assert art.exists() and (art.path / "out.txt").read_text() == "steps 3"
    assert not list(root.glob(".tmp-*")) and not (root / ".partial" / art.name).exists()
    usage = artifacts.read_usage(root)
    assert sorted(usage["reused"].tolist()) == [False, True]
    art.release()


def test_a_second_process_told_not_to_wait_fails_at_once(tmp_path):
    import time

    root = tmp_path / "root"
    art = artifacts.artifact("shared", {"x": 1}, root=root)
    assert not art.exists()  # this process now holds the lock
    try:
        start = time.perf_counter()
        (process,) = _workers(tmp_path, 1, {"EMOLIB_LOCK_TIMEOUT": "0"})
        _, err = process.communicate(timeout=60)
        assert process.returncode != 0 and "ArtifactBusyError" in err
        assert f"artifact {art.name} is being computed by another process" in err and "--no-wait" in err
        assert time.perf_counter() - start < 30
    finally:
        art.release()
    assert not (tmp_path / "log.txt").exists()  # it computed nothing


def test_a_stale_temporary_folder_of_a_killed_writer_is_removed(tmp_path):
    art = artifacts.artifact("stage", {"x": 12}, root=tmp_path)
    stale = tmp_path / f".tmp-{art.name}-killed"
    (stale / "half.npz").parent.mkdir(parents=True)
    (stale / "half.npz").write_bytes(b"half")
    assert not art.exists() and not stale.exists()
    art.release()


def test_a_full_disk_names_the_path_and_leaves_nothing_half_written(tmp_path, monkeypatch):
    import errno

    from emolib import cli

    art = artifacts.artifact("stage", {"x": 13}, root=tmp_path)
    real = np.savez_compressed

    def full(file, **arrays):
        with open(file, "wb") as fh:
            fh.write(b"PK\x03\x04 partial")  # half a file, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez_compressed", full)
    with pytest.raises(OSError, match=r"cannot write .*a\.npz.*No space left on device.*disk is full") as info:
        with art.writing() as folder:
            artifacts.save_arrays(folder / "a.npz", {"a": np.zeros(3)})
    assert info.value.errno == errno.ENOSPC
    assert not art.path.exists() and not list(tmp_path.glob(".tmp-*")) and not artifacts._HELD
    with pytest.raises(OSError, match=r"cannot write .*out\.npz.*No space left"):
        artifacts.save_arrays(tmp_path / "out" / "out.npz", {"a": np.zeros(3)})
    assert not list((tmp_path / "out").iterdir())
    monkeypatch.setattr(np, "savez_compressed", real)

    def full_csv(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("emolib.reproduce.train_grid", lambda *a, **k: [artifacts.atomic_write_text(
        tmp_path / "out" / "t.csv", "x" * 10)])
    monkeypatch.setattr(artifacts.os, "fdopen", full_csv)
    import io
    import sys

    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    assert cli.main(["train", "--backbone", "tiny-llama", "--out", str(tmp_path / "out")]) == 2
    assert "cannot write" in err.getvalue() and "t.csv" in err.getvalue() and "Traceback" not in err.getvalue()
    assert not list((tmp_path / "out").iterdir())


def test_a_read_only_root_gives_a_clear_error_naming_it(tmp_path, monkeypatch):
    import errno
    import tempfile

    root = tmp_path / "ro"
    done = artifacts.artifact("stage", {"x": 14}, root=root)
    with done.writing() as folder:
        (folder / "a.txt").write_text("kept")
    before = sorted(p.name for p in root.rglob("*"))
    real_mkdir, real_mkdtemp = Path.mkdir, tempfile.mkdtemp

    def read_only(path):  # the tests run as root, which ignores permissions: simulate a read-only mount
        if Path(path).resolve().is_relative_to(root.resolve()):
            raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(Path, "mkdir", lambda self, *a, **k: (read_only(self), real_mkdir(self, *a, **k))[1])
    monkeypatch.setattr(tempfile, "mkdtemp", lambda *a, dir=None, **k: (read_only(dir), real_mkdtemp(*a, dir=dir, **k))[1])
    assert done.exists()  # reading a finished artifact needs no write access
    art = artifacts.artifact("stage", {"x": 15}, root=root)
    with pytest.raises(OSError, match=rf"cannot write {root}.*Read-only file system.*read-only.*EMOLIB_ARTIFACTS"):
        art.exists()
    with pytest.raises(OSError, match=rf"cannot write {root}.*Read-only file system"):
        with art.writing() as folder:
            (folder / "a.txt").write_text("never")
    assert sorted(p.name for p in root.rglob("*")) == before and not artifacts._HELD
