"""The import graph of the project's packages, read from the source (no import runs): no cycle between
its units (a top-level module, or a subpackage of pipeline, ml or bench), counting the imports inside
functions too, so none can hide a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

from pipeline.platform.config import REPO_ROOT

PACKAGES = ("pipeline", "ml", "bench")


def _modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (REPO_ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)
            modules[name.removesuffix(".__init__")] = path
    return modules


def _imported(module: str, path: Path, node: ast.Import | ast.ImportFrom, modules: dict[str, Path]) -> set[str]:
    """The project modules one import statement names."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:  # relative: from the module's package
            package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
            package = package[:len(package) - node.level + 1]
            base = ".".join(package + ([base] if base else []))
        names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
    found = set()
    for name in names:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        if name:
            found.add(name)
    return found


def _unit(module: str) -> str:
    return ".".join(module.split(".")[:2])


def unit_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for target in _imported(module, path, node, modules):
                    if _unit(target) != _unit(module):
                        graph.setdefault(_unit(module), set()).add(_unit(target))
    return graph


def _cycle_through(graph: dict[str, set[str]], start: str) -> list[str] | None:
    stack = [(start, [start])]
    seen = set()
    while stack:
        node, path = stack.pop()
        for nxt in graph.get(node, ()):
            if nxt == start:
                return [*path, start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


def test_the_units_of_the_project_import_each_other_without_a_cycle():
    graph = unit_graph()
    units = set(graph).union(*graph.values())
    assert {"pipeline.platform", "pipeline.cluster", "pipeline.chain", "ml.models", "bench.stages"} <= units
    assert "pipeline.platform" in graph["pipeline.cluster"]  # the graph sees real edges
    cycles = [c for unit in sorted(graph) if (c := _cycle_through(graph, unit))]
    assert not cycles, cycles


def test_the_walk_finds_a_cycle_a_function_level_import_would_hide():
    graph = unit_graph()
    # what spark.py once did, when how a process joins the cluster lived in the cluster package
    graph.setdefault("pipeline.platform", set()).add("pipeline.cluster")
    cycle = _cycle_through(graph, "pipeline.cluster")
    assert cycle and cycle[0] == cycle[-1] == "pipeline.cluster" and "pipeline.platform" in cycle


def test_the_platform_imports_no_stage_and_no_module_imports_a_command():
    graph = unit_graph()
    assert not graph.get("pipeline.platform"), graph.get("pipeline.platform")
    modules = _modules()
    commands = []
    for module, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                commands += [(module, t) for t in _imported(module, path, node, modules) if t.endswith(".__main__")]
    assert not commands, commands
