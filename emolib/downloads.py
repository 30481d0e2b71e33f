"""Downloads on the website: a CSV link under every table and a PNG link under every figure.

Run on the rendered HTML by :func:`emolib.book.build_book`: each ``<table>`` of a page's article is written as
CSV to ``_tables/<page>-<n>.csv`` in the HTML folder, with a link under the table; each figure (a ``<figure>``
holding an image of ``_images/``) gets a link to its PNG under the caption.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "book").mkdir()
    >>> _ = (root / "book" / "p.html").write_text('<html><body><article class="bd-article"><table>'
    ...     '<tr><th>a</th><th>b</th></tr><tr><td>1</td><td>x, y</td></tr></table></article></body></html>')
    >>> add_downloads(root)
    {'tables': 1, 'figures': 0}
    >>> print((root / "_tables" / "book-p-1.csv").read_text().strip())
    a,b
    1,"x, y"
"""

from __future__ import annotations

import csv
import io
import logging
import os
from pathlib import Path

__all__ = ["TABLES_DIR", "add_downloads", "table_csv"]

logger = logging.getLogger(__name__)

#: folder of the HTML build holding the tables' CSV files
TABLES_DIR = "_tables"


def table_csv(table: "bs4.Tag") -> str:  # noqa: F821
    """The rows of an HTML table (header rows included) as CSV text."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for tr in table.find_all("tr"):
        writer.writerow([cell.get_text(" ", strip=True) for cell in tr.find_all(["th", "td"])])
    return out.getvalue()


def add_downloads(html: str | os.PathLike) -> dict[str, int]:
    """Add the download links to every page of the HTML folder ``html``; returns the counts added."""
    from bs4 import BeautifulSoup

    html = Path(html)
    tables_dir = html / TABLES_DIR
    counts = {"tables": 0, "figures": 0}
    for page in sorted(html.rglob("*.html")):
        rel = page.relative_to(html)
        if rel.parts[0].startswith("_"):
            continue
        soup = BeautifulSoup(page.read_text(), "html.parser")
        article = soup.select_one("article.bd-article") or soup.body
        if article is None:
            continue
        up = os.path.relpath(html, page.parent)
        changed = False
        for n, table in enumerate(article.find_all("table"), start=1):
            name = f"{rel.with_suffix('').as_posix().replace('/', '-')}-{n}.csv"
            tables_dir.mkdir(exist_ok=True)
            (tables_dir / name).write_text(table_csv(table))
            link = soup.new_tag("p", attrs={"class": "emobook-download"})
            anchor = soup.new_tag("a", href=f"{up}/{TABLES_DIR}/{name}", download=name)
            anchor.string = "Download this table (CSV)"
            link.append(anchor)
            table.insert_after(link)
            counts["tables"] += 1
            changed = True
        for figure in article.find_all("figure"):
            img = figure.find("img")
            src = img.get("src", "") if img is not None else ""
            if "_images/" not in src:
                continue
            link = soup.new_tag("p", attrs={"class": "emobook-download"})
            anchor = soup.new_tag("a", href=src, download=Path(src).name)
            anchor.string = f"Download this figure ({Path(src).suffix.lstrip('.').upper()})"
            link.append(anchor)
            figure.append(link)
            counts["figures"] += 1
            changed = True
        if changed:
            page.write_text(str(soup))
    logger.info("download links: %d tables, %d figures", counts["tables"], counts["figures"])
    return counts
