"""Acks first: the work after an ack waits while other acks are being answered.

Slack gives an ack three seconds; the work after it (a status card, a vote) has no deadline.
In one process the two share the interpreter lock and the cores, so during a burst of commands
every card computed meanwhile slows the acks still arriving (measured: ack p99 2.6x a bare
Bolt app's with the work running at once, 1.5x without it). The inbox's runs therefore start
once acks have been quiet for a moment, or after a bounded wait so a steady stream of acks
cannot starve them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from time import monotonic

#: How long no ack must have been in flight before held-back work starts.
QUIET_SECONDS = 0.02
#: The longest work waits for quiet (well inside the three seconds Slack gives an ack, so a
#: reply never reads as lost).
LONGEST_WAIT_SECONDS = 2.0


class AckTraffic:
    """Counts the acks being answered and lets work wait for a quiet moment."""

    def __init__(
        self,
        quiet_seconds: float = QUIET_SECONDS,
        longest_wait_seconds: float = LONGEST_WAIT_SECONDS,
        clock: Callable[[], float] = monotonic,
    ) -> None:
        self.quiet = quiet_seconds
        self.longest_wait = longest_wait_seconds
        self.clock = clock
        self._in_flight = 0
        self._last_ack = float("-inf")
        self._changed = threading.Condition()

    @contextmanager
    def acking(self) -> Iterator[None]:
        """Around the answering of one request (its listener and ack)."""
        with self._changed:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._changed:
                self._in_flight -= 1
                self._last_ack = self.clock()
                self._changed.notify_all()

    def wait_for_quiet(self) -> float:
        """Block until no ack is in flight and none ended in the last ``quiet`` seconds, or
        ``longest_wait`` has passed; the seconds waited."""
        started = self.clock()
        deadline = started + self.longest_wait
        with self._changed:
            while True:
                now = self.clock()
                if now >= deadline:
                    return now - started
                quiet_at = self._last_ack + self.quiet
                if self._in_flight == 0 and now >= quiet_at:
                    return now - started
                wake = deadline if self._in_flight else min(quiet_at, deadline)
                self._changed.wait(max(wake - now, 0.001))
