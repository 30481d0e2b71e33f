"""Bit-level emulation of the R numerics behind the paper's neuron ranking.

The original pipeline (``preprocess3_PLM_neurons_activation_by_neuron.R`` then
``analysis_RSA_by_neuron.R``) read each activation CSV with ``data.table::fread``, averaged the
per-seed distances with ``rowMeans`` (long-double sums), wrote the mean RDMs with
``data.table::fwrite`` (via ``bruceR::export``: 15 significant digits, its own rounding) and read them
back with ``fread``. Kendall's tau only sees the order and the ties of each unit's 351 distances, and
ties decide near-tied ranks, so the paper path reproduces these steps exactly:

- :func:`fread_doubles`: ``fread``'s parser (``acc * 10^e`` in x87 long double, then double);
- :func:`row_means`: ``rowMeans`` (sequential long-double sum over the last axis, divided in long
  double, rounded to double);
- :func:`fwrite_round_trip`: the double ``fread`` returns for the text ``fwrite`` writes.

numpy's ``longdouble`` is the same 80-bit x87 type as R's ``long double`` on x86-64 Linux.

Example:
    >>> import numpy as np
    >>> from emolib.rcompat import fwrite_text
    >>> fwrite_text(np.array([1 / 3, 30460.0, 0.0072, 1e-20]))
    ['0.333333333333333', '30460', '0.0072', '1e-20']
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal
from functools import lru_cache

import numpy as np

__all__ = [
    "fread_doubles", "parse_texts", "float32_texts", "parse_float32_as_r", "row_means",
    "fwrite_digits", "fwrite_text", "fwrite_round_trip",
]

_LD = np.longdouble
_NUM_SF = 15
_POW10_INT = 10 ** np.arange(19, dtype=np.int64)


def _check_longdouble() -> None:
    if np.finfo(_LD).nmant < 63:
        raise RuntimeError(f"R emulation needs 80-bit long double; numpy's longdouble here has {np.finfo(_LD).nmant} "
                           "mantissa bits (this platform cannot reproduce the original R arithmetic)")


@lru_cache(maxsize=None)
def _pow10(e: int) -> np.longdouble:
    """``pow10lookup``: the long-double literal ``1.0E<e>L`` (correctly rounded, as the C compiler parses it)."""
    return _LD(f"1.0E{e}")


def fread_doubles(acc: np.ndarray, exponent: np.ndarray, negative: np.ndarray | None = None) -> np.ndarray:
    """``fread``'s double for decimal texts given as integer digits ``acc`` and exponent (value acc * 10^e).

    Example:
        >>> fread_doubles(np.array([13645056]), np.array([-8]))
        array([0.13645056])
    """
    _check_longdouble()
    acc, exponent = np.asarray(acc, dtype=np.int64), np.asarray(exponent, dtype=np.int64)
    if (np.abs(exponent) > 300).any():
        raise ValueError("exponents beyond +-300 are not emulated")
    values, inverse = np.unique(exponent, return_inverse=True)
    scale = np.array([_pow10(int(e)) for e in values], dtype=_LD)[inverse]
    r = (acc.astype(_LD) * scale).astype(np.float64)
    return r if negative is None else np.where(np.asarray(negative, dtype=bool), -r, r)


def parse_texts(texts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decimal texts -> ``(acc, exponent, negative)`` as ``fread`` reads them (value = acc * 10^exponent).

    Vectorised over a numpy unicode array (``[-+]digits[.digits][e[-+]digits]``, up to 18 digits).

    Example:
        >>> parse_texts(np.array(["-2.1646807e-08", "0.00086939475", "100.0"]))
        (array([21646807, 86939475,     1000]), array([-15, -11,  -1]), array([ True, False, False]))
    """
    texts = np.asarray(texts, dtype=str).ravel()
    chars = texts.reshape(-1, 1).view(np.uint32).reshape(texts.size, -1).astype(np.int16)  # [N, width]
    digit = (chars >= 48) & (chars <= 57)
    in_exponent = np.cumsum(chars == ord("e"), axis=1) > 0
    after_dot = np.cumsum(chars == ord("."), axis=1) > 0

    def number(mask: np.ndarray) -> np.ndarray:  # the digits under mask read as one integer
        later = np.cumsum(mask[:, ::-1], axis=1, dtype=np.int8)[:, ::-1] - mask  # mask digits right of each
        return (np.where(mask, chars - 48, 0) * _POW10_INT[np.minimum(later, 18)]).sum(1)

    mantissa = digit & ~in_exponent
    if (mantissa.sum(1) > 18).any():
        raise ValueError("texts with more than 18 significant digits are not emulated")
    exp = number(digit & in_exponent)
    exp_negative = ((chars == ord("-")) & in_exponent).any(1)
    exponent = np.where(exp_negative, -exp, exp) - (mantissa & after_dot).sum(1)
    return number(mantissa), exponent, chars[:, 0] == ord("-")


