"""The embedded local platform (``from infra.platform.local import LocalPlatform``).

The package is split by concern: ``db`` (SQLite schema and engine), ``layout`` (paths),
``versions`` (model versions and the shared registry), ``jobs`` (training job records and the
detached runner), ``serving`` (model loading and scoring), ``telemetry`` (request logs, labels,
metrics), ``monitoring`` (the reference, label, production and metric reads built on
them), ``environments`` (each environment's stores, opened on first use, and the lookups the
parts share), ``traffic`` (scoring through the live and mirror splits into the request log,
and reading it back) and ``platform`` (the :class:`~infra.platform.base.MLPlatform`
implementation).
``LocalPlatform`` is imported lazily so the training runner, which only needs the database
modules, starts without loading pandas and scikit-learn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from infra.platform.local.platform import LocalPlatform

__all__ = ["LocalPlatform"]


def __getattr__(name: str) -> Any:
    if name == "LocalPlatform":
        from infra.platform.local.platform import LocalPlatform

        return LocalPlatform
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
