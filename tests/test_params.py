"""Tests of emolib.params: a table of bad values for every chapter parameter, each a clear ValueError."""

from __future__ import annotations

import pytest

from emolib import params
from emolib.paper.units import resolve_k

#: (parameter, bad value, words the message must hold: the value and the valid choices or range)
BAD = [
    ("profile", "fast", ["'fast'", "valid choices: smoke, quick"]),
    ("profile", 3, ["3", "valid choices"]),
    ("backbone", "", ["''", "backbone name"]),
    ("backbone", 7, ["7", "backbone name"]),
    ("device", "tpu", ["'tpu'", "valid choices: auto, cpu, cuda"]),
    ("device", "cuda:99", ["cuda:99", "valid choices: auto, cpu"]),
    ("seeds", "1,1", ["repeats 1", "once"]),
    ("seeds", "1 x", ["'x'", "integer >= 0"]),
    ("seeds", "", ["must not be empty"]),
    ("seeds", [], ["must not be empty"]),
    ("seeds", "-3", ["'-3'", "integer >= 0"]),
    ("seeds", 1.5, ["1.5", "integer"]),
    ("emotions", "joy,gratitud", ["gratitud", "valid choices: admiration"]),
    ("emotions", "joy joy", ["repeats joy"]),
    ("emotions", ",", ["must not be empty"]),
    ("k_values", "0", ["'0'", "fraction of the units"]),
    ("k_values", "-0.1", ["-0.1", "unit count"]),
    ("k_values", "2.5", ["2.5", "an integer >= 1"]),
    ("k_values", "big", ["'big'", "not a number"]),
    ("k_values", "0.1,0.1", ["repeats 0.1"]),
    ("k_values", "", ["must not be empty"]),
    ("n_draws", -1, ["-1", "integer >= 0"]),
    ("n_draws", "two", ["'two'", "integer >= 0"]),
    ("splits", "dev,exam", ["'exam'", "valid choices: dev, test"]),
    ("splits", "dev dev", ["repeats dev"]),
    ("splits", "", ["must not be empty"]),
    ("permutations", -5, ["-5", "integer >= 0"]),
    ("permutations", "many", ["'many'", "integer >= 0"]),
    ("bootstrap_seed", -1, ["-1", "integer >= 0"]),
    ("bootstrap_seed", "six", ["'six'", "integer"]),
    ("bootstrap_seed", True, ["True", "integer"]),
    ("sample_seed", 0.5, ["0.5", "integer"]),
    ("recompute", "maybe", ["'maybe'", "true or false"]),
    ("top_n", 0, ["0", "integer >= 1 and <= 36864"]),
    ("top_n", 40000, ["40000", "<= 36864"]),
    ("alpha", 1.5, ["1.5", "between 0 and 1"]),
    ("alpha", "low", ["'low'", "between 0 and 1"]),
    ("fwer_alpha", 0, ["0", "between 0 and 1"]),
    ("n_boot", 0, ["0", "integer >= 1"]),
    ("n_repeats", -2, ["-2", "integer >= 1"]),
    ("k", 4200, ["4200", "valid choices: 500, 1000"]),
    ("k", -1, ["-1", "integer >= 1"]),
]


@pytest.mark.parametrize("name, value, words", BAD, ids=[f"{n}={v!r}" for n, v, _ in BAD])
def test_every_bad_parameter_value_gives_a_clear_error(name, value, words):
    with pytest.raises(ValueError) as info:
        params.check_parameter(name, value)
    for word in words:
        assert word in str(info.value), (str(info.value), word)


def test_every_checked_parameter_is_in_the_table():
    assert {name for name, _, _ in BAD} == set(params.CHECKS) - {"seed"}


@pytest.mark.parametrize("value", ["1 2 3", "1,2,3", "1, 2 3", [1, 2, 3], ("1", "2", "3")])
def test_lists_accept_spaces_commas_and_lists(value):
    assert params.check_parameter("seeds", value) == [1, 2, 3]
    assert params.check_parameter("emotions", "joy grief") == params.check_parameter("emotions", "joy,grief")


def test_good_values_pass_and_none_keeps_the_profile_default():
    assert params.check_parameters({"seeds": None, "k_values": "0.04 4000", "splits": "dev,test", "alpha": 0.01,
                                    "device": "cpu", "recompute": False, "k": 4000, "unknown": object}) is not None
    assert params.check_parameter("k_values", "0.04 4000") == [0.04, 4000.0]


def test_a_k_above_the_number_of_units_names_the_valid_range():
    with pytest.raises(ValueError, match=r"invalid mask size 500: give a count in 1\.\.192 or a fraction"):
        resolve_k(500, 192)
