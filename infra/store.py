"""The bot's own state: audit log, approvals, alerts, mutes, job runs, outbox and locks.

SQLAlchemy 2 on SQLite (default, in the state directory) or PostgreSQL (by URL). The schema is
owned by Alembic migrations in ``bot/migrations``; :func:`open_store` upgrades to head on start.
Every state change the bot makes is a compare-and-set on a ``version`` column (see
:meth:`Store.compare_and_set`), so double clicks, Slack retries and two replicas never apply the
same transition twice.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    bindparam,
    create_engine,
    event,
    select,
    text,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both SQLite (which drops tzinfo) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class AuditEntry(Base):
    """Append-only: the bot never updates or deletes rows here."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(32))
    model: Mapped[str | None] = mapped_column(String(128), index=True)
    environment: Mapped[str | None] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(128), index=True)
    """What the entry is about beyond the model: an approval id, a job id, an alert fingerprint."""
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Approval(Base):
    __tablename__ = "approvals"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    model: Mapped[str] = mapped_column(String(128), index=True)
    version: Mapped[str] = mapped_column(String(64))
    source_env: Mapped[str] = mapped_column(String(64))
    target_env: Mapped[str] = mapped_column(String(64))
    requester: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(32), index=True)
    required: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    channel: Mapped[str | None] = mapped_column(String(64))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    rollout: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """Rollout progress: steps done, old/new deployment names, owner, heartbeat."""
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """What the card shows: metrics of both versions, verdicts, serving before."""
    version_no: Mapped[int] = mapped_column("row_version", Integer, default=0)


class Vote(Base):
    __tablename__ = "approval_votes"
    __table_args__ = (UniqueConstraint("approval_id", "user_id", name="uq_vote_per_user"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    approval_id: Mapped[str] = mapped_column(String(32), index=True)
    user_id: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Alert(Base):
    __tablename__ = "alerts"
    fingerprint: Mapped[str] = mapped_column(String(255), primary_key=True)
    model: Mapped[str] = mapped_column(String(128), index=True)
    environment: Mapped[str] = mapped_column(String(64))
    signal: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16), default="warning")
    consecutive: Mapped[int] = mapped_column(Integer, default=0)
    breach_count: Mapped[int] = mapped_column(Integer, default=0)
    opened_at: Mapped[datetime | None]
    last_checked_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(64))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    flips: Mapped[list[Any]] = mapped_column(default=list)
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    version_no: Mapped[int] = mapped_column("row_version", Integer, default=0)


class StandingSummary(Base):
    """The one standing summary message of a model in an environment, edited in place by the
    scheduled checks, and each check kind's last verdict (a new top-level message is posted
    only when one changes). A row, not memory: a restarted bot edits the same message."""

    __tablename__ = "standing_summaries"
    __table_args__ = (UniqueConstraint("model", "environment", name="uq_standing_summary"),)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    model: Mapped[str] = mapped_column(String(128))
    environment: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(64))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    generation: Mapped[int] = mapped_column(Integer, default=0)
    """Part of the message's outbox key: a new generation posts a new message."""
    entries: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """Per check kind: level, headline, signals, checked_at, changed_at, muted."""
    updated_at: Mapped[datetime | None]
    version_no: Mapped[int] = mapped_column("row_version", Integer, default=0)


