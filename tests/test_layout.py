"""The architecture, enforced: imports flow one way between the subpackages, no module
imports the dashboard page, Streamlit stays in ``sim.app``, and there is no import cycle
anywhere (imports made only for type checking aside)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SIM = ROOT / "sim"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("core",),
    ("run",),
    ("planning", "forecasting"),
    ("io",),
    ("report",),
    ("verify",),
    ("cli", "app"),
)
"""Lowest first. A module may import its own subpackage and those of lower layers; the
subpackages of one layer are independent of each other."""
RANK = {name: i for i, group in enumerate(LAYERS) for name in group}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(SIM.rglob("*.py"))}


def _type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def imports(path: Path, package: str) -> Iterator[tuple[str, int]]:
    """(imported module, line) of every import outside ``if TYPE_CHECKING:``, at any depth
    (an import inside a function is still a dependency)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))

    def walk(node: ast.AST) -> Iterator[tuple[str, int]]:
        for child in ast.iter_child_nodes(node):
            if _type_checking(child):
                for sub in child.orelse:
                    yield from walk(sub)
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield alias.name, child.lineno
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                yield base, child.lineno
                for alias in child.names:  # "from sim.io import store" imports sim.io.store
                    yield f"{base}.{alias.name}", child.lineno
            else:
                yield from walk(child)

    yield from walk(tree)


def internal_imports() -> dict[str, set[tuple[str, int]]]:
    """Each module of ``sim`` -> the modules of ``sim`` it imports (with the line)."""
    mods = modules()
    out: dict[str, set[tuple[str, int]]] = {}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = set()
        for target, line in imports(path, package):
            if target in mods:
                found.add((target, line))
        out[name] = found
    return out


def subpackage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in RANK else None


def test_every_subpackage_has_a_layer() -> None:
    """A new subpackage must be given its place in the layers."""
    found = {p.name for p in SIM.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert found == set(RANK), f"subpackages without a layer: {sorted(found - set(RANK))}"


def test_imports_flow_one_way() -> None:
    """A lower layer never imports a higher one, nor a sibling of its own layer."""
    bad = []
    for module, targets in internal_imports().items():
        src = subpackage(module)
        if src is None:
            continue
        for target, line in targets:
            dst = subpackage(target)
            if dst is None or dst == src:
                if target == "sim" and module != "sim":
                    bad.append(f"{module}:{line} imports the package root (import what it needs)")
                continue
            if RANK[dst] >= RANK[src]:
                bad.append(f"{module}:{line} ({src}) imports {target} ({dst})")
    assert not bad, "imports against the layers:\n" + "\n".join(sorted(bad))


def test_the_public_api_imports_no_interface() -> None:
    """``import sim`` must stay light: the API names no command line or dashboard module."""
    targets = {t for t, _ in internal_imports()["sim"]}
    assert not {t for t in targets if subpackage(t) in ("cli", "app")}


def test_no_import_cycle() -> None:
    graph = {m: {t for t, _ in ts if t != m} for m, ts in internal_imports().items()}
    # a package's __init__ is imported with each of its modules: an edge from child to parent
    # is implied by Python, not a dependency of the code, so it is left out
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_nothing_imports_the_dashboard_page() -> None:
    """``app.py`` is the top: no module of the project imports it."""
    files = [*SIM.rglob("*.py"), *(ROOT / "bench").glob("*.py")]
    bad = [
        f"{p.relative_to(ROOT)}:{line}"
        for p in files
        for target, line in imports(p, "sim")
        if target == "app" or target.startswith("app.")
    ]
    assert not bad


@pytest.mark.parametrize("library", ["streamlit", "altair"])
def test_interface_libraries_stay_in_the_app_package(library: str) -> None:
    """Only ``sim.app`` (and the page, app.py) may import Streamlit or Altair."""
    bad = []
    for module, path in modules().items():
        if subpackage(module) == "app":
            continue
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for target, line in imports(path, package):
            if target == library or target.startswith(library + "."):
                bad.append(f"{module}:{line}")
    assert not bad, f"{library} imported outside sim.app: {bad}"


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    """The import reader finds relative, nested and aliased imports (so the rules above
    cannot pass because nothing was read)."""
    src = tmp_path / "m.py"
    src.write_text(
        "from typing import TYPE_CHECKING\n"
        "from . import store\n"
        "def f():\n    from sim.app import charts as c\n"
        "if TYPE_CHECKING:\n    import pandas\n",
        encoding="utf-8",
    )
    found = {t for t, _ in imports(src, "sim.io")}
    assert "sim.io.store" in found
    assert "sim.app.charts" in found
    assert "pandas" not in found
