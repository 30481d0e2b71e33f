"""Tests of the R / data.table numerics emulation (fread parsing, rowMeans, fwrite's 15 digits)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from emolib import rcompat


def _slow_parse(text: str) -> tuple[int, int, bool]:
    negative = text.startswith("-")
    mantissa, _, exp = text.lstrip("+-").partition("e")
    whole, _, frac = mantissa.partition(".")
    return int(whole + frac), (int(exp) if exp else 0) - len(frac), negative


def test_parse_texts_matches_a_plain_parser():
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(size=3000), rng.normal(size=500) * 1e-9, rng.normal(size=200) * 1e4,
                             [0.0, -0.0, 100.0, 1.5e-38, -3.4e38]]).astype(np.float32)
    texts = rcompat.float32_texts(values)
    acc, exponent, negative = rcompat.parse_texts(texts)
    ref = [_slow_parse(t) for t in texts.tolist()]
    np.testing.assert_array_equal(acc, [r[0] for r in ref])
    np.testing.assert_array_equal(exponent, [r[1] for r in ref])
    np.testing.assert_array_equal(negative, [r[2] for r in ref])


def test_fread_parse_is_long_double_product_not_correct_rounding():
    rng = np.random.default_rng(1)
    values = (rng.normal(size=200_000) * 0.1).astype(np.float32)
    r = rcompat.parse_float32_as_r(values)
    correct = rcompat.float32_texts(values).astype(np.float64)
    differ = r != correct
    assert 0 < differ.sum() < 200  # fread is off by one ulp for a few hundredths of a percent of values
    np.testing.assert_allclose(r, correct, rtol=3e-16, atol=0)
    k = np.flatnonzero(differ)[0]
    acc, e, neg = _slow_parse(str(values[k]))
    expected = float(np.longdouble(acc) * np.longdouble(f"1.0E{e}")) * (-1 if neg else 1)
    assert r[k] == expected


def test_row_means_gives_equal_results_for_equal_sums_in_any_order():
    """R's long-double sum is exact for these, so reordered terms give identical means (float64 does not)."""
    rng = np.random.default_rng(2)
    terms = 1 + rng.random((2000, 12)) * 99  # a 7-bit exponent range: the 64-bit long-double sum is exact
    shuffled = np.array([row[rng.permutation(12)] for row in terms])
    np.testing.assert_array_equal(rcompat.row_means(terms), rcompat.row_means(shuffled))
    assert (terms.sum(1) / 12 != shuffled.sum(1) / 12).any()
    exact = np.array([math.fsum(row) / 12 for row in terms])
    np.testing.assert_allclose(rcompat.row_means(terms), exact, rtol=2.3e-16)


def test_row_means_with_a_mask_averages_the_included_terms():
    x = np.array([[1.0, 2.0, 6.0], [3.0, 3.0, 9.0]])
    mask = np.array([[True, False, True], [True, True, True]])
    np.testing.assert_array_equal(rcompat.row_means(x, mask), [3.5, 5.0])


def test_expsig_table_holds_the_decimal_significands_of_powers_of_two():
    expsig, exppow = rcompat._fwrite_tables()
    # first entries of data.table's fwriteLookups.h (the 41-digit significands of 2^-1023, 2^-1022, 2^-1020)
    assert expsig[0] == float("1.1125369292536006915451163586662020321096") and exppow[0] == -308
    assert expsig[1] == float("2.2250738585072013830902327173324040642192")
    assert expsig[3] == float("8.9002954340288055323609308693296162568769")
    assert expsig[1023] == 1.0 and exppow[1023] == 0
    assert expsig[1023 + 10] == 1.024 and exppow[1023 + 10] == 3


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (3.1416, "3.1416"), (30460.0, "30460"), (0.0072, "0.0072"), (1 / 3, "0.333333333333333"),
        (2 / 3, "0.666666666666667"), (0.1 + 0.2, "0.3"), (1e-20, "1e-20"), (0.0, "0"), (-2.5, "-2.5"),
        (123456789012345678.0, "123456789012346000"), (1.2345e120, "1.2345e+120"), (0.0001234, "0.0001234"),
        (1.5e-5, "1.5e-05"),
        # fwrite is not correctly rounded: 0.96560817322782644 -> 0.965608173227827 (correct: ...826)
        (0.9656081732278264, "0.965608173227827"),
    ],
)  # fmt: skip
def test_fwrite_text(value, text):
    assert rcompat.fwrite_text(np.array([value])) == [text]


def test_fwrite_round_trip_is_the_value_of_the_written_text():
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.random(5000) * 3, rng.random(2000) * 1e-4, [2.1804227500169673, 2.1804227500169726]])
    back = rcompat.fwrite_round_trip(x)
    texts = np.array([float(t) for t in rcompat.fwrite_text(x)])
    np.testing.assert_allclose(back, texts, rtol=2.3e-16, atol=0)  # fread's parse is within one ulp
    for a, b in itertools.combinations(range(len(x) - 40, len(x)), 2):  # ties and order follow the text
        assert (back[a] == back[b]) == (texts[a] == texts[b])
        assert (back[a] < back[b]) == (texts[a] < texts[b])
    assert back[-1] == back[-2]  # two doubles 12 ulps apart become one 15-digit value (a tie)
    assert (back != np.array([float("%.15g" % v) for v in x])).any()  # differs from correct rounding
