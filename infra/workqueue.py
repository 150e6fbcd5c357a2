"""The monitoring work queue: scheduled checks waiting for a worker process, in the database.

The scheduler only *enqueues* (one row per check and slot); worker processes, local to
``serve`` or ``mlops-bot worker`` on other hosts, *claim* rows and run them. The database is
the only thing they share, so a worker may run anywhere the database and the platform are
reachable, and a crashed worker loses nothing:

* **once per slot**: ``(kind, model, environment, slot)`` is unique, so two replicas that both
  believe they lead enqueue one row;
* **claims** are a compare-and-set on ``state`` (SQLite serialises writers) or ``SELECT … FOR
  UPDATE SKIP LOCKED`` (PostgreSQL: workers never wait on each other's rows); a claim lasts
  ``claim`` and the running worker renews it. A claim that expires (the worker died) is taken
  by the next worker, once per expiry, up to ``max_attempts`` runs; on the same host a dead
  holder's claim is released at once;
* **never two runs of one check at a time**: a row is not claimed while another row of the
  same check runs;
* **coalescing**: a slot enqueued while an older slot of the same check still waits replaces
  it (one run for several missed slots, keeping the older row's place in the queue); the
  replaced row stays as ``coalesced`` with the reason, for the digest;
* **late runs are never silent**: a row that starts past its grace records how late.

What a check posts stays exactly-once through the outbox (its dedupe keys name the check and
window), so a re-run after a crash repeats no message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, aliased, mapped_column

from infra.holders import holder_gone, holder_prefix
from infra.metrics import Backlog, Metrics
from infra.store import Base, Store, utcnow

log = logging.getLogger(__name__)

PENDING, RUNNING, DONE, FAILED, COALESCED = "pending", "running", "done", "failed", "coalesced"
FINAL_STATES = (DONE, FAILED, COALESCED)

DEFAULT_CLAIM = timedelta(minutes=2)
DEFAULT_MAX_ATTEMPTS = 3
KEEP_FINISHED = timedelta(days=7)


class WorkItem(Base):
    """One scheduled run of one job (a check of a model in an environment, the digest, a
    retraining), from its enqueueing to its end."""

    __tablename__ = "work_items"
    __table_args__ = (
        UniqueConstraint("kind", "model", "environment", "slot", name="uq_work_item_slot"),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(128), default="")
    """'' for jobs of no model (the digest): a NULL would make the unique constraint void."""
    environment: Mapped[str] = mapped_column(String(64), default="")
    slot: Mapped[datetime]
    """The scheduled time this row runs for (the newest, when it stands for several)."""
    due_at: Mapped[datetime]
    """Its place in the queue: the oldest slot it stands for, so coalescing never sends a
    check to the back."""
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """Options of the run, and ``grace`` (seconds a start may be late before it counts)."""
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claim_expires: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    covers: Mapped[int] = mapped_column(Integer, default=1)
    """How many slots this run stands for (1 + the slots coalesced into it)."""
    enqueued_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    late_seconds: Mapped[int | None] = mapped_column(Integer)
    """Set when the run started past its grace: how late."""
    note: Mapped[str | None] = mapped_column(Text)
    """Why it ended as it did (failed, coalesced into which slot), safe to show in Slack."""


Index("ix_work_items_queue", WorkItem.state, WorkItem.due_at)


@dataclass(frozen=True)
class Claimed:
    """A row a worker holds: what to run."""

    id: int
    kind: str
    model: str | None
    environment: str | None
    slot: datetime
    payload: Mapping[str, Any]
    attempts: int
    covers: int
    late: timedelta | None
    """How late it starts when past its grace, else None."""


@dataclass(frozen=True)
class Irregular:
    """A run the digest must mention: late, coalesced (skipped) or failed."""

    kind: str
    model: str
    environment: str
    slot: datetime
    state: str
    late_seconds: int | None
    covers: int
    note: str | None


class WorkQueue:
    """The queue on one store, as one process (``holder``) sees it."""

    def __init__(
        self,
        store: Store,
        holder: str,
        *,
        claim: timedelta = DEFAULT_CLAIM,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        clock: Callable[[], datetime] = utcnow,
        metrics: Metrics | None = None,
    ) -> None:
        """``metrics``: where the items this holder gives up on are counted."""
        self.store = store
        self.holder = holder
        self.metrics = metrics
        self.claim_ttl = claim
        self.max_attempts = max(1, max_attempts)
        self.clock = clock
        self.postgres = store.engine.dialect.name == "postgresql"

    # -- the scheduler's side
    def enqueue(
        self,
        kind: str,
        model: str | None,
        environment: str | None,
        slot: datetime,
        payload: Mapping[str, Any] | None = None,
    ) -> int | None:
        """Queue the run of ``slot``; None when that slot was queued already (by this or
        another replica). Older slots of the same check still waiting are coalesced into it."""
        now = self.clock()
        try:
            with self.store.session() as session:
                older = session.scalars(
                    select(WorkItem)
                    .where(
                        WorkItem.kind == kind,
                        WorkItem.model == (model or ""),
                        WorkItem.environment == (environment or ""),
                        WorkItem.state == PENDING,
                        WorkItem.slot < slot,
                    )
                    .with_for_update()
                ).all()
                row = WorkItem(
                    kind=kind,
                    model=model or "",
                    environment=environment or "",
                    slot=slot,
                    due_at=min([slot, *(o.due_at for o in older)]),
                    payload=dict(payload or {}),
                    state=PENDING,
                    covers=1 + sum(o.covers for o in older),
                    enqueued_at=now,
                )
                session.add(row)
                session.flush()
                for old in older:
                    old.state, old.finished_at = COALESCED, now
                    old.note = (
                        f"still waiting for a worker when the next slot "
                        f"({slot:%b %d %H:%M:%S} UTC) came; that run covers it"
                    )
                return int(row.id)
        except IntegrityError:
            return None

    # -- the workers' side
    def claim(self) -> Claimed | None:
        """Take the next runnable row (oldest due first): a waiting one, or one whose claim
        expired. None when there is nothing to run."""
        now = self.clock()
        for _ in range(8):  # rows taken by others between the read and the write: next one
            with self.store.session() as session:
                query = self._runnable(now).limit(1 if self.postgres else 8)
                if self.postgres:
                    query = query.with_for_update(skip_locked=True, of=WorkItem)
                rows = session.scalars(query).all()
                if not rows:
                    return None
                for row in rows:
                    taken = self._take(session, row, now)
                    if taken is not None:
                        return taken
        return None

    def _runnable(self, now: datetime) -> Any:
        running = aliased(WorkItem)
        busy = (
            select(running.id)
            .where(
                running.kind == WorkItem.kind,
                running.model == WorkItem.model,
                running.environment == WorkItem.environment,
                running.state == RUNNING,
                running.claim_expires > now,
                running.id != WorkItem.id,
            )
            .exists()
        )
        return (
            select(WorkItem)
            .where(
                or_(
                    WorkItem.state == PENDING,
                    and_(WorkItem.state == RUNNING, WorkItem.claim_expires <= now),
                ),
                ~busy,
            )
            .order_by(WorkItem.due_at, WorkItem.id)
        )

    def _take(self, session: Any, row: WorkItem, now: datetime) -> Claimed | None:
        """Compare-and-set the row from what was read to ``running`` by this holder."""
        # What was read, before any UPDATE of this session refreshes the object.
        item_id, state, attempts, holder = row.id, row.state, row.attempts, row.claimed_by
        seen = and_(WorkItem.id == item_id, WorkItem.state == state, WorkItem.attempts == attempts)
        if state == RUNNING and attempts >= self.max_attempts:
            gave_up = session.execute(
                update(WorkItem)
                .where(seen)
                .values(
                    state=FAILED,
                    finished_at=now,
                    claim_expires=None,
                    note=f"gave up after {attempts} attempts: the worker running it "
                    "stopped each time before it finished",
                )
                .execution_options(synchronize_session=False)
            )
            if gave_up.rowcount == 1:  # not when another holder changed it first
                log.error("%s gave up after %d attempts", _describe(row), attempts)
                if self.metrics is not None:
                    self.metrics.work_given_up.labels(row.kind).inc()
            return None
        grace = timedelta(seconds=float(row.payload.get("grace") or 0))
        late = now - row.slot if grace and now - row.slot > grace else None
        result = session.execute(
            update(WorkItem)
            .where(seen)
            .values(
                state=RUNNING,
                claimed_by=self.holder,
                claim_expires=now + self.claim_ttl,
                attempts=attempts + 1,
                started_at=now,
                late_seconds=round(late.total_seconds()) if late is not None else None,
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            return None
        if state == RUNNING:
            log.warning(
                "%s: the claim of %s expired (its worker stopped); running it again",
                _describe(row),
                holder,
            )
        return Claimed(
            id=item_id,
            kind=row.kind,
            model=row.model or None,
            environment=row.environment or None,
            slot=row.slot,
            payload=dict(row.payload),
            attempts=attempts + 1,
            covers=row.covers,
            late=late,
        )

    def renew(self, item_id: int) -> bool:
        """Extend this holder's claim; False when it lost it (expired and taken over)."""
        return self._mine(item_id, claim_expires=self.clock() + self.claim_ttl)

    def finish(self, item_id: int, *, note: str | None = None) -> bool:
        return self._mine(
            item_id, state=DONE, finished_at=self.clock(), claim_expires=None, note=note
        )

    def fail(self, item_id: int, why: str) -> bool:
        """The run raised: recorded with ``why`` (shown in the digest); the next slot runs."""
        return self._mine(
            item_id, state=FAILED, finished_at=self.clock(), claim_expires=None, note=why
        )

    def _mine(self, item_id: int, **values: Any) -> bool:
        with self.store.session() as session:
            result = session.execute(
                update(WorkItem)
                .where(
                    WorkItem.id == item_id,
                    WorkItem.claimed_by == self.holder,
                    WorkItem.state == RUNNING,
                )
                .values(**values)
            )
            return result.rowcount == 1

    def release_dead(self) -> int:
        """Expire at once the claims of processes of this host that no longer run."""
        now = self.clock()
        with self.store.session() as session:
            rows = session.execute(
                select(WorkItem.id, WorkItem.claimed_by).where(
                    WorkItem.state == RUNNING,
                    WorkItem.claim_expires > now,
                    WorkItem.claimed_by.startswith(holder_prefix()),
                )
            ).all()
            released = 0
            for item_id, holder in rows:
                if holder and holder != self.holder and holder_gone(holder):
                    result = session.execute(
                        update(WorkItem)
                        .where(WorkItem.id == item_id, WorkItem.claimed_by == holder)
                        .values(claim_expires=now)
                    )
                    released += result.rowcount or 0
            return released

    def prune(self, keep: timedelta = KEEP_FINISHED) -> int:
        from sqlalchemy import delete

        with self.store.session() as session:
            result = session.execute(
                delete(WorkItem).where(
                    WorkItem.state.in_(FINAL_STATES), WorkItem.finished_at < self.clock() - keep
                )
            )
            return int(result.rowcount or 0)

    # -- reading
    def state_of(self, item_id: int) -> str | None:
        with self.store.session() as session:
            return session.scalar(select(WorkItem.state).where(WorkItem.id == item_id))

    def successor(self, item_id: int) -> int | None:
        """The newest row of the same check after ``item_id``: the run that covers a
        coalesced one."""
        with self.store.session() as session:
            row = session.get(WorkItem, item_id)
            if row is None:
                return None
            return session.scalar(
                select(WorkItem.id)
                .where(
                    WorkItem.kind == row.kind,
                    WorkItem.model == row.model,
                    WorkItem.environment == row.environment,
                    WorkItem.slot > row.slot,
                )
                .order_by(WorkItem.slot.desc())
                .limit(1)
            )

    def irregular(self, since: datetime) -> list[Irregular]:
        """Runs since ``since`` that started late, were coalesced or failed (for the digest)."""
        with self.store.session() as session:
            rows = session.scalars(
                select(WorkItem)
                .where(
                    WorkItem.slot >= since,
                    or_(
                        WorkItem.state.in_((FAILED, COALESCED)),
                        WorkItem.late_seconds.is_not(None),
                    ),
                )
                .order_by(WorkItem.slot)
            ).all()
        return [
            Irregular(
                r.kind,
                r.model,
                r.environment,
                r.slot,
                r.state,
                r.late_seconds,
                r.covers,
                r.note,
            )
            for r in rows
        ]

    def depth(self) -> int:
        return queue_depth(self.store)

    def oldest_age_seconds(self) -> float:
        return oldest_age_seconds(self.store, self.clock())


def queue_depth(store: Store) -> int:
    """Rows waiting for a worker."""
    with store.read() as session:
        return int(session.scalar(select(func.count()).where(WorkItem.state == PENDING)) or 0)


def oldest_age_seconds(store: Store, now: datetime | None = None) -> float:
    """Seconds the oldest waiting row has been due (0 when none waits)."""
    with store.read() as session:
        oldest = session.scalar(select(func.min(WorkItem.due_at)).where(WorkItem.state == PENDING))
    if oldest is None:
        return 0.0
    return max(((now or utcnow()) - oldest).total_seconds(), 0.0)


def _describe(row: WorkItem) -> str:
    where = " · ".join(p for p in (row.model, row.environment) if p)
    return f"{row.kind} {where} @ {row.slot:%H:%M:%S}".strip()


def backlog(store: Store, now: datetime | None = None) -> Backlog:
    """Depth and oldest age in one aggregate query, for ``/metrics`` at scrape time."""
    with store.read() as session:
        depth, oldest = session.execute(
            select(func.count(), func.min(WorkItem.due_at)).where(WorkItem.state == PENDING)
        ).one()
    if not depth:
        return Backlog(0)
    return Backlog(int(depth), max(((now or utcnow()) - oldest).total_seconds(), 0.0))
