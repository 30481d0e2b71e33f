"""Tests of emolib.integrity: lock timeouts, strict mode, setting aside, safe loading, write errors."""

from __future__ import annotations

import errno
import os

import numpy as np
import pytest
import torch

from emolib import integrity
from emolib.artifacts import load_arrays


def test_lock_timeout_reads_the_environment(monkeypatch):
    monkeypatch.delenv("EMOLIB_LOCK_TIMEOUT", raising=False)
    assert integrity.lock_timeout() == -1
    monkeypatch.setenv("EMOLIB_LOCK_TIMEOUT", "0")
    assert integrity.lock_timeout() == 0
    monkeypatch.setenv("EMOLIB_LOCK_TIMEOUT", "2.5")
    assert integrity.lock_timeout() == 2.5
    monkeypatch.setenv("EMOLIB_LOCK_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="EMOLIB_LOCK_TIMEOUT must be a number of seconds.*'soon'"):
        integrity.lock_timeout()


def test_a_held_lock_times_out_with_a_clear_message(tmp_path, monkeypatch):
    held = integrity.acquire_lock(tmp_path, "stage-abc")
    monkeypatch.setenv("EMOLIB_LOCK_TIMEOUT", "0.2")
    try:
        # a second lock object behaves as another process would (flock locks belong to the open file)
        with pytest.raises(integrity.ArtifactBusyError, match=r"stage-abc is being computed by another process.*"
                                                               r"after waiting 0.2 s"):
            integrity.acquire_lock(tmp_path, "stage-abc")
    finally:
        held.release()
    integrity.acquire_lock(tmp_path, "stage-abc").release()  # free again


def test_set_aside_renames_and_strict_mode_raises(tmp_path, monkeypatch):
    monkeypatch.delenv("EMOLIB_STRICT", raising=False)
    broken = tmp_path / "x.npz"
    broken.write_bytes(b"bad")
    moved = integrity.set_aside(broken, "torn")
    assert not broken.exists() and moved.read_bytes() == b"bad" and ".corrupt-" in moved.name
    broken.write_bytes(b"bad again")
    assert integrity.set_aside(broken, "torn") != moved  # a second one in the same second gets its own name
    integrity.set_strict(True)
    try:
        broken.write_bytes(b"bad")
        with pytest.raises(ValueError, match=r"broken artifact .*x\.npz: torn \(strict mode"):
            integrity.set_aside(broken, "torn")
        assert broken.exists()
    finally:
        integrity.set_strict(False)


class _Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickled_payloads_are_refused_and_never_run(tmp_path):
    marker = tmp_path / "ran"
    torch.save({"state": _Payload(marker)}, tmp_path / "evil.pt")
    with pytest.raises(integrity.UnsafeFileError, match=r"refusing to load .*evil\.pt.*never unpickles code"):
        integrity.safe_torch_load(tmp_path / "evil.pt")
    np.savez(tmp_path / "evil.npz", a=np.array([_Payload(marker)], dtype=object))
    with pytest.raises(ValueError, match=r"corrupt array file .*evil\.npz.*allow_pickle"):
        load_arrays(tmp_path / "evil.npz")
    assert not marker.exists()
    torch.save({"a": torch.ones(2), "n": 3, "h": [{"x": 1.0}]}, tmp_path / "ok.pt")
    assert integrity.safe_torch_load(tmp_path / "ok.pt")["n"] == 3
    (tmp_path / "torn.pt").write_bytes((tmp_path / "ok.pt").read_bytes()[:50])
    with pytest.raises(ValueError, match=r"corrupt torch file .*torn\.pt"):
        integrity.safe_torch_load(tmp_path / "torn.pt")


def test_write_error_names_the_path_and_the_remedy(tmp_path):
    err = integrity.write_error(OSError(errno.ENOSPC, "No space left on device"), tmp_path / "a.npz")
    assert err.errno == errno.ENOSPC and str(tmp_path / "a.npz") in str(err) and "disk is full" in str(err)
    assert integrity.write_error(err, "/elsewhere") is err  # explained once
    ro = integrity.write_error(OSError(errno.EROFS, "Read-only file system"), tmp_path)
    assert "read-only" in str(ro) and "EMOLIB_ARTIFACTS" in str(ro)
