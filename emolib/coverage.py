"""The coverage table: every figure and table of the two works, with the book's counterpart and how close it is.

The table is ``data/coverage.csv`` (columns ``work, item, counterpart, link, match, reason``). ``link`` is
``<chapter>#<anchor>``: a figure's ``name`` or a section's id in ``book/<chapter>.md``. ``match`` is one of
:data:`MATCHES`; every row without a counterpart, or not an exact match, gives a ``reason``.

Example:
    >>> table = load_coverage()
    >>> sorted(set(table["match"])) == sorted(MATCHES)
    True
    >>> check_coverage(table)
    []
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pandas as pd

from emolib.data import data_path

__all__ = ["MATCHES", "load_coverage", "check_coverage", "coverage_counts", "coverage_html"]

#: how closely a counterpart matches, from closest to absent
MATCHES: tuple[str, ...] = ("same data, same method", "recomputed", "differs: see Differences", "missing: why")
_COLUMNS = ["work", "item", "counterpart", "link", "match", "reason"]


def load_coverage() -> pd.DataFrame:
    """``data/coverage.csv`` as a frame (empty cells as ``""``)."""
    table = pd.read_csv(data_path("coverage.csv"), dtype=str, keep_default_na=False)
    if list(table.columns) != _COLUMNS:
        raise ValueError(f"coverage.csv columns must be {_COLUMNS}, got {list(table.columns)}")
    return table


def _anchors(source: Path) -> set[str]:
    """Figure names and section ids a chapter defines (section ids as docutils makes them)."""
    from docutils.nodes import make_id

    text = source.read_text()
    names = set(re.findall(r"(?m)^\s*(?::name:|name:)\s*(\S+)\s*$", text))
    names |= {make_id(h) for h in re.findall(r"(?m)^#{1,6} +(.+?)\s*$", text)}
    return names


def check_coverage(table: pd.DataFrame | None = None, book: Path | None = None) -> list[str]:
    """Problems of the coverage table: unknown match, a row with neither counterpart nor reason, a row that is
    not an exact match without a reason, a link to a missing chapter or anchor. Empty when it is sound.

    Args:
        table: the table (default :func:`load_coverage`).
        book: the folder of the chapter sources (default the repository's ``book/``; skipped when absent).
    """
    table = load_coverage() if table is None else table
    book = book or Path(__file__).resolve().parent.parent / "book"
    problems = []
    for i, row in table.iterrows():
        where = f"row {i + 2} ({row['item']})"
        if row["match"] not in MATCHES:
            problems.append(f"{where}: unknown match {row['match']!r}; valid: {', '.join(MATCHES)}")
        if not row["reason"].strip() and (not row["link"] or row["match"] not in MATCHES[:2]):
            problems.append(f"{where}: no reason given")
        if row["link"] and book.is_dir():
            chapter, _, anchor = row["link"].partition("#")
            source = book / f"{chapter}.md"
            if not source.is_file():
                problems.append(f"{where}: links to a missing chapter {chapter!r}")
            elif anchor and anchor not in _anchors(source):
                problems.append(f"{where}: {chapter} has no figure or section {anchor!r}")
    return problems


def coverage_counts(table: pd.DataFrame | None = None) -> pd.Series:
    """Rows per match status, in the order of :data:`MATCHES`."""
    table = load_coverage() if table is None else table
    return table["match"].value_counts().reindex(list(MATCHES), fill_value=0)


def coverage_html(table: pd.DataFrame | None = None, suffix: str = ".html") -> str:
    """The table as HTML, one section per work, each link to ``<chapter><suffix>#<anchor>``."""
    table = load_coverage() if table is None else table
    parts = []
    for work, group in table.groupby("work", sort=False):
        rows = []
        for row in group.itertuples():
            chapter, _, anchor = row.link.partition("#")
            target = f"{chapter}{suffix}" + (f"#{anchor}" if anchor else "")
            counterpart = (f'<a href="{html.escape(target)}">{html.escape(row.counterpart or chapter)}</a>'
                           if row.link else "—")
            reason = html.escape(row.reason).replace("`", "")
            match = f"<b>{html.escape(row.match)}</b>" + (f"<br>{reason}" if reason else "")
            rows.append(f"<tr><td>{html.escape(row.item)}</td><td>{counterpart}</td><td>{match}</td></tr>")
        parts.append(f"<h3>{html.escape(work)}</h3>\n<table class=\"table coverage\" style=\"table-layout: fixed; "
                     "width: 100%\"><colgroup><col style=\"width: 32%\"><col style=\"width: 30%\"><col></colgroup>"
                     "<thead><tr><th>Figure or table</th><th>In this book</th><th>Match and why</th></tr></thead>"
                     "<tbody>"
                     + "".join(rows) + "</tbody></table>")
    return "\n".join(parts)
