"""The verdict: the rule, the table's rows and columns, the null control and the chance floor."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emolib.paper import control, pipeline, verdict


@pytest.mark.parametrize("estimate,ci,p,null,paper,expected", [
    (-0.3, (-0.5, -0.1), 0.01, 0.0, -0.47, "holds"),
    (-0.3, (-0.5, -0.1), 0.01, -0.4, -0.47, "does not hold"),  # significant, but chance does as well
    (-0.05, (-0.6, 0.2), 0.4, 0.0, -0.47, "cannot tell"),
    (-0.05, (-0.3, 0.2), 0.4, 0.0, -0.47, "does not hold"),  # the interval rules out the paper's effect
    (0.1, (0.0, 0.2), 0.9, 0.0, -0.47, "does not hold"),
    (np.nan, (np.nan, np.nan), np.nan, 0.0, -0.47, "cannot tell"),
    (0.3, (0.2, 0.4), 0.001, 0.02, 0.33, "holds"),
])
def test_decide(estimate, ci, p, null, paper, expected):
    direction = +1 if paper > 0 else -1
    assert verdict.decide(estimate, ci, p, null, paper, direction=direction) == expected


def test_verdict_of_a_smoke_run_has_every_claim_and_reads_masking_as_cannot_tell_at_chance():
    run = pipeline.run_paper("tiny-llama", "smoke", device="cpu", progress=False,
                             prompt_overrides={"train_size": 4, "dev_size": 4, "test_size": 2, "epochs": 1})
    null = control.null_control(run)
    table = verdict.verdict(run, null)
    assert list(table.columns) == ["claim", "statement", *verdict.COLUMNS[1:]]
    assert set(table["claim"]) == set(verdict.CLAIMS)
    assert set(table["verdict"]) <= set(verdict.VERDICTS)
    mean = run.frames("dev")[1]["accuracy"].mean()
    assert table.set_index("claim").loc["inference", "value"] == pytest.approx(mean)
    masking = table[table["claim"].isin(["masks", "weights"])]
    if mean < verdict.CHANCE_FLOOR:
        assert (masking["verdict"] == "cannot tell").all() and table.attrs["at_chance"]
    units = table.set_index("claim").loc["units_paper"]
    assert units["null_control"] == int(null.searchlight.with_correction("paper", 0.01).significant.any(axis=1).sum())
