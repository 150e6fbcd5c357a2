"""Restarts keep alert state, mutes and schedules; two schedulers on one database never both run."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import text

from infra.holders import HOST
from infra.store import Lock
from jobs import run as run_job
from jobs.alerts import active_mute
from jobs.scheduler import CONFIG_STORE, LEADER_LOCK, MonitoringScheduler, lease_holder
from tests.scenarios.scheduling.conftest import Harness, model_config

pytestmark = pytest.mark.usefixtures("quick_charts")


def stored_jobs(harness: Harness) -> dict[str, float]:
    with harness.store.engine.connect() as connection:
        rows = connection.execute(text("SELECT id, next_run_time FROM apscheduler_jobs")).all()
    return {row[0]: row[1] for row in rows}


def test_restart_keeps_alert_state_mutes_and_schedules(
    make_harness: Callable[..., Harness],
) -> None:
    first = make_harness()
    first.start()
    jobs_before = stored_jobs(first)
    assert set(jobs_before) == {
        "drift:churn:prod",
        "performance:churn:prod",
        "utilization:churn:prod",
        "retrain:churn",
        "digest",
    }
    first.platform.drifted = True
    first.clock.advance()
    first.run()
    alert = first.top_level()[0]
    from jobs.alerts import set_mute

    set_mute(
        first.store,
        "churn",
        "performance",
        first.clock.now + timedelta(days=1),
        "U0BOB",
        first.clock.now,
    )
    first.stop()

    second = make_harness()  # same database file, a new process's worth of objects
    second.start()
    assert stored_jobs(second) == jobs_before  # same ids, same next run times: nothing re-added
    assert active_mute(second.store, "churn", "performance", second.clock.now) is not None
    second.clock.advance()
    second.run()
    assert len(second.top_level()) == 1  # the same alert, continued in its thread
    notes = [r.get("text") or "" for r in second.replies(alert["ts"])]
    assert any("Still breaching (check 2, 2 in a row)" in n for n in notes)
    rows = second.scheduler.scheduled_jobs("churn")  # type: ignore[union-attr]
    assert {r.name for r in rows} >= {"drift:churn:prod", "retrain:churn"}
    assert all(r.next_run is not None and r.next_run > datetime.now(UTC) for r in rows)
    # The cron time plus the model's stable offset (monitoring.spread, issue 15).
    trigger = next(r for r in rows if r.name == "drift:churn:prod").trigger
    assert trigger.startswith("cron 0 * * * * UTC + ")


def test_a_configuration_change_updates_jobs_on_restart(
    make_harness: Callable[..., Harness],
) -> None:
    first = make_harness()
    first.start()
    drift_next = stored_jobs(first)["drift:churn:prod"]
    first.stop()

    changed = model_config(
        monitoring={
            "environments": ["prod"],
            "drift": {"schedule": "30 */2 * * *"},
            "utilization": {"enabled": False},
        },
        retraining={"schedule": "0 3 * * 0", "on_drift": "ask"},
    )
    other = model_config(name="fraud", monitoring={"environments": ["preprod", "prod"]})
    second = make_harness(changed, other)
    scheduler = second.start()
    jobs = stored_jobs(second)
    assert "utilization:churn:prod" not in jobs  # disabled check: its job is gone
    assert {"drift:fraud:preprod", "drift:fraud:prod", "performance:churn:prod"} <= set(jobs)
    assert set(jobs) == {
        "drift:churn:prod",
        "performance:churn:prod",
        "retrain:churn",
        *(
            f"{kind}:fraud:{env}"
            for kind in ("drift", "performance", "utilization")
            for env in ("preprod", "prod")
        ),
        "retrain:fraud",
        "digest",
    }
    assert jobs["drift:churn:prod"] != drift_next
    job = scheduler.get_job("drift:churn:prod")
    assert (
        job is not None and "minute='30'" in str(job.trigger) and "hour='*/2'" in str(job.trigger)
    )
    assert job.misfire_grace_time == 3600  # half of the two-hour period
    # Sunday in crontab terms (0), not APScheduler's Monday = 0.
    retrain = scheduler.get_job("retrain:churn")
    assert retrain is not None and retrain.next_run_time.weekday() == 6
    assert retrain.coalesce is True and retrain.max_instances == 1

    second.stop()
    third = make_harness(changed, other)  # the same configuration again: nothing changes
    third.start()
    assert stored_jobs(third) == jobs


def probe_runs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, datetime]]:
    """Register a job kind that records which scheduler ran it and when."""
    runs: list[tuple[int, datetime]] = []
    lock = threading.Lock()

    def probe(ctx: Any, model: str | None, env: str | None, **_: Any) -> None:
        with lock:
            runs.append((id(ctx), datetime.now(UTC)))
        time.sleep(0.05)

    monkeypatch.setitem(run_job.RUNNERS, "probe", probe)
    return runs


def add_probe(scheduler: MonitoringScheduler, seconds: float = 0.5) -> None:
    scheduler._scheduler.add_job(
        "jobs.scheduler:run_scheduled",
        trigger=IntervalTrigger(seconds=seconds, timezone=UTC),
        args=("probe", None, None),
        id="probe",
        jobstore=CONFIG_STORE,
        replace_existing=True,
        misfire_grace_time=5,
    )


def test_two_schedulers_on_one_database_never_both_run_a_job(
    make_harness: Callable[..., Harness], monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = probe_runs(monkeypatch)
    a, b = make_harness(), make_harness()
    lease = timedelta(seconds=1)
    sched_a = a.start(lease_ttl=lease, holder="A")
    sched_b = MonitoringScheduler(b.services.monitor, clock=b.clock, lease_ttl=lease, holder="B")
    b.scheduler = sched_b
    sched_b.start()
    assert sched_a.is_leader and not sched_b.is_leader
    assert lease_holder(a.store) == "A"
    add_probe(sched_a)
    time.sleep(2.5)
    ran_by_a = {r for r in runs if r[0] == id(sched_a.context)}
    assert ran_by_a and all(r[0] == id(sched_a.context) for r in runs)
    assert sched_b.scheduled_jobs()  # the follower still lists the shared jobs

    # A dies without releasing its lease: B takes over once the lease expires.
    sched_a.stop(release=False)
    lease_end = sched_a.lease.valid_until  # A's last renewal + ttl, as written in `locks`
    assert lease_end is not None
    a.scheduler = None
    deadline = time.monotonic() + 10
    while not any(r[0] == id(sched_b.context) for r in runs):
        assert time.monotonic() < deadline, "the follower never took over"
        time.sleep(0.1)
    assert lease_holder(b.store) == "B" and sched_b.is_leader
    first_b = min(t for who, t in runs if who == id(sched_b.context))
    assert first_b >= lease_end  # not before the dead holder's lease ran out
    assert all(t < first_b for who, t in runs if who == id(sched_a.context))


def test_split_brain_still_runs_each_occurrence_once(
    make_harness: Callable[..., Harness], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even if both processes believed they lead (a paused VM, a clock jump), the per-run claim
    in the database lets only one of them run each scheduled occurrence."""
    runs = probe_runs(monkeypatch)
    a, b = make_harness(), make_harness()
    sched_a = a.start(lease_ttl=timedelta(seconds=30), holder="A")
    sched_b = MonitoringScheduler(
        b.services.monitor, clock=b.clock, lease_ttl=timedelta(seconds=30), holder="B"
    )
    b.scheduler = sched_b
    sched_b.start()
    add_probe(sched_a, seconds=0.3)
    # Force B to act as a leader too.
    sched_b.lease.valid_until = datetime.now(UTC) + timedelta(hours=1)
    sched_b._leading = True
    sched_b._scheduler.resume()
    time.sleep(3)
    sched_a._scheduler.pause()
    sched_b._scheduler.pause()
    # Let the last queued runs finish before counting (the scheduler queues, workers run).
    from infra.workqueue import queue_depth

    deadline = time.monotonic() + 30
    while queue_depth(a.store) or len(runs) < len(sched_a.history) + len(sched_b.history):
        assert time.monotonic() < deadline, "the queued probe runs did not finish"
        time.sleep(0.05)
    time.sleep(0.3)  # a run past the count would show as an extra one below
    sched_a.stop()
    sched_b.stop()
    a.scheduler = b.scheduler = None
    history_a = [t for (job, t) in sched_a.history if job == "probe"]
    history_b = [t for (job, t) in sched_b.history if job == "probe"]
    assert len(runs) == len(history_a) + len(history_b) > 0
    assert not set(history_a) & set(history_b)  # no occurrence ran twice
    assert len(set(history_a) | set(history_b)) == len(runs)
    # Both really contended: some occurrences were refused to one of them by the claim.
    refused = sum(
        s._runs.get("probe", 0) - len(h) for s, h in ((sched_a, history_a), (sched_b, history_b))
    )
    assert refused > 0


