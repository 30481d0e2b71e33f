"""Artifacts: every expensive stage writes one folder keyed by a hash of its inputs, atomically.

Layout: ``<root>/<stage>-<hash12>/`` holding the stage's files and a ``meta.json`` (inputs,
versions, wall time). ``<root>`` is ``$EMOLIB_ARTIFACTS`` or ``.emolib`` in the working folder.
A stage whose folder exists is not recomputed; a stage that is interrupted leaves no folder, but may
keep resumable progress in :attr:`Artifact.partial_dir`. Each use is appended to a usage log so the
book can list which artifacts a build used and how long each stage took. Computing an artifact holds
its file lock, and a broken artifact is set aside and recomputed (:mod:`emolib.integrity`).

Example:
    >>> import tempfile
    >>> art = artifact("demo", {"seed": 1}, root=tempfile.mkdtemp())
    >>> if not art.exists():
    ...     with art.writing() as folder:
    ...         _ = (folder / "x.txt").write_text("42")
    >>> (art.path / "x.txt").read_text()
    '42'
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from emolib.integrity import (WouldCompute, acquire_lock, note_reused, planning_active, set_aside, strict_mode,
                              write_error)

__all__ = [
    "artifact_root",
    "root_label",
    "shipped_root",
    "recompute_requested",
    "set_recompute",
    "file_checksums",
    "input_hash",
    "data_fingerprint",
    "Artifact",
    "artifact",
    "atomic_write_text",
    "atomic_write_csv",
    "save_arrays",
    "load_arrays",
    "read_usage",
    "stage_timings",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")
#: errors of a loader that mean the artifact's files are broken (not a bug of the caller)
LOAD_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError, KeyError, EOFError)
#: the locks this process holds, by artifact folder
_HELD: dict[str, Any] = {}


def artifact_root(root: str | os.PathLike | None = None) -> Path:
    """The artifact root: ``root`` if given, else ``$EMOLIB_ARTIFACTS``, else ``./.emolib``."""
    return Path(root or os.environ.get("EMOLIB_ARTIFACTS") or ".emolib").resolve()


def root_label(root: str | os.PathLike | None = None) -> str:
    """The artifact root (:func:`artifact_root`) in words a page can show, without an absolute path of the machine.

    Relative to the repository (``.emolib in the repository``), else to the home folder (``~/…``), else in words:
    the working folder's ``.emolib`` (the default) or the folder that ``EMOLIB_ARTIFACTS`` names.

    Example:
        >>> root_label(Path(__file__).resolve().parent.parent / ".emolib")
        '.emolib in the repository'
        >>> root_label("/nowhere-on-this-machine/x")
        'a folder outside the repository and the home folder'
    """
    path = artifact_root(root)
    repository, home = Path(__file__).resolve().parent.parent, Path.home().resolve()
    if path.is_relative_to(repository):
        return f"{path.relative_to(repository).as_posix()} in the repository"
    if len(home.parts) > 1 and path.is_relative_to(home):
        return "~/" + path.relative_to(home).as_posix()
    if root is not None:
        return "a folder outside the repository and the home folder"
    if os.environ.get("EMOLIB_ARTIFACTS"):
        return "the folder that EMOLIB_ARTIFACTS names (outside the repository and the home folder)"
    return ".emolib in the working folder"


def shipped_root() -> Path | None:
    """The read-only root of the artifacts shipped with the data (``$EMOLIB_SHIPPED``, else
    ``data/artifacts``): results the 2-core CPU cannot redo inside a book build, keyed like any other."""
    if os.environ.get("EMOLIB_SHIPPED") is not None:
        value = os.environ["EMOLIB_SHIPPED"]
        return Path(value).resolve() if value else None
    from emolib.data import data_dir

    folder = data_dir() / "artifacts"
    return folder if folder.is_dir() else None


def recompute_requested() -> bool:
    """Whether cached and shipped artifacts are to be recomputed (``$EMOLIB_RECOMPUTE`` = 1/true/yes)."""
    return os.environ.get("EMOLIB_RECOMPUTE", "").strip().lower() in ("1", "true", "yes")


def set_recompute(value: bool) -> None:
    """Recompute every artifact from now on in this process (``True``), or reuse them (``False``)."""
    os.environ["EMOLIB_RECOMPUTE"] = "1" if value else ""


def file_checksums(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` except ``meta.json``, by relative path."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != "meta.json":
            out[path.relative_to(folder).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _canonical(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


def input_hash(inputs: Mapping[str, Any], length: int = 12) -> str:
    """Short SHA-256 of a canonical JSON dump of ``inputs`` (key order does not matter).

    Example:
        >>> input_hash({"a": 1, "b": [1, 2]}) == input_hash({"b": (1, 2), "a": 1})
        True
    """
    text = json.dumps(_canonical(inputs), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def data_fingerprint() -> str:
    """Hash of ``data/SHA256SUMS``: changes whenever any shipped data file changes."""
    from emolib.data import data_path

    return hashlib.sha256(data_path("SHA256SUMS").read_bytes()).hexdigest()[:12]


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for package in ("emolib", "torch", "transformers", "numpy", "scipy", "pandas"):
        try:
            out[package] = md.version(package)
        except md.PackageNotFoundError:
            pass
    return out


@dataclass(frozen=True)
class Artifact:
    """A stage's output folder, identified by ``stage`` and the hash of its ``inputs``."""

    stage: str
    inputs: dict
    root: Path
    #: when the stage looked its artifact up; a stage's wall time runs from here to the end of ``writing``
    opened: float = field(default_factory=time.perf_counter, compare=False, repr=False)

    @property
    def key(self) -> str:
        return input_hash(self.inputs)

    @property
    def name(self) -> str:
        return f"{self.stage}-{self.key}"

    @property
    def local_path(self) -> Path:
        """Where this artifact is written (under :attr:`root`)."""
        return self.root / self.name

    @property
    def path(self) -> Path:
        """Where the artifact is read: under :attr:`root`, else in :func:`shipped_root` when it is there."""
        local = self.local_path
        shipped = shipped_root()
        if not (local / "meta.json").is_file() and shipped is not None and (shipped / self.name / "meta.json").is_file():
            return shipped / self.name
        return local

    @property
    def partial_dir(self) -> Path:
        """A folder for resumable progress of an unfinished stage (removed when it completes)."""
        path = self.root / ".partial" / f"{self.stage}-{self.key}"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def exists(self) -> bool:
        """Whether the artifact is there to reuse, its files matching their checksums; ``False`` when
        :func:`recompute_requested`.

        When it returns ``False`` this process holds the artifact's lock (another process computing it
        is waited for, then its result reused) until :meth:`writing` ends or :meth:`release`. A broken
        artifact is set aside and reported missing (:func:`emolib.integrity.set_aside`; strict mode raises).
        """
        if not recompute_requested() and self._intact(repair=False):
            return True
        if planning_active():  # emolib plan: report the stage instead of computing it
            raise WouldCompute(self)
        self._lock()
        try:
            if not recompute_requested() and self._intact(repair=True):  # written while we waited
                self.release()
                return True
        except BaseException:
            self.release()
            raise
        for stale in self.root.glob(f".tmp-{self.name}-*"):  # left by a killed writer; we hold the lock
            shutil.rmtree(stale, ignore_errors=True)
        for message in self.stale_versions():
            logger.warning(message)
        return False

    def stale_versions(self) -> list[str]:
        """Messages naming artifacts of this stage with these inputs that another version of the stage made
        (in the shipped and the local root), with the command that recomputes them."""
        from emolib.versions import stale_message

        ours = {k: v for k, v in _canonical(self.inputs).items() if k != "version"}
        out = []
        for folder in (shipped_root(), self.root):
            if folder is None or not folder.is_dir():
                continue
            for meta_path in sorted(folder.glob(f"{self.stage}-*/meta.json")):
                try:
                    inputs = json.loads(meta_path.read_text()).get("inputs", {})
                except (OSError, ValueError):
                    continue
                if inputs.get("version") != self.inputs.get("version") and \
                        {k: v for k, v in inputs.items() if k != "version"} == ours:
                    backbone = ours.get("backbone", {})
                    out.append(stale_message(self.stage, str(meta_path.parent), inputs.get("version"),
                                             backbone.get("name", "BACKBONE") if isinstance(backbone, dict) else "BACKBONE",
                                             (ours.get("profile") or {}).get("profile", "PROFILE")
                                             if isinstance(ours.get("profile"), dict) else "PROFILE"))
        return out

    def reuse(self, loader: Callable[[Path], T]) -> T | None:
        """``loader(path)`` of the reusable artifact (marked used), or ``None`` when it must be computed.

        A loader error of :data:`LOAD_ERRORS` (truncated array, wrong shape, bad JSON, missing file) sets
        the artifact aside like a checksum error; with ``None`` this process holds the lock (see :meth:`exists`).
        """
        if not self.exists():
            return None
        try:
            result = loader(self.path)
        except LOAD_ERRORS:
            if planning_active():  # a plan neither locks nor sets aside: the run will recompute it
                raise WouldCompute(self) from None
            self._lock()
            try:
                result = loader(self.path)  # another process may have replaced it meanwhile
            except LOAD_ERRORS as err:
                try:
                    self._set_aside(err)
                except BaseException:
                    self.release()
                    raise
                return None
            except BaseException:
                self.release()
                raise
            self.release()
        self.mark_used()
        return result

    def release(self) -> None:
        """Release this artifact's lock if this process holds it (a no-op otherwise)."""
        lock = _HELD.pop(str(self.local_path), None)
        if lock is not None:
            lock.release(force=True)

    def _lock(self) -> None:
        if os.environ.get("RANK", "0") != "0":  # data-parallel ranks > 0 follow rank 0, which holds the lock
            return
        if str(self.local_path) not in _HELD:
            _HELD[str(self.local_path)] = acquire_lock(self.root, self.name)

    def _intact(self, repair: bool) -> bool:
        """Whether the folder is complete and matches its checksums; broken ones are set aside if ``repair``."""
        if not (self.path / "meta.json").is_file():
            return False
        try:
            self.verify()
        except ValueError as err:
            if repair:
                self._set_aside(err)
            return False
        return True

    def _set_aside(self, err: BaseException) -> None:
        """Rename a broken local folder aside (strict mode raises); a broken shipped one is only skipped."""
        if self.path != self.local_path:
            if strict_mode():
                raise ValueError(f"broken shipped artifact {self.path}: {err} (strict mode)") from err
            logger.warning("broken shipped artifact %s (%s): recomputing it under %s", self.path, err, self.root)
            return
        set_aside(self.local_path, err)

    def verify(self) -> None:
        """Check every file against the checksums in ``meta.json`` (artifacts written before checksums pass).

        Raises:
            ValueError: naming the artifact and the file that is missing or differs.
        """
        expected = self.meta.get("files")
        if expected is None:
            return
        found = file_checksums(self.path)
        for name, digest in expected.items():
            if name not in found:
                raise ValueError(f"artifact {self.path} is incomplete: {name} is missing; delete the folder "
                                 "(or recompute) to rebuild it")
            if found[name] != digest:
                raise ValueError(f"artifact {self.path} is corrupt: {name} does not match its checksum; delete "
                                 "the folder (or recompute) to rebuild it")

    @property
    def meta(self) -> dict:
        try:
            return json.loads((self.path / "meta.json").read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"artifact {self.path} has not been computed") from None
        except json.JSONDecodeError as err:
            raise ValueError(f"corrupt artifact metadata {self.path / 'meta.json'}: {err}; delete the folder") from err

    @contextlib.contextmanager
    def writing(self, **extra_meta: Any) -> Iterator[Path]:
        """Yield a temporary folder; on success write ``meta.json`` and rename it into place.

        Holds the artifact's lock (taken by :meth:`exists`, else here) and releases it at the end. A full
        disk or read-only root raises ``OSError`` naming the path; nothing half-written stays.
        """
        target = self.local_path
        tmp: Path | None = None
        try:
            try:
                self.root.mkdir(parents=True, exist_ok=True)
                self._lock()
                tmp = Path(tempfile.mkdtemp(dir=self.root, prefix=f".tmp-{self.name}-"))
            except OSError as err:
                raise write_error(err, self.root) from err
            try:
                yield tmp
            except OSError as err:
                if isinstance(err, FileNotFoundError) and not getattr(err, "emolib_path", None):
                    raise  # a missing input file, not a write error
                raise write_error(err, err.filename or tmp) from err
            seconds = time.perf_counter() - self.opened  # the computation before the block counts too
            try:
                meta = {"stage": self.stage, "key": self.key, "inputs": _canonical(self.inputs),
                        "versions": _versions(), "seconds": seconds, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
                        "files": file_checksums(tmp)}
                meta.update(_canonical(extra_meta))
                (tmp / "meta.json").write_text(json.dumps(meta, indent=2, default=str))
                if target.exists():  # a recomputation (or a legacy writer) replaces the old folder
                    old = target.with_name(f".{target.name}.old-{os.getpid()}")
                    os.replace(target, old)
                    shutil.rmtree(old, ignore_errors=True)
                os.replace(tmp, target)
            except OSError as err:
                raise write_error(err, err.filename or target) from err
            shutil.rmtree(self.root / ".partial" / f"{self.stage}-{self.key}", ignore_errors=True)
            log_usage(self, seconds=seconds, reused=False)
        finally:
            if tmp is not None and tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
            self.release()

    def mark_used(self) -> None:
        """Record in the usage log that a build reused this artifact (inside ``planning``: note it there)."""
        if planning_active():
            note_reused(self)
            return
        log_usage(self, seconds=float(self.meta.get("seconds", 0.0)), reused=True)


