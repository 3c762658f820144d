"""The detection core stays small, acyclic and pure.

Each module of ``rig/core`` has one job and stays under 400 lines; they
import one another without a cycle (read from the source with ``ast``,
imports inside functions included); and none imports hardware, network,
storage or clock modules: time is an argument.
"""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "rig" / "core"
MAX_LINES = 400
IMPURE = {"gpiozero", "paho", "flask", "sqlite3", "time", "datetime", "threading", "socket", "waitress"}


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def core_modules() -> dict[str, Path]:
    return {f"rig.core.{p.stem}": p for p in sorted(CORE.glob("*.py")) if p.stem != "__init__"}


def test_every_core_module_is_under_400_lines():
    sizes = {name: len(path.read_text().splitlines()) for name, path in core_modules().items()}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


def test_no_import_cycle_in_the_core():
    modules = core_modules()
    graph = {name: {m for m in imports_of(path) if m in modules} for name, path in modules.items()}
    done: set[str] = set()

    def visit(name: str, stack: list[str]) -> None:
        if name in stack:
            raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(name):] + [name]))
        if name in done:
            return
        for dep in sorted(graph[name]):
            visit(dep, stack + [name])
        done.add(name)

    for name in graph:
        visit(name, [])


def test_the_core_is_pure():
    for name, path in core_modules().items():
        roots = {m.split(".")[0] for m in imports_of(path)}
        assert not roots & IMPURE, f"{name} imports {sorted(roots & IMPURE)}"
