"""The browser check's rules against raw values and local paths (issue 23, item 7): tiny pages, each with one
offender, must fail; a clean page, whose collapsed code may mention reprs, must pass."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from emolib import overview, sitecheck

needs_chromium = pytest.mark.skipif(sitecheck.find_chromium() is None,
                                    reason="no chromium (apt-get install -y chromium; .ci/run installs it)")

#: a hidden-input cell as Jupyter Book renders it: the code collapsed in <details>, then the output
CELL = ('<div class="cell tag_hide-input"><details><summary>Show code cell source</summary>'
        '<div class="cell_input"><pre>{code}</pre></div></details>'
        '<div class="cell_output"><div class="output text_plain"><pre>{output}</pre></div></div></div>')
CLEAN_CODE = ("overview.record(&quot;valence&quot;, cells, backbone, profile)  # once returned PosixPath(...)\n"
              "x = np.array([1, 2])  # array(...) in code is code, not an output")
CLEAN_TEXT = ("<p>Artifacts live under the artifact root (.emolib in the repository), e.g. ~/.cache/emolib or "
              "data/artifacts; source on <a href='https://github.com/home/tmp/site-packages/x'>"
              "https://github.com/home/tmp/site-packages/x</a>, at 0x10 bytes; see /usr/bin/chromium.</p>")


def page(tmp_path: Path, body: str, name: str = "page.html") -> Path:
    """A minimal built page holding ``body``."""
    path = tmp_path / name
    path.write_text(f"<html><head><title>t</title></head><body>{body}</body></html>")
    return path


def cell(output: str, code: str = CLEAN_CODE) -> str:
    return CELL.format(code=code, output=output)


@needs_chromium
def test_a_clean_page_passes_though_its_hidden_code_shows_reprs(tmp_path):
    report = sitecheck.check_page(page(tmp_path, CLEAN_TEXT + cell("valence probe 0.80 (lexical 0.70)")),
                                  forbidden=["/srv/emo-artifacts"])
    assert report.raw_values == [] and report.local_paths == [] and report.problems == []


@needs_chromium
@pytest.mark.parametrize("output", [
    "PosixPath('results/findings.json')",
    "WindowsPath('C:/build')",
    "&lt;emolib.plan.Plan object at 0x7f3a2c1d9e50&gt;",
    "&lt;function verdict at 0x7f3a2c1d9e50&gt;",
    "array([0.1, 0.2, 0.3])",
    "tensor([1., 2.])",
    "np.float64(0.8)",
], ids=["PosixPath", "WindowsPath", "object at 0x", "function at 0x", "array", "tensor", "numpy scalar"])
def test_a_python_repr_as_an_output_fails(tmp_path, output):
    report = sitecheck.check_page(page(tmp_path, CLEAN_TEXT + cell(output)), forbidden=[])
    shown = output.replace("&lt;", "<").replace("&gt;", ">")
    assert report.raw_values == [shown]
    assert report.problems == [f"raw value as an output: {shown!r}"]


@needs_chromium
def test_a_glued_repr_in_the_text_fails(tmp_path):
    body = "<p>Recorded in <span class='pasted-text'>PosixPath('findings.json')</span>.</p>"
    assert sitecheck.check_page(page(tmp_path, body), forbidden=[]).raw_values == ["PosixPath('findings.json')"]


@needs_chromium
@pytest.mark.parametrize(("text", "path"), [
    ("under the artifact root /srv/emo-artifacts.", "/srv/emo-artifacts"),  # a forbidden prefix: the root itself
    ("<pre>/srv/emo-artifacts/prompts-0123abcd/meta.json</pre>", "/srv/emo-artifacts/prompts-0123abcd/meta.json"),
    ("recorded in /srv/build/staging/findings.json", "/srv/build/staging/findings.json"),  # staging
    ("data in /home/alice/emobook/data, then", "/home/alice/emobook/data"),  # a home folder
    ("from /root/.cache/huggingface:", "/root/.cache/huggingface"),
    ("File /opt/conda/lib/python3.11/site-packages/torch/nn.py", "/opt/conda/lib/python3.11/site-packages/torch/nn.py"),
    ("in (/tmp/emobook-xyz/html)", "/tmp/emobook-xyz/html"),  # a temporary build folder
    ("C:\\Users\\alice\\emobook", "C:\\Users\\alice\\emobook"),
], ids=["artifact root", "artifact", "staging", "home", "root home", "site-packages", "tmp", "windows home"])
def test_an_absolute_path_of_the_building_machine_fails(tmp_path, text, path):
    forbidden = ["/srv/emo-artifacts", "/srv/build"]
    report = sitecheck.check_page(page(tmp_path, CLEAN_TEXT + f"<p>{text}</p>" + cell("0.80")), forbidden=forbidden)
    assert report.local_paths == [path] and report.raw_values == []
    assert report.problems == [f"path of the building machine: {path!r}"]


@needs_chromium
def test_a_path_is_flagged_in_an_output_and_in_collapsed_code_too(tmp_path):
    body = cell("PosixPath('/srv/build/staging/findings.json')", code="open('/srv/emo-artifacts/x.json')")
    report = sitecheck.check_page(page(tmp_path, body), forbidden=["/srv/emo-artifacts", "/srv/build"])
    assert report.raw_values == ["PosixPath('/srv/build/staging/findings.json')"]
    assert report.local_paths == ["/srv/emo-artifacts/x.json", "/srv/build/staging/findings.json"]


@needs_chromium
def test_check_site_names_the_page_and_forbids_the_build_folder_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("EMOLIB_ARTIFACTS", "/srv/emo-artifacts")
    html = tmp_path / "out" / "html"
    (html / "book").mkdir(parents=True)
    page(html / "book", CLEAN_TEXT + cell("0.80"), "good.html")
    page(html / "book", "<p>root: /srv/emo-artifacts</p>" + cell("PosixPath('x')"), "bad.html")
    assert sitecheck.check_site(html) == {"book/bad": ["raw value as an output: \"PosixPath('x')\"",
                                                       "path of the building machine: '/srv/emo-artifacts'"]}


def test_default_prefixes_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("EMOLIB_ARTIFACTS", "/srv/emo-artifacts")
    monkeypatch.setenv("EMOLIB_BUILD_DIR", "/srv/build/staging")
    monkeypatch.setenv("HOME", "/srv/home/alice")
    prefixes = sitecheck.local_prefixes(tmp_path / "out" / "html")
    assert {"/srv/emo-artifacts", "/srv/build/staging", "/srv/home/alice", str((tmp_path / "out").resolve()),
            str(Path(sitecheck.__file__).resolve().parent.parent)} <= set(prefixes)
    assert "/" not in prefixes and all(Path(p).is_absolute() for p in prefixes)


def test_the_path_pattern_spares_urls_and_relative_paths():
    pattern = re.compile(sitecheck.local_path_pattern(["/srv/emo-artifacts"]))
    spared = ("https://github.com/home/tmp/x file:///tmp/x ~/.cache/emolib data/artifacts and/or /srv/emo-artifactsX "
              "a.b/root/x /usr/bin/chromium")
    assert pattern.findall(spared) == []
    assert pattern.findall("(/srv/emo-artifacts/a.json), '/tmp/x'.") == ["/srv/emo-artifacts/a.json", "/tmp/x"]


def test_recording_a_chapter_shows_no_output(monkeypatch, tmp_path):
    """A chapter cell that ends with ``overview.record`` must not print the staging folder on the page."""
    monkeypatch.setenv("EMOLIB_BUILD_DIR", str(tmp_path))
    assert overview.record("valence", {"valence": "x"}, "gpt2", "quick") is None
    assert (tmp_path / overview.RECORD_FILE).is_file()


def _figure_site(tmp_path: Path, style: str) -> Path:
    """A build folder whose one page shows a 1000-px PNG with 12-px text (natural pixels), styled by ``style``."""
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    from emolib import pagecheck

    html = tmp_path / "_build" / "html"
    (html / "_images").mkdir(parents=True)
    (html / "book").mkdir()
    info = PngInfo()
    info.add_text(pagecheck.TEXT_PX_KEY, "12")
    Image.new("RGB", (1000, 60), "white").save(html / "_images" / "f.png", pnginfo=info)
    page(html / "book", f'<figure><img alt="A figure." src="../_images/f.png" style="{style}"/><figcaption>A caption.</figcaption>'
                        '</figure><a href="#missing">x</a>', "fig.html")
    return html


@needs_chromium
def test_the_browser_measures_the_width_a_figure_is_shown_at(tmp_path):
    html = _figure_site(tmp_path, "width: 500px")  # 12 px at half its width: 6 px
    report = sitecheck.check_page(html / "book" / "fig.html", forbidden=[])
    assert report.figure_images == [["../_images/f.png", 1000, 500]]
    assert report.problems == ["text too small: _images/f.png (6.0 px rendered)"]
    shutil.rmtree(tmp_path / "_build")
    html = _figure_site(tmp_path, "")  # shown at its natural width in a bare page: 12 px
    assert sitecheck.check_page(html / "book" / "fig.html", forbidden=[]).problems == []


@needs_chromium
def test_check_site_runs_the_static_checks_too(tmp_path):
    html = _figure_site(tmp_path, "width: 500px")
    assert sitecheck.check_site(html, forbidden=[]) == {"book/fig": [
        "text too small: _images/f.png (6.0 px rendered)", "broken link: book/fig -> #missing"]}
    assert sitecheck.check_site(html, forbidden=[], static=False) == {
        "book/fig": ["text too small: _images/f.png (6.0 px rendered)"]}


def test_the_static_checks_alone_on_a_build_folder_and_from_the_command_line(tmp_path, capsys):
    _figure_site(tmp_path, "width: 500px")  # without a browser the figure is taken at min(1000, 690) px: 8.3 px
    expected = {"book/fig": ["broken link: book/fig -> #missing", "text too small: _images/f.png (8.3 px rendered)"]}
    assert sitecheck.check_build(tmp_path / "_build", browser=False) == expected
    assert sitecheck.check_build(tmp_path / "_build" / "html", browser=False) == expected
    assert sitecheck.main(["--static", str(tmp_path / "_build")]) == 1
    assert capsys.readouterr().out.splitlines() == ["book/fig", "    broken link: book/fig -> #missing",
                                                    "    text too small: _images/f.png (8.3 px rendered)",
                                                    "2 problems on 1 pages"]
