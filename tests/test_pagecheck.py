"""The static checks of a built book (issue 24): tiny build folders, each with one planted defect, must fail; the
same folders without it must pass. No browser needed."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from emolib import book, pagecheck


def site(tmp_path: Path, pages: dict[str, str]) -> Path:
    """An ``html`` folder with ``book/<name>.html`` holding each body."""
    html = tmp_path / "html"
    (html / "book").mkdir(parents=True, exist_ok=True)
    for name, body in pages.items():
        (html / "book" / f"{name}.html").write_text(
            f'<html><head><title>{name}</title></head><body id="top">{body}</body></html>')
    return html


def png(html: Path, name: str, width: int = 600, text_px: float | None = 12, color: int = 0) -> str:
    """A PNG under ``_images`` (with the text-size chunk unless ``text_px`` is None); returns its src."""
    (html / "_images").mkdir(parents=True, exist_ok=True)
    info = PngInfo()
    if text_px is not None:
        info.add_text(pagecheck.TEXT_PX_KEY, str(text_px))
    Image.new("RGB", (width, 40), (color, 0, 0)).save(html / "_images" / name, pnginfo=info)
    return f"../_images/{name}"


def figure(src: str, caption: str = "A caption.", alt: str | None = None) -> str:
    alt = caption if alt is None else alt
    return f'<figure><img alt="{alt}" src="{src}"/><figcaption><p>{caption}</p></figcaption></figure>'


def output(text: str) -> str:
    return f'<div class="cell_output docutils container"><div class="output text_plain"><pre>{text}</pre></div></div>'


# 1. internal links and anchors

LINKS = ('<h2 id="results">Results</h2><a href="#results">here</a> <a href="other.html">other</a> '
         '<a href="other.html#sec-a">a section</a> <a href="../_tables/t.csv">csv</a> <a href="#">top</a> '
         '<a href="https://example.org/x.html#nowhere">web</a> <a href="mailto:a@b.org">mail</a>')


def test_clean_links_and_anchors_pass(tmp_path):
    html = site(tmp_path, {"page": LINKS, "other": '<section id="sec-a">A</section>'})
    (html / "_tables").mkdir()
    (html / "_tables" / "t.csv").write_text("a\n1\n")
    assert pagecheck.check_static(html) == {}


def test_a_missing_anchor_or_file_is_a_broken_link(tmp_path):
    body = LINKS + ' <a href="#references.md">References</a> <a href="other.html#nope">x</a> <a href="gone.html">y</a>'
    html = site(tmp_path, {"page": body + ' <a href="#references.md">again</a>', "other": '<p id="sec-a">A</p>'})
    (html / "_tables").mkdir()
    (html / "_tables" / "t.csv").write_text("a\n1\n")
    assert pagecheck.check_static(html) == {"book/page": [
        "broken link: book/page -> #references.md", "broken link: book/page -> other.html#nope",
        "broken link: book/page -> gone.html"]}


# 2. text size of figures

def test_figure_text_size_from_the_png_chunk_at_the_shown_width(tmp_path):
    html = site(tmp_path, {})
    fine, small = png(html, "fine.png", 600, 10), png(html, "small.png", 1380, 12)
    unknown = png(html, "u.png", 600, None)
    logo = png(html, "logo.png", 600, None, color=9)
    body = figure(fine) + figure(small) + output(f'</pre><img alt="An output figure." src="{unknown}"/><pre>') + f'<img src="{logo}"/>'
    site(tmp_path, {"page": body})
    assert pagecheck.check_static(html) == {"book/page": [
        "text too small: _images/small.png (6.0 px rendered)",  # 12 px at 690 of 1380 px
        "figure text size unknown: _images/u.png (no emobook:min-text-px in the PNG)"]}  # the logo is not a figure
    page = html / "book" / "page.html"
    assert pagecheck.text_size_problems(page, [(small, 1380, 1380)]) == []  # shown at its natural width: 12 px
    assert pagecheck.text_size_problems(page, [(fine, 600, 500)]) == [
        "text too small: _images/fine.png (8.3 px rendered)"]


# 3. the same image in two figures

def test_the_same_image_in_two_figures(tmp_path):
    html = site(tmp_path, {})
    a, b, copy = png(html, "a.png"), png(html, "b.png", color=50), png(html, "a-copy.png")  # a copy: the same bytes
    site(tmp_path, {"one": figure(a) + figure(b), "two": figure(copy)})
    assert pagecheck.check_static(html) == {"book/two": ["same image in two figures: book/one fig1, book/two fig1"]}
    png(html, "a-copy.png", color=99)  # now another image
    assert pagecheck.check_static(html) == {}


# 4. a glue key with two values

def notebook(cells: list, parameters: dict | None = None) -> dict:
    nb = nbformat.v4.new_notebook(cells=cells)
    if parameters is not None:
        nb.metadata["papermill"] = {"parameters": parameters}
    return json.loads(nbformat.writes(nb))


def glued(name: str, value: str, mime: str = "text/plain") -> nbformat.NotebookNode:
    prefix = "application/papermill.record/"
    out = nbformat.v4.new_output("display_data", data={prefix + mime: value},
                                 metadata={"scrapbook": {"name": name, "mime_prefix": prefix}})
    return nbformat.v4.new_code_cell(f"glue({name!r}, x)", outputs=[out])


def sources(html: Path, notebooks: dict[str, dict]) -> None:
    (html / "_sources" / "book").mkdir(parents=True, exist_ok=True)
    for name, nb in notebooks.items():
        (html / "_sources" / "book" / f"{name}.ipynb").write_text(json.dumps(nb))


def test_a_glue_key_with_two_values_on_two_pages(tmp_path):
    html = site(tmp_path, {"a": "<p>a</p>", "b": "<p>b</p>"})
    sources(html, {"a": notebook([glued("n_seeds", "3"), glued("table", "| x |", "text/markdown")]),
                   "b": notebook([glued("n_seeds", "3"), glued("table", "| x |", "text/markdown")])})
    assert pagecheck.check_static(html) == {}
    sources(html, {"b": notebook([glued("n_seeds", "12"), glued("table", "| y |", "text/markdown")])})
    assert pagecheck.check_static(html) == {"book/b": [
        "glue key n_seeds: '3' on page book/a, '12' on page book/b",
        "glue key table: '| x |' on page book/a, '| y |' on page book/b"]}


# 5. parameters cell against the values the build used

def params_cell(source: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_code_cell(source, metadata={"tags": ["parameters"]})


def test_a_parameters_cell_showing_defaults_the_build_did_not_use_fails(tmp_path):
    html = site(tmp_path, {"a": "<p>a</p>"})
    used = {"profile": "smoke", "backbone": "tiny-llama"}
    sources(html, {"a": notebook([params_cell("profile = 'quick'\nbackbone = 'tiny-llama'  # x\nseed = 1")], used)})
    assert pagecheck.check_static(html) == {
        "book/a": ["parameters cell shows profile = 'quick', the build used 'smoke'"]}
    sources(html, {"a": notebook([params_cell("profile = 'smoke'\nbackbone = 'tiny-llama'  # x\nseed = 1")], used)})
    assert pagecheck.check_static(html) == {}


def test_tidy_executed_makes_the_parameters_cell_agree_with_the_build(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        params_cell('profile = "quick"  # the profile\nbackbone = "gpt2"\nalpha = 0.01  # q threshold'),
        nbformat.v4.new_code_cell('# Parameters\nprofile = "smoke"\nalpha = 0.05\n',
                                  metadata={"tags": ["injected-parameters"]})])
    nb.metadata["papermill"] = {"parameters": {"profile": "smoke", "alpha": 0.05}}
    path = tmp_path / "a.ipynb"
    nbformat.write(nb, path)
    assert pagecheck.parameter_mismatches({"a": json.loads(path.read_text())}) != []
    book.tidy_executed(path)
    tidied = json.loads(path.read_text())
    assert pagecheck.parameter_mismatches({"a": tidied}) == []
    assert "".join(tidied["cells"][0]["source"]) == (
        'profile = "smoke"  # the profile\nbackbone = "gpt2"\nalpha = 0.05  # q threshold')


# 6. p-values shown as 0.000

@pytest.mark.parametrize("body", [
    output("permutation p = 0.000 (1,000 permutations)"),
    "<p>the global test gives p = <span class='pasted-text'>0.000</span>.</p>",
    output("q_holm: 0.0"),
    "<table><thead><tr><th></th><th>r</th><th>p</th></tr></thead><tbody>"
    "<tr><th>joy</th><td>0.41</td><td>0.000</td></tr></tbody></table>",
    "<table><thead><tr><th>emotion</th><th>q_bh</th></tr></thead><tbody>"
    "<tr><td>joy</td><td>0.0</td></tr></tbody></table>",
], ids=["prose", "glued", "q_holm", "table p", "table q_bh"])
def test_a_p_value_shown_as_zero_fails(tmp_path, body):
    html = site(tmp_path, {"page": body})
    problems = pagecheck.check_static(html)["book/page"]
    assert len(problems) == 1 and problems[0].startswith("p-value shown as 0.000: ")


def test_small_p_values_written_honestly_pass(tmp_path):
    body = (output("p &lt; 0.001 (1,000 permutations), p = 0.0004, top 0.000 units, step 0.000")
            + "<p>p = 0.012. q 0.03</p><table><thead><tr><th></th><th>score</th><th>p</th></tr></thead><tbody>"
            "<tr><th>joy</th><td>0.000</td><td>&lt; 0.001</td></tr></tbody></table>"
            + '<div class="cell_input"><pre>p = 0.000  # code is not shown text</pre></div>')
    assert pagecheck.check_static(site(tmp_path, {"page": body})) == {}


# 7. alt text that describes the figure

@pytest.mark.parametrize("alt", ["", "../_images/a.png", "a.png", "0" * 64])
def test_a_figure_whose_alt_text_is_empty_or_its_file_is_reported(tmp_path, alt):
    html = site(tmp_path, {"page": ""})
    (html / "book" / "page.html").write_text(f"<html><body>{figure(png(html, 'a.png'), alt=alt)}</body></html>")
    assert any("figure without alt text" in p for p in pagecheck.check_static(html).get("book/page", []))


def test_a_figure_with_a_describing_alt_text_passes(tmp_path):
    html = site(tmp_path, {"page": ""})
    (html / "book" / "page.html").write_text(
        f"<html><body>{figure(png(html, 'a.png'), alt='Accuracy per layer, with the chance line.')}</body></html>")
    assert pagecheck.check_static(html) == {}
