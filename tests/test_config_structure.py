"""The configuration package stays small and acyclic, and ``from rig.config import X`` keeps working.

``rig/config`` is split by job (models, table, wiring, outputs, load); each
module stays under 400 lines, and they import one another without a cycle
(read from the source with ``ast``, imports inside functions included; an
import of the package ``rig.config`` itself from one of its modules counts,
since the package imports them all).
"""

from __future__ import annotations

import ast
from pathlib import Path

import rig.config

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "rig" / "config"
MAX_LINES = 400


def modules() -> dict[str, Path]:
    return {("rig.config" if p.stem == "__init__" else f"rig.config.{p.stem}"): p
            for p in sorted(PACKAGE.glob("*.py"))}


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The modules of ``known`` that ``path`` imports, anywhere in it (``from rig.config import table``
    is an import of ``rig.config.table``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                target = sub if sub in known else node.module
                if target in known:
                    found.add(target)
    return found


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    done: set[str] = set()

    def visit(name: str, stack: list[str]) -> list[str] | None:
        if name in stack:
            return stack[stack.index(name):] + [name]
        if name in done:
            return None
        for dep in sorted(graph[name]):
            cycle = visit(dep, stack + [name])
            if cycle:
                return cycle
        done.add(name)
        return None

    for name in sorted(graph):
        cycle = visit(name, [])
        if cycle:
            return cycle
    return None


def test_every_config_module_is_under_400_lines():
    sizes = {name: len(path.read_text().splitlines()) for name, path in modules().items()}
    assert set(sizes) >= {"rig.config", "rig.config.models", "rig.config.table", "rig.config.load"}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


def test_no_import_cycle_in_the_config_package():
    found = modules()
    graph = {name: imports_of(path, set(found)) - {name} for name, path in found.items()}
    assert find_cycle(graph) is None, "import cycle: " + " -> ".join(find_cycle(graph))


def test_the_checker_sees_a_cycle_through_the_package_in_a_function(tmp_path):
    (tmp_path / "a.py").write_text("from rig.config.b import x\n")
    (tmp_path / "b.py").write_text("def f():\n    from rig.config import a\n")
    known = {"rig.config.a", "rig.config.b"}
    graph = {"rig.config.a": imports_of(tmp_path / "a.py", known),
             "rig.config.b": imports_of(tmp_path / "b.py", known)}
    assert graph == {"rig.config.a": {"rig.config.b"}, "rig.config.b": {"rig.config.a"}}
    assert find_cycle(graph) == ["rig.config.a", "rig.config.b", "rig.config.a"]


def test_every_name_imported_from_rig_config_exists():
    missing = []
    for path in sorted(p for folder in ("rig", "web", "tests", "bench") for p in (ROOT / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and node.module == "rig.config":
                missing += [f"{path.relative_to(ROOT)}: {a.name}" for a in node.names
                            if not hasattr(rig.config, a.name)]
    assert missing == []


def test_the_package_exports_what_it_says():
    assert all(hasattr(rig.config, name) for name in rig.config.__all__)


def test_the_example_stays_package_data_of_rig():
    path = Path(rig.config.example_config_path())
    assert path == ROOT / "rig" / "rig.example.toml" and path.is_file()
