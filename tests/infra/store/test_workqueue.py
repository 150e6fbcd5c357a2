"""The work queue (issue 15, item 1): once per slot, claims, expiry, coalescing, late runs; on
SQLite and, where a server is configured, PostgreSQL (SKIP LOCKED)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from infra.holders import HOST
from infra.store import Store, open_store
from infra.workqueue import (
    COALESCED,
    DONE,
    FAILED,
    PENDING,
    WorkItem,
    WorkQueue,
    oldest_age_seconds,
    queue_depth,
)
from tests.fakes.postgres import fresh_postgres_url, needs_postgres

T0 = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres, needs_postgres])]
)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    url = f"sqlite:///{tmp_path / 'bot.db'}" if request.param == "sqlite" else fresh_postgres_url()
    s = open_store(url)
    yield s
    s.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def queue(store: Store, clock: Clock, holder: str, **options: object) -> WorkQueue:
    return WorkQueue(store, holder, clock=clock, **options)  # type: ignore[arg-type]


def row(store: Store, item_id: int) -> WorkItem:
    with store.session() as session:
        found = session.get(WorkItem, item_id)
        assert found is not None
        return found


def test_a_slot_is_queued_once_whoever_enqueues_it(store: Store, clock: Clock) -> None:
    a, b = queue(store, clock, "a"), queue(store, clock, "b")
    first = a.enqueue("drift", "churn", "prod", T0, {"grace": 60})
    assert first is not None
    assert b.enqueue("drift", "churn", "prod", T0) is None  # a second leader, the same slot
    assert a.enqueue("drift", "churn", "preprod", T0) is not None  # another check
    assert a.enqueue("digest", None, None, T0) is not None
    assert b.enqueue("digest", None, None, T0) is None  # no model: still unique
    assert queue_depth(store) == 3


def test_claims_take_the_oldest_due_and_never_run_one_check_twice_at_once(
    store: Store, clock: Clock
) -> None:
    q = queue(store, clock, "w1")
    older = q.enqueue("drift", "churn", "prod", T0)
    newer = q.enqueue("drift", "fraud", "prod", T0 + timedelta(seconds=5))
    claimed = q.claim()
    assert claimed is not None and claimed.id == older and claimed.attempts == 1
    assert (claimed.model, claimed.environment) == ("churn", "prod")
    # A later slot of the running check waits for it; other checks do not.
    blocked = q.enqueue("drift", "churn", "prod", T0 + timedelta(minutes=1))
    second = queue(store, clock, "w2").claim()
    assert second is not None and second.id == newer
    assert queue(store, clock, "w3").claim() is None
    assert q.finish(older)
    third = queue(store, clock, "w3").claim()
    assert third is not None and third.id == blocked
    assert row(store, older).state == DONE


def test_an_expired_claim_is_run_again_once_and_given_up_after_max_attempts(
    store: Store, clock: Clock
) -> None:
    claim = timedelta(seconds=30)
    dead = queue(store, clock, "dead", claim=claim, max_attempts=2)
    other = queue(store, clock, "other", claim=claim, max_attempts=2)
    third = queue(store, clock, "third", claim=claim, max_attempts=2)
    item = dead.enqueue("drift", "churn", "prod", T0)
    assert item is not None
    assert dead.claim() is not None
    clock.advance(10)
    assert dead.renew(item)  # alive: renewed, nobody else may take it
    clock.advance(25)
    assert other.claim() is None
    clock.advance(10)  # 45 s after the claim, 35 s after the renewal: expired
    taken = other.claim()
    assert taken is not None and taken.id == item and taken.attempts == 2
    assert third.claim() is None  # once per expiry: the taker holds it now
    assert not dead.finish(item)  # the dead worker's late answer changes nothing
    assert not dead.renew(item)
    assert row(store, item).claimed_by == "other"
    clock.advance(31)  # the second worker dies too: no third attempt
    assert third.claim() is None
    gone = row(store, item)
    assert gone.state == FAILED and gone.attempts == 2
    assert gone.note is not None and "gave up after 2 attempts" in gone.note


def test_missed_slots_of_one_check_are_coalesced_into_one_run_that_keeps_its_place(
    store: Store, clock: Clock
) -> None:
    q = queue(store, clock, "w")
    first = q.enqueue("drift", "churn", "prod", T0)
    other = q.enqueue("performance", "churn", "prod", T0 + timedelta(minutes=1))
    second = q.enqueue("drift", "churn", "prod", T0 + timedelta(minutes=2))
    third = q.enqueue("drift", "churn", "prod", T0 + timedelta(minutes=4))
    assert first and second and third and other
    assert row(store, first).state == row(store, second).state == COALESCED
    last = row(store, third)
    assert last.state == PENDING and last.covers == 3 and last.due_at == T0
    assert queue_depth(store) == 2
    claimed = q.claim()
    assert claimed is not None and claimed.id == third  # still ahead of the performance check
    assert claimed.covers == 3
    skipped = [i for i in q.irregular(T0 - timedelta(hours=1)) if i.state == COALESCED]
    assert [i.slot for i in skipped] == [T0, T0 + timedelta(minutes=2)]
    assert all("that run covers it" in (i.note or "") for i in skipped)


def test_a_run_that_starts_past_its_grace_is_late_and_listed(store: Store, clock: Clock) -> None:
    q = queue(store, clock, "w")
    on_time = q.enqueue("utilization", "churn", "prod", T0, {"grace": 60})
    late = q.enqueue("drift", "churn", "prod", T0, {"grace": 60})
    clock.advance(30)
    first = q.claim()
    assert first is not None and first.id == on_time and first.late is None
    clock.advance(60)
    second = q.claim()
    assert second is not None and second.id == late
    assert second.late == timedelta(seconds=90)
    assert q.finish(on_time) and q.finish(late)
    listed = q.irregular(T0 - timedelta(hours=1))
    assert [(i.kind, i.late_seconds, i.state) for i in listed] == [("drift", 90, DONE)]


def test_depth_and_oldest_age_for_metrics(store: Store, clock: Clock) -> None:
    q = queue(store, clock, "w")
    assert queue_depth(store) == 0 and oldest_age_seconds(store, clock()) == 0.0
    q.enqueue("drift", "churn", "prod", T0)
    q.enqueue("drift", "fraud", "prod", T0 + timedelta(seconds=30))
    clock.advance(90)
    assert queue_depth(store) == 2 and q.depth() == 2
    assert oldest_age_seconds(store, clock()) == 90.0 == q.oldest_age_seconds()
    assert q.claim() is not None
    assert queue_depth(store) == 1 and q.oldest_age_seconds() == 60.0


def test_a_dead_local_workers_claim_is_released_at_once(store: Store) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    gone = WorkQueue(store, f"{HOST}:{dead.pid}:deadbeef")
    item = gone.enqueue("drift", "churn", "prod", datetime.now(UTC))
    assert item is not None and gone.claim() is not None
    alive = WorkQueue(store, f"{HOST}:{os.getpid()}:cafef00d")
    assert alive.claim() is None  # the claim has not expired yet
    assert alive.release_dead() == 1
    taken = alive.claim()
    assert taken is not None and taken.id == item and taken.attempts == 2


def test_concurrent_workers_claim_each_item_once(store: Store) -> None:
    setup = WorkQueue(store, "setup")
    now = datetime.now(UTC)
    ids = {setup.enqueue("drift", f"m{i:02d}", "prod", now) for i in range(30)}
    taken: list[tuple[str, int]] = []
    lock = threading.Lock()

    def work(name: str) -> None:
        q = WorkQueue(store, name)
        while (item := q.claim()) is not None:
            with lock:
                taken.append((name, item.id))
            assert q.finish(item.id)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(i for _, i in taken) == sorted(ids)  # every item, each once


@pytest.mark.postgres
@needs_postgres
def test_postgres_claims_skip_rows_locked_by_another_worker(tmp_path: Path) -> None:
    """SKIP LOCKED: a worker never waits for the row another one is taking; it takes the next."""
    store = open_store(fresh_postgres_url())
    try:
        q = WorkQueue(store, "w")
        first = q.enqueue("drift", "churn", "prod", T0)
        second = q.enqueue("drift", "fraud", "prod", T0 + timedelta(seconds=1))
        with store.engine.connect() as other:
            other.execute(text("BEGIN"))
            locked = other.execute(
                select(WorkItem.id).where(WorkItem.id == first).with_for_update()
            ).scalar()
            assert locked == first
            started = time.monotonic()
            claimed = q.claim()
            assert time.monotonic() - started < 5  # not blocked by the lock
            assert claimed is not None and claimed.id == second
            other.execute(text("ROLLBACK"))
        again = q.claim()
        assert again is not None and again.id == first
    finally:
        store.close()
