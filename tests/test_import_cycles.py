"""No import cycle between the command-line modules (rig.cli*) nor between the panel's (web.*).

Read from the source with ``ast``: every import counts, at module level and
inside functions alike (an import moved into a function to dodge a cycle is
still the cycle). ``from web import auth`` is an import of ``web.auth``;
importing a submodule's parent package implicitly is not counted.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def module_files(package: str, prefix: str) -> dict[str, Path]:
    """The modules of ``package`` whose names start with ``prefix``, by dotted name."""
    folder = ROOT / package
    found = {}
    for path in sorted(folder.glob("*.py")):
        name = package if path.stem == "__init__" else f"{package}.{path.stem}"
        if name == package or name.startswith(prefix):
            found[name] = path
    return found


def imports_of(path: Path, known: set[str]) -> dict[str, str]:
    """The modules of ``known`` that ``path`` imports, each with where: ``module level`` or ``in f()``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: dict[str, str] = {}

    def visit(node, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = where
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                inner = f"in {child.name}()"
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name in known:
                        found.setdefault(alias.name, where)
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                for alias in child.names:
                    sub = f"{child.module}.{alias.name}"
                    target = sub if sub in known else child.module
                    if target in known:
                        found.setdefault(target, where)
            visit(child, inner)
    visit(tree, "module level")
    return found


def cycles(graph: dict[str, dict[str, str]]) -> list[list[str]]:
    """Every elementary cycle's modules, each found once (from its smallest name)."""
    out = []

    def walk(start: str, node: str, path: list[str]) -> None:
        for nxt in graph.get(node, {}):
            if nxt == start:
                out.append(path[:])
            elif nxt > start and nxt not in path:
                walk(start, nxt, path + [nxt])
    for start in sorted(graph):
        walk(start, start, [start])
    return out


def describe(graph, cycle: list[str]) -> str:
    hops = zip(cycle, cycle[1:] + cycle[:1])
    return " -> ".join(f"{a} ({graph[a][b]})" for a, b in hops) + f" -> {cycle[0]}"


@pytest.mark.parametrize("package, prefix", [("rig", "rig.cli"), ("web", "web.")])
def test_no_import_cycle(package, prefix):
    files = module_files(package, prefix)
    known = set(files)
    graph = {name: imports_of(path, known) for name, path in files.items()}
    if package == "rig":
        graph.pop("rig")          # the package itself is no command-line module
    found = cycles(graph)
    assert found == [], "import cycles:\n" + "\n".join(describe(graph, c) for c in found)


def test_the_checker_sees_a_cycle_hidden_in_a_function(tmp_path):
    (tmp_path / "a.py").write_text("from pkg import b\n")
    (tmp_path / "b.py").write_text("def f():\n    from pkg.a import x\n")
    known = {"pkg.a", "pkg.b"}
    graph = {"pkg.a": imports_of(tmp_path / "a.py", known), "pkg.b": imports_of(tmp_path / "b.py", known)}
    assert graph == {"pkg.a": {"pkg.b": "module level"}, "pkg.b": {"pkg.a": "in f()"}}
    assert cycles(graph) == [["pkg.a", "pkg.b"]]
