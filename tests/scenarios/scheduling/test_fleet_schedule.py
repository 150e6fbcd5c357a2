"""Issue 15, item 1 (the parts without worker processes): only a scheduling process leads, the
job watcher has its own executor, and a run that misses its slot runs late instead of being
dropped silently."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from apscheduler.triggers.date import DateTrigger
from sqlalchemy import select

from infra.store import AuditEntry
from jobs import run as run_job
from jobs.scheduler import (
    CONFIG_STORE,
    WATCHER_JOB,
    WATCHER_LOCK,
    MonitoringScheduler,
    lease_holder,
)
from tests.scenarios.scheduling.conftest import Harness

pytestmark = pytest.mark.usefixtures("quick_charts")


def _wait(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def test_a_replica_that_schedules_nothing_never_takes_the_lease(
    make_harness: Callable[..., Harness],
) -> None:
    """A Slack-only replica that starts first used to hold the lease, and no check ran."""
    slack_only, scheduling = make_harness(), make_harness()
    lease = timedelta(seconds=1)
    replica = MonitoringScheduler(
        slack_only.services.monitor, lease_ttl=lease, holder="slack-only", configured_jobs=False
    )
    slack_only.scheduler = replica
    replica.start()
    assert not replica.is_leader and lease_holder(slack_only.store) is None
    # It still watches training jobs when nobody else does.
    assert replica.watcher_lease.held
    leader = scheduling.start(lease_ttl=lease, holder="scheduler")  # asserts it leads
    assert lease_holder(scheduling.store) == "scheduler" and leader.is_leader
    assert leader.job_ids()  # the configured checks are scheduled
    time.sleep(1.5)  # several lease rounds later, nothing changed hands
    assert lease_holder(scheduling.store) == "scheduler" and not replica.is_leader


def test_the_job_watcher_polls_while_every_check_thread_is_busy(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    started: list[str] = []

    def busy(ctx: Any, model: str | None, env: str | None, **_: Any) -> None:
        started.append(str(model))
        release.wait(30)

    monkeypatch.setitem(run_job.RUNNERS, "busy", busy)
    scheduler = harness.start(max_workers=2, watcher_seconds=3600)
    assert scheduler.watcher_lease.held
    polls: list[float] = []
    real = scheduler.watcher.poll_once
    monkeypatch.setattr(scheduler.watcher, "poll_once", lambda: polls.append(1) or real())
    try:
        for index in range(4):
            scheduler._scheduler.add_job(
                "jobs.scheduler:run_scheduled",
                trigger=DateTrigger(datetime.now(UTC)),
                args=("busy", f"m{index}", None),
                id=f"busy-{index}",
                jobstore=CONFIG_STORE,
            )
        _wait(lambda: len(started) == 2)  # both check threads taken, two runs queued
        assert scheduler.run_and_wait(WATCHER_JOB, timeout=10)
        assert polls
    finally:
        release.set()


def test_a_run_that_waited_past_its_grace_runs_late_and_says_so(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """APScheduler's executor drops a run that starts past ``misfire_grace_time`` (it waited in
    the queue behind other checks); here it runs, and the audit log says how late."""
    ran: list[str] = []
    release = threading.Event()

    def blocker(ctx: Any, model: str | None, env: str | None, **_: Any) -> None:
        release.wait(30)

    def check(ctx: Any, model: str | None, env: str | None, **_: Any) -> None:
        ran.append(str(model))

    monkeypatch.setitem(run_job.RUNNERS, "blocker", blocker)
    monkeypatch.setitem(run_job.RUNNERS, "late", check)
    scheduler = harness.start(max_workers=1)
    try:
        now = datetime.now(UTC)
        scheduler._scheduler.add_job(
            "jobs.scheduler:run_scheduled",
            trigger=DateTrigger(now),
            args=("blocker", "first", None),
            id="blocker",
            jobstore=CONFIG_STORE,
        )
        scheduler._scheduler.add_job(
            "jobs.scheduler:run_scheduled",
            trigger=DateTrigger(now),
            args=("late", "churn", "prod"),
            id="late:churn:prod",
            jobstore=CONFIG_STORE,
            misfire_grace_time=1,
        )
        time.sleep(2.0)  # the second run waits behind the first past its one-second grace
    finally:
        release.set()
    _wait(lambda: ran == ["churn"])
    with harness.store.session() as session:
        notes = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "schedule", AuditEntry.outcome == "late")
        ).all()
    assert notes and notes[0].model == "churn" and notes[0].environment == "prod"
    assert notes[0].detail["late_seconds"] >= 1


def test_the_watcher_lease_has_one_holder(make_harness: Callable[..., Harness]) -> None:
    a, b = make_harness(), make_harness()
    first = MonitoringScheduler(a.services.monitor, holder="a", configured_jobs=False)
    second = MonitoringScheduler(b.services.monitor, holder="b", configured_jobs=False)
    a.scheduler, b.scheduler = first, second
    first.start()
    second.start()
    assert first.watcher_lease.held and not second.watcher_lease.held
    with a.store.session() as session:
        from infra.store import Lock

        row = session.scalars(select(Lock).where(Lock.name == WATCHER_LOCK)).one()
    assert row.holder == "a"


def test_the_performance_trend_is_backfilled_once_then_reused(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 15, item 2: the backfill (thirteen windows recomputed from traffic) ran on every
    check until seven had run; its points are now stored with the first run's."""
    from jobs.alerts import AlertBook, fingerprint
    from jobs.checks import performance

    calls: list[datetime] = []
    real = performance.backfilled_trend

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[4])
        return real(*args, **kwargs)

    monkeypatch.setattr(performance, "backfilled_trend", counting)
    harness.start()
    job = "performance:churn:prod"
    harness.run(job)
    assert len(calls) == 1
    stored = AlertBook(harness.services.monitor).previous_trend(
        fingerprint("churn", "prod", "performance")
    )
    assert len(stored) > 1, "the backfilled points were not kept"
    assert [t for t, _ in stored] == sorted(t for t, _ in stored)
    for _ in range(2):
        harness.clock.advance()
        harness.run(job)
    assert len(calls) == 1  # reused, not recomputed
    again = AlertBook(harness.services.monitor).previous_trend(
        fingerprint("churn", "prod", "performance")
    )
    assert len(again) == len(stored) + 2