def artifact(stage: str, inputs: Mapping[str, Any], root: str | os.PathLike | None = None) -> Artifact:
    """The :class:`Artifact` of ``stage`` for ``inputs`` under the artifact root.

    A stage of :data:`emolib.versions.STAGE_VERSIONS` must carry its current ``version`` in ``inputs``.
    """
    from emolib.versions import STAGE_VERSIONS

    if stage in STAGE_VERSIONS and inputs.get("version") != STAGE_VERSIONS[stage]:
        raise ValueError(f"the inputs of stage {stage!r} carry version {inputs.get('version')!r}; this code computes "
                         f"version {STAGE_VERSIONS[stage]} (emolib.versions.version({stage!r}))")
    return Artifact(stage, dict(inputs), artifact_root(root))


def log_usage(art: Artifact, seconds: float, reused: bool) -> None:
    """Append one line to ``<root>/usage.jsonl`` (stage, key, path, seconds, reused, run id)."""
    record = {"stage": art.stage, "key": art.key, "path": str(art.path), "seconds": round(seconds, 3),
              "reused": reused, "run": os.environ.get("EMOLIB_RUN_ID", ""), "time": time.time()}
    art.root.mkdir(parents=True, exist_ok=True)
    with open(art.root / "usage.jsonl", "a") as fh:
        fh.write(json.dumps(record) + "\n")