class Mute(Base):
    __tablename__ = "mutes"
    __table_args__ = (UniqueConstraint("model", "signal", name="uq_mute"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    model: Mapped[str] = mapped_column(String(128))
    signal: Mapped[str] = mapped_column(String(64))
    """A signal name, or ``*`` for every signal of the model."""
    until: Mapped[datetime]
    by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class JobRun(Base):
    """A training job the bot submitted, so the watcher can report its end exactly once."""

    __tablename__ = "job_runs"
    job_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    model: Mapped[str] = mapped_column(String(128), index=True)
    environment: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(255))
    requested_by: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    channel: Mapped[str | None] = mapped_column(String(64))
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    """The thread the job's end is announced in (the card's own, or the alert's)."""
    card_channel: Mapped[str | None] = mapped_column(String(64))
    card_ts: Mapped[str | None] = mapped_column(String(32))
    """The job's card, edited in place as the job moves; None while the card is queued in the
    outbox under ``job-card:<job id>`` (edits then name it as their parent)."""
    reported: Mapped[bool] = mapped_column(default=False)
    version_no: Mapped[int] = mapped_column("row_version", Integer, default=0)


class CheckJobRun(Base):
    """A monitoring check submitted as a job on the platform's compute
    (``monitoring.compute: platform``), recorded *before* it is submitted under the job name
    the bot chose, so a restart or a second replica finds it instead of submitting it again.

    ``in_flight`` (``model|environment|kind`` until the result is applied, then NULL) is
    unique: the database, not a check-then-act, keeps one job per check in flight."""

    __tablename__ = "check_jobs"
    job_name: Mapped[str] = mapped_column(String(128), primary_key=True)
    model: Mapped[str] = mapped_column(String(128), index=True)
    environment: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    trigger: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    """``submitting`` until the platform took it, then the job's status."""
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    in_flight: Mapped[str | None] = mapped_column(String(255), unique=True)
    reported: Mapped[bool] = mapped_column(default=False)
    outcome: Mapped[str | None] = mapped_column(String(32))
    """The check's level once applied, or ``failed`` / ``timed_out``."""
    error: Mapped[str | None] = mapped_column(Text)
    version_no: Mapped[int] = mapped_column("row_version", Integer, default=0)


class OutboxMessage(Base):
    """Slack messages that matter, kept until Slack has accepted them (at most once each)."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)
    method: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None]


class Lock(Base):
    """Named leases (e.g. the scheduler leader), taken over when the holder stops renewing."""

    __tablename__ = "locks"
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime]


class InboxItem(Base):
    """An interaction Slack was told we accepted (its ack): kept until a worker has run it.

    Written by the listener *before* ``ack()``, so a click or a command that got its HTTP 200 is
    never lost to a crash; ``key`` is what makes Slack's own retries and a second delivery of
    the same interaction one row (see :mod:`infra.inbox`)."""

    __tablename__ = "inbox"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_until: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class SeenRequest(Base):
    """Signatures of accepted Slack requests, shared by every replica until they expire."""

    __tablename__ = "seen_requests"
    signature: Mapped[str] = mapped_column(String(128), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class EndpointRollout(Base):
    """The one rollout in flight on an endpoint (model and environment): a lock row taken by
    insert or compare-and-set, renewed while the rollout runs (see :mod:`infra.rollout_locks`)."""

    __tablename__ = "endpoint_rollouts"
    endpoint: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    what: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


OPEN_APPROVAL_STATES = ("pending", "approved", "rolling_out")
"""Approval states of a request that has not ended: at most one per model and target."""

Index("ix_outbox_pending", OutboxMessage.delivered_at, OutboxMessage.next_attempt_at)
Index("ix_inbox_pending", InboxItem.done_at, InboxItem.next_attempt_at)
Index(
    "uq_open_approval",
    Approval.model,
    Approval.target_env,
    unique=True,
    sqlite_where=Approval.state.in_(OPEN_APPROVAL_STATES),
    postgresql_where=Approval.state.in_(OPEN_APPROVAL_STATES),
)


# --------------------------------------------------------------------------- engine + migrations


def default_database_url(state_dir: Path) -> str:
    return f"sqlite:///{(state_dir / 'bot.db').resolve()}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the scheduler, workers and a second process read while one writes; the busy
    # timeout turns "database is locked" into a short wait instead of an error.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL still survives any crash of the process (kill -9 included: a commit
    # is in the WAL file before it returns); it skips the fsync of every commit, which would
    # otherwise sit in front of every ack now that acked work is written before the ack. Only
    # an OS crash or power loss can drop the last commits (PostgreSQL is the store for that).
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_reader_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # A reader never writes: SQLite refuses it (``query_only``), so a write slipped into a
    # read-only session fails loudly instead of running outside the write lock.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 15},
            # Acks write (the inbox) beside the workers: enough connections that an ack never
            # waits for the pool.
            pool_size=10,
            max_overflow=40,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        # SQLite's default deferred transactions let two writers both read then fail to upgrade;
        # BEGIN IMMEDIATE takes the write lock up front so compare-and-set is serialised.
        # Writers of this process queue on a lock first: SQLite's own busy wait polls with
        # growing sleeps (up to 100 ms), which under 20 concurrent acks put close to a second
        # in front of some of them; the lock hands the database over in arrival order.
        writers = threading.RLock()

        def begin(conn: Any) -> None:
            writers.acquire()
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                writers.release()
                raise

        def end(conn: Any) -> None:
            # Not held by this thread (a pool reset): nothing to free.
            with suppress(RuntimeError):
                writers.release()

        event.listen(engine, "begin", begin)
        event.listen(engine, "commit", end)
        event.listen(engine, "rollback", end)

        @event.listens_for(engine, "connect")
        def _no_pysqlite_begin(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def make_read_engine(url: str) -> Engine | None:
    """SQLite: an engine for read-only transactions, which take neither the process's write lock
    nor SQLite's (a deferred ``BEGIN``: in WAL mode a reader reads one consistent snapshot while
    a writer commits). None elsewhere: PostgreSQL's readers never wait for writers.

    Why: with every transaction on the write engine, a status command's reads, the outbox and
    inbox polls and the desk's sweeps queued in front of the inbox row each ack writes."""
    if not url.startswith("sqlite"):
        return None
    if "///" not in url or url.split("///", 1)[-1] in ("", ":memory:"):
        return None  # a private in-memory database per connection: readers would see nothing
    engine = create_engine(
        url, connect_args={"check_same_thread": False, "timeout": 15}, pool_size=10, max_overflow=40
    )
    event.listen(engine, "connect", _sqlite_reader_pragmas)
    event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN"))
    return engine


