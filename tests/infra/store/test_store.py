"""The store on SQLite and (when MLOPS_BOT_TEST_POSTGRES_URL is set) PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from infra.store import Approval, StaleStateError, Store, open_store
from tests.fakes.postgres import fresh_postgres_url, needs_postgres


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgres",
            marks=[
                pytest.mark.postgres,
                needs_postgres,
            ],
        ),
    ]
)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    url = f"sqlite:///{tmp_path / 'bot.db'}" if request.param == "sqlite" else fresh_postgres_url()
    s = open_store(url)
    yield s
    s.close()


def test_schema_is_migrated_to_head(store: Store) -> None:
    tables = set(inspect(store.engine).get_table_names())
    assert {
        "audit_log",
        "approvals",
        "approval_votes",
        "alerts",
        "mutes",
        "job_runs",
        "outbox",
        "locks",
        "inbox",
        "seen_requests",
        "endpoint_rollouts",
    } <= tables
    with store.engine.connect() as conn:
        current = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert current == schema_head()


def schema_head() -> str:
    """The one head of the migration chain (two heads would mean a migration lost its parent)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    import infra.store

    config = Config()
    config.set_main_option("script_location", str(Path(infra.store.__file__).parent / "migrations"))
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, f"the migrations have {len(heads)} heads: {heads}"
    return heads[0]


def test_migration_is_idempotent(store: Store) -> None:
    from infra.store import upgrade_schema

    upgrade_schema(store.engine)
    upgrade_schema(store.engine)


def test_audit_roundtrip_with_filters(store: Store) -> None:
    store.audit("U1", "deploy", "allowed", model="m1", environment="dev", version="3")
    store.audit("U2", "deploy", "denied", model="m2", environment="prod", rule="approvers")
    trail = store.audit_trail(model="m1")
    assert len(trail) == 1
    assert trail[0].actor == "U1" and trail[0].detail == {"version": "3"}
    assert trail[0].at.tzinfo is not None
    assert [e.outcome for e in store.audit_trail()] == ["denied", "allowed"]


def _approval(store: Store) -> str:
    now = datetime.now(UTC)
    with store.session() as session:
        session.add(
            Approval(
                id="a1",
                model="m",
                version="3",
                source_env="dev",
                target_env="prod",
                requester="U1",
                state="pending",
                required=2,
                created_at=now,
                updated_at=now,
                expires_at=now + timedelta(hours=1),
                rollout={},
                context={},
                version_no=0,
            )
        )
    return "a1"


def test_compare_and_set_lets_exactly_one_writer_win(store: Store) -> None:
    key = _approval(store)
    wins: list[int] = []
    losses: list[int] = []
    barrier = threading.Barrier(10)

    def attempt(i: int) -> None:
        barrier.wait()
        try:
            store.compare_and_set(Approval, key, 0, state="approved")
            wins.append(i)
        except StaleStateError:
            losses.append(i)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1 and len(losses) == 9
    with store.session() as session:
        row = session.get(Approval, key)
        assert row.state == "approved" and row.version_no == 1


def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(Exception, match="naive datetime"), store.session() as session:
        session.add(
            Approval(
                id="bad",
                model="m",
                version="1",
                source_env="dev",
                target_env="prod",
                requester="U",
                state="pending",
                required=1,
                created_at=datetime.now(),
                updated_at=datetime.now(UTC),
                expires_at=datetime.now(UTC),
                rollout={},
                context={},
                version_no=0,
            )
        )


def test_state_survives_reopening(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    first = open_store(url)
    first.audit("U1", "retrain", "submitted", model="m")
    first.close()
    second = open_store(url)
    assert second.audit_trail(model="m")[0].action == "retrain"


def test_retry_on_conflict_retries_until_the_write_wins_then_gives_up() -> None:
    from infra.store import StaleStateError, retry_on_conflict

    tries: list[int] = []

    def wins_on_third() -> str:
        tries.append(1)
        if len(tries) < 3:
            raise StaleStateError("lost")
        return "won"

    assert retry_on_conflict(wins_on_third) == "won" and len(tries) == 3

    def always_loses() -> None:
        tries.append(1)
        raise StaleStateError("lost")

    tries.clear()
    with pytest.raises(StaleStateError):
        retry_on_conflict(always_loses, attempts=4)
    assert len(tries) == 4
