"""The ``outbox`` table: queueing a message under its dedupe key, and reading what is queued."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from infra.metrics import Backlog
from infra.store import OutboxMessage, StaleStateError, Store, retry_on_conflict

NEVER = datetime(9999, 1, 1, tzinfo=UTC)
"""``next_attempt_at`` of a row that was given up."""


#: Tries to queue a row while it is pruned between the failed insert and the refresh.
QUEUE_ATTEMPTS = 5


def queue_row(
    store: Store, key: str, method: str, payload: dict[str, Any], replace: bool, now: datetime
) -> OutboxMessage:
    """Insert the row, or refresh the content of the undelivered (or, ``replace``: delivered)
    row queued under ``key`` before. A delivered post is returned as it is: never sent twice."""

    def attempt() -> OutboxMessage:
        try:
            with store.session() as session:
                row = OutboxMessage(
                    dedupe_key=key,
                    method=method,
                    payload=payload,
                    created_at=now,
                    attempts=0,
                    next_attempt_at=now,
                    result={},
                )
                session.add(row)
                session.flush()
                return row
        except IntegrityError:
            pass  # queued before: refresh it below
        with store.session() as session:
            row = session.scalars(
                select(OutboxMessage).where(OutboxMessage.dedupe_key == key)
            ).first()
            if row is None:
                raise StaleStateError(f"{key} was pruned in between: insert again")
            if row.delivered_at is not None and not replace:
                return row  # posted already: never twice
            # New content. ``created_at`` is the revision of a replaceable row: a delivery
            # of an older revision that finishes after this does not mark this one done.
            if row.delivered_at is not None or row.next_attempt_at >= NEVER:
                row.attempts = 0
            row.payload = payload
            row.created_at = now
            row.next_attempt_at = now
            row.delivered_at = None
            row.result = {}
            session.flush()
            return row

    try:
        return retry_on_conflict(attempt, attempts=QUEUE_ATTEMPTS)
    except StaleStateError as exc:
        raise RuntimeError(f"could not queue {key}") from exc


def find_row(store: Store, key: str) -> OutboxMessage | None:
    with store.read() as session:
        return session.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key == key)).first()


def is_pending(row: OutboxMessage | None) -> bool:
    """Queued and not delivered yet (nor given up)."""
    return row is not None and row.delivered_at is None and row.next_attempt_at < NEVER


def count_rows(store: Store) -> dict[str, int]:
    """delivered / pending / given_up row counts."""
    table = OutboxMessage.__table__
    with store.read() as session:
        delivered = session.scalar(select(func.count()).where(table.c.delivered_at.is_not(None)))
        given_up = session.scalar(
            select(func.count()).where(
                table.c.delivered_at.is_(None), table.c.next_attempt_at >= NEVER
            )
        )
        pending = session.scalar(
            select(func.count()).where(
                table.c.delivered_at.is_(None), table.c.next_attempt_at < NEVER
            )
        )
    return {
        "delivered": int(delivered or 0),
        "pending": int(pending or 0),
        "given_up": int(given_up or 0),
    }


def backlog(store: Store, now: datetime) -> Backlog:
    """How many rows wait for delivery (not given up) and how old the oldest is: one
    aggregate query on the pending index, run when ``/metrics`` is scraped."""
    table = OutboxMessage.__table__
    with store.read() as session:
        depth, oldest = session.execute(
            select(func.count(), func.min(table.c.created_at)).where(
                table.c.delivered_at.is_(None), table.c.next_attempt_at < NEVER
            )
        ).one()
    return _backlog(int(depth or 0), oldest, now)


def _backlog(depth: int, oldest: datetime | None, now: datetime) -> Backlog:
    if oldest is None:
        return Backlog(depth, None)
    if oldest.tzinfo is None:  # SQLite's MIN() comes back as a naive UTC value
        oldest = oldest.replace(tzinfo=UTC)
    return Backlog(depth, max(0.0, (now - oldest).total_seconds()))


def pending_keys(store: Store) -> list[str]:
    """Keys of the rows still to deliver, oldest first."""
    table = OutboxMessage.__table__
    with store.read() as session:
        return list(
            session.scalars(
                select(table.c.dedupe_key)
                .where(table.c.delivered_at.is_(None), table.c.next_attempt_at < NEVER)
                .order_by(table.c.id)
            )
        )