def read_usage(root: str | os.PathLike | None = None, run: str | None = None) -> pd.DataFrame:
    """The usage log as a DataFrame, optionally for one run id (``$EMOLIB_RUN_ID`` of a book build)."""
    path = artifact_root(root) / "usage.jsonl"
    columns = ["stage", "key", "path", "seconds", "reused", "run", "time"]
    if not path.is_file():
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame([json.loads(line) for line in path.read_text().splitlines() if line.strip()], columns=columns)
    if run is not None:
        frame = frame[frame["run"] == run]
    return frame.reset_index(drop=True)


def stage_timings(usage: pd.DataFrame, stages: list[str]) -> pd.DataFrame:
    """Wall time per stage from a usage log (:func:`read_usage`): ``seconds`` (summed over the stage's
    artifacts, e.g. a dev and a test masked evaluation) and ``reused`` (every artifact came from the cache).

    Example:
        >>> log = pd.DataFrame({"stage": ["prompts", "masked-eval", "masked-eval"], "key": ["a", "b", "c"],
        ...                     "seconds": [10.0, 2.0, 3.0], "reused": [True, False, False]})
        >>> stage_timings(log, ["prompts", "masked-eval"])["seconds"].tolist()
        [10.0, 5.0]
    """
    rows = usage[usage["stage"].isin(stages)]
    if rows.empty:
        return pd.DataFrame(columns=["seconds", "reused"]).rename_axis("stage")
    per_artifact = rows.groupby(["stage", "key"], as_index=False).agg(seconds=("seconds", "max"),
                                                                      reused=("reused", "all"))
    table = per_artifact.groupby("stage").agg(seconds=("seconds", "sum"), reused=("reused", "all"))
    return table.reindex([s for s in stages if s in table.index])


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file and an atomic rename."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError as err:
        raise write_error(err, path) from err
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
    return path


