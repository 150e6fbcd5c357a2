"""The one verdict scale every monitor speaks, so cards, alerts and the digest can rank anything.

``NO_DATA`` is a verdict of its own rather than "healthy": a window without labels or with too
few rows must say so instead of looking fine. The reports, cards and digest use this scale too;
``Verdict("unknown")`` reads the older spelling of ``NO_DATA`` that stored alerts still hold.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Verdict(StrEnum):
    HEALTHY = "healthy"
    WARNING = "warning"
    BREACH = "breach"
    NO_DATA = "no_data"

    @classmethod
    def _missing_(cls, value: object) -> Verdict | None:
        """``unknown`` (how older alert rows and cards spelled "no data") reads as NO_DATA."""
        if isinstance(value, str) and value.strip().lower() in ("unknown", "no data"):
            return cls.NO_DATA
        return None

    @classmethod
    def parse(cls, value: object, default: Verdict | None = None) -> Verdict:
        """``value`` (a verdict or its stored text) as a verdict; ``default`` (NO_DATA unless
        given) for anything else, such as "muted" or a missing value."""
        try:
            return cls(value)
        except ValueError:
            return default if default is not None else cls.NO_DATA

    @property
    def severity(self) -> int:
        """Order for "worst first": breach > warning > no data > healthy."""
        return _SEVERITY[self]

    @property
    def label(self) -> str:
        return _LABELS[self]

    @staticmethod
    def worst(verdicts: Iterable[Verdict], default: Verdict | None = None) -> Verdict:
        """The most severe verdict; ``default`` (healthy unless given) when there are none."""
        items = list(verdicts)
        if not items:
            return default if default is not None else Verdict.HEALTHY
        return max(items, key=lambda v: v.severity)


_SEVERITY = {Verdict.HEALTHY: 0, Verdict.NO_DATA: 1, Verdict.WARNING: 2, Verdict.BREACH: 3}
_LABELS = {
    Verdict.HEALTHY: "healthy",
    Verdict.WARNING: "warning",
    Verdict.BREACH: "breach",
    Verdict.NO_DATA: "no data",
}
