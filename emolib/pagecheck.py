"""Static checks of a built book (no browser): what the HTML files and the executed notebooks of a build say.

:func:`check_static` reads a build's ``html`` folder (its pages, ``_images/`` and the executed notebooks that
Jupyter Book copies to ``_sources/``) and returns ``{page: problems}`` for

* broken internal links: a relative ``<a href>`` whose file is not in the build, or whose ``#fragment`` is no
  ``id`` of that file (``broken link: book/intro -> #references.md``);
* figures whose text is too small to read: the PNG's ``emobook:min-text-px`` tEXt chunk (the smallest text height
  in the image's own pixels, written by :mod:`emolib.plots`) scaled to the width the page shows it at must be at
  least :data:`MIN_TEXT_PX`; a figure PNG without the chunk is reported as of unknown size. The shown width comes
  from the browser (:mod:`emolib.sitecheck`) or, without one, is ``min(natural width, 690)``;
* the same image (same PNG bytes) in two figures anywhere in the site;
* a glued key (myst-nb ``glue``) with two different values on two pages;
* a ``parameters`` cell that shows other values than the build used (``metadata.papermill.parameters``);
* a p or q value shown as exactly 0.000 in the text of a page or in a p/q column of a table.

:func:`emolib.sitecheck.check_site` runs these checks beside the browser's; ``python -m emolib.sitecheck
--static _build`` runs them alone on a build folder.

Example:
    >>> from emolib.pagecheck import check_static
    >>> check_static("_build/html")  # doctest: +SKIP
    {'book/intro': ['broken link: book/intro -> #references.md']}
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

__all__ = ["site_pages", "MIN_TEXT_PX", "TEXT_PX_KEY", "DEFAULT_SHOWN_WIDTH", "ParsedPage", "parse_page",
           "broken_links", "text_size_problems", "static_widths", "duplicate_figures", "glue_values",
           "glue_conflicts", "parameter_mismatches", "zero_p_values", "check_static"]

#: the smallest readable text height on the page, in CSS pixels
MIN_TEXT_PX = 9.0
#: the PNG tEXt chunk holding the smallest text height of a figure, in the image's natural pixels
TEXT_PX_KEY = "emobook:min-text-px"
#: width of the content column at a 1280-px window: an image is shown at most this wide (without a browser)
DEFAULT_SHOWN_WIDTH = 690
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
#: a p or q value written as exactly zero: ``p = 0.000``, ``p 0.000``, ``q_holm: 0.0``, ``p-value 0.00``
ZERO_P = re.compile(r"(?<![\w.\-])(?:[pq](?:[_\-][\w\-]*)?|[pq]-?values?)\s*(?:[=:≤<]\s*)?"
                    r"0\.0+(?:e[+-]?0+)?(?!\d|\.\d)", re.IGNORECASE)
_P_HEADER = re.compile(r"^(?:[pq]|[pq][_\- ].*|[pq]-?values?|[pq] ?\(.*\))$", re.IGNORECASE)
_ZERO = re.compile(r"^[<≤=]?\s*0\.0+(?:e[+-]?0+)?$")


@dataclass
class ParsedPage:
    """What :func:`parse_page` reads from one HTML file."""

    ids: set[str] = field(default_factory=set)
    links: list[str] = field(default_factory=list)
    #: ``(src, figure number or None, in a cell output)`` of every ``<img>``
    images: list[tuple[str, int | None, bool]] = field(default_factory=list)
    #: each table as (rows of cell texts, how many of the first rows came from ``<thead>``)
    tables: list[tuple[list[list[str]], int]] = field(default_factory=list)
    #: the page's text outside code (scripts, styles, code cells' sources)
    text: list[str] = field(default_factory=list)
    #: ``(src, alt)`` of every image in a figure or a cell output
    alts: list[tuple[str, str]] = field(default_factory=list)


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = ParsedPage()
        self.stack: list[tuple[str, bool, bool, bool]] = []  # tag, in figure, in output, in code
        self.figures = 0
        self.cell: list[str] | None = None

    def _state(self) -> tuple[bool, bool, bool]:
        return self.stack[-1][1:] if self.stack else (False, False, False)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if a.get("id"):
            self.page.ids.add(a["id"])
        if tag == "a" and a.get("name"):
            self.page.ids.add(a["name"])
        if tag == "a" and "href" in a:
            self.page.links.append(a["href"])
        in_figure, in_output, in_code = self._state()
        classes = a.get("class", "").split()
        if tag == "img":
            self.page.images.append((a.get("src", ""), self.figures if in_figure else None, in_output))
            if in_figure or in_output:
                self.page.alts.append((a.get("src", ""), a.get("alt", "")))
        if tag in _VOID:
            return
        if tag == "figure":
            self.figures += 1
            in_figure = True
        in_output = in_output or "cell_output" in classes or "output" in classes
        in_code = in_code or tag in ("script", "style") or "cell_input" in classes
        self.stack.append((tag, in_figure, in_output, in_code))
        if tag == "table":
            self.page.tables.append(([], 0))
        elif tag == "tr" and self.page.tables:
            self.page.tables[-1][0].append([])
            if any(t == "thead" for t, *_ in self.stack):
                rows, head = self.page.tables[-1]
                self.page.tables[-1] = (rows, head + 1)
        elif tag in ("td", "th") and self.page.tables and self.page.tables[-1][0]:
            self.cell = []
            span = int(a.get("colspan") or 1) if (a.get("colspan") or "1").isdigit() else 1
            self.page.tables[-1][0][-1].extend([""] * (span - 1))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None and self.page.tables and self.page.tables[-1][0]:
            self.page.tables[-1][0][-1].append(" ".join("".join(self.cell).split()))
            self.cell = None
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)
        if not self._state()[2] and data.strip():
            self.page.text.append(data)


def parse_page(path: str | os.PathLike) -> ParsedPage:
    """Ids, links, images, tables and text of one HTML file."""
    parser = _Parser()
    parser.feed(Path(path).read_text(errors="replace"))
    return parser.page


def site_pages(html: str | os.PathLike) -> list[Path]:
    """Every content page of a built book (``genindex``, ``search`` and redirect stubs excluded)."""
    html = Path(html)
    pages = []
    for path in sorted(html.rglob("*.html")):
        rel = path.relative_to(html)
        if rel.parts[0].startswith("_") or rel.name in ("genindex.html", "search.html"):
            continue
        if 'http-equiv="Refresh"' in path.read_text(errors="replace")[:2000]:
            continue  # Jupyter Book's index.html only redirects to the root page
        pages.append(path)
    return pages


def _name(html: Path, page: Path) -> str:
    return page.relative_to(html).with_suffix("").as_posix()


def broken_links(html: Path, page: Path, parsed: ParsedPage, ids: dict[Path, set[str]]) -> list[str]:
    """``broken link: page -> href`` for each relative link of ``page`` that leads to no file of the build or to
    no ``id`` in it; ``ids`` caches the ids of the pages read so far."""
    out = []
    for href in dict.fromkeys(parsed.links):
        parts = urlsplit(href)
        if parts.scheme or parts.netloc or href in ("", "#"):
            continue
        target = (page.parent / unquote(parts.path)).resolve() if parts.path else page.resolve()
        if parts.path.endswith("/") or target.is_dir():
            target = target / "index.html"
        inside = target == html.resolve() or html.resolve() in target.parents
        ok = inside and target.is_file()
        if ok and parts.fragment and target.suffix == ".html":
            if target not in ids:
                ids[target] = parse_page(target).ids
            ok = unquote(parts.fragment) in ids[target]
        if not ok:
            out.append(f"broken link: {_name(html, page)} -> {href}")
    return out


def _figure_png(page: Path, src: str) -> Path | None:
    parts = urlsplit(src)
    if parts.scheme or parts.netloc or "_images/" not in parts.path:
        return None
    path = (page.parent / unquote(parts.path)).resolve()
    return path if path.suffix.lower() == ".png" and path.is_file() else None


def text_size_problems(page: Path, shown: list[tuple[str, float, float]], min_px: float = MIN_TEXT_PX) -> list[str]:
    """``text too small`` / ``figure text size unknown`` for figure images of ``page`` given as
    ``(src, natural width, shown width)`` (widths in pixels; a shown width of 0 counts as the default)."""
    from PIL import Image

    out = []
    for src, natural, width in dict.fromkeys(shown):
        path = _figure_png(page, src)
        if path is None:
            continue
        name = f"_images/{path.name}"
        with Image.open(path) as image:
            natural = natural or image.width
            value = getattr(image, "text", {}).get(TEXT_PX_KEY)
        width = width or min(natural, DEFAULT_SHOWN_WIDTH)
        try:
            size = float(value) * width / natural
        except (TypeError, ValueError):
            out.append(f"figure text size unknown: {name} (no {TEXT_PX_KEY} in the PNG)")
            continue
        if size < min_px:
            out.append(f"text too small: {name} ({size:.1f} px rendered)")
    return out


def static_widths(page: Path, parsed: ParsedPage) -> list[tuple[str, float, float]]:
    """``(src, natural width, shown width)`` of the figure images of a page without a browser:
    shown at ``min(natural width, DEFAULT_SHOWN_WIDTH)``."""
    from PIL import Image

    out = []
    for src, figure, in_output in parsed.images:
        path = _figure_png(page, src)
        if path is not None and (figure is not None or in_output):
            with Image.open(path) as image:
                out.append((src, float(image.width), float(min(image.width, DEFAULT_SHOWN_WIDTH))))
    return out


def duplicate_figures(html: Path, parsed: dict[Path, ParsedPage]) -> list[tuple[str, str]]:
    """``(page, problem)``: the same PNG bytes shown by two figures (or two cell outputs) of the site."""
    seen: dict[str, str] = {}
    out = []
    for page, p in parsed.items():
        images = 0
        for src, figure, in_output in p.images:
            path = _figure_png(page, src)
            if path is None or (figure is None and not in_output):
                continue
            images += 1
            label = f"{_name(html, page)} fig{figure}" if figure is not None else f"{_name(html, page)} image{images}"
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest in seen and seen[digest] != label:
                out.append((_name(html, page), f"same image in two figures: {seen[digest]}, {label}"))
            seen.setdefault(digest, label)
    return out


def _notebooks(html: Path) -> dict[str, dict]:
    """The executed notebooks of the build (``html/_sources``), by page name."""
    sources = html / "_sources"
    out = {}
    for path in sorted(sources.rglob("*.ipynb")) if sources.is_dir() else []:
        try:
            out[path.relative_to(sources).with_suffix("").as_posix()] = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
    return out


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def glue_values(notebook: dict) -> list[tuple[str, str]]:
    """``(key, shown value)`` of every ``glue`` output of a notebook (its Markdown, else its plain text)."""
    out = []
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            scrap = output.get("metadata", {}).get("scrapbook")
            if not isinstance(scrap, dict) or "name" not in scrap:
                continue
            data, prefix = output.get("data", {}), scrap.get("mime_prefix", "")
            for mime in ("text/markdown", "text/plain"):
                if prefix + mime in data or mime in data:
                    out.append((scrap["name"], _text(data.get(prefix + mime, data.get(mime)))))
                    break
    return out


def _short(value: str, n: int = 60) -> str:
    value = " ".join(value.split())
    return repr(value if len(value) <= n else value[: n - 1] + "…")


def glue_conflicts(notebooks: dict[str, dict]) -> list[tuple[str, str]]:
    """``(page, problem)``: a glue key given different values on two pages (a page's last value of a key counts)."""
    first: dict[str, tuple[str, str]] = {}
    out = []
    for page, notebook in notebooks.items():
        for key, value in dict(glue_values(notebook)).items():
            if key not in first:
                first[key] = (value, page)
            elif first[key][0] != value:
                out.append((page, f"glue key {key}: {_short(first[key][0])} on page {first[key][1]}, "
                                  f"{_short(value)} on page {page}"))
    return out


def _assignments(source: str) -> dict[str, object]:
    values = {}
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return values
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                values[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                values[node.targets[0].id] = ast.unparse(node.value)
    return values


def parameter_mismatches(notebooks: dict[str, dict]) -> list[tuple[str, str]]:
    """``(page, problem)``: a ``parameters`` cell that shows another value than papermill's
    ``metadata.papermill.parameters`` (the values the build ran with) for a parameter the build set."""
    out = []
    for page, notebook in notebooks.items():
        used = (notebook.get("metadata", {}).get("papermill") or {}).get("parameters") or {}
        if not used:
            continue
        cells = [c for c in notebook.get("cells", []) if "parameters" in c.get("metadata", {}).get("tags", [])]
        if not cells:
            out.append((page, f"no parameters cell, but the build set {', '.join(sorted(used))}"))
            continue
        shown = _assignments(_text(cells[0].get("source", "")))
        for name, value in used.items():
            if name not in shown:
                out.append((page, f"parameters cell lacks {name} (the build used {value!r})"))
            elif shown[name] != value:
                out.append((page, f"parameters cell shows {name} = {shown[name]!r}, the build used {value!r}"))
    return out


def zero_p_values(parsed: ParsedPage) -> list[str]:
    """``p-value shown as 0.000``: in the page's text, or in a table column headed p, q, p_…, q_… or p-value."""
    out = []
    for match in ZERO_P.finditer(" ".join(parsed.text)):  # text nodes joined: a glued value is a node of its own
        out.append(f"p-value shown as 0.000: {_short(match.group())}")
    for n, (rows, head) in enumerate(parsed.tables, 1):
        header: dict[int, str] = {}
        for row in rows[:head] if head else rows[:1]:
            for i, cell in enumerate(row):
                if cell:
                    header[i] = cell
        for i, name in header.items():
            if not _P_HEADER.match(name.strip()):
                continue
            zeros = [row for row in rows[head or 1:] if i < len(row) and _ZERO.match(row[i])]
            if zeros:
                label = zeros[0][0] if zeros[0][0] and i != 0 else "?"
                out.append(f"p-value shown as 0.000: column {name!r} of table {n}, {len(zeros)} row(s), "
                           f"e.g. row {label!r}: {zeros[0][i]!r}")
    return list(dict.fromkeys(out))


def missing_alt_text(parsed: ParsedPage) -> list[str]:
    """Figures whose alt text is empty or only names the image file (a path, a ``.png``, a content hash): a reader
    who cannot see the image learns nothing from it.

    Example:
        >>> page = ParsedPage(alts=[("_images/ab.png", "_images/ab.png"), ("_images/cd.png", "Accuracy per layer.")])
        >>> missing_alt_text(page)
        ["figure without alt text: _images/ab.png (alt '_images/ab.png')"]
    """
    out = []
    for src, alt in parsed.alts:
        name = alt.strip()
        if not name or "/" in name or name.lower().endswith((".png", ".svg", ".jpg")) or re.fullmatch(r"[0-9a-f]{32,}", name):
            out.append(f"figure without alt text: {src} (alt {name!r})")
    return out


def check_static(html: str | os.PathLike, text_sizes: bool = True) -> dict[str, list[str]]:
    """Every static check over a build's ``html`` folder; ``{page: problems}`` for the pages with problems.

    Args:
        html: the HTML folder of a build (``_build/html``).
        text_sizes: check the figures' text size at :func:`static_widths` (False: the browser measures the widths
            and :func:`emolib.sitecheck.check_page` checks them).
    """
    html = Path(html)
    bad: dict[str, list[str]] = defaultdict(list)
    parsed = {page: parse_page(page) for page in site_pages(html)}
    ids = {page.resolve(): p.ids for page, p in parsed.items()}
    for page, p in parsed.items():
        name = _name(html, page)
        bad[name] += broken_links(html, page, p, ids)
        if text_sizes:
            bad[name] += text_size_problems(page, static_widths(page, p))
        bad[name] += zero_p_values(p)
        bad[name] += missing_alt_text(p)
    notebooks = _notebooks(html)
    for name, problem in duplicate_figures(html, parsed) + glue_conflicts(notebooks) + parameter_mismatches(notebooks):
        bad[name].append(problem)
    return {k: v for k, v in bad.items() if v}
