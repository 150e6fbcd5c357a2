"""The table of check kinds: each :class:`~core.checks.CheckKind` and the :class:`Check` that
runs it. Everything that needs "which checks exist" reads :data:`CHECKS` (or, without loading
pandas, :data:`core.checks.CHECK_KINDS`)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from core.checks import CheckKind
from jobs.checks.base import Check
from jobs.checks.drift import DriftCheck
from jobs.checks.performance import PerformanceCheck
from jobs.checks.utilization import UtilizationCheck

CHECKS: Mapping[CheckKind, Check] = MappingProxyType(
    {check.kind: check for check in (DriftCheck(), PerformanceCheck(), UtilizationCheck())}
)
assert tuple(CHECKS) == tuple(CheckKind), "every check kind needs exactly one Check"


def check_of(kind: str) -> Check:
    """The check of ``kind`` (a :class:`CheckKind` or its value); ValueError for anything else."""
    try:
        return CHECKS[CheckKind(kind)]
    except ValueError:
        raise ValueError(f"unknown check {kind!r}; expected one of {', '.join(CHECKS)}") from None
