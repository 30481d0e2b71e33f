import json
import re
import shutil
import textwrap
from pathlib import Path

import pytest

from emolib import book, pagecheck

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
    shutil.copy(ROOT / "book" / "references.bib", tmp_path / "book" / "references.bib")
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
    with pytest.raises(ValueError, match="unknown profile 'fast'; valid choices: smoke, quick, standard, paper"):
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
@pytest.mark.parametrize("backbone", ["tiny-llama", "tiny-roberta", "tiny-bert", "tiny-gpt2"])
def test_book_smoke_build_renders_every_page_without_errors(tmp_path, backbone, request):
    """The whole book in the smoke profile on a tiny random backbone of each family: every chapter executes
    and renders (the released-data chapters reuse the session's artifacts after the first build; tiny-llama's
    build is the session's ``smoke_book``, which the browser test opens)."""
    if backbone == "tiny-llama":
        tmp_path = request.getfixturevalue("smoke_book")
        html = tmp_path / "html"
    else:
        html = book.build_book(profile="smoke", parameters={"backbone": backbone, "device": "cpu"}, out=tmp_path,
                               root=ROOT)
    expected = {p.stem for p in book.chapter_files(ROOT)}
    pages = {p.stem for p in (html / "book").glob("*.html")}
    assert pages == expected
    for page in expected:
        text = (html / "book" / f"{page}.html").read_text()
        assert "Traceback" not in text, page
    timings = json.loads((tmp_path / "staging" / "timings.json").read_text())
    toc_order = [p.stem for p in book.chapter_files(ROOT)]
    assert [c["chapter"] for c in timings["chapters"]] == toc_order[1:] + toc_order[:1]  # the intro runs last
    intro = (html / "book" / "intro.html").read_text()
    assert "pending: run the backbone chapters" not in intro  # the build's own verdict fills the intro's table
    assert f"chosen backbone: {backbone} (smoke)" in intro
    coverage = (html / "book" / "coverage.html").read_text()
    assert re.search(rf"chosen backbone: {backbone} \(smoke\)(</p>)?</th>", coverage)  # a table, not Markdown text
    assert all(c["parameters"].get("profile") == "smoke" for c in timings["chapters"])
    executed = {p.stem: json.loads(p.read_text()) for p in (tmp_path / "staging" / "book").glob("*.ipynb")}
    assert pagecheck.parameter_mismatches(executed) == []  # each parameters cell shows the values the build used
    tags = [c["metadata"].get("tags", []) for nb in executed.values() for c in nb["cells"]]
    assert not any("injected-parameters" in t for t in tags)  # papermill's cell is gone


def test_read_timings_reads_the_build_log_and_is_empty_outside_a_build(tmp_path, monkeypatch):
    chapters = [{"chapter": "intro", "seconds": 1.25, "parameters": {"profile": "smoke"}},
                {"chapter": "data", "seconds": 2.5, "parameters": {"profile": "smoke"}}]
    (tmp_path / "timings.json").write_text(json.dumps({"run": "r", "profile": "smoke", "chapters": chapters}))
    timings = book.read_timings(tmp_path)
    assert timings.columns.tolist() == ["chapter", "seconds"]
    assert timings.values.tolist() == [["intro", 1.25], ["data", 2.5], [book.TIMINGS_TOTAL, 3.75]]
    assert timings.attrs == {"profile": "smoke", "n_chapters": 2}
    assert book.read_timings(tmp_path, total=None)["chapter"].tolist() == ["intro", "data"]
    monkeypatch.setenv("EMOLIB_BUILD_DIR", str(tmp_path))  # what emolib book sets for its chapters
    assert book.read_timings().equals(timings)
    monkeypatch.delenv("EMOLIB_BUILD_DIR")
    empty = book.read_timings()
    assert empty["chapter"].tolist() == [book.TIMINGS_TOTAL] and empty["seconds"].tolist() == [0]
    assert empty.attrs == {"profile": None, "n_chapters": 0}
    assert book.read_timings(tmp_path / "missing", total=None).empty
    (tmp_path / "timings.json").write_text("{not json")
    with pytest.raises(ValueError, match="corrupt timings file"):
        book.read_timings(tmp_path)


def test_every_bibliography_entry_is_cited_by_a_chapter():
    """The references page lists only cited works (no ``:all:``), so an entry nobody cites would vanish silently;
    every key of ``book/references.bib`` must be cited by some page."""
    import re

    keys = re.findall(r"^@\w+\{([^,]+),", (ROOT / "book" / "references.bib").read_text(), flags=re.MULTILINE)
    text = "\n".join(p.read_text() for p in (ROOT / "book").glob("*.md"))
    cited = {k.strip() for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", text) for k in group.split(",")}
    assert keys and sorted(set(keys) - cited) == []
    assert ":all:" not in (ROOT / "book" / "references.md").read_text()


def test_every_glue_reference_of_a_chapter_is_glued_by_it():
    """A ``{glue:...}`key``` whose key the chapter never glues renders as nothing; after a rename it is easy to miss.
    Keys glued in a loop count through their pattern (``f"pt_{split}_mean"``) or their listed names."""
    import re

    for path in book.chapter_files(ROOT):
        text = path.read_text()
        defined = set(re.findall(r'glue\("([^"]+)"', text))
        for names in re.findall(r'for \w+ in \(([^)]*)\):\s*\n\s*glue\(\w+,', text):
            defined |= set(re.findall(r'"([^"]+)"', names))
        patterns = [re.compile("^" + re.sub(r"\\\{[^}]*\\\}", r"\\w+", re.escape(f)) + "$")
                    for f in re.findall(r'glue\(f"([^"{][^"]*)"', text)]  # a loop key with a fixed prefix
        patterns += [re.compile("^[A-Za-z0-9]+" + re.sub(r"\\\{[^}]*\\\}", r"\\w+", re.escape(f)) + "$")
                     for f in re.findall(r'glue\(f"\{[^}]*\}([^"]*)"', text)]  # one starting with its variable: one word
        used = set(re.findall(r"\{glue(?::\w+)?\}`([^`:]+)", text)) | set(re.findall(r"```\{glue(?::\w+)?\} (\S+)", text))
        missing = sorted(k for k in used if k not in defined and not any(p.match(k) for p in patterns))
        assert missing == [], f"{path.name} refers to glue keys it never glues: {missing}"
