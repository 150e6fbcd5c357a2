"""The ``inbox`` table: interactions Slack was told we accepted, until a worker has run them.

Why: Slack does not send an acked click or command again. If the process that acked dies
before a worker ran the work (a deploy, a crash, a ``kill -9``), the work must still happen,
on this replica after a restart or on another one. So the listener records Slack's payload
here *before* it acks, and workers drain the table:

* :meth:`Inbox.record` inserts the row under its *key* (what makes a Slack retry, or the same
  request delivered to two replicas, one row) already claimed by the recording process, so
  its own worker runs it without a race and no other replica steals it while it waits;
* a claim is a compare-and-set on ``claimed_by`` / ``claimed_until``: exactly one process
  holds a row at a time; a claim of a process that died is taken over at once on the same
  host (:func:`infra.holders.holder_gone`) and after ``claim`` everywhere else;
* :meth:`Inbox.complete` marks the row done (only by its holder). A row whose holder died
  after the work started but before it was marked done is run again by whoever takes it
  over: the work itself must be idempotent by the database (one vote per user and request,
  one open request per model and target, one rollout per endpoint), which it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from infra.group_commit import GroupCommit
from infra.holders import holder_gone, holder_prefix
from infra.metrics import Backlog
from infra.sights import FirstSight, write_sights
from infra.store import InboxItem, Store, insert_rows, utcnow


@dataclass
class _Record:
    """One :meth:`Inbox.record` in a group commit: the row to insert, its sight, its id."""

    values: dict[str, Any]
    sight: FirstSight | None
    row_id: int | None = None


@dataclass(frozen=True)
class InboxEntry:
    id: int
    key: str
    kind: str
    payload: Mapping[str, Any]
    attempts: int


class Inbox:
    """One process's view of the shared ``inbox`` table."""

    def __init__(
        self,
        store: Store,
        holder: str,
        *,
        claim: timedelta = timedelta(minutes=5),
        max_attempts: int = 3,
        keep_done: timedelta = timedelta(days=2),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.holder = holder
        self.claim = claim
        self.max_attempts = max_attempts
        self.keep_done = keep_done
        self.clock = clock
        self._group: GroupCommit[_Record] = GroupCommit(store, self._write_records)

    def record(
        self,
        kind: str,
        key: str,
        payload: Mapping[str, Any],
        sight: FirstSight | None = None,
    ) -> InboxEntry | None:
        """Store an interaction, claimed by this process (for ``claim``: run it within that
        time without taking it again). None when its key is known already (a retry or a second
        delivery of the same interaction), or when ``sight`` was seen before (a replay, an
        envelope another connection took): nothing is to be run.

        Written with the rows of the other acks in flight (a group commit, one statement for
        the sights and one for the rows): this runs in front of Slack's ack."""
        item = self._record_item(kind, key, payload, sight)
        try:
            self._group.run(item)
        except Exception:
            if sight is not None:
                sight.first = None  # rolled back with the row: not written
            raise
        if item.row_id is None:
            return None
        return InboxEntry(item.row_id, key[:255], kind, dict(payload), 0)

    def _record_item(
        self, kind: str, key: str, payload: Mapping[str, Any], sight: FirstSight | None
    ) -> _Record:
        now = self.clock()
        return _Record(
            {
                "key": key[:255],
                "kind": kind,
                "payload": dict(payload),
                "received_at": now,
                "attempts": 0,
                "next_attempt_at": now,
                "claimed_by": self.holder,
                "claimed_until": now + self.claim,
            },
            sight,
        )

    def _write_records(self, session: Session, items: list[_Record]) -> None:
        """One batch of :meth:`record`: the sights, then the rows of the requests that may run
        (of two with one key, the first)."""
        write_sights(session, [i.sight for i in items if i.sight is not None], self.clock())
        leaders: dict[str, _Record] = {}
        for item in items:
            item.row_id = None
            if item.sight is None or item.sight.passes:
                leaders.setdefault(item.values["key"], item)
        table = InboxItem.__table__
        ids = insert_rows(
            session,
            table,
            [item.values for item in leaders.values()],
            unique="key",
            returning=table.c.id,
        )
        for key, item in leaders.items():
            row_id = ids.get(key)
            item.row_id = int(row_id) if row_id is not None else None

    def take(self, row_id: int) -> InboxEntry | None:
        """Renew this process's claim on a row it recorded, or claim it when it is free; None
        when it is done or someone else holds it (then they run it)."""
        now = self.clock()
        table = InboxItem.__table__
        free = or_(
            table.c.claimed_by.is_(None),
            table.c.claimed_by == self.holder,
            table.c.claimed_until < now,
        )
        with self.store.session() as session:
            result = session.execute(
                update(table)
                .where(table.c.id == row_id, table.c.done_at.is_(None), free)
                .values(
                    claimed_by=self.holder,
                    claimed_until=now + self.claim,
                    attempts=table.c.attempts + 1,
                )
            )
            if result.rowcount != 1:
                return None
            row = session.get(InboxItem, row_id)
            assert row is not None
            return InboxEntry(row.id, row.key, row.kind, dict(row.payload), row.attempts)

    def due(self, limit: int = 20) -> list[int]:
        """Rows nobody runs: never claimed, claim expired, or held by a dead process here."""
        now = self.clock()
        with self.store.read() as session:
            rows = session.execute(
                select(InboxItem.id, InboxItem.claimed_by, InboxItem.claimed_until)
                .where(
                    InboxItem.done_at.is_(None),
                    InboxItem.next_attempt_at <= now,
                    or_(
                        InboxItem.claimed_by.is_(None),
                        InboxItem.claimed_until < now,
                        InboxItem.claimed_by.like(holder_prefix() + "%"),
                    ),
                )
                .order_by(InboxItem.id)
                .limit(limit * 4)
            ).all()
        found: list[int] = []
        for row_id, holder, until in rows:
            if (
                holder is None
                or until is None
                or until < now
                or (holder != self.holder and holder_gone(holder) and self._release(row_id, holder))
            ):
                found.append(row_id)
            if len(found) >= limit:
                break
        return found

    def _release(self, row_id: int, holder: str) -> bool:
        """Free the claim of a dead holder (compare-and-set on the holder's name)."""
        table = InboxItem.__table__
        with self.store.session() as session:
            result = session.execute(
                update(table)
                .where(table.c.id == row_id, table.c.claimed_by == holder)
                .values(claimed_by=None, claimed_until=None)
            )
            return result.rowcount == 1

    def complete(self, row_id: int, error: str | None = None) -> bool:
        """Mark our row done (also when it failed for good: ``error`` says why)."""
        table = InboxItem.__table__
        with self.store.session() as session:
            result = session.execute(
                update(table)
                .where(table.c.id == row_id, table.c.claimed_by == self.holder)
                .values(done_at=self.clock(), claimed_by=None, claimed_until=None, last_error=error)
            )
            return result.rowcount == 1

    def retry_later(self, entry: InboxEntry, error: str, delay: timedelta) -> None:
        """Release a row whose run raised: another try after ``delay``, up to
        ``max_attempts`` tries, then it is given up (kept, with the error)."""
        if entry.attempts >= self.max_attempts:
            self.complete(entry.id, error=f"given up: {error}"[:2000])
            return
        table = InboxItem.__table__
        with self.store.session() as session:
            session.execute(
                update(table)
                .where(table.c.id == entry.id, table.c.claimed_by == self.holder)
                .values(
                    claimed_by=None,
                    claimed_until=None,
                    last_error=error[:2000],
                    next_attempt_at=self.clock() + delay,
                )
            )

    def prune(self) -> int:
        """Forget rows done longer than ``keep_done`` ago (their keys only guard retries)."""
        with self.store.session() as session:
            result = session.execute(
                delete(InboxItem).where(
                    and_(
                        InboxItem.done_at.is_not(None),
                        InboxItem.done_at < self.clock() - self.keep_done,
                    )
                )
            )
            return int(result.rowcount or 0)

    def pending(self) -> int:
        with self.store.read() as session:
            return len(
                session.scalars(select(InboxItem.id).where(InboxItem.done_at.is_(None))).all()
            )

    def backlog(self) -> Backlog:
        """Rows not done yet and the age of the oldest (for ``/metrics``): one aggregate query
        on the pending index."""
        with self.store.read() as session:
            depth, oldest = session.execute(
                select(func.count(), func.min(InboxItem.received_at)).where(
                    InboxItem.done_at.is_(None)
                )
            ).one()
        if oldest is None:
            return Backlog(int(depth or 0), None)
        return Backlog(int(depth or 0), max(0.0, (self.clock() - oldest).total_seconds()))
