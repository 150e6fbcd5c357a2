"""Monitoring checks: platform data -> statistics engine -> report -> alert policy -> Slack.

* :mod:`~jobs.checks.base` — the :class:`Check` interface every kind implements, and
  :class:`CheckFailed` (the data could not be read);
* :mod:`~jobs.checks.drift`, :mod:`~jobs.checks.performance`, :mod:`~jobs.checks.utilization`
  — one module per kind: its report, signals, key numbers, findings and charts;
* :mod:`~jobs.checks.kinds` — :data:`CHECKS`, the one table of kinds (kind -> Check);
* :mod:`~jobs.checks.options` — the engine's options built from the configuration;
* :mod:`~jobs.checks.run` — :func:`run_check` (alerts, retraining policy) and
  :func:`publish_summary`.

The scheduler and ``mlops-bot run-job`` call :func:`run_check` through :mod:`jobs.run`; the
``/mlops drift|perf|usage`` commands (:mod:`commands.checks`) call :func:`build_report`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobs.checks.base import Check, CheckFailed
    from jobs.checks.kinds import CHECKS, check_of
    from jobs.checks.run import (
        CheckRun,
        build_report,
        describe_window,
        publish_summary,
        run_check,
        window_of,
    )

#: Where each name lives. Loaded on first use (PEP 562), so a check job on the platform's
#: compute can import one check module without the alert book, the store and retraining.
_HOMES = {
    "Check": "jobs.checks.base",
    "CheckFailed": "jobs.checks.base",
    "CHECKS": "jobs.checks.kinds",
    "check_of": "jobs.checks.kinds",
    "CheckRun": "jobs.checks.run",
    "build_report": "jobs.checks.run",
    "describe_window": "jobs.checks.run",
    "publish_summary": "jobs.checks.run",
    "run_check": "jobs.checks.run",
    "window_of": "jobs.checks.run",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)


__all__ = [
    "CHECKS",
    "Check",
    "CheckFailed",
    "CheckRun",
    "build_report",
    "check_of",
    "describe_window",
    "publish_summary",
    "run_check",
    "window_of",
]
