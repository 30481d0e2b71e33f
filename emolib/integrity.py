"""Integrity of cached artifacts: per-key file locks, strict mode, setting broken files aside, safe loading.

- **Locks.** Computing an artifact holds ``<root>/.locks/<name>.lock`` (:func:`acquire_lock`). A second
  process waits, then reuses the result; with ``$EMOLIB_LOCK_TIMEOUT`` = 0 (``emolib --no-wait``) it fails
  at once with :class:`ArtifactBusyError`; a positive value waits that many seconds.
- **Recovery.** A corrupt, half-written or unreadable artifact is renamed aside to
  ``<name>.corrupt-<time>`` with a warning (:func:`set_aside`) and recomputed; strict mode
  (``$EMOLIB_STRICT`` = 1, ``emolib --strict``) raises instead.
- **Planning.** Inside :func:`planning`, an artifact that would have to be computed raises
  :class:`WouldCompute` instead (no lock is taken): ``emolib plan`` walks a run this way.
- **Safe loading.** :func:`safe_torch_load` loads tensors, numbers and lists only
  (``weights_only=True``); a file that needs any other Python object is refused with
  :class:`UnsafeFileError` and nothing in it runs.

Example:
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> lock = acquire_lock(folder, "demo-abc")
    >>> lock.is_locked
    True
    >>> lock.release()
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import pickle
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["ArtifactBusyError", "UnsafeFileError", "WouldCompute", "planning", "planning_active", "note_reused",
           "strict_mode", "set_strict", "lock_timeout", "acquire_lock", "set_aside", "safe_torch_load", "write_error"]

logger = logging.getLogger(__name__)

_TRUE = ("1", "true", "yes")


class ArtifactBusyError(RuntimeError):
    """Another process is computing the artifact and this one was asked not to wait."""


class UnsafeFileError(ValueError):
    """A file holds pickled Python objects beyond plain tensors; emolib refuses to load it."""


class WouldCompute(Exception):
    """Raised inside :func:`planning` by the first artifact that is not there to reuse (``.artifact``)."""

    def __init__(self, artifact: Any) -> None:
        super().__init__(f"{artifact.name} would be computed")
        self.artifact = artifact


_PLANNING: list[list] = []


@contextlib.contextmanager
def planning() -> Iterator[list]:
    """Within this block reusing an artifact works (and is noted in the yielded list instead of the usage
    log), but computing one raises :class:`WouldCompute`.

    Example:
        >>> with planning() as reused:
        ...     planning_active(), reused
        (True, [])
        >>> planning_active()
        False
    """
    _PLANNING.append([])
    try:
        yield _PLANNING[-1]
    finally:
        _PLANNING.pop()


def note_reused(artifact: Any) -> None:
    """Note an artifact reused inside :func:`planning` (a no-op outside)."""
    if _PLANNING:
        _PLANNING[-1].append(artifact)


def planning_active() -> bool:
    """Whether a :func:`planning` block is open."""
    return bool(_PLANNING)


def strict_mode() -> bool:
    """Whether a broken artifact stops the run (``$EMOLIB_STRICT`` = 1/true/yes) instead of being recomputed."""
    return os.environ.get("EMOLIB_STRICT", "").strip().lower() in _TRUE


def set_strict(value: bool) -> None:
    """Stop at broken artifacts from now on in this process and its children (``True``), or recover (``False``)."""
    os.environ["EMOLIB_STRICT"] = "1" if value else ""


def lock_timeout() -> float:
    """Seconds to wait for another process's lock (``$EMOLIB_LOCK_TIMEOUT``): -1 forever (default), 0 not at all.

    Raises:
        ValueError: naming the value when it is not a number.
    """
    text = os.environ.get("EMOLIB_LOCK_TIMEOUT", "").strip()
    if not text:
        return -1.0
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"EMOLIB_LOCK_TIMEOUT must be a number of seconds (-1: wait forever, 0: do not wait), "
                         f"got {text!r}") from None
    return -1.0 if value < 0 else value


def write_error(err: OSError, path: str | os.PathLike) -> OSError:
    """An ``OSError`` of the same errno whose message names ``path`` and what to do (full disk, read-only)."""
    hint = {errno.ENOSPC: "the disk is full; free space or set EMOLIB_ARTIFACTS to another folder",
            errno.EROFS: "the folder is read-only; set EMOLIB_ARTIFACTS to a writable folder",
            errno.EACCES: "no write permission; set EMOLIB_ARTIFACTS to a writable folder",
            errno.EDQUOT: "the disk quota is exceeded; free space or set EMOLIB_ARTIFACTS to another folder"}
    if getattr(err, "emolib_path", None):  # already explained by an inner writer
        return err
    reason = hint.get(err.errno, "check the folder")
    new = OSError(err.errno, f"cannot write {path}: {err.strerror or err} ({reason})")
    new.emolib_path = str(path)
    return new


def acquire_lock(root: Path, name: str) -> Any:
    """Take the file lock of artifact ``name`` under ``root`` (waiting as :func:`lock_timeout` says).

    Returns:
        The held ``filelock.FileLock``; call ``release()`` when the artifact is written.

    Raises:
        ArtifactBusyError: another process holds the lock and the wait ran out.
        OSError: the root is not writable (the message names it).
    """
    from filelock import FileLock, Timeout

    folder = root / ".locks"
    path = folder / f"{name}.lock"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(path), thread_local=False)
        try:
            lock.acquire(timeout=0)
            return lock
        except Timeout:
            pass
        timeout = lock_timeout()
        if timeout != 0:
            logger.warning("waiting for another process computing %s (lock %s)", name, path)
            try:
                lock.acquire(timeout=timeout)
                return lock
            except Timeout:
                pass
    except OSError as err:
        raise write_error(err, path) from err
    waited = "" if timeout == 0 else f" after waiting {timeout:g} s"
    raise ArtifactBusyError(f"artifact {name} is being computed by another process (lock {path}){waited}; "
                            "wait for it to finish, or run without --no-wait / EMOLIB_LOCK_TIMEOUT=0")


def set_aside(path: Path, reason: BaseException | str) -> Path:
    """Rename a broken file or folder to ``<name>.corrupt-<time>`` and warn; raise instead in strict mode.

    Returns:
        The new path of the broken file or folder.

    Raises:
        ValueError: in :func:`strict_mode`, naming ``path`` and the reason.
    """
    if strict_mode():
        raise ValueError(f"broken artifact {path}: {reason} (strict mode: EMOLIB_STRICT=1 / --strict; "
                         "delete it or run without strict mode to set it aside and recompute)")
    stamp = time.strftime("%Y%m%dT%H%M%S")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
        n += 1
    os.replace(path, target)
    logger.warning("broken artifact %s (%s): set aside as %s and recomputing", path, reason, target.name)
    return target


def safe_torch_load(path: Path) -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU: tensors, numbers, strings, lists and dicts only.

    Raises:
        UnsafeFileError: the file needs other Python objects (a pickled payload); nothing of it runs.
        ValueError: the file is truncated or not a torch file.
    """
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except pickle.UnpicklingError as err:
        lines = str(err).splitlines()
        named = [line.strip() for line in lines if "GLOBAL" in line]
        if named:  # the file names a Python callable: a pickled payload, refused before anything runs
            raise UnsafeFileError(f"refusing to load {path}: it holds pickled Python objects beyond tensors and "
                                  f"plain data ({named[0]}); emolib never unpickles code. Delete it if you did "
                                  "not write it") from None
        detail = next((line.strip() for line in lines if "Unsupported" in line), lines[0] if lines else "")
        raise ValueError(f"corrupt torch file {path}: not a plain-data torch file ({detail})") from None
    except Exception as err:  # a torn or foreign file: zip, pickle-stack, EOF errors
        detail = str(err).splitlines()[0] if str(err) else ""
        raise ValueError(f"corrupt torch file {path}: {type(err).__name__}: {detail}") from err
