"""The package's modules import each other without a circle (function-local imports included)."""

from __future__ import annotations

import ast
from pathlib import Path

import smallnet

PACKAGE = Path(smallnet.__file__).resolve().parent


def imports_of(path: Path) -> set[str]:
    """The package modules `path` imports (``from .x import …`` anywhere in the file)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
    return found


def test_no_import_circle():
    graph = {p.stem: imports_of(p) for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    assert {"model", "optim", "training", "data"} <= set(graph)
    visiting, done = set(), set()

    def visit(module: str, path: list[str]):
        if module in done or module not in graph:
            return
        assert module not in visiting, "import circle: " + " → ".join(path + [module])
        visiting.add(module)
        for target in sorted(graph[module]):
            visit(target, path + [module])
        visiting.discard(module)
        done.add(module)

    for module in sorted(graph):
        visit(module, [])
