"""Check the built website in a real browser: headless Chromium, with the network blocked.

Each page is opened once from a copy that carries a ``<base>`` pointing at the build (so the build is not
touched) and a small script that, after the page has loaded, reports to the console what the page shows:
images that did not load, resources fetched from outside the build, figures without a caption, outputs
holding a traceback, an error or a warning, output text or tables wider than their column, and script errors. A screenshot of the page is saved at the same time.
Chromium is Debian's ``chromium`` (``apt-get install -y chromium``; ``.ci/run`` installs it).

Example:
    >>> from emolib.sitecheck import check_site
    >>> problems = check_site("_build/html", "_build/screenshots")  # doctest: +SKIP
    >>> problems  # doctest: +SKIP
    {}
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["PageReport", "find_chromium", "check_page", "check_site", "site_pages"]

logger = logging.getLogger(__name__)

_TAG = "EMOBOOK-CHECK"
_PROBE = r"""
<script>
window.__emobookErrors = [];
window.addEventListener("error", function (e) { if (e.message) window.__emobookErrors.push(e.message); });
window.addEventListener("load", function () { setTimeout(function () {
  var local = function (u) { return !u || /^(file:|data:|about:|blob:|javascript:)/.test(u); };
  var network = [];
  document.querySelectorAll("script[src],img[src],iframe[src],source[src],video[src],audio[src],embed[src]")
    .forEach(function (el) { if (!local(el.src)) network.push(el.src); });
  document.querySelectorAll("link[href]").forEach(function (el) {
    var rel = (el.rel || "").toLowerCase();
    if (/stylesheet|preload|icon|modulepreload|manifest/.test(rel) && !local(el.href)) network.push(el.href);
  });
  (performance.getEntriesByType("resource") || []).forEach(function (r) { if (!local(r.name)) network.push(r.name); });
  var broken = [], uncaptioned = [];
  document.querySelectorAll("img").forEach(function (img) {
    if (!img.complete || img.naturalWidth === 0) broken.push(img.getAttribute("src"));
    if (/(^|\/)_images\//.test(img.getAttribute("src") || "")) {
      var fig = img.closest("figure"), cap = fig && fig.querySelector("figcaption");
      if (!cap || !cap.textContent.trim()) uncaptioned.push(img.getAttribute("src"));
    }
  });
  var errors = [], warnings = [], wide = [];
  document.querySelectorAll(".cell_output, .output").forEach(function (el) {
    var m = el.textContent.match(/Traceback|\b[A-Z]\w*Error\b/);
    if (m) errors.push(el.textContent.trim().slice(0, 200));
    var w = el.textContent.match(/[^\n]*\b[A-Z]\w*Warning\b[^\n]*/);
    if (w) warnings.push(w[0].trim().slice(0, 200));
  });
  // text wider than its column: an output block or table that scrolls sideways, cut off at the page's edge
  document.querySelectorAll(".cell_output pre, .output pre, .cell_output table, .output table").forEach(function (el) {
    var box = el.tagName === "TABLE" ? el.parentElement : el;
    if (box && el.scrollWidth > box.clientWidth + 2) {
      var line = el.tagName === "TABLE" ? "table of " + el.querySelectorAll("thead th").length + " columns"
                 : el.textContent.split("\n").reduce(function (a, b) { return b.length > a.length ? b : a; }, "");
      wide.push(line.trim().slice(0, 120) + " (" + el.scrollWidth + " px in " + box.clientWidth + " px)");
    }
  });
  var report = {title: document.title, network: Array.from(new Set(network)), broken_images: broken,
                uncaptioned: uncaptioned, output_errors: errors, output_warnings: warnings, too_wide: wide,
                script_errors: window.__emobookErrors,
                images: document.images.length, figures: document.querySelectorAll("figure").length};
  console.log("__TAG__ " + btoa(unescape(encodeURIComponent(JSON.stringify(report)))));
}, 500); });
</script>
""".replace("__TAG__", _TAG)


@dataclass
class PageReport:
    """What one page showed in the browser; :attr:`problems` is empty for a good page."""

    page: str
    title: str = ""
    images: int = 0
    figures: int = 0
    network: list[str] = field(default_factory=list)
    broken_images: list[str] = field(default_factory=list)
    uncaptioned: list[str] = field(default_factory=list)
    output_errors: list[str] = field(default_factory=list)
    output_warnings: list[str] = field(default_factory=list)
    too_wide: list[str] = field(default_factory=list)
    script_errors: list[str] = field(default_factory=list)
    screenshot: Path | None = None

    @property
    def problems(self) -> list[str]:
        """One line per problem (network use, broken image, uncaptioned figure, error or warning in an output,
        text wider than its column, script error)."""
        out = [f"needs the network: {u}" for u in self.network]
        out += [f"broken image: {u}" for u in self.broken_images]
        out += [f"figure without a caption: {u}" for u in self.uncaptioned]
        out += [f"error in an output: {t!r}" for t in self.output_errors]
        out += [f"warning in an output: {t!r}" for t in self.output_warnings]
        out += [f"wider than its column: {t!r}" for t in self.too_wide]
        out += [f"script error: {t}" for t in self.script_errors]
        return out


def find_chromium() -> str | None:
    """Path of a Chromium executable (``$CHROMIUM``, ``chromium``, ``chromium-browser``), else None."""
    for name in filter(None, [os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"]):
        path = shutil.which(name)
        if path:
            return path
    return None


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


def check_page(page: Path, screenshot: Path | None = None, chromium: str | None = None,
               timeout: float = 120.0, width: int = 1280, height: int = 1800) -> PageReport:
    """Open ``page`` in headless Chromium without network; report what it showed and save a screenshot.

    Raises:
        FileNotFoundError: no Chromium is installed.
        RuntimeError: the page did not report (it failed to load or the probe did not run).
    """
    chromium = chromium or find_chromium()
    if chromium is None:
        raise FileNotFoundError("no chromium found: apt-get install -y chromium (or set CHROMIUM)")
    page = Path(page).resolve()
    text = page.read_text()
    base = f'<base href="{page.parent.as_uri()}/">'
    text = re.sub(r"(<head[^>]*>)", lambda m: m.group(1) + base, text, count=1)
    text = text.replace("</body>", _PROBE + "</body>", 1) if "</body>" in text else text + _PROBE
    with tempfile.TemporaryDirectory(prefix="emobook-check-") as tmp:
        copy = Path(tmp) / page.name
        copy.write_text(text)
        command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                   "--no-first-run", f"--user-data-dir={tmp}/profile", "--allow-file-access-from-files",
                   "--host-resolver-rules=MAP * ~NOTFOUND", "--enable-logging=stderr", "--v=0",
                   "--virtual-time-budget=5000", "--hide-scrollbars", f"--window-size={width},{height}"]
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            command.append(f"--screenshot={Path(screenshot).resolve()}")
        else:
            command.append("--dump-dom")
        result = subprocess.run(command + [copy.as_uri()], capture_output=True, text=True, timeout=timeout)
    match = re.search(_TAG + r" ([A-Za-z0-9+/=]+)", result.stderr + result.stdout)
    if match is None:
        raise RuntimeError(f"{page} did not report in chromium (exit {result.returncode}):\n{result.stderr[-2000:]}")
    report = json.loads(base64.b64decode(match.group(1)).decode())
    out = PageReport(page=str(page), screenshot=screenshot if screenshot is not None and screenshot.is_file() else None,
                     **{k: report.get(k, v) for k, v in PageReport(page="").__dict__.items()
                        if k not in ("page", "screenshot")})
    logger.info("%s: %d images, %d figures, %d problems", page.name, out.images, out.figures, len(out.problems))
    return out


def check_site(html: str | os.PathLike, screenshots: str | os.PathLike | None = None,
               chromium: str | None = None) -> dict[str, list[str]]:
    """Check every page of a built book; returns ``{page: problems}`` for the pages with problems.

    Args:
        html: the HTML folder of a build (``_build/html``).
        screenshots: folder for one PNG per page, named by its path (``book-data.png``); None: none.
    """
    html = Path(html)
    bad = {}
    for page in site_pages(html):
        rel = page.relative_to(html).with_suffix("").as_posix()
        shot = Path(screenshots) / f"{rel.replace('/', '-')}.png" if screenshots is not None else None
        report = check_page(page, shot, chromium)
        if report.problems:
            bad[rel] = report.problems
    return bad
