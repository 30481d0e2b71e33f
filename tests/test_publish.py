"""Publishing: launch links to this repository, the Colab install cell, and the website in a browser."""

import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import pytest
import yaml

from emolib import book, publish, sitecheck

ROOT = Path(__file__).resolve().parent.parent


def test_repository_url_is_set_once_and_launch_links_open_this_repositorys_twins(monkeypatch):
    monkeypatch.delenv(publish.ENV_URL, raising=False)
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repo = publish.repository(ROOT)
    assert repo == {"url": config["repository"]["url"], "branch": "main", "path_to_book": ""}
    assert repo["url"] == "https://github.com/emobook/emobook"
    assert f"git+{repo['url']}" in (ROOT / "README.md").read_text()
    assert config["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    for path in book.chapter_files(ROOT):
        url = publish.colab_url(path.stem, repo)
        assert url == f"https://colab.research.google.com/github/emobook/emobook/blob/main/book/{path.stem}.ipynb"
        assert (ROOT / url.split("/blob/main/", 1)[1]).is_file()
    monkeypatch.setenv(publish.ENV_URL, "https://github.com/someone/emobook")
    assert publish.colab_url("data", publish.repository(ROOT)).startswith(
        "https://colab.research.google.com/github/someone/emobook/blob/main/book/")


def test_every_chapter_starts_with_the_hidden_colab_install_cell_of_the_configured_url():
    url = publish.repository(ROOT, env=False)["url"]
    expected = publish.install_cell_source(url)
    for path in book.chapter_files(ROOT):
        for source in (path, path.with_suffix(".ipynb")):
            code = [c for c in jupytext.read(source).cells if c.cell_type == "code"]
            assert code[0].source == expected, f"{source.name}: first code cell is not the install cell"
            assert code[0].metadata.get("tags") == ["remove-cell"], source.name
    assert "import emolib" not in expected and "from emolib" not in expected  # the cell needs no emolib


def test_install_cell_does_nothing_outside_colab():
    code = publish.install_cell_source("https://github.com/emobook/emobook")
    result = subprocess.run([sys.executable, "-c", code + "\nprint('done')"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and result.stdout == "done\n", result.stderr


def test_a_fork_rewrites_the_config_the_install_cells_and_the_twins(tmp_path):
    root = tmp_path / "fork"
    (root / "book").mkdir(parents=True)
    shutil.copy(ROOT / "_config.yml", root)
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/data\n")
    shutil.copy(ROOT / "book" / "data.md", root / "book")
    changed = publish.set_repository_url("https://github.com/someone/emobook", root)
    assert {p.name for p in changed} == {"_config.yml", "data.md", "data.ipynb"}
    assert publish.repository(root, env=False)["url"] == "https://github.com/someone/emobook"
    first = [c for c in jupytext.read(root / "book" / "data.ipynb").cells if c.cell_type == "code"][0]
    assert first.source == publish.install_cell_source("https://github.com/someone/emobook")
    assert publish.set_repository_url("https://github.com/someone/emobook", root) == []
    with pytest.raises(ValueError, match="must look like"):
        publish.set_repository_url("git@github.com:x/y", root)


def test_the_browser_check_catches_what_it_must(tmp_path):
    if sitecheck.find_chromium() is None:
        pytest.skip("no chromium (apt-get install -y chromium; .ci/run installs it)")
    (tmp_path / "_images").mkdir()
    page = tmp_path / "bad.html"
    page.write_text('<html><head><title>t</title><script src="https://unpkg.com/x.js"></script></head><body>'
                    '<img src="missing.png"><figure><img src="_images/x.png"></figure>'
                    '<div class="cell_output">Traceback (most recent call last)</div>'
                    '<div class="cell_output">x.py:3: TqdmWarning: IProgress not found</div>'
                    '<div class="cell_output" style="width:300px"><pre style="overflow:auto">' + "x" * 400 +
                    '</pre><pre style="overflow:auto">short</pre></div></body></html>')
    report = sitecheck.check_page(page, tmp_path / "shot.png")
    assert report.output_warnings == ["x.py:3: TqdmWarning: IProgress not found"]
    assert len(report.too_wide) == 1 and report.too_wide[0].startswith("xxxx")  # the short line is not flagged
    assert report.network == ["https://unpkg.com/x.js"]
    assert report.broken_images == ["missing.png", "_images/x.png"]
    assert report.uncaptioned == ["_images/x.png"] and len(report.output_errors) == 1
    assert report.screenshot is not None and report.screenshot.stat().st_size > 0


@pytest.mark.slow
def test_every_page_of_the_smoke_book_renders_offline_in_chromium(smoke_book):
    """Every page of the session's smoke book in headless Chromium with the network blocked: no broken image,
    no resource from the network, every figure captioned, no traceback or error in an output; one screenshot
    per page in ``_build/screenshots/``."""
    if sitecheck.find_chromium() is None:
        pytest.fail("no chromium: apt-get install -y chromium (.ci/run installs it)")
    html = smoke_book / "html"
    shots = ROOT / "_build" / "screenshots"
    if shots.exists():
        shutil.rmtree(shots)
    assert sitecheck.check_site(html, shots) == {}
    pages = sitecheck.site_pages(html)
    assert {p.stem for p in pages} >= {p.stem for p in book.chapter_files(ROOT)}
    # the figures are there (a build under MPLBACKEND=Agg once drew none, and every check above passed vacuously)
    assert sum(p.read_text().count("<figure") for p in pages) >= 40
    for page in pages:  # downloads: a PNG link in every figure, a CSV link under every table
        text = page.read_text()
        assert text.count("Download this figure (PNG)") == text.count("<figure"), page.name
        assert text.count("Download this table (CSV)") >= text.count("<table class=\"dataframe"), page.name
    assert list((html / "_tables").glob("*.csv"))
    assert sorted(p.name for p in shots.glob("*.png")) == sorted(
        f"{p.relative_to(html).with_suffix('').as_posix().replace('/', '-')}.png" for p in pages)
