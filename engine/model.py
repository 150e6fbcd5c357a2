"""What the engine needs to know about a model: its name, task, columns and features.

A structural type, so the configuration's model section (or any object with these attributes)
can be passed as is; the engine never reads the configuration itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class ModelColumns(Protocol):
    @property
    def target(self) -> str | None: ...

    @property
    def prediction(self) -> str: ...

    @property
    def score(self) -> str | None: ...

    @property
    def timestamp(self) -> str: ...


class ModelFeatures(Protocol):
    @property
    def numeric(self) -> Sequence[str]: ...

    @property
    def categorical(self) -> Sequence[str]: ...

    @property
    def all(self) -> Sequence[str]: ...


class ModelSpec(Protocol):
    """A model as the drift and performance monitors see it."""

    @property
    def name(self) -> str: ...

    @property
    def task(self) -> str:
        """``classification`` or ``regression``."""
        ...

    @property
    def columns(self) -> ModelColumns: ...

    @property
    def features(self) -> ModelFeatures: ...

    @property
    def sensitive_features(self) -> Sequence[str]: ...

    @property
    def positive_label(self) -> str | int | None: ...
