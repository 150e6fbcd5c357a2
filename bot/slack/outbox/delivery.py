"""One delivery attempt of one row: claim it (compare-and-set), wait for its parent, send it,
then mark it delivered and run its hook, or release it for a later attempt, or give it up."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, update

from bot.slack.outbox.failures import OutagePause, classify
from bot.slack.outbox.rows import NEVER, find_row
from bot.slack.outbox.settings import OutboxSettings
from bot.slack.outbox.slack_api import UPDATE, ref_of
from core.publisher import Delivery, DeliveryHook
from infra.store import OutboxMessage, StaleStateError, Store, retry_on_conflict

log = logging.getLogger(__name__)

#: Sends one stored request to Slack and returns what the row keeps of the answer.
Send = Callable[[str, dict[str, Any]], dict[str, Any]]

#: Rounds of one attempt when each delivered revision turns out replaced by a newer one.
REPLACED_ROUNDS = 3


class Deliverer:
    """Delivers rows of the ``outbox`` table on behalf of one process (``instance``)."""

    def __init__(
        self,
        store: Store,
        send: Send,
        *,
        hooks: dict[str, DeliveryHook],
        pause: OutagePause,
        settings: OutboxSettings,
        clock: Callable[[], datetime],
        instance: str,
    ) -> None:
        self.store = store
        self.send = send
        self.hooks = hooks
        self.pause = pause
        self.settings = settings
        self.clock = clock
        self.instance = instance

    def attempt(self, row_id: int, key: str, *, deferred: bool = False) -> Delivery:
        """Claim the row and send it once; at most a few rounds when it was re-queued while in
        flight (an edit replaced by a newer one)."""

        def claim_and_send() -> Delivery:
            row = self._claim(row_id)
            if row is None:
                with self.store.read() as session:
                    current = session.get(OutboxMessage, row_id)
                if current is not None and current.delivered_at is not None:
                    return Delivery(key, True, ref_of(current.result))
                return Delivery(key, False, error="being delivered by another worker")
            return self._deliver(row, deferred)

        try:
            return retry_on_conflict(claim_and_send, attempts=REPLACED_ROUNDS)
        except StaleStateError:
            return Delivery(key, False, error="replaced while being delivered; queued")

    def _claim(self, row_id: int) -> OutboxMessage | None:
        now = self.clock()
        table = OutboxMessage.__table__
        with self.store.session() as session:
            claimed = session.execute(
                update(table)
                .where(
                    table.c.id == row_id,
                    table.c.delivered_at.is_(None),
                    table.c.next_attempt_at < NEVER,
                    or_(table.c.claimed_until.is_(None), table.c.claimed_until < now),
                )
                .values(
                    claimed_by=self.instance,
                    claimed_until=now + self.settings.claim,
                    attempts=table.c.attempts + 1,
                )
            )
            if claimed.rowcount != 1:
                return None
            return session.get(OutboxMessage, row_id)

    def _deliver(self, row: OutboxMessage, deferred: bool) -> Delivery:
        """Send the claimed row. Raises :class:`StaleStateError` when a newer revision was
        queued while this one was in flight (the newer one is to be sent next)."""
        payload = dict(row.payload or {})
        args = dict(payload.get("args") or {})
        parent_key = payload.get("parent")
        if parent_key:
            parent = find_row(self.store, parent_key)
            if parent is None or parent.next_attempt_at >= NEVER:
                self._give_up(row, f"its parent message {parent_key} was never delivered")
                return Delivery(row.dedupe_key, False, error="parent not delivered")
            if parent.delivered_at is None:
                wait = max(self.settings.interval, 1.0)
                self._release(row, retry_in=wait, error=None, undo_attempt=True)
                return Delivery(row.dedupe_key, False, error="waiting for its parent message")
            ref = ref_of(parent.result)
            if ref is None:
                self._give_up(row, f"its parent message {parent_key} has no ts")
                return Delivery(row.dedupe_key, False, error="parent has no ts")
            # The parent's channel *ID* (it may have been queued under a name like #mlops,
            # which the upload flow does not accept).
            args["channel"] = ref.channel
            if row.method == UPDATE:
                args["ts"] = ref.ts
            else:
                args["thread_ts"] = ref.ts
        hook_name = payload.get("hook")
        hook = self.hooks.get(hook_name) if hook_name else None
        if hook_name and hook is None:
            # Without its hook the owner would never learn the message went out and would send
            # it again: better to wait for a process that knows it.
            log.error("outbox hook %s of %s is not registered here", hook_name, row.dedupe_key)
            retry_in = self.settings.backoff(row.attempts)
            self._release(row, retry_in=retry_in, error="hook: not registered")
            return Delivery(row.dedupe_key, False, error="hook unavailable")
        try:
            result = self.send(row.method, args)
        except Exception as exc:
            return self._failed(row, exc)
        self.pause.end()
        if not self._mark_delivered(row, result):
            raise StaleStateError(f"{row.dedupe_key} was replaced while in flight")
        ref = ref_of(result)
        if hook is not None:
            try:
                hook(payload.get("hook_args") or {}, ref, deferred)
            except Exception:
                log.exception("delivery hook of %s failed", row.dedupe_key)
        return Delivery(row.dedupe_key, True, ref)

    def _failed(self, row: OutboxMessage, exc: Exception) -> Delivery:
        """Slack did not take it: give it up, or release it for later (pausing on outages)."""
        failure = classify(exc, row.attempts, self.settings.backoff)
        max_age = self.settings.max_age
        too_old = self.clock() - row.created_at > max_age
        if failure.retry_in is None or too_old:
            why = (
                failure.error
                if failure.retry_in is None
                else f"still failing after {max_age}: {failure.error}"
            )
            self._give_up(row, why)
        else:
            # The row is due no later than the pause ends: when the queue resumes it goes
            # first again, not after messages queued behind it during the pause.
            due_at = self.clock() + timedelta(seconds=failure.retry_in)
            if failure.outage:
                self.pause.extend(failure.retry_in)
            self._release(row, retry_in=failure.retry_in, error=failure.error, due_at=due_at)
            log.warning(
                "Slack did not take %s (%s, attempt %d); retrying in %.0fs",
                row.dedupe_key,
                failure.error,
                row.attempts,
                failure.retry_in,
            )
        return Delivery(row.dedupe_key, False, error=failure.error)

    def _mark_delivered(self, row: OutboxMessage, result: dict[str, Any]) -> bool:
        table = OutboxMessage.__table__
        conditions = [table.c.id == row.id, table.c.claimed_by == self.instance]
        if (row.payload or {}).get("replace"):
            conditions.append(table.c.created_at == row.created_at)
        with self.store.session() as session:
            marked = session.execute(
                update(table)
                .where(and_(*conditions))
                .values(
                    delivered_at=self.clock(),
                    result=result,
                    last_error=None,
                    claimed_by=None,
                    claimed_until=None,
                )
            )
            if marked.rowcount == 1:
                return True
            # A newer revision was queued while this one was in flight: let it go next.
            session.execute(
                update(table)
                .where(table.c.id == row.id, table.c.claimed_by == self.instance)
                .values(claimed_by=None, claimed_until=None)
            )
            return False

    def _release(
        self,
        row: OutboxMessage,
        *,
        retry_in: float,
        error: str | None,
        undo_attempt: bool = False,
        due_at: datetime | None = None,
    ) -> None:
        table = OutboxMessage.__table__
        values: dict[str, Any] = {
            "claimed_by": None,
            "claimed_until": None,
            "next_attempt_at": due_at or self.clock() + timedelta(seconds=retry_in),
        }
        if error is not None:
            values["last_error"] = error[:1000]
        if undo_attempt:
            values["attempts"] = table.c.attempts - 1
        with self.store.session() as session:
            session.execute(
                update(table)
                .where(table.c.id == row.id, table.c.claimed_by == self.instance)
                .values(**values)
            )

    def _give_up(self, row: OutboxMessage, why: str) -> None:
        log.error("giving up on Slack message %s: %s", row.dedupe_key, why)
        table = OutboxMessage.__table__
        with self.store.session() as session:
            session.execute(
                update(table)
                .where(table.c.id == row.id, table.c.claimed_by == self.instance)
                .values(
                    claimed_by=None,
                    claimed_until=None,
                    next_attempt_at=NEVER,
                    last_error=why[:1000],
                    result={"gave_up": why[:300]},
                )
            )
        self.store.audit(
            "mlops-bot", "slack_message", "given_up", subject=row.dedupe_key[:128], reason=why[:300]
        )
