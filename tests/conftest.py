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
