"""One SQLite database per environment: model versions, endpoints, deployments, jobs, labels.

The bot's worker threads, the scheduler and detached training runners (other processes) all
write to the same file, so the engine runs SQLite in WAL mode with a generous busy timeout, and
write transactions start with ``BEGIN IMMEDIATE``: a writer takes the lock up front and waits
for it, instead of failing when it upgrades a read lock that another process raced for.
This module imports neither pandas nor scikit-learn so the training runner starts quickly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    DateTime,
    Engine,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    text,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.types import TypeDecorator

from infra.platform.base import PlatformError

BUSY_TIMEOUT_MS = 30_000


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC in SQLite and hands back timezone-aware UTC datetimes."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


metadata = MetaData()

model_versions = Table(
    "model_versions",
    metadata,
    Column("model", String(128), primary_key=True),
    Column("version", String(32), primary_key=True),
    Column("created", UTCDateTime, nullable=False),
    Column("registered", UTCDateTime, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("metrics", JSON, nullable=False),
    Column("training_job", String(128)),
    Column("source", String(128)),
    Column("artifact", String(1024), nullable=False),
    Column("sha256", String(64), nullable=False),
)

endpoints = Table(
    "endpoints",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("model", String(128), nullable=False),
    Column("created", UTCDateTime, nullable=False),
)

deployments = Table(
    "deployments",
    metadata,
    Column("endpoint", String(64), primary_key=True),
    Column("name", String(32), primary_key=True),
    Column("model", String(128), nullable=False),
    Column("model_version", String(32), nullable=False),
    Column("traffic", Integer, nullable=False, default=0),
    Column("mirror_traffic", Integer, nullable=False, default=0),
    Column("provisioning_state", String(16), nullable=False),
    Column("instance_type", String(64), nullable=False),
    Column("instance_count", Integer, nullable=False),
    Column("created", UTCDateTime, nullable=False),
    Column("error", Text),
    ForeignKeyConstraint(["endpoint"], ["endpoints.name"]),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("model", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created", UTCDateTime, nullable=False),
    Column("started", UTCDateTime),
    Column("ended", UTCDateTime),
    Column("parameters", JSON, nullable=False),
    Column("metrics", JSON, nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("command", JSON, nullable=False),
    Column("work_dir", String(1024), nullable=False),
    Column("runner_pid", Integer),
    Column("runner_started", Float),
    Column("produced_version", String(32)),
    Column("error", Text),
    Index("ix_jobs_model_created", "model", "created"),
)

labels = Table(
    "labels",
    metadata,
    Column("model", String(128), primary_key=True),
    Column("correlation_id", String(128), primary_key=True),
    Column("value", JSON, nullable=False),
    Column("recorded", UTCDateTime, nullable=False),
)


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control away from pysqlite so the "begin" hook below decides the mode.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _on_begin(connection: Connection) -> None:
    mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
    connection.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """The SQLite file of one environment; safe to share between threads and processes."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.engine: Engine = create_engine(
            f"sqlite:///{path}",
            connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
            pool_pre_ping=False,
        )
        event.listen(self.engine, "connect", _on_connect)
        event.listen(self.engine, "begin", _on_begin)
        with self.write() as conn:
            metadata.create_all(conn)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A consistent snapshot for reading."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction holding the database lock from its first statement."""
        with (
            self.engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn,
            conn.begin(),
        ):
            yield conn

    def close(self) -> None:
        self.engine.dispose()


def check_databases(root: Path, registry: Path, databases: Callable[[], list[Database]]) -> None:
    """The state directory is usable: the registry can be created and every environment's
    database answers (a readiness probe; the error names what to fix)."""
    try:
        registry.mkdir(parents=True, exist_ok=True)
        for database in databases():
            with database.read() as conn:
                conn.execute(text("SELECT 1"))
    except (OSError, SQLAlchemyError) as exc:
        raise PlatformError(
            f"the local platform cannot use its state directory {root}: {exc}",
            hint="check that the directory exists and is writable",
        ) from exc
