import json
import shutil
import textwrap
from pathlib import Path

import pytest

from emolib import book

ROOT = Path(__file__).resolve().parent.parent
HEADER = textwrap.dedent("""\
    ---
    jupytext:
      text_representation: {extension: .md, format_name: myst, format_version: 0.13}
    kernelspec: {display_name: Python 3, language: python, name: python3}
    ---
    """)


def _mini_book(tmp_path: Path, chapter_body: str) -> Path:
    (tmp_path / "book").mkdir(parents=True)
    shutil.copy(ROOT / "_config.yml", tmp_path / "_config.yml")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n  - file: book/bad\n")
    (tmp_path / "book" / "intro.md").write_text("# Intro\n\nHello.\n")
    (tmp_path / "book" / "bad.md").write_text(HEADER + chapter_body)
    return tmp_path


def test_every_chapter_in_the_toc_exists_has_parameters_and_a_paired_notebook():
    import jupytext

    for path in book.chapter_files(ROOT):
        assert book.is_chapter_notebook(path), path
        params = book.chapter_parameters(path)
        assert "profile" in params, f"{path.name} has no profile parameter"
        paired = path.with_suffix(".ipynb")
        assert paired.is_file(), f"missing paired notebook {paired.name} (jupytext --to ipynb)"
        nb = jupytext.read(paired)
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), f"{paired.name} has outputs"
        source = [c.source for c in jupytext.read(path).cells]
        assert [c.source for c in nb.cells] == source, f"{paired.name} is out of sync with {path.name}"


def test_unknown_parameter_and_profile_are_named(tmp_path):
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['bakcbone'\]; valid choices: .*profile"):
        book.build_book(parameters={"bakcbone": "gpt2"}, chapters=["data"], out=tmp_path, root=ROOT)
    with pytest.raises(ValueError, match="unknown profile 'fast'; valid choices: smoke, quick, paper"):
        book.build_book(profile="fast", out=tmp_path, root=ROOT)


def test_a_failing_cell_names_the_chapter_and_the_cell(tmp_path):
    root = _mini_book(tmp_path / "src", textwrap.dedent("""\
        # Bad

        ```{code-cell} ipython3
        :tags: [parameters]
        profile = "quick"
        ```

        ```{code-cell} ipython3
        x = 1
        ```

        ```{code-cell} ipython3
        raise RuntimeError("boom in cell three")
        ```
        """))
    with pytest.raises(book.BookBuildError, match=r"chapter 'bad' failed in code cell 3 \(RuntimeError: boom in cell three\)"):
        book.build_book(out=tmp_path / "out", root=root)


@pytest.mark.slow
def test_book_smoke_build_renders_every_page_without_errors(tmp_path):
    """The whole book in the smoke profile on a tiny random backbone: every chapter executes and renders."""
    html = book.build_book(profile="smoke", parameters={"backbone": "tiny-llama"}, out=tmp_path, root=ROOT)
    expected = {p.stem for p in book.chapter_files(ROOT)}
    pages = {p.stem for p in (html / "book").glob("*.html")}
    assert pages == expected
    for page in expected:
        text = (html / "book" / f"{page}.html").read_text()
        assert "Traceback" not in text, page
    timings = json.loads((tmp_path / "staging" / "timings.json").read_text())
    assert [c["chapter"] for c in timings["chapters"]] == [p.stem for p in book.chapter_files(ROOT)]
    assert all(c["parameters"].get("profile") == "smoke" for c in timings["chapters"])
