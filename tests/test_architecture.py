"""The layers hold: no import cycle among the product's modules, no class with several jobs.

``lint-imports`` (run by .ci/run, contracts in pyproject.toml) checks the direction between
layers and keeps Slack code in the Slack layer; this checks what it does not: that no module
imports, directly or through others, one of its own importers (annotation-only imports under
``if TYPE_CHECKING`` included: a cycle there is a design knot too), and that no class grows past
:data:`MAX_CLASS_LINES` (a class that long does several jobs; split it by responsibility).
"""

from __future__ import annotations

import ast
from pathlib import Path

import grimp

PACKAGES = ("bot", "commands", "jobs", "core", "infra", "engine")


def import_cycles() -> list[tuple[str, ...]]:
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    cycles: set[tuple[str, ...]] = set()
    for importer in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(importer):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back:
                cycle = (importer, *back)
                start = cycle.index(min(cycle[:-1]))  # one spelling per cycle
                cycles.add(cycle[start:-1] + cycle[:start] + (cycle[start],))
    return sorted(cycles)


def test_no_module_imports_one_of_its_importers() -> None:
    cycles = import_cycles()
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


MAX_CLASS_LINES = 400
ROOT = Path(__file__).resolve().parents[1]


def test_no_class_is_longer_than_the_limit() -> None:
    long = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ClassDef):
                    lines = (node.end_lineno or node.lineno) - node.lineno + 1
                    if lines >= MAX_CLASS_LINES:
                        long.append(f"{path.relative_to(ROOT)}: {node.name} ({lines} lines)")
    assert not long, "classes to split:\n" + "\n".join(long)
