"""Build the emobook: execute each chapter once with papermill, then render HTML with Jupyter Book.

Chapters are jupytext MyST notebooks (``book/*.md``) with a ``parameters`` cell. :func:`build_book`
converts each to ``.ipynb`` in a staging folder, executes it with the profile and parameter
overrides it declares, and finally runs ``jupyter-book build`` on the staging folder with execution
off. A failing cell stops the build with an error naming the chapter and the cell.

Example:
    >>> from emolib.book import build_book
    >>> build_book(profile="quick", chapters=["data"])  # doctest: +SKIP
    PosixPath('_build/html')
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

from emolib.params import check_parameters
from emolib.profiles import check_profile

__all__ = ["BookBuildError", "repository_root", "chapter_files", "is_chapter_notebook", "chapter_parameters",
           "build_book", "tidy_executed"]

logger = logging.getLogger(__name__)


class BookBuildError(RuntimeError):
    """A chapter failed to execute, or Jupyter Book failed to render."""


#: the glossary page (``{term}`` links of every chapter point to it): built with any selection of chapters
GLOSSARY = "book/glossary"


def repository_root(start: Path | None = None) -> Path:
    """The folder holding ``_toc.yml``: ``start`` or the working folder or the package's parent."""
    for candidate in (start, Path.cwd(), Path(__file__).resolve().parent.parent):
        if candidate is not None and (candidate / "_toc.yml").is_file():
            return candidate.resolve()
    raise FileNotFoundError("no _toc.yml found: run emolib book from the emobook repository")


def _toc_files(toc: dict) -> list[str]:
    files = [toc["root"]]

    def walk(entries: list[dict]) -> None:
        for entry in entries:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections", []) + entry.get("chapters", []))

    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    walk(toc.get("chapters", []))
    return files


def is_chapter_notebook(path: Path) -> bool:
    """Whether ``path`` is a jupytext MyST notebook (a chapter with code), not a plain page."""
    head = path.read_text().split("\n---", 1)[0] if path.suffix == ".md" else ""
    return "kernelspec" in head and "jupytext" in head


def chapter_files(root: Path | None = None) -> list[Path]:
    """Source files of the book in ``_toc.yml`` order (``.md``)."""
    root = repository_root(root)
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    paths = []
    for name in _toc_files(toc):
        path = root / (name if Path(name).suffix else f"{name}.md")
        if not path.is_file():
            raise FileNotFoundError(f"_toc.yml lists {name!r} but {path} does not exist")
        paths.append(path)
    return paths


def chapter_parameters(path: Path) -> dict[str, Any]:
    """The parameters a chapter declares in its ``parameters`` cell, with their default values."""
    import jupytext
    import papermill

    nb = jupytext.read(path)
    tmp = path.parent / f".{path.stem}.params.ipynb"
    try:
        jupytext.write(nb, tmp)
        return {name: info["default"] for name, info in papermill.inspect_notebook(str(tmp)).items()}
    finally:
        tmp.unlink(missing_ok=True)


def _code_cell_number(notebook: Path, cell_index: int) -> int:
    """1-based number of a cell among the chapter's own code cells (papermill's injected cell excluded)."""
    import nbformat

    cells = [c for c in nbformat.read(notebook, as_version=4).cells
             if "papermill-error-cell-tag" not in c.metadata.get("tags", [])][: cell_index + 1]
    return sum(c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", []) for c in cells)


def tidy_executed(notebook: Path) -> None:
    """Make an executed chapter fit to publish, in place: no stderr output (warnings, progress bars) on any page,
    and the parameters shown once, with the values the build used.

    Papermill adds a cell tagged ``injected-parameters`` after the chapter's ``parameters`` cell. Each
    ``name = value`` line of the ``parameters`` cell whose name papermill set is rewritten with the value used
    (a comment after it is kept), and the injected cell is dropped.

    Example:
        >>> import nbformat, tempfile
        >>> cell, stderr = nbformat.v4.new_code_cell, nbformat.v4.new_output("stream", name="stderr", text="w")
        >>> nb = nbformat.v4.new_notebook(cells=[
        ...     cell("profile = 'quick'  # the profile\\nseed = 1", metadata={"tags": ["parameters"]}),
        ...     cell("# Parameters\\nprofile = 'smoke'\\n", metadata={"tags": ["injected-parameters"]}),
        ...     cell("x = 1", outputs=[stderr])])
        >>> path = Path(tempfile.mkdtemp()) / "ch.ipynb"
        >>> nbformat.write(nb, path)
        >>> tidy_executed(path)
        >>> cells = nbformat.read(path, as_version=4).cells
        >>> [c.metadata.get("tags", []) for c in cells], cells[0].source, cells[1].outputs
        ([['parameters'], []], "profile = 'smoke'  # the profile\\nseed = 1", [])
    """
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    used = {}
    for cell in injected:
        used.update(_assigned_sources(cell.source))
    cells = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.get("outputs", []) if not (o.get("output_type") == "stream"
                                                                          and o.get("name") == "stderr")]
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags:
            continue
        if "parameters" in tags and used:
            cell.source = _rewrite_parameters(cell.source, used)
        _describe_figure(cell)
        cells.append(cell)
    nb.cells = cells
    nbformat.write(nb, notebook)


