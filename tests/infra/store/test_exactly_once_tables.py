"""The tables behind exactly-once at the edges: the inbox, shared replay memory, the ambient
store transaction, and the partial unique index on open requests (SQLite and, when
MLOPS_BOT_TEST_POSTGRES_URL is set, PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from infra.holders import HOST, new_holder
from infra.inbox import Inbox
from infra.replays import ReplayMemory
from infra.store import Approval, AuditEntry, InboxItem, Store
from tests.infra.store.test_store import store  # noqa: F401  (the parametrised fixture)


def _approval(approval_id: str, state: str = "pending") -> Approval:
    now = datetime.now(UTC)
    return Approval(
        id=approval_id,
        model="m",
        version="2",
        source_env="preprod",
        target_env="prod",
        requester="U1",
        state=state,
        required=2,
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(hours=1),
        rollout={},
        context={},
        version_no=0,
    )


def test_one_open_request_per_model_and_target(store: Store) -> None:  # noqa: F811
    with store.session() as session:
        session.add(_approval("a1"))
    with pytest.raises(IntegrityError), store.session() as session:
        session.add(_approval("a2"))
    with store.session() as session:  # ended requests do not count
        session.add(_approval("a3", state="succeeded"))
        session.add(_approval("a4", state="canceled"))


def test_a_transaction_commits_or_rolls_back_everything_written_inside(
    store: Store,  # noqa: F811
) -> None:
    ran: list[str] = []
    with pytest.raises(RuntimeError), store.transaction():
        store.audit("U1", "a", "ok")
        store.after_commit(lambda: ran.append("after"))
        raise RuntimeError
    with store.transaction():
        store.audit("U1", "b", "ok")
        # A lost insert race inside (a savepoint) leaves the rest of the transaction intact.
        with store.session() as session:
            session.add(_approval("x1"))
        with pytest.raises(IntegrityError), store.session() as session:
            session.add(_approval("x2"))
        store.after_commit(lambda: ran.append("after"))
        assert ran == []
    assert ran == ["after"]
    with store.session() as session:
        actions = session.scalars(select(AuditEntry.action)).all()
    assert actions == ["b"]


def test_the_recorder_runs_its_row_and_nobody_else_can(store: Store) -> None:  # noqa: F811
    mine = Inbox(store, new_holder())
    other = Inbox(store, f"other-host:1:{'x' * 8}")
    recorded = mine.record("approve", "action:1.2:U1:approve", {"user": {"id": "U1"}})
    assert recorded is not None
    row = recorded.id
    assert mine.record("approve", "action:1.2:U1:approve", {}) is None  # a retry: one row
    assert other.take(row) is None and other.due() == []
    entry = mine.take(row)
    assert entry is not None and entry.payload == {"user": {"id": "U1"}}
    assert mine.complete(row)
    assert mine.take(row) is None and mine.pending() == 0


def test_rows_of_a_dead_process_are_taken_over_at_once_here_and_after_the_claim_elsewhere(
    store: Store,  # noqa: F811
) -> None:
    dead = Inbox(store, f"{HOST}:999999:deadbeef")
    far = Inbox(store, "far-host:42:cafe0000", claim=timedelta(seconds=30))
    dead_row = dead.record("command", "command:t1", {}).id
    far_row = far.record("command", "command:t2", {}).id
    now = datetime.now(UTC)
    here = Inbox(store, new_holder(), clock=lambda: now)
    assert here.due() == [dead_row]  # pid 999999 does not run on this host
    later = Inbox(store, new_holder(), clock=lambda: now + timedelta(seconds=31))
    assert set(later.due()) == {dead_row, far_row}  # another host's claim expired


def test_concurrent_claims_hand_a_row_to_one_process(store: Store) -> None:  # noqa: F811
    recorder = Inbox(store, f"{HOST}:999999:deadbeef")
    row = recorder.record("approve", "action:9:U9:approve", {}).id
    takers = [Inbox(store, f"far-{n}:1:abc") for n in range(8)]
    later = datetime.now(UTC) + timedelta(minutes=10)
    for taker in takers:
        taker.clock = lambda: later
    got: list[object] = []
    go = threading.Barrier(len(takers))

    def take(taker: Inbox) -> None:
        go.wait()
        got.append(taker.take(row))

    threads = [threading.Thread(target=take, args=(t,)) for t in takers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sum(entry is not None for entry in got) == 1


def test_a_failing_row_is_retried_then_given_up(store: Store) -> None:  # noqa: F811
    now = datetime.now(UTC)
    inbox = Inbox(store, new_holder(), max_attempts=2, clock=lambda: now)
    row = inbox.record("command", "command:t3", {}).id
    entry = inbox.take(row)
    inbox.retry_later(entry, "boom", timedelta(seconds=5))
    assert inbox.due() == []  # not before its time
    inbox.clock = lambda: now + timedelta(seconds=6)
    assert inbox.due() == [row]
    entry = inbox.take(row)
    inbox.retry_later(entry, "boom again", timedelta(seconds=5))
    with store.session() as session:
        kept = session.get(InboxItem, row)
        assert kept.done_at is not None and kept.last_error.startswith("given up")


def test_replay_memory_is_shared_and_expires(store: Store) -> None:  # noqa: F811
    now = [datetime.now(UTC)]
    first = ReplayMemory(store, timedelta(minutes=6), clock=lambda: now[0])
    second = ReplayMemory(store, timedelta(minutes=6), clock=lambda: now[0])
    assert first.first_sight("v0=abc")
    assert not second.first_sight("v0=abc")  # another replica remembers it
    assert not first.first_sight("v0=abc")
    now[0] += timedelta(minutes=7)
    assert second.first_sight("v0=abc")  # forgotten after the window (Bolt refuses it anyway)
    now[0] += timedelta(minutes=7)
    assert first.prune() == 1  # expired memories are deleted
