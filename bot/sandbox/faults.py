"""Fault injection: make the next N calls of a method fail the ways Slack fails.

Used to prove the bot survives Slack: HTTP 429 with ``Retry-After`` (rate limits), HTTP
500/503 (outages), ``ok: false`` with an error code (e.g. ``channel_not_found``), or a slow
answer (client timeouts, the 3-second ack budget).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass
class Fault:
    """One armed failure. ``remaining`` None means until cleared; ``hits`` counts uses."""

    method: str
    status: int | None
    retry_after: int | None
    error: str | None
    delay: float
    remaining: int | None
    hits: int = 0

    @property
    def spent(self) -> bool:
        return self.remaining is not None and self.remaining <= 0


class FaultPlan:
    """Armed faults per method, consumed in the order they were injected. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def inject(
        self,
        method: str,
        *,
        status: int | None = None,
        retry_after: int | None = 1,
        error: str | None = None,
        times: int | None = 1,
        delay: float = 0.0,
    ) -> Fault:
        """Arm a fault for the next ``times`` calls of ``method`` (None: every call until cleared).

        - ``error="channel_not_found"``: HTTP 200 ``{"ok": false, "error": ...}`` (as Slack);
        - ``status=429`` (the default when neither ``error`` nor ``delay`` is given): HTTP 429,
          body error ``ratelimited``, header ``Retry-After: retry_after``;
        - ``status=500`` / ``503``: an outage answer;
        - ``delay=4.0``: answer normally but only after the delay (combine with the others).
        """
        if status is None and error is None and delay <= 0:
            status = 429
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None for every call)")
        fault = Fault(
            method=method,
            status=status,
            retry_after=retry_after if status == 429 else None,
            error=error,
            delay=delay,
            remaining=times,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, method: str) -> Fault | None:
        """The fault to apply to this call of ``method``, if one is armed (and count it)."""
        with self._lock:
            for fault in self._faults:
                if fault.method == method and not fault.spent:
                    fault.hits += 1
                    if fault.remaining is not None:
                        fault.remaining -= 1
                    return fault
            return None

    def pending(self) -> list[Fault]:
        with self._lock:
            return [f for f in self._faults if not f.spent]

    def clear(self, method: str | None = None) -> None:
        with self._lock:
            self._faults = [f for f in self._faults if method is not None and f.method != method]
