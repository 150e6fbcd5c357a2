"""The one way durations are written for people: the two largest units, zeros left out.

``45s``, ``5m``, ``5m 3s``, ``1h 30m``, ``2h``, ``1d 6h``, ``7d``. Parsing (``"15m"``, ``"24h"``) is
:func:`infra.settings.parse_duration`; what one writes, the other reads.
"""

from __future__ import annotations

from datetime import timedelta

_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def format_duration(span: timedelta | float | int | None) -> str:
    """``span`` (a timedelta or seconds) as people read it; ``-`` when unknown."""
    if span is None:
        return "-"
    seconds = round(span.total_seconds() if isinstance(span, timedelta) else span)
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    if seconds == 0:
        return "0s"
    parts: list[str] = []
    for unit, size in _UNITS:
        amount, seconds = divmod(seconds, size)
        if amount and len(parts) < 2:
            parts.append(f"{amount}{unit}")
        elif parts:
            break  # the next unit down is zero: "1h 30m", never "1h 0m 5s"
    return sign + " ".join(parts)
