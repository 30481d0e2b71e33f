"""Check the built website in a real browser: headless Chromium, with the network blocked.

Each page is opened once from a copy that carries a ``<base>`` pointing at the build (so the build is not
touched) and a small script that, after the page has loaded, reports to the console what the page shows:
images that did not load, resources fetched from outside the build, figures without a caption, outputs
holding a traceback, an error or a warning, output text or tables wider than their column, script errors, raw
values as an output (a Python repr: ``PosixPath('…')``, ``<… object at 0x…>``, ``array(…)``) and absolute paths
of the building machine anywhere in the page's text (artifact root, staging folder, home, site-packages,
``/tmp``), and figure images whose text is shown smaller than 9 px (their PNG's ``emobook:min-text-px`` at
the width the page shows them). A screenshot of the page is saved at the same time.
:func:`check_site` adds the static checks of :mod:`emolib.pagecheck` (internal links and anchors, one image in two
figures, a glue key with two values, parameters cells against the values the build used, p-values shown as 0.000).
Chromium is Debian's ``chromium`` (``apt-get install -y chromium``; ``.ci/run`` installs it).

On a standard build (``make book`` writes ``_build``)::

    python -m emolib.sitecheck _build                 # browser and static checks; exit 1 on any problem
    python -m emolib.sitecheck --static _build        # no browser: the static checks alone

Example:
    >>> from emolib.sitecheck import check_build, check_site
    >>> problems = check_site("_build/html", "_build/screenshots")  # doctest: +SKIP
    >>> problems  # doctest: +SKIP
    {}
    >>> check_build("_build", browser=False)  # doctest: +SKIP
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
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from emolib.pagecheck import check_static, site_pages, text_size_problems

__all__ = ["PageReport", "find_chromium", "check_page", "check_site", "check_build", "site_pages", "RAW_VALUE",
           "LOCAL_PATH", "local_prefixes", "local_path_pattern"]

logger = logging.getLogger(__name__)

#: a Python repr shown as a cell's output (or a glued value) instead of a formatted value: a path, an object
#: without a repr of its own, a NumPy array or scalar, a tensor. Python and JavaScript read it alike.
RAW_VALUE = (r"\b(?:Pure)?(?:Posix|Windows)?Path\(|<[^<>\n]{1,160}? at 0x[0-9a-fA-F]+>"
             r"|\b(?:array|tensor|np\.(?:float|int|uint|complex)\d+|np\.str_)\(|\bnp\.(?:True|False)_")
#: not inside a URL or a longer path: what may come just before an absolute path
_START = r"(?<![\w:/.~%\\-])"
#: the rest of a path, up to a space, quote, bracket or separator (a full stop or colon after it is not part of it)
_REST = r"(?:[^\s'\"<>()\[\]{},;`.:!?]|[.:!?](?=[^\s'\"<>()\[\]{},;`]))*"
#: absolute paths of any building machine: home folders, temporary folders, installed packages (POSIX or Windows)
LOCAL_PATH = (_START + r"(?:/(?:home|root|tmp|Users|private/var|var/folders)(?=/)|/[^\s'\"<>]*?/(?:site|dist)-packages"
              r"(?![\w-])|[A-Za-z]:\\(?:Users|Windows|Program Files)\\)" + _REST)

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
  var broken = [], uncaptioned = [], shown = [];
  document.querySelectorAll("img").forEach(function (img) {
    if (!img.complete || img.naturalWidth === 0) broken.push(img.getAttribute("src"));
    if (/(^|\/)_images\//.test(img.getAttribute("src") || "")) {
      var fig = img.closest("figure"), cap = fig && fig.querySelector("figcaption");
      if (!cap || !cap.textContent.trim()) uncaptioned.push(img.getAttribute("src"));
      // the width a figure is shown at (its text size follows from it); 0 inside a closed <details>
      if (fig || img.closest(".cell_output, .output"))
        shown.push([img.getAttribute("src"), img.naturalWidth, img.getBoundingClientRect().width]);
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
  // raw values: a Python repr as an output (the cell's code is not an output); local paths: anywhere in the text
  var config = __CONFIG__, rawValue = new RegExp(config.raw), raw = [], paths = [];
  document.querySelectorAll(".cell_output, .output, [class*=pasted]").forEach(function (el) {
    el.textContent.split("\n").forEach(function (line) {
      if (rawValue.test(line)) raw.push(line.trim().slice(0, 200));
    });
  });
  // the page's text as laid out (lines between blocks), collapsed code included: opened just to be read
  var closed = Array.from(document.querySelectorAll("details:not([open])"));
  closed.forEach(function (d) { d.open = true; });
  var text = document.body.innerText;
  closed.forEach(function (d) { d.open = false; });
  (text.match(new RegExp(config.paths, "g")) || []).forEach(function (p) { paths.push(p.slice(0, 200)); });
  var report = {title: document.title, network: Array.from(new Set(network)), broken_images: broken,
                uncaptioned: uncaptioned, output_errors: errors, output_warnings: warnings, too_wide: wide,
                script_errors: window.__emobookErrors,
                raw_values: Array.from(new Set(raw)), local_paths: Array.from(new Set(paths)), figure_images: shown,
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
    raw_values: list[str] = field(default_factory=list)
    local_paths: list[str] = field(default_factory=list)
    #: ``[src, natural width, shown width]`` of each figure image (``_images/`` in a figure or an output)
    figure_images: list[list] = field(default_factory=list)
    #: figures whose text is shown smaller than :data:`emolib.pagecheck.MIN_TEXT_PX`, or of unknown text size
    small_text: list[str] = field(default_factory=list)
    screenshot: Path | None = None

    @property
    def problems(self) -> list[str]:
        """One line per problem (network use, broken image, uncaptioned figure, error or warning in an output,
        text wider than its column, script error, raw value as an output, path of the building machine)."""
        out = [f"needs the network: {u}" for u in self.network]
        out += [f"broken image: {u}" for u in self.broken_images]
        out += [f"figure without a caption: {u}" for u in self.uncaptioned]
        out += [f"error in an output: {t!r}" for t in self.output_errors]
        out += [f"warning in an output: {t!r}" for t in self.output_warnings]
        out += [f"wider than its column: {t!r}" for t in self.too_wide]
        out += [f"script error: {t}" for t in self.script_errors]
        out += [f"raw value as an output: {t!r}" for t in self.raw_values]
        out += [f"path of the building machine: {t!r}" for t in self.local_paths]
        return out + self.small_text


def find_chromium() -> str | None:
    """Path of a Chromium executable (``$CHROMIUM``, ``chromium``, ``chromium-browser``), else None."""
    for name in filter(None, [os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"]):
        path = shutil.which(name)
        if path:
            return path
    return None


def local_prefixes(html: str | os.PathLike | None = None) -> list[str]:
    """Absolute paths of this machine that no page may show: the artifact root (``$EMOLIB_ARTIFACTS`` or the
    default), the build's staging folder (``$EMOLIB_BUILD_DIR``), the data folder, the repository, the home
    folder, the temporary folder, site-packages and, given a build's ``html`` folder, the build folder above it
    (which holds the staging folder). ``/`` alone is never one.
    """
    from emolib.artifacts import artifact_root

    candidates: list[str | os.PathLike | None] = [
        artifact_root(), os.environ.get("EMOLIB_ARTIFACTS"), os.environ.get("EMOLIB_BUILD_DIR"),
        os.environ.get("EMOLIB_DATA"), Path(__file__).resolve().parent.parent, Path.home(), tempfile.gettempdir(),
        sys.prefix, *_install_paths(), Path(html).resolve().parent if html is not None else None]
    out: set[str] = set()
    for candidate in filter(None, candidates):
        path = Path(candidate)
        for form in (path, path.resolve()):
            if form.is_absolute() and len(form.parts) > 1 and str(form) not in ("/usr", "/usr/local"):
                out.add(str(form))
    return sorted(out, key=len, reverse=True)


def _install_paths() -> list[str]:
    """The folders this interpreter installs packages in (site-packages, purelib, platlib)."""
    import site
    import sysconfig

    paths = [sysconfig.get_path(name) for name in ("purelib", "platlib")]
    return [p for p in dict.fromkeys(paths + list(getattr(site, "getsitepackages", list)())) if p]


def local_path_pattern(prefixes: Iterable[str] = ()) -> str:
    """A regular expression (Python and JavaScript alike) for :data:`LOCAL_PATH` and any path under ``prefixes``.

    A URL (``https://github.com/home/…``) or a relative path is not matched.

    Example:
        >>> pattern = re.compile(local_path_pattern(["/srv/build"]))
        >>> [m.group() for m in pattern.finditer("in /srv/build/x.json, ~/.cache and https://a.org/tmp/x")]
        ['/srv/build/x.json']
        >>> [m.group() for m in pattern.finditer("see /tmp/run/staging.json. Not /srv/buildings")]
        ['/tmp/run/staging.json']
    """
    escaped = [re.sub(r"[\\^$.|?*+()\[\]{}]", r"\\\g<0>", p.rstrip("/\\")) for p in prefixes]
    escaped = sorted(filter(None, escaped), key=len, reverse=True)
    if not escaped:
        return LOCAL_PATH
    return LOCAL_PATH + "|" + _START + "(?:" + "|".join(escaped) + r")(?![\w-]|\.[\w-])" + _REST


def check_page(page: Path, screenshot: Path | None = None, chromium: str | None = None,
               timeout: float = 120.0, width: int = 1280, height: int = 1800,
               forbidden: Iterable[str] | None = None) -> PageReport:
    """Open ``page`` in headless Chromium without network; report what it showed and save a screenshot.

    ``forbidden``: absolute paths that the page's text may not contain (default :func:`local_prefixes`), beside
    those of :data:`LOCAL_PATH`.

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
    config = {"raw": RAW_VALUE, "paths": local_path_pattern(local_prefixes() if forbidden is None else forbidden)}
    probe = _PROBE.replace("__CONFIG__", json.dumps(config).replace("</", "<\\/"))
    text = text.replace("</body>", probe + "</body>", 1) if "</body>" in text else text + probe
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
                        if k not in ("page", "screenshot", "small_text")})
    out.small_text = text_size_problems(page, [tuple(x) for x in out.figure_images])
    logger.info("%s: %d images, %d figures, %d problems", page.name, out.images, out.figures, len(out.problems))
    return out


