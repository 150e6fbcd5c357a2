"""What keeps the write in front of an ack short: read-only sessions that do not queue with the
writers, the request's first sight written with its inbox row, and a group commit of concurrent
acks (SQLite and, when MLOPS_BOT_TEST_POSTGRES_URL is set, PostgreSQL)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from infra.group_commit import GroupCommit
from infra.inbox import Inbox
from infra.leases import OnceClaims
from infra.replays import ReplayMemory
from infra.store import AuditEntry, InboxItem, Lock, SeenRequest, Store
from tests.infra.store.test_store import store  # noqa: F401  (the parametrised fixture)

WAIT = 10.0


def _count(store: Store, model: type) -> int:  # noqa: F811
    with store.read() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_read_does_not_wait_for_an_open_write_transaction(store: Store) -> None:  # noqa: F811
    store.audit("U1", "deploy", "allowed", model="m")
    writing, release = threading.Event(), threading.Event()

    def hold_a_write() -> None:
        with store.session() as session:
            session.add(AuditEntry(actor="U2", action="deploy", outcome="ok", detail={}))
            session.flush()  # the write lock is taken now (BEGIN IMMEDIATE on SQLite)
            writing.set()
            release.wait(WAIT)

    writer = threading.Thread(target=hold_a_write)
    writer.start()
    try:
        assert writing.wait(WAIT)
        read: list[int] = []
        reader = threading.Thread(target=lambda: read.append(len(store.audit_trail())))
        reader.start()
        reader.join(WAIT / 2)
        # The reader saw the committed snapshot while the writer still held its transaction.
        assert read == [1], "a read-only session queued behind an open write transaction"
    finally:
        release.set()
        writer.join(WAIT)
    assert len(store.audit_trail()) == 2


def test_a_read_only_session_refuses_writes_on_sqlite(store: Store) -> None:  # noqa: F811
    if store.read_engine is None:
        pytest.skip("PostgreSQL: read() is an ordinary transaction")
    with pytest.raises(Exception, match=r"readonly|read-only|read only"), store.read() as session:
        session.add(AuditEntry(actor="U1", action="x", outcome="ok", detail={}))
        session.flush()
    assert store.audit_trail() == []


def test_a_read_inside_a_transaction_sees_its_uncommitted_writes(store: Store) -> None:  # noqa: F811
    with store.transaction():
        store.audit("U1", "deploy", "allowed")
        assert [e.actor for e in store.audit_trail()] == ["U1"]
        with store.read() as session:
            assert session.scalar(select(func.count()).select_from(AuditEntry)) == 1


def test_a_replay_and_its_original_in_one_batch_record_one_row(store: Store) -> None:  # noqa: F811
    memory = ReplayMemory(store)
    inbox = Inbox(store, "vm:1:a")
    original, replay = memory.sight("v0=sig"), memory.sight("v0=sig")
    items = [
        inbox._record_item("command", "command:T1", {"text": "status"}, original),
        inbox._record_item("command", "command:T1", {"text": "status"}, replay),
    ]
    with store.session() as session:
        inbox._write_records(session, items)
    assert original.first is True and replay.refused
    assert [item.row_id is not None for item in items] == [True, False]
    assert _count(store, InboxItem) == 1 and _count(store, SeenRequest) == 1


def test_a_replayed_request_records_nothing_and_a_slack_retry_is_one_row(store: Store) -> None:  # noqa: F811
    memory = ReplayMemory(store)
    inbox = Inbox(store, "vm:1:a")
    assert inbox.record("command", "command:T1", {"text": "status"}, memory.sight("v0=a"))
    replay = memory.sight("v0=a")
    assert inbox.record("command", "command:T2", {"text": "other"}, replay) is None
    assert replay.refused and _count(store, InboxItem) == 1
    # Slack's own retry: a new signature, or the same one not enforced; the key makes it one row.
    retry = memory.sight("v0=a", enforce=False)
    assert inbox.record("command", "command:T1", {"text": "status"}, retry) is None
    assert not retry.refused and _count(store, InboxItem) == 1


def test_an_envelope_claimed_by_one_replica_is_not_recorded_by_another(store: Store) -> None:  # noqa: F811
    first = OnceClaims(store, "envelope:", "vm:1:a")
    second = OnceClaims(store, "envelope:", "vm:2:b")
    inbox = Inbox(store, "vm:1:a")
    assert inbox.record("command", "command:T1", {}, first.sight("E1")) is not None
    sight = second.sight("E1")
    assert inbox.record("command", "command:T1b", {}, sight) is None and sight.refused
    assert not second.claim("E1")  # the claim was written with the row
    assert _count(store, InboxItem) == 1
    with store.read() as session:
        assert session.scalar(select(Lock.holder).where(Lock.name == "envelope:E1")) == "vm:1:a"


def test_an_expired_replay_memory_is_renewed_once(store: Store) -> None:  # noqa: F811
    now = [datetime.now(UTC)]
    memory = ReplayMemory(store, timedelta(minutes=6), clock=lambda: now[0])
    assert memory.first_sight("v0=x")
    now[0] += timedelta(minutes=7)
    renewals = [memory.sight("v0=x"), memory.sight("v0=x")]
    with store.session() as session:
        from infra.sights import write_sights

        write_sights(session, renewals, now[0])
    assert [s.first for s in renewals] == [True, False]
    assert not memory.first_sight("v0=x")


def test_concurrent_acks_share_transactions_and_each_is_committed(store: Store) -> None:  # noqa: F811
    memory = ReplayMemory(store)
    inbox = Inbox(store, "vm:1:a")
    batches: list[int] = []
    write = inbox._group.write

    def counting(session, items):  # type: ignore[no-untyped-def]
        batches.append(len(items))
        write(session, items)

    inbox._group.write = counting
    barrier = threading.Barrier(12)
    ids: dict[int, int | None] = {}

    def ack(i: int) -> None:
        barrier.wait(WAIT)
        entry = inbox.record("command", f"command:T{i}", {"n": i}, memory.sight(f"v0={i}"))
        ids[i] = entry.id if entry else None
        # Committed before record() returns: a reader on another connection sees it.
        with store.read() as session:
            assert session.get(InboxItem, ids[i]) is not None

    threads = [threading.Thread(target=ack, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert sorted(ids) == list(range(12)) and None not in ids.values()
    assert len(set(ids.values())) == 12
    assert _count(store, InboxItem) == 12 and _count(store, SeenRequest) == 12
    assert sum(batches) == 12  # each written once, in as many transactions as batches


def test_a_failing_write_in_a_batch_fails_only_its_own_caller(store: Store) -> None:  # noqa: F811
    def write(session, items: list[str]) -> None:  # type: ignore[no-untyped-def]
        for item in items:
            if item == "bad":
                raise ValueError("bad item")
            session.add(AuditEntry(actor=item, action="x", outcome="ok", detail={}))

    group: GroupCommit[str] = GroupCommit(store, write)
    barrier = threading.Barrier(6)
    errors: dict[str, BaseException | None] = {}

    def run(item: str) -> None:
        barrier.wait(WAIT)
        try:
            group.run(item)
            errors[item] = None
        except Exception as exc:
            errors[item] = exc

    names = ["a", "b", "bad", "c", "d", "e"]
    threads = [threading.Thread(target=run, args=(name,)) for name in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert isinstance(errors["bad"], ValueError)
    assert all(errors[name] is None for name in names if name != "bad")
    assert sorted(e.actor for e in store.audit_trail()) == ["a", "b", "c", "d", "e"]


def test_writes_queued_while_one_commits_go_in_one_transaction(store: Store) -> None:  # noqa: F811
    started, release = threading.Event(), threading.Event()
    batches: list[list[str]] = []

    def write(session, items: list[str]) -> None:  # type: ignore[no-untyped-def]
        batches.append(list(items))
        if items == ["first"]:
            started.set()
            release.wait(WAIT)
        for item in items:
            session.add(AuditEntry(actor=item, action="x", outcome="ok", detail={}))

    group: GroupCommit[str] = GroupCommit(store, write)
    first = threading.Thread(target=group.run, args=("first",))
    first.start()
    assert started.wait(WAIT)
    names = [f"n{i}" for i in range(5)]
    others = [threading.Thread(target=group.run, args=(name,)) for name in names]
    for t in others:
        t.start()
    deadline = time.monotonic() + WAIT
    while len(group._queue) < len(names) and time.monotonic() < deadline:
        time.sleep(0.01)
    release.set()
    for t in [first, *others]:
        t.join(WAIT)
    assert batches[0] == ["first"] and sorted(batches[1]) == names and len(batches) == 2
    assert len(store.audit_trail()) == 6
