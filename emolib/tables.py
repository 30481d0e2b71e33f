"""How every result table looks on a page: no bare row numbers, whole numbers as integers, p values never "0.000".

:func:`register` (called by :func:`emolib.plots.set_style`, once per chapter) makes IPython show every
``DataFrame`` through :func:`to_html`:

- a default ``RangeIndex`` (0, 1, 2, ...) is not shown: it numbers rows, it is not data;
- a float column whose values are all whole numbers (counts that passed through a float) is shown as integers;
- a p or q column (``p``, ``q``, ``p_holm``, ``p (Holm)``, ``q_bh``, ``p_max``, ...) is shown by
  :func:`format_p_value`: never "0.000" (a permutation p is never 0; its floor is stated on the page);
- a value too small for the decimals (not a p) is shown in scientific notation, never as "0.000";
- a header may wrap after an underscore, never inside a word.

Example:
    >>> frame = pd.DataFrame({"count": [90.0, 100.0], "p_holm": [0.0, 0.0312], "tau": [0.12345, 0.5]})
    >>> shown = formatted(frame)
    >>> shown["count"].tolist(), shown["p_holm"].tolist(), shown["tau"].tolist()
    (['90', '100'], ['< 0.0001', '0.031'], ['0.123', '0.500'])
    >>> "<th>0</th>" in to_html(frame)  # no row numbers
    False
"""

from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd

__all__ = ["is_p_column", "format_p_value", "formatted", "shown", "interval", "with_interval", "to_html", "styler_html",
           "register"]

_P_COLUMN = re.compile(r"^(?:p|q)(?:$|[_ \-(])|^(?:p|q)[_ ]?value|(?:^|[_ (])(?:p|q)$|[_ ]p_", re.IGNORECASE)
_ZWSP = "\u200b"


def is_p_column(name: object) -> bool:
    """Whether a column holds p or q values, by its name.

    Example:
        >>> [is_p_column(c) for c in ["p", "q_bh", "p (Holm)", "p_max", "perm_p", "power", "pc", "tau"]]
        [True, True, True, True, True, False, False, False]
    """
    return isinstance(name, str) and bool(_P_COLUMN.search(name.strip()))


def format_p_value(p: float, floor: float = 1e-4) -> str:
    """One p (or q) value for a table cell, never "0.000": "< floor" below ``floor``, two significant digits below
    0.01, three decimals below 1, else two significant digits (the paper's uncapped q can exceed 1); blank if NaN.

    Example:
        >>> format_p_value(0.0), format_p_value(0.0312), format_p_value(2.5e-3), format_p_value(1.0), format_p_value(1.7)
        ('< 0.0001', '0.031', '0.0025', '1', '1.7')
    """
    if p is None or p != p:
        return ""
    if p < floor:
        return f"< {floor:g}"
    return f"{p:.2g}" if p < 0.01 else f"{p:.3f}" if p < 1 else f"{p:.2g}"


def _whole(values: pd.Series) -> bool:
    finite = values.dropna()
    return len(finite) > 0 and bool(np.all(np.isfinite(finite))) and bool(np.all(finite == np.round(finite)))


def _row_numbers(index: pd.Index) -> bool:
    """Whether an index only numbers rows (unnamed integers, as left by a filter or a concat): not data."""
    return index.nlevels == 1 and index.name is None and pd.api.types.is_integer_dtype(index)


def _number(v: object, decimals: int) -> object:
    """One cell of an object column: a whole number as an integer, another float to ``decimals``, text as it is."""
    if v is None:
        return ""
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        return v
    if pd.isna(v):
        return ""
    if float(v).is_integer():
        return f"{int(v):,}" if abs(v) >= 10_000 else f"{int(v)}"
    text = f"{v:.{decimals}f}"
    return text.lstrip("-") if float(text) == 0 else text


def formatted(frame: pd.DataFrame, decimals: int = 3) -> pd.DataFrame:
    """``frame`` with its numeric columns as display strings (integers, p values, ``decimals`` decimals; never
    "-0.000"); numbers inside text columns too."""
    out = frame.copy()
    for column in frame.columns:
        values = frame[column]
        if values.dtype == object:
            out[column] = [_number(v, decimals) for v in values]
            continue
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            continue
        numbers = values.astype(float)
        if is_p_column(column):
            out[column] = [format_p_value(v) for v in numbers]
        elif pd.api.types.is_integer_dtype(values) or _whole(numbers):
            grouped = bool((numbers.abs() >= 10_000).any())  # thousands separators for the whole column or none
            out[column] = ["" if pd.isna(v) else f"{int(v):,}" if grouped else f"{int(v)}" for v in numbers]
        else:
            out[column] = ["" if pd.isna(v) else f"{v:.1e}" if 0 < abs(v) < 10.0 ** -decimals
                           else f"{v:.{decimals}f}".replace("-0.000", "0.000") for v in numbers]
    return out


