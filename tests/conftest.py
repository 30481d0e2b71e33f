"""Shared test settings: offline hub, a private artifact root per session, small thread counts."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def _artifact_root(tmp_path_factory):
    """Every test session writes artifacts to its own temporary root, never to the repository."""
    root = tmp_path_factory.mktemp("artifacts")
    old = os.environ.get("EMOLIB_ARTIFACTS")
    os.environ["EMOLIB_ARTIFACTS"] = str(root)
    yield root
    if old is None:
        os.environ.pop("EMOLIB_ARTIFACTS", None)
    else:
        os.environ["EMOLIB_ARTIFACTS"] = old


#: what ``emolib --strict`` / ``--no-wait`` write into ``os.environ`` (cli.main does so for its whole process)
_CLI_ENVIRONMENT = ("EMOLIB_STRICT", "EMOLIB_LOCK_TIMEOUT")


@pytest.fixture(autouse=True)
def _cli_environment():
    """Restore the variables a CLI test's ``main(["--strict", ...])`` sets, so that no later test (or the
    processes it starts) runs in strict or no-wait mode by accident."""
    old = {name: os.environ.get(name) for name in _CLI_ENVIRONMENT}
    yield
    for name, value in old.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def smoke_book(tmp_path_factory, _artifact_root):
    """The whole book built once per session in the smoke profile on tiny-llama; the build folder (``html/``,
    ``staging/``), shared by the smoke-build test and the browser test."""
    from pathlib import Path

    from emolib import book

    out = tmp_path_factory.mktemp("smoke-book")
    book.build_book(profile="smoke", parameters={"backbone": "tiny-llama", "device": "cpu"}, out=out,
                    root=Path(__file__).resolve().parent.parent)
    return out
