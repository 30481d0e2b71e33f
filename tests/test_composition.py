"""The valence chapter's inference: gains per family, the claim's verdict, the nested layer, E3 on its own."""

import numpy as np
import pandas as pd
import pytest

from emolib.emollm import composition
from test_families import _synthetic


def test_the_claim_is_the_transfer_and_holds_only_where_negation_flips_the_axis():
    data = {"valence": _synthetic(n_adj=80), "arousal": _synthetic(n_adj=40, erase=True, seed=1)}
    result = composition.probe_inference(data, n_splits=4, inner_splits=2, n_boot=200, n_perm=999)
    claim = composition.valence_row(result.gains)
    assert claim["verdict"] == "holds" and claim["gain"] > 0.3  # negation flips the axis: the transfer works
    assert set(result.gains.drop(claim.name)["verdict"]) == {"descriptive"}
    acc = result.summary[result.summary["layer"].astype(str) == "nested"].set_index(["scale", "experiment", "variant"])
    # negation erases the axis: both labels are decodable, and the plain-template probe reads negated rows at chance
    assert acc.loc[("arousal", "E1", "centred"), "accuracy"] > 0.9
    assert acc.loc[("arousal", "E1", "uncomposed"), "accuracy"] > 0.9
    assert abs(acc.loc[("arousal", "E1", "transfer"), "negated"] - 0.5) < 0.1
    assert composition.nested_layer(result.cv) == 1
    table = composition.accuracy_table(result.summary)
    assert list(table.columns) == ["all templates", "negated", "plain", "families"]


def test_an_erased_axis_does_not_hold_as_composition():
    result = composition.probe_inference({"valence": _synthetic(n_adj=200, erase=True)}, n_splits=5, inner_splits=2,
                                         n_boot=200, n_perm=999)
    claim = composition.valence_row(result.gains)
    assert claim["verdict"] == "does not hold" and abs(claim["gain"]) < 0.05


def test_memorisation_table_keeps_e3_only():
    summary = pd.DataFrame({"scale": "valence", "experiment": ["E1", "E3", "E3"], "variant": "centred",
                            "features": "residual", "layer": [0, 0, 1], "accuracy": [0.9, 0.7, 0.8],
                            "ci_low": 0.5, "ci_high": 1.0})
    table = composition.memorisation_table(summary)
    assert table.loc[("valence", "residual", "centred"), "accuracy"] == 0.8
    with pytest.raises(ValueError, match="no E3 rows"):
        composition.memorisation_table(summary[summary["experiment"] == "E1"])
