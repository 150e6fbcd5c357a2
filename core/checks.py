"""The check kinds: the one list of what a monitoring check can be, with the signals each measures.

Kept in the domain layer (and free of heavy imports) so the CLI, the scheduler, the demo and the
cards can name the kinds without loading pandas; :mod:`jobs.checks.kinds` maps each kind to the
:class:`~jobs.checks.base.Check` that runs it.
"""

from __future__ import annotations

from enum import StrEnum


class CheckKind(StrEnum):
    DRIFT = "drift"
    PERFORMANCE = "performance"
    UTILIZATION = "utilization"

    @property
    def signals(self) -> tuple[str, ...]:
        """The alert signals this check measures, main signal first."""
        return _SIGNALS[self]


_SIGNALS: dict[CheckKind, tuple[str, ...]] = {
    CheckKind.DRIFT: ("drift", "data_quality"),
    CheckKind.PERFORMANCE: ("performance", "fairness"),
    CheckKind.UTILIZATION: ("utilization",),
}

#: Every check kind, in the order jobs, cards and the digest list them.
CHECK_KINDS: tuple[CheckKind, ...] = tuple(CheckKind)