def upgrade_schema(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (idempotent, safe for two processes)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


# --------------------------------------------------------------------------- the store


class StaleStateError(Exception):
    """A compare-and-set lost: someone else changed the row first."""


T = TypeVar("T")

#: How many times a read-decide-write is tried before the conflict is reported.
CAS_ATTEMPTS = 8


def retry_on_conflict(attempt: Callable[[], T], *, attempts: int = CAS_ATTEMPTS) -> T:
    """Run ``attempt`` (read the row, decide, :meth:`Store.compare_and_set`) again while another
    writer gets in between; raise the last :class:`StaleStateError` when every try lost.

    ``attempt`` must re-read what it decides on, so each try decides on the current row.
    The one retry loop of the product: every read-decide-write goes through it."""
    for _ in range(attempts - 1):
        try:
            return attempt()
        except StaleStateError:
            continue
    return attempt()


@dataclass(frozen=True)
class AuditRecord:
    at: datetime
    actor: str
    action: str
    outcome: str
    model: str | None
    environment: str | None
    subject: str | None
    detail: Mapping[str, Any]


@dataclass(frozen=True)
class AuditNote:
    """An audit row to write in the same transaction as a state change (see compare_and_set)."""

    actor: str
    action: str
    outcome: str
    model: str | None = None
    environment: str | None = None
    subject: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)

    def entry(self) -> AuditEntry:
        return AuditEntry(
            actor=self.actor,
            action=self.action,
            outcome=self.outcome,
            model=self.model,
            environment=self.environment,
            subject=self.subject,
            # The trail is read back into Slack (/mlops audit): no secret goes in, even one a
            # user typed or an error quoted.
            detail=_scrubbed(json.loads(json.dumps(dict(self.detail), default=str))),
        )


