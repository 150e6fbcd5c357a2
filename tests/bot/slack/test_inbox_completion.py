"""A handler's record of what it ran commits with the inbox row's completion, or neither does."""

from __future__ import annotations

from sqlalchemy import select

from bot.slack.inbox import Completion, InboxWorker
from infra.holders import new_holder
from infra.inbox import Inbox
from infra.store import AuditEntry, InboxItem, Store, open_store


def _store(tmp_path) -> Store:
    return open_store(f"sqlite:///{tmp_path / 'bot.db'}")


def _worker(store: Store, handler) -> InboxWorker:
    worker = InboxWorker(Inbox(store, new_holder()), lambda fn, *a: fn(*a))
    worker.on("command", handler)
    return worker


def _row(store: Store) -> InboxItem:
    with store.read() as session:
        return session.scalars(select(InboxItem)).one()


def _audited(store: Store) -> list[str]:
    with store.read() as session:
        return [e.action for e in session.scalars(select(AuditEntry))]


def test_the_record_and_the_completion_commit_together(tmp_path) -> None:
    store = _store(tmp_path)
    worker = _worker(
        store, lambda body: Completion(lambda: store.audit("U1", "command:status", "ok"))
    )
    assert worker.accept("command", "command:t1", {"text": "status"})
    row = _row(store)
    assert row.done_at is not None and row.last_error is None
    assert _audited(store) == ["command:status"]


def test_a_record_that_fails_leaves_the_row_to_run_again_and_writes_nothing(tmp_path) -> None:
    store = _store(tmp_path)

    def record() -> None:
        store.audit("U1", "command:status", "ok")
        raise RuntimeError("database went away")

    worker = _worker(store, lambda body: Completion(record))
    assert worker.accept("command", "command:t2", {"text": "status"})
    row = _row(store)
    assert row.done_at is None and row.claimed_by is None
    assert "database went away" in (row.last_error or "")
    assert _audited(store) == []


def test_a_row_taken_over_meanwhile_is_neither_completed_nor_recorded_here(tmp_path) -> None:
    store = _store(tmp_path)
    worker: InboxWorker

    def steal_then_record() -> Completion:
        # Another process took the row over (our claim expired while the handler ran).
        with store.session() as session:
            session.get(InboxItem, _row(store).id).claimed_by = "elsewhere:1:cafe"
        return Completion(lambda: store.audit("U1", "command:status", "ok"))

    worker = _worker(store, lambda body: steal_then_record())
    assert worker.accept("command", "command:t3", {"text": "status"})
    assert _row(store).done_at is None
    assert _audited(store) == []