def _describe_figure(cell) -> None:
    """Give a figure cell's image an alt text from its caption's first sentence (plain text, no roles or markup), where
    the cell names none; otherwise a reader without the image hears the file's hash.

    Example:
        >>> import nbformat
        >>> cell = nbformat.v4.new_code_cell("", metadata={"mystnb": {"figure": {"caption": "Kendall τ per layer "
        ...     "({numref}`fig-x`; *dots*: units). Grey: the null."}}})
        >>> _describe_figure(cell)
        >>> cell.metadata["mystnb"]["image"]["alt"]
        'Kendall τ per layer (fig-x; dots: units).'
    """
    import re

    figure = cell.metadata.get("mystnb", {}).get("figure", {})
    caption = figure.get("caption") if isinstance(figure, dict) else None
    image = cell.metadata.get("mystnb", {}).setdefault("image", {}) if caption else None
    if not caption or "alt" in image:
        return
    text = re.sub(r"\{[^}]*\}`(?:[^`<]*<)?([^`>]*)>?`", r"\1", caption)  # roles: their text or target
    text = re.sub(r"[*`]", "", " ".join(text.split()))
    sentence = re.match(r"(.+?[.!?])(?:\s|$)", text)
    image["alt"] = (sentence.group(1) if sentence else text)[:300]


def _assigned_sources(source: str) -> dict[str, str]:
    """``{name: value's source}`` of the ``name = value`` statements of a cell."""
    import ast

    out = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            out[node.targets[0].id] = ast.get_source_segment(source, node.value)
    return out


def _rewrite_parameters(source: str, used: dict[str, str]) -> str:
    """``source`` with the value of each one-line ``name = value`` statement named in ``used`` replaced; what
    follows the value on its line (a comment) is kept."""
    import ast

    lines = source.split("\n")
    for node in ast.parse(source).body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id in used and node.lineno == node.end_lineno):
            line = lines[node.lineno - 1].encode()  # ast's offsets count UTF-8 bytes
            value = used[node.targets[0].id].encode()
            lines[node.lineno - 1] = (line[: node.value.col_offset] + value + line[node.end_col_offset:]).decode()
    return "\n".join(lines)


def _parse_value(text: Any) -> Any:
    return yaml.safe_load(text) if isinstance(text, str) else text


def _filtered_toc(toc: dict, keep: set[str]) -> dict:
    def walk(entries: list[dict]) -> list[dict]:
        out = []
        for entry in entries:
            if entry.get("file") in keep:
                new = dict(entry)
                for key in ("sections", "chapters"):
                    if key in entry:
                        new[key] = walk(entry[key])
                out.append(new)
        return out

    new = {k: v for k, v in toc.items() if k not in ("parts", "chapters")}
    if "parts" in toc:
        new["parts"] = [dict(p, chapters=walk(p.get("chapters", []))) for p in toc["parts"]]
        new["parts"] = [p for p in new["parts"] if p["chapters"]]
    if "chapters" in toc:
        new["chapters"] = walk(toc["chapters"])
    return new


#: environment variable overriding ``repository.url`` of ``_config.yml`` for one build (a fork's launch buttons)
REPOSITORY_URL_ENV = "EMOBOOK_REPOSITORY_URL"


