"""Packaging: the wheel carries every module and data file, and works installed (non-editable) outside the tree."""

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
_SKIP = shutil.ignore_patterns(".git", ".venv", "_build", ".emolib", "build", "dist", "*.egg-info", "__pycache__",
                               ".pytest_cache", "tests", "benchmarks", "book", ".ipynb_checkpoints")


def _run(command: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """``python -m build`` of a copy of the source tree (so the build leaves nothing in the repository): an sdist,
    then the wheel built from that sdist; ``--no-isolation`` uses this venv's setuptools (no download)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=_SKIP)
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(tmp / "dist"), str(src)],
         cwd=tmp, env=dict(os.environ))
    (path,) = (tmp / "dist").glob("emolib-*.whl")
    assert len(list((tmp / "dist").glob("emolib-*.tar.gz"))) == 1
    return path


@pytest.mark.slow
def test_the_wheel_carries_every_module_and_every_shipped_data_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "emolib").rglob("*.py") if "__pycache__" not in p.parts}
    assert modules - names == set(), "modules missing from the wheel: list new subpackages in pyproject.toml"
    listed = [line.split(maxsplit=1)[1] for line in (ROOT / "data" / "SHA256SUMS").read_text().splitlines() if line]
    missing = [f for f in listed if f"emobook_data/{f}" not in names]
    assert not missing, f"data files missing from the wheel: {missing[:5]}"
    assert "emobook_data/SHA256SUMS" in names


@pytest.mark.slow
def test_the_installed_wheel_reproduces_and_runs_a_chapter_outside_the_repository(wheel, tmp_path):
    """Install the wheel non-editable into a fresh venv and use it from a folder outside the repository:
    ``emolib reproduce human`` and the data chapter's ``.ipynb`` (smoke profile) with papermill, as in Colab.

    Shortcut, to keep this fast and offline: the fresh venv gets emolib from the wheel (``pip install --no-deps``)
    but its heavy dependencies (torch, transformers, papermill, ...) from this venv's site-packages through a
    ``.pth`` file; that path is added after the venv's own site-packages, and this venv's editable emolib is not
    activated there (``.pth`` files are read only in site directories), so every ``import emolib`` is the wheel's.
    """
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path, env=dict(os.environ))
    python = venv / "bin" / "python"
    purelib = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                        cwd=tmp_path, env=dict(os.environ)).strip())
    (purelib / "emobook-test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("EMOLIB_DATA", "PYTHONPATH", "EMOLIB_BUILD_DIR")}
    env.update(EMOLIB_ARTIFACTS=str(tmp_path / "artifacts"), MPLBACKEND="Agg", PATH=f"{venv / 'bin'}:{env['PATH']}")
    _run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], cwd=tmp_path, env=env)

    outside = tmp_path / "reader"
    outside.mkdir()
    code = "import emolib, emolib.data; print(emolib.__file__); print(emolib.data.data_dir())"
    where = _run([str(python), "-c", code],
                 cwd=outside, env=env).split()
    assert all(Path(p).is_relative_to(purelib) for p in where), where
    printed = _run([str(venv / "bin" / "emolib"), "reproduce", "human", "--out", str(outside / "human")],
                   cwd=outside, env=env)
    assert (outside / "human" / "human_attribute_weights.csv").is_file(), printed

    shutil.copy(ROOT / "book" / "data.ipynb", outside / "data.ipynb")
    probe = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import sys, emolib\nassert emolib.__file__.startswith(sys.prefix), emolib.__file__")],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                  "language_info": {"name": "python"}})
    nbformat.write(probe, outside / "probe.ipynb")
    for name in ("probe", "data"):
        _run([str(python), "-m", "papermill", f"{name}.ipynb", f"{name}.out.ipynb", "-k", "python3",
              "-p", "profile", "smoke", "--cwd", str(outside)], cwd=outside, env=env)
    executed = nbformat.read(outside / "data.out.ipynb", as_version=4)
    errors = [o for c in executed.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors and any(o.get("output_type") == "display_data" for c in executed.cells
                              for o in c.get("outputs", [])), "the data chapter ran without a figure or with errors"