def test_the_digest_lists_runs_that_were_late_or_skipped_and_why(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two slots of one check missed while the only worker was busy: the older is coalesced
    into the newer (skipped, and why), the newer runs late (and how late); the digest says so."""
    from bot.sandbox import seed
    from infra.workqueue import COALESCED, DONE, WorkItem
    from tests.scenarios.scheduling.conftest import text_of

    release, busy = threading.Event(), threading.Event()

    def blocker(*_: Any, **__: Any) -> None:
        busy.set()
        release.wait(30)

    monkeypatch.setitem(run_job.RUNNERS, "blocker", blocker)
    scheduler = harness.start(max_workers=1)
    now = datetime.now(UTC)
    try:
        assert scheduler.enqueue("blocker", "other", "prod", now) is not None
        assert busy.wait(30)  # the only worker thread is taken
        older = scheduler.enqueue("drift", "churn", "prod", now - timedelta(minutes=10))
        newer = scheduler.enqueue(
            "drift", "churn", "prod", now - timedelta(minutes=8), {"grace": 60}
        )
    finally:
        release.set()
    assert older is not None and newer is not None

    def state(item: int) -> str | None:
        return scheduler.queue.state_of(item)

    _wait(lambda: state(newer) == DONE, timeout=60)
    assert state(older) == COALESCED
    with harness.store.session() as session:
        ran = session.get(WorkItem, newer)
        assert ran is not None and ran.covers == 2 and (ran.late_seconds or 0) >= 8 * 60
    harness.run("digest")
    digest = text_of(harness.top_level(seed.MLOPS_CHANNEL)[-1])
    assert "ran late, were skipped or failed" in digest
    assert "run skipped: still waiting for a worker when the next slot" in digest
    assert "run late: started" in digest
    assert "covered 2 slots" in digest


def test_an_alert_cards_chart_is_drawn_before_its_transaction(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker drawing a chart inside the alert's transaction held SQLite's write lock for the
    drawing, and acks of the serving process waited for it: the chart is drawn first."""
    from core.replies import Upload
    from jobs import charts
    from tests.scenarios.scheduling.conftest import CHART_NAMES, tiny_chart

    drawn: list[bool] = []
    for name in CHART_NAMES:
        eager = tiny_chart(name)

        def deferred(*args: Any, _eager: Any = eager, **kwargs: Any) -> Upload:
            made = _eager(*args, **kwargs)

            def render() -> bytes:
                drawn.append(harness.store.in_transaction)
                return made.content

            return Upload.deferred(made.filename, made.title, made.alt_text, render)

        monkeypatch.setattr(charts, name, deferred)
    harness.start()
    harness.platform.drifted = True
    harness.clock.advance()
    harness.run()
    assert harness.top_level(), "the drift alert was not posted"
    assert drawn and not any(drawn)  # drawn, and never with the transaction open