def check_site(html: str | os.PathLike, screenshots: str | os.PathLike | None = None,
               chromium: str | None = None, forbidden: Iterable[str] | None = None,
               static: bool = True) -> dict[str, list[str]]:
    """Check every page of a built book in the browser and, with ``static``, the build's HTML files and executed
    notebooks (:func:`emolib.pagecheck.check_static`: links, repeated figures, glue keys, parameters cells,
    p-values shown as 0.000); returns ``{page: problems}`` for the pages with problems.

    Args:
        html: the HTML folder of a build (``_build/html``).
        screenshots: folder for one PNG per page, named by its path (``book-data.png``); None: none.
        forbidden: absolute paths no page may show (default: :func:`local_prefixes` of ``html``).
        static: run the static checks too.
    """
    html = Path(html)
    forbidden = local_prefixes(html) if forbidden is None else list(forbidden)
    bad = check_static(html, text_sizes=False) if static else {}
    for page in site_pages(html):
        rel = page.relative_to(html).with_suffix("").as_posix()
        shot = Path(screenshots) / f"{rel.replace('/', '-')}.png" if screenshots is not None else None
        report = check_page(page, shot, chromium, forbidden=forbidden)
        if report.problems:
            bad[rel] = report.problems + bad.get(rel, [])
    return {rel: bad[rel] for rel in sorted(bad)}


