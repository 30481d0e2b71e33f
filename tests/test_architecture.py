"""The house rules, read from the source: wings import only downwards, no cycles, one hooks module,
pure analyses without file I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "emolib"
#: wing -> rank; a module may import its own wing or a wing of lower rank only.
RANKS = {"base": 0, "model": 1, "rsa": 1, "human": 2, "paper": 3, "emollm": 3, "plots": 4, "top": 5}
TOP = {"reproduce", "book", "cli", "differences", "findings", "findings_valence", "overview", "plan", "publish", "golden", "verify", "build_box"}
#: analyses: arrays or frames in, results out; no files, no artifacts.
PURE = ["rsa", "human", "paper/manipulation.py", "emollm/probes.py", "stats.py", "emotions.py"]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def wing(module: str) -> str:
    """``emolib.paper.pipeline`` -> ``paper``; ``emolib.cli`` -> ``top``; ``emolib.data`` (and ``emolib``) -> ``base``."""
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in RANKS:
        return parts[1]
    return "top" if len(parts) > 1 and parts[1] in TOP else "base"


def imports(path: Path) -> set[str]:
    """Every emolib module ``path`` imports, at module level or inside functions."""
    tree = ast.parse(path.read_text())
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("emolib")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            if not base.startswith("emolib"):
                continue
            for alias in node.names:  # "from emolib.paper import prompts" imports a module
                candidate = f"{base}.{alias.name}"
                found.add(candidate if _exists(candidate) else base)
    return {m for m in found if m != here}


def _exists(module: str) -> bool:
    path = PACKAGE.parent.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def test_every_module_belongs_to_a_known_wing():
    assert {wing(m) for m in MODULES} <= set(RANKS)
    assert {"emolib.model.hooks", "emolib.profiles", "emolib.reproduce", "emolib.rsa.searchlight"} <= set(MODULES)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_wing_imports_a_wing_above_it(module):
    mine = wing(module)
    for target in imports(MODULES[module]):
        theirs = wing(target)
        ok = theirs == mine or RANKS[theirs] < RANKS[mine] or module == "emolib"  # the lazy public API
        assert ok, f"{module} ({mine}) imports {target} ({theirs}): a wing may only import downwards"


def test_there_are_no_circular_imports():
    graph = {m: {t for t in imports(p) if t in MODULES and t != "emolib"} for m, p in MODULES.items()}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                raise AssertionError("circular import: " + " -> ".join(trail + [node, nxt]))
            if state.get(nxt) is None:
                visit(nxt, trail + [node])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [])


def test_forward_hooks_are_registered_in_the_hooks_module_only():
    hooked = sorted(module_name(p) for p in PACKAGE.rglob("*.py")
                    if "register_forward_hook" in p.read_text() or "register_forward_pre_hook" in p.read_text())
    assert hooked == ["emolib.model.hooks"]


def _pure_files() -> list[Path]:
    out = []
    for entry in PURE:
        target = PACKAGE / entry
        out += sorted(target.rglob("*.py")) if target.is_dir() else [target]
    return out


@pytest.mark.parametrize("path", _pure_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_analyses_do_no_file_io(path):
    text = path.read_text()
    for word in ("open(", ".read_csv(", ".to_csv(", ".write_text(", ".read_text(", "np.load(", "np.save",
                 "emolib.artifacts", "atomic_write"):
        assert word not in text, f"{path.relative_to(PACKAGE)} uses {word!r}: analyses take arrays and frames"


def test_the_import_parser_sees_nested_and_aliased_imports():
    probe = PACKAGE / "paper" / "pipeline.py"
    found = imports(probe)
    assert {"emolib.paper.prompts", "emolib.human", "emolib.model.backbones"} <= found
    assert wing("emolib.paper.pipeline") == "paper" and wing("emolib.profiles") == "base"
    assert wing("emolib.cli") == "top" and wing("emolib.plots.masking") == "plots"
