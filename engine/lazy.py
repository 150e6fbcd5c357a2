"""Modules imported on first use, so a one-shot process pays only for what it runs.

``mlops-bot drift`` on two parquet files needs pyarrow and numpy; pandas (about 0.35 s to
import) is needed only for CSV input or pandas frames, and scipy (about 0.5 s) only where a
p-value is computed. A :class:`LazyModule` stands in for the module and imports it on the first
attribute access, after which it costs one dictionary lookup.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    """A module that is imported on the first attribute access."""

    __slots__ = ("_module", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str) -> Any:
        module = self._module
        if module is None:
            module = self._module = importlib.import_module(self._name)
        return getattr(module, attribute)

    def __repr__(self) -> str:
        state = "imported" if self._module is not None else "not imported yet"
        return f"<lazy module {self._name!r} ({state})>"


pandas: Any = LazyModule("pandas")
