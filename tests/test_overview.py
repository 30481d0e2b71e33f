"""emolib.overview: chapters record their conclusions in the build folder and the intro's table reads them."""

import json

import numpy as np
import pandas as pd
import pytest

from emolib import findings, overview
from emolib.paper.verdict import COLUMNS


def _verdict() -> pd.DataFrame:
    columns = ["claim", "k", "measure", "value", "ci_low", "ci_high", "p_holm", "power", "null_control", "verdict"]
    rows = [("inference", None, "mean dev accuracy", 0.706, 0.655, 0.758, 1e-9, 1.0, 0.518, "holds"),
            ("units_paper", None, "units", 20795, np.nan, np.nan, 0.09, np.nan, 14784, "cannot tell"),
            ("units_fwer", None, "units", 8, np.nan, np.nan, 0.02, np.nan, 1, "holds"),
            ("masks_random", 4000, "diff", -0.012, -0.03, 0.008, 0.48, 0.31, -0.01, "cannot tell"),
            ("masks_sham", 4000, "diff", 0.01, -0.01, 0.03, 0.9, 0.2, 0.0, "cannot tell"),
            ("masks_random", 1500, "diff", -0.02, -0.04, 0.0, np.nan, np.nan, np.nan, "descriptive"),
            ("weights", 4000, "rho", 0.12, -0.1, 0.3, 0.9, 0.2, 0.0, "cannot tell")]
    table = pd.DataFrame(rows, columns=columns)
    table["k"] = table["k"].astype("Int64")
    assert set(columns) <= set(COLUMNS)
    return table


def test_outside_a_build_nothing_is_recorded_and_the_backbone_column_is_pending(monkeypatch):
    monkeypatch.delenv("EMOLIB_BUILD_DIR", raising=False)
    assert overview.record("paper", {"units": "x"}, "gpt2", "quick") is None
    assert overview.recorded() is None
    table = overview.intro_table(records=overview.recorded())
    assert (table["chosen backbone"] == overview.PENDING).drop(table.index[0]).all()
    # links as document references (a relative ".md" link inside glued Markdown becomes a dead "#name.md" anchor)
    assert all("{doc}`chapter <" in claim and ".md" not in claim for claim in table.index)
    assert findings.markdown_table(table).count("\n") == len(table) + 1


def test_recorded_sections_merge_replace_and_fill_the_intro(monkeypatch, tmp_path):
    monkeypatch.setenv("EMOLIB_BUILD_DIR", str(tmp_path))
    overview.record("paper", overview.verdict_cells(_verdict()), "gemma3-270m", "standard")
    overview.record("valence", overview.valence_cell(_valence("cannot tell", 0.01)), "gemma3-270m", "quick")
    overview.record("valence", overview.valence_cell(_valence("holds", 0.5)), "gemma3-270m", "standard")  # replaces
    records = json.loads((tmp_path / overview.RECORD_FILE).read_text())
    assert sorted(records) == ["paper", "valence"] and records["valence"]["profile"] == "standard"
    table = overview.intro_table(records=overview.recorded())
    column = table["chosen backbone: gemma3-270m (standard)"]
    by_id = dict(zip(overview.CLAIM_ROWS, column))
    assert by_id["inference"].startswith("**holds**: mean dev accuracy 0.706 (0.655 to 0.758; Holm p < 0.001)")
    assert by_id["units"].startswith("**holds** (family-wise): 8 units (Holm p = 0.020; null prompts: 1)")
    assert "the paper's q: 20,795 units, **cannot tell** (Holm p = 0.090; null prompts: 14,784)" in by_id["units"]
    assert by_id["masks"] == ("vs random: **cannot tell** (k = 4,000, extra accuracy lost -0.012, Holm p = 0.480; power 0.31); "
                              "vs sham: **cannot tell** (k = 4,000, extra accuracy lost +0.010, Holm p = 0.900; power 0.20)")
    assert by_id["weights"].startswith("**cannot tell** (rho +0.12, -0.10 to +0.30; Holm p = 0.900; power 0.20)")
    assert by_id["valence"].startswith("**holds** (plain-to-negated transfer 1.000")
    assert by_id["structure"] == overview.PENDING  # recorded by backbone_neurons and valence_arousal, not here
    assert not (column.drop(column.index[1]) == overview.PENDING).any()


def test_the_structure_row_joins_the_prompts_and_the_emotion_vectors(monkeypatch, tmp_path):
    monkeypatch.setenv("EMOLIB_BUILD_DIR", str(tmp_path))
    controlled = pd.DataFrame({"target": ["similarity", "valence"], "tau": [0.07, 0.5], "p": [0.029, 0.0],
                               "tau_partial": [0.057, 0.4], "p_partial": [0.304, 0.0]})
    overview.record("structure", overview.structure_cell(controlled, 0.394), "gemma3-270m", "standard")
    headline = pd.DataFrame({"pc": ["PC1", "PC1"], "human_scale": ["valence", "arousal"], "r": [0.49, 0.1],
                             "ci_low": [-0.04, -0.3], "ci_high": [0.81, 0.5]})
    overview.record("structure_vectors", overview.vectors_cell({"r": 0.311, "p_perm": 0.004}, headline, 12, 18),
                    "gemma3-270m", "standard")
    cell = dict(zip(overview.CLAIM_ROWS, overview.intro_table(records=overview.recorded()).iloc[:, -1]))["structure"]
    assert cell.startswith("prompts (whole model): τ = 0.070 (p = 0.029")  # the similarity row, not valence
    assert "the co-occurrence alone: τ = 0.394; emotion vectors of GoEmotions comments (layer 13 of 18)" in cell
    assert cell.endswith("PC1 against human valence r = 0.49 (-0.04 to 0.81)")


def _valence(verdict: str, gain: float, reason: str = "") -> dict:
    return {"verdict": verdict, "reason": reason, "transfer": 0.5 + gain, "gain_low": gain - 0.1,
            "gain_high": gain + 0.1, "p_text": "p = 0.001", "n_families": 169, "centred": 0.98, "uncomposed": 0.97}


def test_the_valence_cell_carries_the_verdict_and_its_reason():
    cell = overview.valence_cell(_valence("cannot tell", 0.02, "power 0.40 < 0.8 to see a gain of 0.10"))["valence"]
    assert cell.startswith("**cannot tell** (plain-to-negated transfer 0.520, 0.420 to 0.620, p = 0.001, 169 families")
    assert cell.endswith("the adjective's own list at 0.970; power 0.40 < 0.8 to see a gain of 0.10)")


def test_a_verdict_without_permutations_reports_the_papers_count():
    table = _verdict()
    table = table[table["claim"] != "units_fwer"]
    assert overview.verdict_cells(table)["units"].startswith("the paper's q: 20,795 units, **cannot tell**")


def test_the_released_verdict_without_null_prompts_still_fills_every_cell():
    """The released RoBERTa has no null prompts: its verdict table (:func:`emolib.reproduce.released_verdict`) has no
    ``null_control`` column, and the intro's cells must not need one."""
    table = _verdict().drop(columns="null_control")
    table.loc[table["claim"] == "masks_sham", ["value", "p_holm", "power"]] = np.nan  # no sham masks were released
    cells = overview.verdict_cells(table)
    assert set(cells) == {"inference", "units", "masks", "weights"}
    assert "null prompts" not in "".join(cells.values())
    assert "vs random" in cells["masks"] and "sham" not in cells["masks"]
