"""The worker loop: claim a queued run (:mod:`infra.workqueue`), run it, mark it done.

The same loop runs in every worker process (``mlops-bot worker``, and the local pool that
``serve`` starts, one process per core by default) and, with ``workers.processes: 0``, in
threads of the serving process itself (tests, the smallest setups). It needs only the jobs'
context: platform, store and the Publisher, whose outbox makes every post exactly-once, so a
run repeated after a crash repeats no message.

While a run goes on, a heartbeat renews its claim every third of the claim's length; a worker
that dies stops renewing, and another takes the run over when the claim expires (at once on
the same host, where a dead pid is visible).

The loop counts what it does in its context's metrics (items claimed, finished by outcome,
their duration, claim renewals) and reports its state (:meth:`WorkLoop.state`: threads alive,
items in flight, last claim) for the worker's ``/metrics`` and ``/healthz``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import OperationalError

from infra.durations import format_duration
from infra.metrics import WorkerState
from infra.store import Store
from infra.workqueue import DONE, FAILED, Claimed, WorkQueue
from jobs.context import BOT_ACTOR, MonitorContext

log = logging.getLogger(__name__)

MAINTENANCE_SECONDS = 5.0
"""How often a loop releases the claims of dead processes of its host (one cheap query)."""
PRUNE_EVERY = 120
"""Maintenance rounds between two prunes of finished rows (about ten minutes)."""


def audit_schedule(
    store: Store,
    action: str,
    kind: str,
    model: str | None,
    env: str | None,
    scheduled: datetime,
    **details: Any,
) -> None:
    """A scheduling irregularity (a late or skipped run) in the audit log; never raises."""
    job = ":".join(p for p in (kind, model, env) if p)
    try:
        store.audit(
            BOT_ACTOR,
            "schedule",
            action,
            model=model or None,
            environment=env or None,
            subject=kind,
            job=job,
            scheduled=scheduled.isoformat(),
            **details,
        )
    except OperationalError:
        log.warning("could not record that %s was %s", job, action)


WARM_MODULES = ("jobs.run", "jobs.checks.run", "jobs.checks.kinds", "jobs.charts")
"""What every check imports on first use (the engine, scipy, scikit-learn, matplotlib)."""


def warm_up() -> float:
    """Import what the checks need before claiming anything; the seconds it took.

    A worker process lives for many cycles: its ~2-3 s of imports belong to its start, not to
    the first check it claims (which would run that much later, inside a scheduled burst)."""
    import importlib

    started = time.perf_counter()
    for name in WARM_MODULES:
        importlib.import_module(name)
    return time.perf_counter() - started


def run_item(ctx: MonitorContext, item: Claimed) -> Any:
    """Run one claimed row with the job runners (:func:`jobs.run.run_kind`)."""
    from jobs.run import run_kind

    if item.late is not None:
        log.warning(
            "%s %s %s scheduled at %s starts %s late (waiting for a worker); running it now",
            item.kind,
            item.model or "",
            item.environment or "",
            item.slot.isoformat(),
            format_duration(item.late),
        )
        audit_schedule(
            ctx.store,
            "late",
            item.kind,
            item.model,
            item.environment,
            item.slot,
            late_seconds=round(item.late.total_seconds()),
            covers=item.covers,
        )
    options = {k: v for k, v in item.payload.items() if k != "grace"}
    return run_kind(ctx, item.kind, item.model, item.environment, **options)


class WorkLoop:
    """``threads`` workers claiming from ``queue`` and running with ``context``."""

    def __init__(
        self,
        context: MonitorContext,
        queue: WorkQueue,
        *,
        threads: int = 1,
        poll_seconds: float = 1.0,
        on_finished: Callable[[int, str], None] | None = None,
        runner: Callable[[MonitorContext, Claimed], Any] = run_item,
        gate: Callable[[], bool] | None = None,
    ) -> None:
        """``gate``: claim only while it says so (the serving process's own threads run the
        queue only while it leads)."""
        self.context = context
        self.queue = queue
        self.threads = max(1, threads)
        self.poll_seconds = poll_seconds
        self.on_finished = on_finished
        self.runner = runner
        self.gate = gate
        self._stop = threading.Event()
        self._wake = threading.Condition()
        self._woken = 0
        self._held: set[int] = set()
        self._held_lock = threading.Lock()
        self._workers: list[threading.Thread] = []
        self._heartbeat: threading.Thread | None = None
        self.finished = 0
        self.metrics = context.metrics
        """Where the loop's events are counted (the context's: None counts nothing)."""
        self.last_claim: float | None = None
        """Unix time of this loop's last claim (None before the first)."""
        self.last_poll: float | None = None
        """Unix time a claiming thread last looked at the queue."""

    # -- lifecycle
    def start(self) -> None:
        if self._workers:
            return
        self._stop.clear()
        for index in range(self.threads):
            thread = threading.Thread(
                target=self._work, args=(index,), name=f"mlops-worker-{index}", daemon=True
            )
            thread.start()
            self._workers.append(thread)
        self._heartbeat = threading.Thread(
            target=self._renew_loop, name="mlops-worker-heartbeat", daemon=True
        )
        self._heartbeat.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop claiming; a run in progress finishes (up to ``timeout``) or is left to expire."""
        self._stop.set()
        self.wake()
        for thread in [*self._workers, *([self._heartbeat] if self._heartbeat else [])]:
            thread.join(timeout)
        self._workers = []
        self._heartbeat = None

    def state(self) -> WorkerState:
        """What ``/metrics`` and a worker's ``/healthz`` report: a loop whose claiming threads
        died claims nothing, however long the process lives."""
        with self._held_lock:
            in_flight = len(self._held)
        return WorkerState(
            threads=self.threads,
            alive=sum(1 for t in self._workers if t.is_alive()),
            in_flight=in_flight,
            last_claim=self.last_claim,
            last_poll=self.last_poll,
        )

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Liveness for a worker's ``/healthz``: every claiming thread and the claims'
        heartbeat run (a busy loop does not poll, so the time of the last look is reported,
        not judged)."""
        state = self.state()
        heartbeat = self._heartbeat is not None and self._heartbeat.is_alive()
        alive = state.alive == state.threads and heartbeat and not self._stop.is_set()
        now = time.time()
        return alive, {
            "threads": state.threads,
            "threads_alive": state.alive,
            "heartbeat_alive": heartbeat,
            "in_flight": state.in_flight,
            "finished": self.finished,
            "last_claim": _iso(state.last_claim),
            "last_claim_age_seconds": _age(state.last_claim, now),
            "last_poll_age_seconds": _age(state.last_poll, now),
        }

    def wake(self) -> None:
        """Something was queued: look now instead of at the next poll."""
        with self._wake:
            self._woken += 1
            self._wake.notify_all()

    # -- the loop
    def _work(self, index: int) -> None:
        next_maintenance, rounds = 0.0, 0
        while not self._stop.is_set():
            if index == 0 and time.monotonic() >= next_maintenance:
                next_maintenance = time.monotonic() + MAINTENANCE_SECONDS
                self._maintain(prune=rounds % PRUNE_EVERY == 0)
                rounds += 1
            with self._wake:
                seen = self._woken
            try:
                ran = (self.gate is None or self.gate()) and self.run_one()
            except Exception:
                log.exception("the work queue could not be read; trying again")
                ran = False
            if not ran:
                with self._wake:
                    self._wake.wait_for(
                        lambda seen=seen: self._woken != seen or self._stop.is_set(),
                        self.poll_seconds,
                    )

    def run_one(self) -> bool:
        """Claim and run one row; False when nothing was runnable."""
        self.last_poll = time.time()
        item = self.queue.claim()
        if item is None:
            return False
        self.last_claim = time.time()
        started = time.perf_counter()
        if self.metrics is not None:
            self.metrics.work_claimed.labels(item.kind).inc()
        with self._held_lock:
            self._held.add(item.id)
        state = outcome = DONE
        try:
            self.runner(self.context, item)
        except Exception as exc:
            state = outcome = FAILED
            log.exception("%s of %s in %s failed", item.kind, item.model, item.environment)
            self.queue.fail(item.id, f"the run failed ({type(exc).__name__}); see the bot's log")
        else:
            if not self.queue.finish(item.id):
                outcome = "lost"
                log.warning(
                    "%s of %s in %s finished after its claim was taken over",
                    item.kind,
                    item.model,
                    item.environment,
                )
        finally:
            with self._held_lock:
                self._held.discard(item.id)
            if self.metrics is not None:
                self.metrics.work_finished.labels(item.kind, outcome).inc()
                self.metrics.work_seconds.labels(item.kind, outcome).observe(
                    time.perf_counter() - started
                )
        self.finished += 1
        if self.on_finished is not None:
            self.on_finished(item.id, state)
        return True

    def _renew_loop(self) -> None:
        interval = max(self.queue.claim_ttl.total_seconds() / 3, 0.05)
        while not self._stop.wait(interval):
            with self._held_lock:
                held = list(self._held)
            for item_id in held:
                result = "renewed"
                try:
                    if not self.queue.renew(item_id):
                        result = "lost"
                        log.warning("lost the claim of work item %d (it expired)", item_id)
                except OperationalError as exc:
                    result = "error"
                    log.warning("could not renew the claim of work item %d: %s", item_id, exc)
                if self.metrics is not None:
                    self.metrics.claim_renewals.labels(result).inc()

    def _maintain(self, *, prune: bool) -> None:
        try:
            self.queue.release_dead()
            if prune:
                self.queue.prune()
        except OperationalError as exc:
            log.warning("work queue maintenance failed: %s", exc)


def _iso(moment: float | None) -> str | None:
    return None if moment is None else datetime.fromtimestamp(moment, UTC).isoformat()


def _age(moment: float | None, now: float) -> float | None:
    return None if moment is None else round(max(now - moment, 0.0), 3)


def grace_payload(grace: timedelta | int | None) -> dict[str, Any]:
    """The payload part that says how late a run may start before it counts as late."""
    if grace is None:
        return {}
    seconds = grace.total_seconds() if isinstance(grace, timedelta) else float(grace)
    return {"grace": seconds}