def atomic_write_csv(frame: pd.DataFrame, path: str | os.PathLike, **to_csv: Any) -> Path:
    """``frame.to_csv(path, **to_csv)`` written atomically (default ``index=False``)."""
    to_csv.setdefault("index", False)
    return atomic_write_text(path, frame.to_csv(**to_csv))


def save_arrays(path: str | os.PathLike, arrays: Mapping[str, np.ndarray]) -> Path:
    """Save named numpy arrays as ``.npz`` atomically."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".npz")
        os.close(fd)
        np.savez_compressed(tmp, **{k: np.asarray(v) for k, v in arrays.items()})
        os.replace(tmp, path)
    except OSError as err:
        raise write_error(err, path) from err
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load_arrays(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Load a ``.npz`` written by :func:`save_arrays`, with a clear error if it is corrupt."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except FileNotFoundError:
        raise
    except Exception as err:  # zipfile.BadZipFile, ValueError, EOFError ...
        raise ValueError(f"corrupt array file {path}: {err}; delete it to recompute") from err


def usage_table(usage: pd.DataFrame) -> pd.DataFrame:
    """One row per stage, artifact folder and status of a usage log (:func:`read_usage`), with wall time.

    Returns:
        Columns ``stage, artifact`` (the folder name), ``status`` (``"reused"`` or ``"computed"``) and
        ``stage wall time (s)`` (the largest ``seconds`` logged for it), sorted by stage, artifact, status.

    Example:
        >>> log = pd.DataFrame({"stage": ["prompts", "prompts", "eval"], "path": ["/r/prompts-a", "/r/prompts-a",
        ...                     "/r/eval-b"], "seconds": [10.0, 12.0, 3.0], "reused": [True, True, False]})
        >>> usage_table(log).values.tolist()
        [['eval', 'eval-b', 'computed', 3.0], ['prompts', 'prompts-a', 'reused', 12.0]]
    """
    missing = [c for c in ("stage", "path", "seconds", "reused") if c not in usage.columns]
    if missing:
        raise ValueError(f"usage lacks columns {missing}; expected the columns of read_usage")
    return (usage.assign(artifact=usage["path"].map(lambda p: Path(p).name),
                         status=usage["reused"].map({True: "reused", False: "computed"}))
            .groupby(["stage", "artifact", "status"], as_index=False)["seconds"].max()
            .rename(columns={"seconds": "stage wall time (s)"}))


__all__ += ["usage_table"]