def test_the_lease_row_names_the_leader(harness: Harness) -> None:
    scheduler = harness.start(holder="solo")
    with harness.store.engine.connect() as connection:
        holder = connection.execute(
            text("SELECT holder FROM locks WHERE name = :n"), {"n": LEADER_LOCK}
        ).scalar()
    assert holder == "solo"
    scheduler.stop()
    harness.scheduler = None
    assert lease_holder(harness.store) is None  # a clean stop hands over at once


def _lease_left_by(harness: Harness, holder: str) -> None:
    """A lease row as a killed leader leaves it: valid for another hour."""
    with harness.store.session() as session:
        session.add(
            Lock(name=LEADER_LOCK, holder=holder, expires_at=datetime.now(UTC) + timedelta(hours=1))
        )


def test_a_leader_that_was_killed_is_replaced_at_once_not_when_its_lease_expires(
    harness: Harness,
) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _lease_left_by(harness, f"{HOST}:{dead.pid}:deadbeef")
    scheduler = harness.start(holder="successor")  # start() asserts it leads
    assert lease_holder(harness.store) == "successor" == scheduler.holder


def test_a_live_leader_on_this_host_keeps_its_lease(harness: Harness) -> None:
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        _lease_left_by(harness, f"{HOST}:{alive.pid}:cafef00d")
        scheduler = MonitoringScheduler(
            harness.services.monitor, clock=harness.clock, holder="follower"
        )
        scheduler.start()
        try:
            assert not scheduler.is_leader
            assert lease_holder(harness.store) == f"{HOST}:{alive.pid}:cafef00d"
        finally:
            scheduler.stop()
    finally:
        alive.kill()
        alive.wait()
