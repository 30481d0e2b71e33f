"""The coverage page: every figure and table of the originals has a counterpart in the book or a reason."""

from pathlib import Path

import pandas as pd
import pytest

from emolib import book, coverage

ROOT = Path(__file__).resolve().parent.parent


def test_every_row_has_a_known_match_a_counterpart_or_a_reason_and_links_that_exist():
    table = coverage.load_coverage()
    assert coverage.check_coverage(table, ROOT / "book") == []
    assert set(table["work"]) == {"Li et al. (2023)", "Emo_LLM"}
    chapters = {p.stem for p in book.chapter_files(ROOT)}
    assert {link.split("#")[0] for link in table["link"] if link} <= chapters
    assert "coverage" in chapters


def test_the_items_the_issue_lists_are_all_there():
    items = " | ".join(coverage.load_coverage()["item"])
    for n in (1500, 2000, 2500, 3000, 4000, 5000, 6000):
        assert f"top-N map N = {n}" in items
    for needle in ("neuron 15512", "unimodality", "remorse", "27 per-emotion", "ICC", "appraisal loadings table",
                   "heatmap", "averaged emotional PCs", "emotion scores", "Neurons_Correspond_Selectively",
                   "Acc_after_masking", "Valence-arousal scatter", "Per-layer coefficient", "Per-template PCA",
                   "Steering", "Persona", "Body-map"):
        assert needle in items, needle


@pytest.mark.parametrize("row, problem", [
    ({"match": "close enough"}, "unknown match"),
    ({"link": "", "counterpart": "", "reason": ""}, "no reason given"),
    ({"match": "differs: see Differences", "reason": ""}, "no reason given"),
    ({"link": "nochapter#x"}, "missing chapter"),
    ({"link": "data#fig-nothing"}, "no figure or section"),
])
def test_a_bad_row_is_named(row, problem):
    good = {"work": "Emo_LLM", "item": "x", "counterpart": "c", "link": "data#fig-label-counts",
            "match": "same data, same method", "reason": ""}
    table = pd.DataFrame([{**good, **row}])
    assert coverage.check_coverage(pd.DataFrame([good]), ROOT / "book") == []
    found = coverage.check_coverage(table, ROOT / "book")
    assert found and any(problem in p for p in found), found


def test_the_html_links_each_counterpart_to_its_page_and_anchor():
    text = coverage.coverage_html()
    assert '<a href="neurons_released.html#fig-top-rank-map">' in text
    assert text.count("<tr>") == len(coverage.load_coverage()) + 2  # + one header row per work
