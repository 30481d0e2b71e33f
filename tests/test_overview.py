"""emolib.overview: chapters record their conclusions in the build folder and the intro's table reads them."""

import json

import numpy as np
import pandas as pd
import pytest

from emolib import findings, overview
from emolib.paper.verdict import COLUMNS


def _verdict() -> pd.DataFrame:
    rows = [("inference", None, "mean dev accuracy", 0.83, 0.706, 0.655, 0.758, 1e-9, 0.518, "holds"),
            ("units_paper", None, "units", 26025, 20795, np.nan, np.nan, np.nan, 14784, "holds"),
            ("units_fwer", None, "units", 785, 8, np.nan, np.nan, np.nan, 9, "does not hold"),
            ("masks", 1500, "diff", -0.01, -0.024, -0.040, -0.008, 0.004, -0.01, "holds"),
            ("masks", 4000, "diff", -0.02, 0.042, 0.02, 0.06, 0.99, -0.01, "does not hold"),
            ("weights", 4000, "rho", -0.47, 0.12, 0.01, 0.22, 0.98, 0.0, "does not hold")]
    table = pd.DataFrame(rows, columns=COLUMNS)
    table["k"] = table["k"].astype("Int64")
    return table


def test_outside_a_build_nothing_is_recorded_and_the_backbone_column_is_pending(monkeypatch):
    monkeypatch.delenv("EMOLIB_BUILD_DIR", raising=False)
    assert overview.record("paper", {"units": "x"}, "gpt2", "quick") is None
    assert overview.recorded() is None
    table = overview.intro_table(records=overview.recorded())
    assert (table["chosen backbone"] == overview.PENDING).drop(table.index[0]).all()
    assert all("](" in claim and ".md)" in claim for claim in table.index)
    assert findings.markdown_table(table).count("\n") == len(table) + 1


def test_recorded_sections_merge_replace_and_fill_the_intro(monkeypatch, tmp_path):
    monkeypatch.setenv("EMOLIB_BUILD_DIR", str(tmp_path))
    overview.record("paper", overview.verdict_cells(_verdict()), "gemma3-270m", "standard")
    overview.record("valence", overview.valence_cell(0.60, 0.70, 0.5), "gemma3-270m", "quick")
    overview.record("valence", overview.valence_cell(0.80, 0.70, 0.5), "gemma3-270m", "standard")  # replaces
    records = json.loads((tmp_path / overview.RECORD_FILE).read_text())
    assert sorted(records) == ["paper", "valence"] and records["valence"]["profile"] == "standard"
    table = overview.intro_table(records=overview.recorded())
    column = table["chosen backbone: gemma3-270m (standard)"]
    by_id = dict(zip(overview.CLAIM_ROWS, column))
    assert by_id["inference"].startswith("**holds**: mean dev accuracy 0.706 (0.655 to 0.758)")
    assert by_id["units"].startswith("**does not hold**: 8 units at FWER")  # the FWER row decides, not the q
    assert "20,795 by the paper's q (null prompts: 14,784)" in by_id["units"]
    assert by_id["masks"] == ("k = 1,500: **holds** (difference -0.024, -0.040 to -0.008); "
                              "k = 4,000: **does not hold** (difference +0.042, +0.020 to +0.060)")
    assert by_id["weights"].startswith("k = 4,000: **does not hold** (rho +0.120")
    assert by_id["valence"].startswith("**holds**: probe 0.800")
    assert not (column == overview.PENDING).any()


@pytest.mark.parametrize(("probe", "lexical", "control", "label"),
                         [(0.80, 0.70, 0.5, "holds"), (0.71, 0.70, 0.5, "does not hold"),
                          (0.80, 0.70, 0.85, "does not hold")])
def test_the_valence_cell_needs_the_lexical_margin_and_the_control(probe, lexical, control, label):
    assert overview.valence_cell(probe, lexical, control)["valence"].startswith(f"**{label}**")


def test_a_verdict_without_permutations_falls_back_to_the_papers_count():
    table = _verdict()
    table = table[table["claim"] != "units_fwer"]
    assert overview.verdict_cells(table)["units"].startswith("**holds**: 20,795 by the paper's q")