def float32_texts(values: np.ndarray) -> np.ndarray:
    """Shortest round-trip texts of float32 ``values`` (as pandas wrote the released activation CSVs)."""
    return np.asarray(values, dtype=np.float32).astype("U16")  # at most 15 characters for float32


def parse_float32_as_r(values: np.ndarray) -> np.ndarray:
    """The doubles R's ``fread`` read from the CSV texts of float32 ``values`` (same shape, float64)."""
    values = np.asarray(values, dtype=np.float32)
    flat, out = values.ravel(), np.empty(values.size)
    for start in range(0, flat.size, 1 << 20):  # bounded memory: ~50 MB per block
        acc, exponent, negative = parse_texts(float32_texts(flat[start : start + (1 << 20)]))
        out[start : start + (1 << 20)] = fread_doubles(acc, exponent, negative)
    return out.reshape(values.shape)


def row_means(x: np.ndarray, weights_mask: np.ndarray | None = None) -> np.ndarray:
    """``rowMeans`` over the LAST axis: long-double running sum in order, divided by the count, to double.

    Args:
        x: ``[..., k]`` doubles.
        weights_mask: optional boolean ``[..., k]`` (broadcastable) of the terms to include; the mean
            then runs over the included terms only (``na.rm``-like).
    """
    _check_longdouble()
    x = np.asarray(x, dtype=np.float64)
    acc = np.zeros(x.shape[:-1], dtype=_LD)
    count = np.zeros(x.shape[:-1], dtype=_LD)
    for k in range(x.shape[-1]):
        if weights_mask is None:
            acc += x[..., k].astype(_LD)
        else:
            use = np.broadcast_to(np.asarray(weights_mask, bool)[..., k], acc.shape)
            acc += np.where(use, x[..., k], 0.0).astype(_LD)
            count += use
    return (acc / (_LD(x.shape[-1]) if weights_mask is None else count)).astype(np.float64)


@lru_cache(maxsize=1)
def _fwrite_tables() -> tuple[np.ndarray, np.ndarray]:
    """``expsig``/``exppow`` of data.table's ``fwriteLookups.h``: 2^(i-1023) = expsig[i] * 10^exppow[i]."""
    context = Context(prec=90)
    expsig, exppow = np.empty(2048), np.empty(2048, dtype=np.int64)
    for i in range(2048):
        text = format(context.power(Decimal(2), i - 1023), ".40e")  # "%.40Le" of the exact power of two
        mantissa, _, exp = text.partition("e")
        expsig[i], exppow[i] = float(mantissa), int(exp)  # the compiler parses the 41-digit literal to double
    return expsig, exppow


