"""The delivery loop: a thread of the running bot (every replica) that sends the rows that are
due, takes over the claims of dead processes of its host and forgets old delivered rows."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import or_, select, update

from bot.slack.outbox.failures import OutagePause
from bot.slack.outbox.settings import OutboxSettings
from core.publisher import Delivery
from infra.holders import holder_gone, holder_prefix
from infra.store import OutboxMessage, Store

log = logging.getLogger(__name__)

#: Delivers one row (by id and key) now, as a late (``deferred``) delivery.
Attempt = Callable[[int, str], Delivery]

#: Prune once every this many rounds (and on the first).
PRUNE_EVERY = 600


class DeliveryLoop:
    def __init__(
        self,
        store: Store,
        attempt: Attempt,
        *,
        pause: OutagePause,
        settings: OutboxSettings,
        clock: Callable[[], datetime],
        instance: str,
    ) -> None:
        self.store = store
        self.attempt = attempt
        self.pause = pause
        self.settings = settings
        self.clock = clock
        self.instance = instance
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._rounds = 0

    def deliver_due(self) -> int:
        """One round: send every due row (oldest first). Returns how many were delivered."""
        if self.pause.active:
            return 0  # Slack asked to wait (or is down): the whole queue waits
        self.release_dead_claims()
        now = self.clock()
        table = OutboxMessage.__table__
        with self.store.read() as session:
            due = session.execute(
                select(table.c.id, table.c.dedupe_key)
                .where(
                    table.c.delivered_at.is_(None),
                    table.c.next_attempt_at <= now,
                    or_(table.c.claimed_until.is_(None), table.c.claimed_until < now),
                )
                .order_by(table.c.id)
                .limit(self.settings.batch)
            ).all()
        delivered = 0
        for row_id, key in due:
            if self._stop.is_set():
                break
            outcome = self.attempt(row_id, key)
            delivered += outcome.delivered
            if not outcome.delivered and self.pause.active:
                break  # Slack asked to wait: the rest waits too
        self._rounds += 1
        if self._rounds % PRUNE_EVERY == 1:
            self.prune()
        return delivered

    def release_dead_claims(self) -> int:
        """Free rows claimed by a process of this host that no longer runs (kill -9 while it
        was sending): they are sent again now, not when the claim would have expired."""
        now = self.clock()
        table = OutboxMessage.__table__
        with self.store.read() as session:
            held = session.execute(
                select(table.c.id, table.c.claimed_by).where(
                    table.c.delivered_at.is_(None),
                    table.c.claimed_until >= now,
                    table.c.claimed_by.like(f"{holder_prefix()}%"),
                )
            ).all()
        released = 0
        for row_id, holder in held:
            if holder == self.instance or not holder_gone(holder):
                continue
            with self.store.session() as session:
                result = session.execute(
                    update(table)
                    .where(table.c.id == row_id, table.c.claimed_by == holder)
                    .values(claimed_by=None, claimed_until=None)
                )
                released += int(result.rowcount or 0)
        if released:
            log.warning("took over %d Slack messages from a bot process that died", released)
        return released

    def prune(self) -> int:
        """Forget delivered rows after ``keep_delivered`` (their keys were one-off)."""
        cutoff = self.clock() - self.settings.keep_delivered
        table = OutboxMessage.__table__
        with self.store.session() as session:
            result = session.execute(
                table.delete().where(
                    table.c.delivered_at.is_not(None), table.c.delivered_at < cutoff
                )
            )
            return int(result.rowcount or 0)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="outbox", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.deliver_due()
            except Exception:
                log.exception("outbox delivery round failed")
            self._wake.wait(self.settings.interval)
            self._wake.clear()
