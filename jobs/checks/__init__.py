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
