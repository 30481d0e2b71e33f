"""Tests of emolib.emollm.steering_run: steering with controls end to end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from emolib.emollm import steering as S
from emolib.emollm import steering_run as SR
from emolib.model import tiny_backbone
from test_steering import PROMPTS, _direction, bb  # noqa: F401 (bb is a fixture)


def test_steering_with_controls_is_seeded_held_out_and_complete(bb):
    g = torch.Generator().manual_seed(11)
    valence = {"v": torch.randn(bb.hidden_size, generator=g), "w": torch.randn(bb.hidden_size, generator=g)}
    contrasts = {"c1": torch.randn(bb.hidden_size, generator=g), "c2": torch.randn(bb.hidden_size, generator=g)}
    kwargs = dict(contrasts=contrasts, n_random=12, n_select=4, seed=3, slope_range=1.0, max_new_tokens=3,
                  n_behaviour_random=2)
    run = SR.steering_with_controls(bb, valence, 1, [-1.0, 0.0, 1.0], PROMPTS, **kwargs)
    assert set(run.roles.values()) == {"valence", "projected", "contrast"}
    shifts = run.shifts
    assert shifts.query("direction == 'random'")["draw"].nunique() == 12
    late = shifts[(shifts.direction == "random") & (shifts.draw >= 4)]
    assert set(late["prompt"]) == set(run.half_b) and (late["half"] == "B").all()
    early = shifts[(shifts.direction == "random") & (shifts.draw < 4)]
    assert set(early["prompt"]) == set(range(len(PROMPTS)))
    tests = run.tests
    assert tests.query("role == 'valence'")["direction"].tolist() == ["v", "w"]
    assert (tests["n_random"] == 12).all() and (tests["p_random"] >= 1 / 13 - 1e-12).all()
    assert set(tests.query("alpha_of == 'v' and direction != 'v'")["direction"]) == {"c1", "c2", "v (projected)"}
    assert set(run.slopes["direction"]) == set(run.roles) and (run.slopes["n_random"] == 12).all()
    assert set(run.dose["direction"]) == set(run.roles) | {"random"}
    # the named shifts are those of readout_shifts (the prefix reuse and the word-only logits change nothing)
    plain = S.readout_shifts(bb, valence, 1, [-1.0, 0.0, 1.0], PROMPTS, n_random=0)
    mine = shifts[shifts.direction.isin(["v", "w"])][["direction", "alpha", "prompt", "shift"]].reset_index(drop=True)
    np.testing.assert_allclose(mine["shift"], plain[["direction", "alpha", "prompt", "shift"]]["shift"], atol=1e-5)
    # behaviour: v (the first valence direction), its projection, both contrasts and two random draws at -a, +a
    behaviour = run.behaviour
    assert sorted(behaviour["direction"].unique()) == ["c1", "c2", "random", "v", "v (projected)"]
    assert (behaviour["alpha"] == abs(run.alphas["v"])).all() and (behaviour["n_prompts"] == len(run.half_b)).all()
    assert set(run.continuations["prompt"]) == set(run.half_b)
    again = SR.steering_with_controls(bb, valence, 1, [-1.0, 0.0, 1.0], PROMPTS, **kwargs)
    for name in ("shifts", "tests", "slopes", "behaviour", "continuations", "dose"):
        pd.testing.assert_frame_equal(getattr(again, name), getattr(run, name))
    other = SR.steering_with_controls(bb, valence, 1, [-1.0, 0.0, 1.0], PROMPTS, **(kwargs | {"seed": 4}))
    assert not np.allclose(other.shifts.query("direction == 'random'")["shift"].to_numpy()[:50],
                           shifts.query("direction == 'random'")["shift"].to_numpy()[:50])
    for block in (site.block for site in bb.sites):
        assert "forward" not in block.__dict__  # the prefix reuse restored every block
    with pytest.raises(ValueError, match="used twice or reserved"):
        SR.steering_with_controls(bb, {"random": valence["v"]}, 1, [1.0], PROMPTS)
    with pytest.raises(ValueError, match="behaviour_for"):
        SR.steering_with_controls(bb, valence, 1, [1.0], PROMPTS, behaviour_for=["nope"])

def test_a_masked_lm_is_steered_with_controls_but_writes_no_continuations():
    bb = tiny_backbone("roberta")
    d = _direction(bb, seed=2)
    base = S.readout_shifts(bb, {"d": d}, 1, [1.0], PROMPTS, n_random=0)
    with S.steer(bb, d, 1, 1.0):
        moved = S.valence_readout(bb, PROMPTS)
    np.testing.assert_allclose(base.query("alpha == 1.0")["shift"], moved - S.valence_readout(bb, PROMPTS), atol=1e-5)
    run = SR.steering_with_controls(bb, {"d": d}, 1, [-1.0, 0.0, 1.0], PROMPTS, n_random=4, n_select=2,
                                   slope_range=1.0)
    assert len(run.tests) == 2 and run.continuations.empty and run.behaviour.empty
    assert "masked LM" in run.behaviour.attrs["note"]