def check_build(build: str | os.PathLike, screenshots: str | os.PathLike | None = None,
                browser: bool | None = None) -> dict[str, list[str]]:
    """Every check of a build folder (``_build``, holding ``html/``) or of its ``html`` folder itself.

    ``browser``: True: :func:`check_site` (Chromium needed); False: the static checks alone (figures' text size at
    the default width); None: the browser when Chromium is installed.
    """
    html = Path(build) / "html" if (Path(build) / "html").is_dir() else Path(build)
    if browser or (browser is None and find_chromium() is not None):
        return check_site(html, screenshots)
    return check_static(html)


def main(argv: list[str] | None = None) -> int:
    """``python -m emolib.sitecheck [--static] [--screenshots DIR] BUILD``: print the problems; exit 1 if any."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m emolib.sitecheck", description=__doc__.split("\n")[0])
    parser.add_argument("build", nargs="?", default="_build", help="build folder (holding html/) or html folder")
    parser.add_argument("--static", action="store_true", help="no browser: the static checks alone")
    parser.add_argument("--screenshots", help="folder for one screenshot per page")
    args = parser.parse_args(argv)
    bad = check_build(args.build, args.screenshots, browser=False if args.static else None)
    for page, problems in bad.items():
        print(page)
        for problem in problems:
            print(f"    {problem}")
    print(f"{sum(map(len, bad.values()))} problems on {len(bad)} pages")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
