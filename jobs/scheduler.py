"""The scheduler: APScheduler 3 on the bot's database, one leader among all bot processes.

Jobs come from the configuration (drift, performance and utilization checks per model and
monitored environment, scheduled retraining, the daily digest) and live in APScheduler's
SQLAlchemy job store in the bot's own database, under stable ids such as
``drift:churn-model:prod``. On every start the leader reconciles them with the configuration:
unchanged jobs keep their stored next run time (so a run missed while the bot was down is still
handled by the misfire rules), changed ones are replaced in place, jobs of removed models or
checks are deleted. Same ids, so a restart never duplicates or loses a job.

Configured jobs only *enqueue*: at its time a job writes one row into the work queue
(:mod:`infra.workqueue`, unique per check and slot, so two replicas enqueue it once) and worker
processes claim and run it (:mod:`jobs.worker`): the local pool ``serve`` starts, and
``mlops-bot worker`` processes on any host. With ``workers.processes: 0`` the leader runs the
queue in threads of its own process instead (``max_workers`` of them): tests and the smallest
setups. So a cycle of checks never shares a process, nor its GIL, with the acks.

Process-local periodic work (the job watcher's polling) runs from an in-memory store of the
same scheduler, on its own one-thread executor: a burst of checks filling the check threads
never makes it skip a poll, so finished training jobs are reported on time.

Leadership: every process starts its scheduler *paused* (it can still list jobs and their next
run times); a lease row in ``locks`` decides which one resumes. Only a process that runs the
configured jobs contends for it: a Slack-only replica (``MLOPS_BOT_SCHEDULE=off``,
``serve --no-scheduler``) that started first would otherwise hold the lease and no check would
run anywhere. The leader renews the lease every ``ttl / 3``; a process that cannot renew pauses
at once, and a follower takes the lease over when it expires (the leader died). As a second
guard, each run of a configured job first claims ``run:<job id>@<scheduled time>`` in ``locks``
(a primary key), so even two leaders during a clock hiccup cannot both run the same occurrence.
The job watcher has a lease of its own (``job-watcher-leader``), which the scheduling leader or,
where no process schedules, a Slack-only replica holds: one process polls the platform.

Spreading: each check of a model fires at its cron time plus a stable offset, a hash of the
model's name within ``monitoring.spread`` (at most half the period), so the daily burst of every
check of every model at 06:00 becomes a stream over the window, the same on every restart.

Job options are deliberate:

* ``coalesce=True`` — after downtime a backlog of missed runs collapses into one: a drift check
  of "now" replaces the five you missed;
* ``max_instances=1`` — a slow check never overlaps itself (the next one is skipped and logged);
* ``misfire_grace_time`` — half the job's own period, between 1 minute and 6 hours: how late a
  run may start before it counts as *late*. A late run is never dropped (APScheduler's own
  executor would drop it silently when it waited behind other checks): it is queued with its
  grace, runs when a worker is free (several missed slots of one check coalesced into one run),
  and the audit log, the log and the digest say how late; a slot replaced by a newer one before
  any worker took it is listed by the digest as skipped, with the reason.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobEvent,
    JobExecutionEvent,
)
from apscheduler.executors.base import run_job
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError, OperationalError

from core.checks import CHECK_KINDS
from core.replies import ScheduledJobRow
from infra.cron import crontab_trigger
from infra.durations import format_duration
from infra.holders import new_holder
from infra.leases import Lease
from infra.settings import Settings
from infra.store import Lock, Store, utcnow
from infra.workqueue import COALESCED, FINAL_STATES, WorkQueue
from jobs.checks.platform import CheckJobs
from jobs.context import MonitorContext
from jobs.watcher import JobWatcher
from jobs.worker import WorkLoop, audit_schedule, grace_payload

log = logging.getLogger(__name__)

CONFIG_STORE = "default"
RUNTIME_STORE = "runtime"
JOBS_TABLE = "apscheduler_jobs"
LEADER_LOCK = "scheduler-leader"
WATCHER_LOCK = "job-watcher-leader"
WATCHER_EXECUTOR = "watcher"
RUN_CLAIM_PREFIX = "run:"
RUN_CLAIM_RETENTION = timedelta(days=2)

WATCHER_JOB = "job-watcher"
WATCHER_SECONDS = 10.0

MIN_GRACE = timedelta(minutes=1)
MAX_GRACE = timedelta(hours=6)

_LABELS = {
    **{kind.value: f"{kind} check" for kind in CHECK_KINDS},
    "retrain": "scheduled retraining",
    "digest": "daily digest",
}


# --------------------------------------------------------------------------- the lease


def claim_run(store: Store, job_id: str, run_time: datetime, holder: str) -> bool:
    """Claim one occurrence of a job; False when another process already ran it."""
    stamp = run_time.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%f")
    name = f"{RUN_CLAIM_PREFIX}{job_id}@{stamp}"[:128]
    try:
        with store.session() as session:
            session.add(Lock(name=name, holder=holder, expires_at=run_time + RUN_CLAIM_RETENTION))
        return True
    except IntegrityError:
        return False


def prune_claims(store: Store, now: datetime) -> int:
    with store.session() as session:
        result = session.execute(
            delete(Lock).where(Lock.name.like(f"{RUN_CLAIM_PREFIX}%"), Lock.expires_at < now)
        )
        return int(result.rowcount or 0)


# --------------------------------------------------------------------------- jobs from config


class OffsetTrigger(BaseTrigger):
    """A trigger that fires ``offset`` seconds after each fire time of ``trigger``.

    Stored with the job (pickled), so the offset survives restarts; its ``str`` names both, so
    a changed offset reconciles like a changed schedule."""

    def __init__(self, trigger: BaseTrigger, offset: int) -> None:
        self.trigger = trigger
        self.offset = int(offset)

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        shift = timedelta(seconds=self.offset)
        previous = previous_fire_time - shift if previous_fire_time is not None else None
        base = self.trigger.get_next_fire_time(previous, now - shift)
        return base + shift if base is not None else None

    def __str__(self) -> str:
        return f"{self.trigger} +{self.offset}s"

    def __repr__(self) -> str:
        return f"<OffsetTrigger {self.trigger!r} +{self.offset}s>"


def period_of(trigger: BaseTrigger) -> timedelta:
    """Time between two fires of a trigger (measured on a fixed date; 12 h when it never
    fires twice)."""
    first = trigger.get_next_fire_time(None, datetime(2030, 1, 1, tzinfo=UTC))
    second = trigger.get_next_fire_time(first, first + timedelta(seconds=1)) if first else None
    return (second - first) if first and second else MAX_GRACE * 2


def spread_offset(model: str, spread: timedelta, period: timedelta) -> int:
    """A model's stable offset in whole seconds: a hash of its name within ``spread``, at most
    half the period (so a check never slides into its next slot). The same name gives the same
    offset in every process and after every restart (not Python's salted ``hash``)."""
    window = int(min(spread, period / 2).total_seconds())
    if window <= 0:
        return 0
    digest = hashlib.sha256(model.encode()).digest()
    return int.from_bytes(digest[:8], "big") % window


@dataclass(frozen=True)
class JobSpec:
    id: str
    kind: str
    model: str | None
    env: str | None
    cron: str
    spread: timedelta = timedelta(0)
    """The window the model's offset is drawn from (``monitoring.spread``; 0: on the minute)."""

    @property
    def args(self) -> tuple[str, str | None, str | None]:
        return (self.kind, self.model, self.env)

    @property
    def name(self) -> str:
        where = " · ".join(p for p in (self.model, self.env) if p)
        return f"{_LABELS.get(self.kind, self.kind)}" + (f" · {where}" if where else "")

    def trigger(self) -> BaseTrigger:
        cron = crontab_trigger(self.cron)
        offset = self.offset_seconds()
        return OffsetTrigger(cron, offset) if offset else cron

    def offset_seconds(self) -> int:
        if self.model is None or not self.spread:
            return 0
        return spread_offset(self.model, self.spread, period_of(crontab_trigger(self.cron)))

    def grace_seconds(self) -> int:
        """Half the period between two fires, clamped to [1 min, 6 h]."""
        period = period_of(crontab_trigger(self.cron))
        return int(min(max(period / 2, MIN_GRACE), MAX_GRACE).total_seconds())


def desired_jobs(settings: Settings) -> list[JobSpec]:
    """Every scheduled job the configuration asks for, with its stable id."""
    specs: list[JobSpec] = []
    for model in settings.models:
        monitoring = model.monitoring
        for env in settings.monitored_envs(model):
            for kind in CHECK_KINDS:
                config = getattr(monitoring, kind.value)
                if config.enabled:
                    specs.append(
                        JobSpec(
                            f"{kind}:{model.name}:{env}",
                            kind,
                            model.name,
                            env,
                            config.schedule,
                            spread=monitoring.spread,
                        )
                    )
        if model.retraining.schedule:
            specs.append(
                JobSpec(
                    f"retrain:{model.name}", "retrain", model.name, None, model.retraining.schedule
                )
            )
    if settings.models and settings.slack.digest_schedule:
        specs.append(JobSpec("digest", "digest", None, None, settings.slack.digest_schedule))
    return specs


# --------------------------------------------------------------------------- running a job

_bound = threading.local()


def _bind_worker(owner: MonitoringScheduler) -> None:
    """Thread-pool initializer: the worker threads of one scheduler know their owner."""
    _bound.owner = owner


def run_scheduled(kind: str, model: str | None, env: str | None) -> int | None:
    """The function every configured job points at (a textual reference survives pickling): it
    queues the run of this slot for the workers. Returns the queued row's id, None when the
    slot was queued already (by another replica)."""
    owner: MonitoringScheduler | None = getattr(_bound, "owner", None)
    if owner is None:
        raise RuntimeError("run_scheduled called outside a MonitoringScheduler worker thread")
    if not owner.is_leader:
        log.warning(
            "skipping %s %s %s: this process is no longer the scheduler leader", kind, model, env
        )
        return None
    slot: datetime = getattr(_bound, "slot", None) or datetime.now(UTC)
    return owner.enqueue(kind, model, env, slot, grace_payload(getattr(_bound, "grace", None)))


class _Unmissable:
    """A job as APScheduler's ``run_job`` sees it, without a misfire grace: a run that waited in
    the queue behind other checks runs late instead of being dropped."""

    misfire_grace_time = None

    def __init__(self, job: Job) -> None:
        self._job = job

    def __getattr__(self, name: str) -> Any:
        return getattr(self._job, name)

    def __str__(self) -> str:
        return str(self._job)


class _ClaimingExecutor(ThreadPoolExecutor):
    """APScheduler's thread pool plus the per-occurrence claim, the worker binding, and late
    runs run (and recorded) instead of dropped."""

    def __init__(self, owner: MonitoringScheduler, max_workers: int) -> None:
        super().__init__(
            max_workers,
            pool_kwargs={
                "thread_name_prefix": "mlops-job",
                "initializer": _bind_worker,
                "initargs": (owner,),
            },
        )
        self._owner = owner

    def _do_submit_job(self, job: Job, run_times: list[datetime]) -> None:
        if job._jobstore_alias == CONFIG_STORE and not self._owner.claim(job.id, run_times[-1]):
            log.info("%s at %s already ran in another process; skipped", job.id, run_times[-1])
            # Frees the instance slot submit_job took, and tells waiters this occurrence is over.
            skipped = JobExecutionEvent(
                EVENT_JOB_MISSED, job.id, job._jobstore_alias, run_times[-1]
            )
            self._run_job_success(job.id, [skipped])
            return

        def run(job: Job, alias: str, run_times: list[datetime], logger_name: str) -> Any:
            # The slot and grace ride along to run_scheduled, which queues the run; how late it
            # starts is judged (and recorded) by the worker that takes it.
            _bound.slot, _bound.grace = run_times[-1], job.misfire_grace_time
            try:
                return run_job(_Unmissable(job), alias, run_times, logger_name)
            finally:
                _bound.slot = _bound.grace = None

        def callback(future: Any) -> None:
            exc = future.exception()
            if exc:
                self._run_job_error(job.id, exc, exc.__traceback__)
            else:
                self._run_job_success(job.id, future.result())

        self._pool.submit(
            run, job, job._jobstore_alias, run_times, self._logger.name
        ).add_done_callback(callback)


# --------------------------------------------------------------------------- the scheduler


class MonitoringScheduler:
    def __init__(
        self,
        context: MonitorContext,
        *,
        clock: Callable[[], datetime] | None = None,
        lease_ttl: timedelta | None = None,
        lease_heartbeat: timedelta | None = None,
        lease_clock: Callable[[], datetime] = utcnow,
        holder: str | None = None,
        max_workers: int = 4,
        watcher_seconds: float = WATCHER_SECONDS,
        configured_jobs: bool = True,
        inline_workers: bool = True,
    ) -> None:
        """``max_workers``: threads that run queued checks in this process while it leads
        (``inline_workers``); with ``inline_workers=False`` worker processes run them."""
        self.settings = context.settings
        self.store = context.store
        self.holder = holder or new_holder()
        self.context = replace(
            context, clock=clock or context.clock, on_job_submitted=self.job_submitted
        )
        reliability = self.settings.reliability
        ttl = lease_ttl or reliability.leader_lease
        self.lease = Lease(self.store, LEADER_LOCK, self.holder, ttl, lease_clock)
        self.watcher_lease = Lease(self.store, WATCHER_LOCK, self.holder, ttl, lease_clock)
        # Renewed (and contended for) this often: settings.reliability.leader_heartbeat, by
        # default a third of the lease.
        self.heartbeat = lease_heartbeat or (
            reliability.heartbeat if lease_ttl is None else ttl / 3
        )
        self.watcher_seconds = watcher_seconds
        self.watcher = JobWatcher(self.context, also=(CheckJobs(self.context).poll,))
        self.configured_jobs = configured_jobs
        self._leading = False
        self._running = False
        self._started = False
        self._state_lock = threading.RLock()
        self._stop = threading.Event()
        self._lease_thread: threading.Thread | None = None
        self._runs: dict[str, int] = {}
        self._items: dict[str, list[int | None]] = {}
        """Per job: the queue row of each of its occurrences this process handled (None when
        nothing was queued: another replica had it)."""
        workers = self.settings.workers
        self.queue = WorkQueue(
            self.store,
            self.holder,
            claim=workers.claim,
            max_attempts=workers.max_attempts,
            metrics=self.context.metrics,
        )
        self.work: WorkLoop | None = None
        if configured_jobs and inline_workers:
            self.work = WorkLoop(
                self.context,
                self.queue,
                threads=max_workers,
                poll_seconds=workers.poll.total_seconds(),
                on_finished=self._item_finished,
                gate=lambda: self.is_leader,
            )
        self.history: deque[tuple[str, datetime]] = deque(maxlen=1000)
        """(job id, scheduled time) of the runs this process executed, newest last."""
        self._runs_lock = threading.Condition()
        jobstores: dict[str, Any] = {RUNTIME_STORE: MemoryJobStore()}
        if configured_jobs:
            jobstores[CONFIG_STORE] = SQLAlchemyJobStore(
                engine=self.store.engine, tablename=JOBS_TABLE
            )
        self._scheduler = BackgroundScheduler(
            timezone=UTC,
            jobstores=jobstores,
            executors={
                # Queueing is quick: two threads are plenty, whatever runs the checks.
                "default": _ClaimingExecutor(self, 2),
                WATCHER_EXECUTOR: ThreadPoolExecutor(
                    1, pool_kwargs={"thread_name_prefix": "mlops-watcher"}
                ),
            },
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
        )
        self._scheduler.add_listener(
            self._on_event,
            EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES,
        )

    # -- lifecycle
    def start(self) -> None:
        """Start paused, then contend for leadership (now and every heartbeat in the
        background)."""
        if self._started:
            return
        self._scheduler.start(paused=True)
        self._started = True
        if not self.configured_jobs:
            log.info(
                "this process runs no scheduled checks (MLOPS_BOT_SCHEDULE=off or "
                "--no-scheduler): it never takes the scheduler lease"
            )
        self._add_watcher()
        if self.work is not None:
            self.work.start()
        self.tick()
        self._lease_thread = threading.Thread(
            target=self._lease_loop, name="scheduler-lease", daemon=True
        )
        self._lease_thread.start()

    def stop(self, *, release: bool = True, wait: bool = True) -> None:
        """Stop; ``release=False`` simulates a crash (the lease stays until it expires)."""
        self._stop.set()
        if self._lease_thread is not None:
            self._lease_thread.join(timeout=5)
        with self._state_lock:
            self._leading = False
            self._running = False
            if self._started:
                self._scheduler.shutdown(wait=wait)
                self._started = False
        if self.work is not None:
            self.work.stop(timeout=30 if wait else 0.5)
        if release:
            for lease in (self.lease, self.watcher_lease):
                try:
                    lease.release()
                except OperationalError:
                    log.warning("could not release the %s lease; it expires by itself", lease.name)

    @property
    def is_leader(self) -> bool:
        return self._leading and self.lease.held

    def tick(self) -> bool:
        """One round of the leases: take or renew them, and resume or pause to match.

        Only a process with configured jobs contends for the scheduler lease. The watcher lease
        is taken by the scheduling leader, or by a process that schedules nothing; a scheduling
        follower lets go of it (its scheduler is paused, so it could not poll)."""
        held = self._renew(self.lease) if self.configured_jobs else False
        if held or not self.configured_jobs:
            watching = self._renew(self.watcher_lease)
        else:
            watching = False
            if self.watcher_lease.held:
                self.watcher_lease.release()
        with self._state_lock:
            if not self._started:
                return False
            if held and not self._leading:
                log.info("this process (%s) now runs the scheduled jobs", self.holder)
                self.sync_jobs()
                self._leading = True
            elif not held and self._leading:
                log.warning("lost the scheduler lease; pausing scheduled jobs")
                self._leading = False
            running = held or watching
            if running and not self._running:
                self._running = True
                self._scheduler.resume()
            elif not running and self._running:
                self._running = False
                self._scheduler.pause()
        if held:
            prune_claims(self.store, self.lease.clock())
        return held

    def _renew(self, lease: Lease) -> bool:
        try:
            return lease.acquire()
        except OperationalError as exc:
            log.warning("cannot reach the database to renew the %s lease: %s", lease.name, exc)
            return lease.held

    def _lease_loop(self) -> None:
        interval = max(self.heartbeat.total_seconds(), 0.05)
        while not self._stop.wait(interval):
            try:
                self.tick()
            except Exception:
                log.exception("scheduler lease round failed")

    def claim(self, job_id: str, run_time: datetime) -> bool:
        return self.is_leader and claim_run(self.store, job_id, run_time, self.holder)

    def enqueue(
        self,
        kind: str,
        model: str | None,
        env: str | None,
        slot: datetime,
        payload: dict[str, Any] | None = None,
    ) -> int | None:
        """Queue one run for the workers (and wake this process's own, if it has them)."""
        item = self.queue.enqueue(kind, model, env, slot, payload)
        if item is not None and self.work is not None:
            self.work.wake()
        return item

    def _item_finished(self, item_id: int, state: str) -> None:
        with self._runs_lock:
            self._runs_lock.notify_all()

    # -- configured jobs
    def sync_jobs(self) -> dict[str, list[str]]:
        """Make the stored jobs match the configuration; returns what was added/changed/removed."""
        if not self.configured_jobs:
            return {"added": [], "changed": [], "kept": [], "removed": []}
        wanted = {spec.id: spec for spec in desired_jobs(self.settings)}
        existing = {job.id: job for job in self._scheduler.get_jobs(jobstore=CONFIG_STORE)}
        report: dict[str, list[str]] = {"added": [], "changed": [], "kept": [], "removed": []}
        for job_id, job in existing.items():
            if job_id not in wanted and _managed(job):
                self._scheduler.remove_job(job_id, jobstore=CONFIG_STORE)
                report["removed"].append(job_id)
        for job_id, spec in wanted.items():
            trigger = spec.trigger()
            grace = spec.grace_seconds()
            job = existing.get(job_id)
            if job is not None and _same(job, spec, trigger, grace):
                report["kept"].append(job_id)
                continue
            self._scheduler.add_job(
                "jobs.scheduler:run_scheduled",
                trigger=trigger,
                args=spec.args,
                id=job_id,
                name=spec.name,
                jobstore=CONFIG_STORE,
                replace_existing=True,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=grace,
            )
            report["changed" if job is not None else "added"].append(job_id)
        if report["added"] or report["changed"] or report["removed"]:
            log.info(
                "scheduled jobs: %d added, %d changed, %d removed, %d kept",
                len(report["added"]),
                len(report["changed"]),
                len(report["removed"]),
                len(report["kept"]),
            )
            self.store.audit("mlops-bot", "schedule", "synced", **report)
        return report

    # -- process-local periodic work
    def _add_watcher(self) -> None:
        self._scheduler.add_job(
            self._poll_watcher,
            trigger=IntervalTrigger(seconds=self.watcher_seconds, timezone=UTC),
            id=WATCHER_JOB,
            name="job watcher",
            jobstore=RUNTIME_STORE,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=max(int(self.watcher_seconds), 1),
            executor=WATCHER_EXECUTOR,
        )

    def _poll_watcher(self) -> int:
        if not self.watcher_lease.held:  # lost between the lease round and this poll
            return 0
        return self.watcher.poll_once()

    def job_submitted(self, job_id: str, model: str, env: str) -> None:
        """A training job was submitted: poll it soon instead of at the next interval."""
        if self._started and self.watcher_lease.held:
            self.run_now(WATCHER_JOB)

    # -- running now and waiting (commands, tests)
    def run_now(self, job_id: str) -> int:
        """Make ``job_id`` due now (through the scheduler, its executor, its claims and, for a
        configured job, the work queue).

        Returns the number of occurrences of that job before this call, for :meth:`wait_for`.
        """
        with self._runs_lock:
            before = len(self._items.get(job_id, ()))
        store = RUNTIME_STORE if self._scheduler.get_job(job_id, RUNTIME_STORE) else CONFIG_STORE
        self._scheduler.modify_job(job_id, jobstore=store, next_run_time=datetime.now(UTC))
        self._scheduler.wakeup()
        return before

    def wait_for(self, job_id: str, after: int, timeout: float = 30.0) -> bool:
        """Wait until more than ``after`` occurrences of ``job_id`` went through this process
        and every one of them has ended: a configured job's queued run finished on a worker
        (of this process or any other), a process-local job's run returned."""
        import time

        deadline = time.monotonic() + timeout
        with self._runs_lock:
            if not self._runs_lock.wait_for(
                lambda: len(self._items.get(job_id, ())) > after, timeout
            ):
                return False
            items = [i for i in self._items[job_id][after:] if i is not None]
        while items:
            state = self.queue.state_of(items[0])
            if state == COALESCED:  # a later slot runs it: wait for that one
                items[0] = self.queue.successor(items[0]) or items[0]
                if self.queue.state_of(items[0]) == COALESCED:
                    items.pop(0)
                continue
            if state in FINAL_STATES:
                items.pop(0)
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            with self._runs_lock:
                self._runs_lock.wait(min(left, 0.05))
        return True

    def run_and_wait(self, job_id: str, timeout: float = 30.0) -> bool:
        return self.wait_for(job_id, self.run_now(job_id), timeout)

    # -- runs that were skipped: never silent (late ones are recorded by the worker)
    def _audit_schedule(
        self, action: str, job_id: str, scheduled: datetime, **details: Any
    ) -> None:
        kind, _, rest = job_id.partition(":")
        model, _, env = rest.partition(":")
        audit_schedule(self.store, action, kind, model, env, scheduled, **details)

    def _on_event(self, event: JobEvent) -> None:
        if event.code == EVENT_JOB_ERROR:
            log.error("scheduled job %s failed: %s", event.job_id, getattr(event, "exception", ""))
        if event.code == EVENT_JOB_MAX_INSTANCES and event.jobstore == CONFIG_STORE:
            times = getattr(event, "scheduled_run_times", None) or [datetime.now(UTC)]
            log.warning(
                "%s at %s skipped: its previous run is still going", event.job_id, times[-1]
            )
            self._audit_schedule(
                "skipped", event.job_id, times[-1], reason="the previous run was still running"
            )
            return
        item = getattr(event, "retval", None) if event.code == EVENT_JOB_EXECUTED else None
        queued = event.jobstore == CONFIG_STORE and isinstance(item, int)
        with self._runs_lock:
            if event.code == EVENT_JOB_EXECUTED and (queued or event.jobstore != CONFIG_STORE):
                self.history.append((event.job_id, event.scheduled_run_time))
            self._runs[event.job_id] = self._runs.get(event.job_id, 0) + 1
            self._items.setdefault(event.job_id, []).append(item if queued else None)
            self._runs_lock.notify_all()

    # -- listing (for /mlops jobs)
    def scheduled_jobs(self, model: str | None = None) -> list[ScheduledJobRow]:
        rows: list[ScheduledJobRow] = []
        if not self._started or not self.configured_jobs:
            return rows
        for job in self._scheduler.get_jobs(jobstore=CONFIG_STORE):
            job_model = job.args[1] if len(job.args) > 1 else None
            if model is not None and job_model not in (model, None):
                continue
            rows.append(
                ScheduledJobRow(
                    name=job.id,
                    next_run=getattr(job, "next_run_time", None),
                    trigger=_describe_trigger(job.trigger),
                )
            )
        rows.sort(
            key=lambda r: (r.next_run is None, r.next_run or datetime.max.replace(tzinfo=UTC))
        )
        return rows

    def job_ids(self, jobstore: str = CONFIG_STORE) -> list[str]:
        return sorted(job.id for job in self._scheduler.get_jobs(jobstore=jobstore))

    def get_job(self, job_id: str) -> Job | None:
        return self._scheduler.get_job(job_id)


def _managed(job: Job) -> bool:
    """Jobs this module creates from the configuration (others in the store are left alone)."""
    return (
        job.func_ref == "jobs.scheduler:run_scheduled" and bool(job.args) and job.args[0] in _LABELS
    )


def _same(job: Job, spec: JobSpec, trigger: BaseTrigger, grace: int) -> bool:
    return (
        str(job.trigger) == str(trigger)
        and tuple(job.args) == spec.args
        and job.misfire_grace_time == grace
        and job.name == spec.name
        and job.func_ref == "jobs.scheduler:run_scheduled"
    )


def _describe_trigger(trigger: Any) -> str:
    if isinstance(trigger, OffsetTrigger):
        return f"{_describe_trigger(trigger.trigger)} + {format_duration(trigger.offset)}"
    if isinstance(trigger, CronTrigger):
        fields = {f.name: str(f) for f in trigger.fields}
        return (
            "cron "
            + " ".join(fields[name] for name in ("minute", "hour", "day", "month", "day_of_week"))
            + " UTC"
        )
    if isinstance(trigger, IntervalTrigger):
        return f"every {int(trigger.interval.total_seconds())}s"
    return str(trigger)


def lease_holder(store: Store) -> str | None:
    """Who runs the scheduled jobs right now (for diagnostics)."""
    with store.read() as session:
        row = session.scalars(select(Lock).where(Lock.name == LEADER_LOCK)).first()
        return row.holder if row is not None else None
