"""Tests of emolib.emotion_steering: the combined tables and the CSV files of reproduce."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from emolib import emotion_steering as ES
from emolib import emotion_vectors as E


def test_reproduce_smoke(tmp_path):
    paths = ES.reproduce(tmp_path, backbone="tiny-llama", profile="smoke", seed=0)
    assert [p.name for p in paths] == ["emotion_vector_pcs.csv", "emotion_vector_rsa.csv", "steering.csv",
                                       "steering_best.csv", "steering_examples.csv"]
    pcs = pd.read_csv(paths[0])
    assert list(pcs.columns) == ["layer", "pc", "human_scale", "r", "ci_low", "ci_high"]
    steer = pd.read_csv(paths[2])
    assert list(steer.columns) == ["direction", "layer", "alpha", "effect", "ci_low", "ci_high"]
    assert set(steer.direction) == {"emotion PC1", "joy - sadness", "random"}
    assert (steer.layer == 1).all()  # headline layer of a 2-layer model
    again = ES.reproduce(tmp_path / "again", backbone="tiny-llama", profile="smoke", seed=0)
    for a, b in zip(paths, again):
        assert a.read_text() == b.read_text()
    extra = ES.reproduce(tmp_path / "extra", backbone="tiny-llama", profile="smoke", seed=0,
                         extra_directions={"probe": torch.ones(32)})
    assert "probe" in set(pd.read_csv(extra[2]).direction)  # extra directions are steered beside the others


def test_valence_directions_and_profile():
    ev = E.emotion_vectors("tiny-llama", profile="smoke")
    dirs = ES.valence_directions(ev, 1)
    assert set(dirs) == {"emotion PC1", "joy - sadness"}
    assert all(d.shape == (ev.vectors.shape[-1],) for d in dirs.values())
    assert float(dirs["emotion PC1"].norm()) == pytest.approx(1.0, abs=1e-5)
    tables = ES.analyse("tiny-llama", profile="smoke", extra_directions={"probe": torch.ones(32)})
    assert "probe" in set(tables["steering"].direction)
    with pytest.raises(ValueError, match="profile"):
        ES.analyse("tiny-llama", profile="fast")
