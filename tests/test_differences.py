"""The differences page: every entry points at existing code and an existing chapter."""

import pytest

from emolib import differences


def test_every_difference_names_existing_code_and_chapter():
    differences.check_references()
    assert all(d["original"] and d["emobook"] for d in differences.DIFFERENCES)


def test_a_stale_reference_is_reported(monkeypatch):
    stale = differences.DIFFERENCES + [differences._d("x", "Gone.", "a", "b", "emolib.rsa.no_such_function", "data")]
    monkeypatch.setattr(differences, "DIFFERENCES", stale)
    with pytest.raises(ValueError, match="no_such_function"):
        differences.check_references()
    missing_chapter = differences.DIFFERENCES[:1] + [differences._d("x", "Gone.", "a", "b", "emolib.rsa", "nowhere")]
    monkeypatch.setattr(differences, "DIFFERENCES", missing_chapter)
    with pytest.raises(ValueError, match="nowhere"):
        differences.check_references()