def fwrite_digits(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``writeFloat64``'s 15 significant digits: ``(l, exp)`` with value ``l * 10^(exp - 14)``, ``l < 10^15``.

    Zero gives ``(0, 0)``; the sign is dropped (callers pass magnitudes). Follows data.table's
    ``fwrite.c``: mantissa times the decimal significand of 2^e in double, times 10^15, truncated,
    then rounded half-up on the 16th digit (not correctly rounded decimal conversion).
    """
    x = np.abs(np.asarray(x, dtype=np.float64))
    if not np.isfinite(x).all():
        raise ValueError("fwrite emulation needs finite values")
    expsig, exppow = _fwrite_tables()
    bits = x.view(np.uint64)
    exponent = ((bits >> np.uint64(52)) & np.uint64(0x7FF)).astype(np.int64)
    fraction = (bits & np.uint64(0xFFFFFFFFFFFFF)).astype(np.float64)
    y = (1.0 + fraction * 2.0**-52) * expsig[exponent]  # 1+acc is exact; one double rounding
    exp = exppow[exponent].copy()
    big = y >= 9.99999999999999
    y = np.where(big, y / 10, y)
    exp += big
    with np.errstate(invalid="ignore"):
        l16 = (y * 1e15).astype(np.uint64)  # C truncation of a positive double
    l15 = (l16 + np.where(l16 % np.uint64(10) >= np.uint64(5), np.uint64(10), np.uint64(0))) // np.uint64(10)
    zero = x == 0
    return np.where(zero, np.uint64(0), l15), np.where(zero, 0, exp)


def _strip_zeros(l15: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Digits without trailing zeros and their count (``sf``) as fwrite prints them."""
    digits = l15.astype(np.uint64).copy()
    zeros = np.zeros(digits.shape, dtype=np.int64)
    for _ in range(_NUM_SF + 1):
        more = (digits % np.uint64(10) == 0) & (digits > 0)
        if not more.any():
            break
        digits = np.where(more, digits // np.uint64(10), digits)
        zeros += more
    return digits, zeros


def fwrite_text(x: np.ndarray) -> list[str]:
    """The texts ``fwrite`` writes for ``x`` (decimal or scientific as fwrite chooses, scipen 0)."""
    x = np.asarray(x, dtype=np.float64).ravel()
    l15, exp = fwrite_digits(x)
    digits, zeros = _strip_zeros(l15)
    out = []
    for value, d, z, e in zip(x.tolist(), digits.tolist(), zeros.tolist(), exp.tolist()):
        if d == 0:
            out.append("0")
            continue
        sf = _NUM_SF - z
        if sf == 0:  # 999..95 rounded up to 10^15
            sf, e = 1, e + 1
        s = str(d)
        dr = sf - e - 1
        if dr <= 0:
            width, text = sf - dr, s + "0" * (-dr)
        elif sf > dr:
            width, text = sf + 1, s[: sf - dr] + "." + s[sf - dr :]
        else:
            width, text = dr + 2, "0." + "0" * (dr - sf) + s
        if width > sf + (sf > 1) + 2 + (3 if abs(e) > 99 else 2):
            mantissa = s[0] + ("." + s[1:] if sf > 1 else "")
            text = f"{mantissa}e{'-' if e < 0 else '+'}{abs(e):02d}"
        out.append(("-" if value < 0 else "") + text)
    return out


def fwrite_round_trip(x: np.ndarray) -> np.ndarray:
    """The doubles ``fread`` reads back from ``fwrite``'s text of ``x`` (same shape, float64).

    Example:
        >>> fwrite_round_trip(np.array([0.1 + 0.2]))
        array([0.3])
    """
    x = np.asarray(x, dtype=np.float64)
    l15, exp = fwrite_digits(x.ravel())
    digits, zeros = _strip_zeros(l15)
    sf = _NUM_SF - zeros
    overflow = (digits > 0) & (sf == 0)
    sf = np.where(overflow, 1, sf)
    exp = exp + overflow
    last = exp - sf + 1  # exponent of the last printed digit: the text reads as digits * 10^last
    # (integers print their zeros, e.g. "30460" = 30460 * 10^0 rather than 3046 * 10^1: the same
    # exact long-double product whenever it is below 2**64, which holds for every distance here)
    return fread_doubles(digits.astype(np.int64), last, x.ravel() < 0).reshape(x.shape)
