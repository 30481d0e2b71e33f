"""benchmarks/gpu_check.py runs end to end on tiny models and writes its table as JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))


@pytest.mark.slow
def test_gpu_check_tiny_runs_every_section_on_the_cpu(tmp_path, capsys):
    import gpu_check

    out = tmp_path / "check.json"
    rows = gpu_check.main(["--tiny", "--device", "cpu", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["tiny"] and saved["device"] == "cpu" and len(saved["rows"]) == len(rows) == 7
    sections = [r["section"] for r in rows]
    assert sections.count("searchlight") == 1 and sections.count("masked evaluation") == 2
    assert sections.count("prompt bank") == 4
    assert all(r["rate"] > 0 and r["projected_hours"] > 0 for r in rows)
    printed = capsys.readouterr().out
    assert "| searchlight | emolib tau-b on cpu |" in printed and "original loop" in printed