log = logging.getLogger(__name__)


class Store:
    def __init__(self, engine: Engine, read_engine: Engine | None = None) -> None:
        self.engine = engine
        self.read_engine = read_engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._read_sessions = (
            sessionmaker(read_engine, expire_on_commit=False) if read_engine is not None else None
        )
        self._local = threading.local()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed on success, rolled back on any error.

        Inside :meth:`transaction` (same thread) it is a savepoint of that transaction instead:
        what it writes commits or rolls back with the whole, and an error inside (a lost
        insert race caught by the caller) undoes only its own part."""
        outer: Session | None = getattr(self._local, "session", None)
        if outer is not None:
            # A fresh identity map per block (the rows stay readable, detached): a block must
            # see what an earlier block changed with an UPDATE statement, as separate
            # sessions would.
            outer.expunge_all()
            with outer.begin_nested():
                yield outer
            return
        with self._sessions.begin() as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only transaction: one consistent snapshot, no write lock taken, so it never
        queues in front of a writer (an ack's inbox row) nor behind one. Writing in it fails on
        SQLite (the connection is ``query_only``). Use it for every pure read; a read that a
        write depends on in the same transaction (read-decide-write) stays in :meth:`session`.

        Inside :meth:`transaction` (same thread) it reads that transaction's own state instead.
        On PostgreSQL it is an ordinary transaction (readers never wait for writers there)."""
        if self._read_sessions is None or self.in_transaction:
            with self.session() as session:
                yield session
            return
        with self._read_sessions.begin() as session:
            yield session

    @contextmanager
    def transaction(
        self, defer: Callable[[Callable[[], None]], Any] | None = None
    ) -> Iterator[None]:
        """One database transaction for everything this thread writes through the store inside
        the block: a state change, its audit row and the outbox rows announcing it commit
        together or not at all (a transactional outbox). Callbacks given to
        :meth:`after_commit` run once it has committed (e.g. a first delivery attempt, which
        must not hold the transaction open while Slack answers). Nested blocks join the outer
        one. ``defer`` hands the after-commit callbacks to an executor instead of running them
        in this thread (a listener that must ack within Slack's three seconds)."""
        if getattr(self._local, "session", None) is not None:
            with self.session():
                yield
            return
        callbacks: list[Callable[[], None]] = []
        with self._sessions.begin() as session:
            self._local.session, self._local.after = session, callbacks
            try:
                yield
            finally:
                self._local.session = self._local.after = None
        for callback in callbacks:
            if defer is not None:
                defer(callback)
                continue
            try:
                callback()
            except Exception:
                log.exception("an after-commit callback failed")

    @property
    def in_transaction(self) -> bool:
        """True inside :meth:`transaction` on this thread."""
        return getattr(self._local, "session", None) is not None

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the current :meth:`transaction` commits (never if it rolls
        back); at once when there is none."""
        pending: list[Callable[[], None]] | None = getattr(self._local, "after", None)
        if pending is None:
            callback()
        else:
            pending.append(callback)

    def ping(self) -> None:
        with (self.read_engine or self.engine).connect() as connection:
            connection.execute(text("SELECT 1"))

    def close(self) -> None:
        self.engine.dispose()
        if self.read_engine is not None:
            self.read_engine.dispose()

    # -- compare-and-set
    def compare_and_set(
        self,
        model: type[Base],
        key: Any,
        expected_version: int,
        *,
        audit: AuditNote | None = None,
        **changes: Any,
    ) -> None:
        """Apply ``changes`` only if the row is still at ``expected_version``; bump the version.

        Raises StaleStateError when another writer got there first, so the caller can re-read
        and decide (usually: the click was a duplicate, do nothing). ``audit`` is written in the
        same transaction: a reader who sees the change also sees its audit row.
        """
        pk = next(iter(model.__table__.primary_key.columns))
        table = model.__table__
        with self.session() as session:
            result = session.execute(
                update(table)
                .where(pk == key, table.c.row_version == expected_version)
                .values(row_version=expected_version + 1, **changes)
            )
            if result.rowcount != 1:
                raise StaleStateError(f"{table.name} {key!r} changed concurrently")
            if audit is not None:
                session.add(audit.entry())

    # -- audit
    def audit(
        self,
        actor: str,
        action: str,
        outcome: str,
        *,
        model: str | None = None,
        environment: str | None = None,
        subject: str | None = None,
        **detail: Any,
    ) -> None:
        note = AuditNote(actor, action, outcome, model, environment, subject, detail)
        with self.session() as session:
            session.add(note.entry())

    def audit_trail(
        self,
        *,
        model: str | None = None,
        environment: str | None = None,
        subject: str | None = None,
        limit: int = 100,
    ) -> list[AuditRecord]:
        query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
        if model is not None:
            query = query.where(AuditEntry.model == model)
        if environment is not None:
            query = query.where(AuditEntry.environment == environment)
        if subject is not None:
            query = query.where(AuditEntry.subject == subject)
        with self.read() as session:
            rows = session.scalars(query).all()
            return [
                AuditRecord(
                    r.at, r.actor, r.action, r.outcome, r.model, r.environment, r.subject, r.detail
                )
                for r in rows
            ]


def insert_rows(
    session: Session,
    table: Any,
    rows: list[Mapping[str, Any]],
    *,
    unique: str,
    renew_expired: str | None = None,
    now: datetime | None = None,
    returning: Any = None,
) -> dict[Any, Any]:
    """One ``INSERT ... ON CONFLICT`` statement for ``rows``: each is inserted unless a row with
    the same ``unique`` value exists; with ``renew_expired`` (a timestamp column), an existing
    row whose time is before ``now`` is overwritten instead (an expired memory). Returns, for
    each row written, its ``unique`` value mapped to its ``returning`` column (or to itself).
    ``rows`` must not repeat a ``unique`` value.

    Why not ``session.add`` and catch the IntegrityError: no exception, no savepoint, and one
    statement for many rows, so the transaction in front of a burst of acks stays short and a
    lost race does not undo the rest of the transaction."""
    if not rows:
        return {}
    statement = _insert_statement(
        session.get_bind().dialect.name, table, unique, renew_expired, tuple(rows[0]), returning
    )
    # The rows are parameters (an executemany, which SQLAlchemy batches into multi-row VALUES)
    # and the statement is built once per shape: this runs in front of every ack, and building
    # and compiling the statement for each set of literal rows cost more than the write.
    extra = {_RENEW_BEFORE: now} if renew_expired is not None else {}
    parameters = [{**row, **extra} for row in rows]
    rows_written = session.execute(statement, parameters).all()
    return {key: value for key, value in rows_written}


_RENEW_BEFORE = "insert_rows_renew_before"


@functools.lru_cache(maxsize=64)
def _insert_statement(
    dialect: str,
    table: Any,
    unique: str,
    renew_expired: str | None,
    columns: tuple[str, ...],
    returning: Any,
) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(table)
    if renew_expired is not None:
        column = table.c[renew_expired]
        statement = statement.on_conflict_do_update(
            index_elements=[unique],
            set_={name: statement.excluded[name] for name in columns if name != unique},
            where=column < bindparam(_RENEW_BEFORE, type_=column.type),
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=[unique])
    key = table.c[unique]
    return statement.returning(key, returning if returning is not None else key)


def _scrubbed(value: Any) -> Any:
    from infra.logs import redact

    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _scrubbed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrubbed(v) for v in value]
    return value


def open_store(url: str) -> Store:
    engine = make_engine(url)
    upgrade_schema(engine)
    return Store(engine, make_read_engine(url))