def _apply_repository_override(config: Path) -> None:
    """Set ``repository.url`` of a staged ``_config.yml`` to ``$EMOBOOK_REPOSITORY_URL`` when it is set (forks)."""
    url = os.environ.get(REPOSITORY_URL_ENV)
    if url:
        settings = yaml.safe_load(config.read_text())
        settings.setdefault("repository", {})["url"] = url
        config.write_text(yaml.safe_dump(settings, sort_keys=False))
        logger.info("launch buttons open %s (%s)", url, REPOSITORY_URL_ENV)


def build_book(
    profile: str = "quick",
    parameters: dict[str, Any] | None = None,
    chapters: list[str] | None = None,
    out: str | os.PathLike = "_build",
    root: Path | None = None,
) -> Path:
    """Execute the chapters and build the HTML book; returns the HTML folder.

    Args:
        profile: a profile of :mod:`emolib.profiles` (``"quick"``: CPU minutes on the embedded
            backbone; ``"paper"``: the original protocol, meant for a GPU; ``"smoke"``: seconds).
        parameters: overrides for chapter parameters, e.g. ``{"backbone": "roberta-base"}``; each
            name must be declared by at least one executed chapter.
        chapters: chapter file stems to execute (default: all); the intro is always included.
        out: build folder; the HTML lands in ``out/html``.
    """
    import jupytext
    import papermill
    from papermill.exceptions import PapermillExecutionError
    from tqdm.auto import tqdm

    check_profile(profile)
    root = repository_root(root)
    out = Path(out).resolve()
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    sources = chapter_files(root)
    stems = [p.stem for p in sources]
    if chapters is not None and not chapters:
        raise ValueError(f"chapters must not be empty; valid choices: {', '.join(stems)}")
    if chapters is not None:
        unknown = [c for c in chapters if c not in stems]
        if unknown:
            raise ValueError(f"unknown chapter(s) {unknown!r}; valid choices: {', '.join(stems)}")
        always = {toc["root"], GLOSSARY}  # the glossary costs a second and every chapter links to it
        sources = [p for p in sources if p.stem in chapters or p.relative_to(root).with_suffix("").as_posix() in always]
    notebooks = [p for p in sources if is_chapter_notebook(p)]
    declared = {p: chapter_parameters(p) for p in notebooks}
    overrides = {k: _parse_value(v) for k, v in (parameters or {}).items()}
    valid = sorted(set().union(*declared.values())) if declared else []
    unknown = [k for k in overrides if k not in valid]
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown!r}; valid choices: {', '.join(valid)}")
    check_parameters(overrides)  # a bad value fails here, before any chapter runs
    if "backbone" in overrides:
        from emolib.model.backbones import check_backbone_name

        check_backbone_name(overrides["backbone"])

    staging = out / "staging"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    shutil.copy(root / "_config.yml", staging / "_config.yml")
    _apply_repository_override(staging / "_config.yml")
    keep = {p.relative_to(root).with_suffix("").as_posix() for p in sources}
    (staging / "_toc.yml").write_text(yaml.safe_dump(_filtered_toc(toc, keep), sort_keys=False))
    shutil.copytree(root / "book", staging / "book", ignore=shutil.ignore_patterns("*.ipynb", "*.md", ".*"))
    for path in sources:
        if path not in declared:
            target = staging / path.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)

    run_id = uuid.uuid4().hex[:12]
    env_updates = {
        "EMOLIB_RUN_ID": run_id,
        "TQDM_DISABLE": "1",  # library progress bars would flood the chapters' outputs; the build shows its own
        "PYTHONWARNINGS": "ignore",  # warnings name the build machine's paths; they are for developers, not pages
        # the kernels draw inline whatever the caller's backend (MPLBACKEND=Agg, as under pytest, shows no figure)
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "EMOLIB_BUILD_DIR": str(staging),
        "EMOLIB_ARTIFACTS": str(Path(os.environ.get("EMOLIB_ARTIFACTS", root / ".emolib")).resolve()),
        "EMOLIB_DATA": os.environ.get("EMOLIB_DATA", str(root / "data")),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
    }
    old_env = {k: os.environ.get(k) for k in env_updates}
    os.environ.update(env_updates)
    timings = []
    try:
        # the root page (intro) summarises what the other chapters recorded (emolib.overview): it runs last
        first = [p for p in notebooks if p.relative_to(root).with_suffix("").as_posix() != toc["root"]]
        order = first + [p for p in notebooks if p not in first]
        bar = tqdm(order, desc=f"executing chapters ({profile})", unit="chapter", disable=False)
        for path in bar:
            bar.set_postfix_str(path.stem)
            target = staging / path.relative_to(root).with_suffix(".ipynb")
            jupytext.write(jupytext.read(path), target)
            params = {k: v for k, v in {"profile": profile, **overrides}.items() if k in declared[path]}
            start = time.perf_counter()
            try:
                papermill.execute_notebook(
                    str(target), str(target), parameters=params, kernel_name="python3", language="python",
                    progress_bar=False, cwd=str(target.parent),
                )
            except PapermillExecutionError as err:
                raise BookBuildError(
                    f"chapter {path.stem!r} failed in code cell {_code_cell_number(target, err.cell_index)} "
                    f"({err.ename}: {err.evalue}).\n"
                    f"Cell source:\n{err.source}\nExecuted notebook: {target}"
                ) from None
            seconds = time.perf_counter() - start
            tidy_executed(target)
            timings.append({"chapter": path.stem, "seconds": round(seconds, 2), "parameters": params})
            logger.info("executed %s in %.1f s", path.stem, seconds)
            (staging / "timings.json").write_text(json.dumps({"run": run_id, "profile": profile, "chapters": timings}, indent=2))
    finally:
        for key, value in old_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    jb = Path(sys.executable).parent / "jupyter-book"
    command = [str(jb) if jb.exists() else "jupyter-book", "build", str(staging), "--builder", "html", "--path-output", str(out)]
    logger.info("rendering: %s", " ".join(command))
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise BookBuildError(f"jupyter-book build failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    built = out / "_build" / "html"
    html = out / "html"
    if html.exists():
        shutil.rmtree(html)
    shutil.move(str(built), str(html))
    shutil.rmtree(out / "_build", ignore_errors=True)
    from emolib.downloads import add_downloads

    add_downloads(html)  # a CSV link under every table, a PNG link under every figure
    return html


#: the label of the total row of :func:`read_timings`
TIMINGS_TOTAL = "all chapters before this page"


def read_timings(build_dir: str | os.PathLike | None = None, total: str | None = TIMINGS_TOTAL) -> "pd.DataFrame":
    """The chapter timings :func:`build_book` recorded so far in ``<build_dir>/timings.json``, as a frame.

    Args:
        build_dir: the staging folder of a build (default ``$EMOLIB_BUILD_DIR``, which ``emolib book``
            sets for the chapters it executes); outside ``emolib book`` there are no timings.
        total: label of a last row holding the summed seconds (None: no total row).

    Returns:
        Columns ``chapter, seconds``, one row per chapter executed so far (none outside a build), then the
        total row; ``attrs["profile"]`` is the build's profile (None outside a build) and
        ``attrs["n_chapters"]`` the number of chapter rows.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / "timings.json").write_text(json.dumps({"run": "x", "profile": "quick", "chapters": [
        ...     {"chapter": "data", "seconds": 1.5, "parameters": {}}, {"chapter": "intro", "seconds": 2.0}]}))
        >>> timings = read_timings(folder)
        >>> timings.values.tolist(), timings.attrs["profile"], timings.attrs["n_chapters"]
        ([['data', 1.5], ['intro', 2.0], ['all chapters before this page', 3.5]], 'quick', 2)
        >>> read_timings(Path(tempfile.mkdtemp())).attrs
        {'profile': None, 'n_chapters': 0}
    """
    import pandas as pd

    if build_dir is None:
        build_dir = os.environ.get("EMOLIB_BUILD_DIR")
    path = Path(build_dir) / "timings.json" if build_dir else None
    if path is not None and path.is_file():
        try:
            timings = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"corrupt timings file {path}: {err}") from err
    else:
        timings = {"profile": None, "chapters": []}
    frame = pd.DataFrame(timings["chapters"], columns=["chapter", "seconds", "parameters"])[["chapter", "seconds"]]
    n_chapters = len(frame)
    if total is not None:
        frame.loc[len(frame)] = [total, frame["seconds"].sum()]
    frame.attrs.update(profile=timings.get("profile"), n_chapters=n_chapters)
    return frame


__all__ += ["TIMINGS_TOTAL", "read_timings"]