def shown(frame: pd.DataFrame | pd.Series, formats: dict[str, str] | None = None) -> pd.DataFrame:
    """``frame`` ready for a page: a named index becomes the first column(s), a default one is dropped (the
    formatter of :func:`register` then shows no row numbers); ``formats`` (column -> ``str.format`` pattern) writes
    the columns that need more or other digits than the formatter's three decimals.

    Example:
        >>> shown(pd.DataFrame({"n": [90.0]}, index=pd.Index(["joy"], name="emotion"))).columns.tolist()
        ['emotion', 'n']
        >>> shown(pd.DataFrame({"d": [1e-7, np.nan]}), {"d": "{:+.1e}"})["d"].tolist()
        ['+1.0e-07', '']
    """
    frame = frame.to_frame() if isinstance(frame, pd.Series) else frame
    named = any(name is not None for name in frame.index.names)
    out = frame.reset_index() if named else frame.reset_index(drop=True)
    for column, pattern in (formats or {}).items():
        out[column] = ["" if pd.isna(v) else pattern.format(v) for v in out[column]]
    return out


def interval(low, high, decimals: int = 3) -> list[str]:
    """Interval bounds as "[low, high]" cells (blank where a bound is missing).

    Example:
        >>> interval([0.1, np.nan], [0.25, 0.3])
        ['[0.100, 0.250]', '']
    """
    return ["" if pd.isna(lo) or pd.isna(hi) else f"[{lo:.{decimals}f}, {hi:.{decimals}f}]" for lo, hi in zip(low, high)]


def with_interval(frame: pd.DataFrame, value: str, low: str = "ci_low", high: str = "ci_high", decimals: int = 3,
                  name: str | None = None) -> pd.DataFrame:
    """``frame`` with ``value`` and its interval in one text column "value [low, high]" (a table keeps to the
    article's width with one column where it had three).

    Example:
        >>> t = pd.DataFrame({"accuracy": [0.9812], "ci_low": [0.97], "ci_high": [0.99], "n": [3]})
        >>> with_interval(t, "accuracy").to_dict("records")
        [{'accuracy [95 % CI]': '0.981 [0.970, 0.990]', 'n': 3}]
    """
    name = name or f"{value} [95 % CI]"
    bounds = interval(frame[low], frame[high], decimals)
    cells = ["" if pd.isna(v) else f"{v:.{decimals}f}" + (f" {b}" if b else "") for v, b in zip(frame[value], bounds)]
    out = frame.drop(columns=[low, high])
    out[value] = cells
    return out.rename(columns={value: name})


def _breakable(name: object) -> str:
    return html.escape(str(name)).replace("_", "_" + _ZWSP).replace("/", "/" + _ZWSP)


def to_html(frame: pd.DataFrame, decimals: int = 3) -> str:
    """The page's HTML of a table: :func:`formatted`, without a default row index, headers that wrap at underscores."""
    shown = formatted(frame, decimals)
    index = not _row_numbers(frame.index)
    if isinstance(shown.columns, pd.MultiIndex):
        shown.columns = pd.MultiIndex.from_tuples([tuple(_breakable(c) for c in t) for t in shown.columns])
    else:
        shown.columns = [_breakable(c) for c in shown.columns]
    return shown.to_html(index=index, classes="dataframe", border=0, escape=False, na_rep="",
                         formatters={c: (lambda v: html.escape(str(v))) for c in shown.columns})


def styler_html(styler) -> str:
    """A pandas ``Styler`` as a page shows it: the chapter's own formats kept, but no default row numbers, p and q
    columns by :func:`format_p_value` and whole-number float columns as integers.

    Example:
        >>> html = styler_html(pd.DataFrame({"p": [0.0], "n": [90.0], "x": [0.5]}).style.format({"x": "{:.1f}"}))
        >>> "&lt; 0.0001" in html or "< 0.0001" in html, ">90<" in html, ">0.5<" in html, ">0<" in html
        (True, True, True, False)
    """
    data = styler.data
    if _row_numbers(data.index):
        styler = styler.hide(axis="index")
    p_columns = [c for c in data.columns if is_p_column(c[-1] if isinstance(c, tuple) else c)
                 and pd.api.types.is_numeric_dtype(data[c])]
    if p_columns:
        styler = styler.format(lambda v: html.escape(format_p_value(v)), subset=p_columns)
    whole = [c for c in data.columns if c not in p_columns and pd.api.types.is_float_dtype(data[c])
             and _whole(data[c].astype(float))]
    if whole:
        styler = styler.format(lambda v: "" if pd.isna(v) else f"{int(v):,}", subset=whole)
    return styler.to_html()


def register() -> None:
    """Show every ``DataFrame`` and ``Styler`` of this IPython session through :func:`to_html` and
    :func:`styler_html` (no-op outside IPython)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with every notebook environment
        return
    shell = get_ipython()
    if shell is None:
        return
    from pandas.io.formats.style import Styler

    shell.display_formatter.formatters["text/html"].for_type(pd.DataFrame, to_html)
    shell.display_formatter.formatters["text/html"].for_type(Styler, styler_html)
