"""The layers hold: no import cycle among the product's modules.

``lint-imports`` (run by .ci/run, contracts in pyproject.toml) checks the direction between
layers and keeps Slack code in the Slack layer; this checks what it does not: that no module
imports, directly or through others, one of its own importers.
"""

from __future__ import annotations

import grimp

PACKAGES = ("bot", "commands", "jobs", "core", "infra", "engine")


def import_cycles() -> list[tuple[str, ...]]:
    # Imports under ``if TYPE_CHECKING`` are annotations only: they never run.
    graph = grimp.build_graph(*PACKAGES, cache_dir=None, exclude_type_checking_imports=True)
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
