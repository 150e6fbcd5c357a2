"""Checks on the ML platform's compute (``monitoring.compute: platform``): submit the check as a
job where the data lives, follow it with the job watcher, and apply its result exactly as an
inline check's (same alert policy, same cards, same dedupe keys).

Exactly once, across restarts and replicas:

* the job's name is chosen here and its ``check_jobs`` row written *before* the platform is
  called; ``in_flight`` is unique per model, environment and check, so a second scheduler tick,
  a restart or another replica cannot start a second job of a check still running;
* submission is idempotent by name (the adapters return the job of that name when it exists),
  so a row left ``submitting`` by a crash is simply submitted again by the watcher;
* the result is applied in one store transaction with the row's move to ``reported`` (a
  compare-and-set): alerts, standing summary and outbox messages commit together, once.

A job that fails, is canceled or runs past ``monitoring.platform_compute.timeout`` is reported
as "could not run" (no data, never healthy) with the platform's one-line reason, cleaned of
paths, command lines and stack traces.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.report_json import ResultError, report_from_files
from core.reports import CheckReport, SignalResult
from engine.verdict import Verdict
from infra.durations import format_duration
from infra.platform.base import CheckJobRequest, JobInfo, JobStatus, NotFoundError, PlatformError
from infra.redact import public_text
from infra.settings import ModelConfig
from infra.store import CheckJobRun, StaleStateError
from jobs.checkjob import CheckJobSpec
from jobs.checks.run import (
    CheckRun,
    _record_failure,
    apply_report,
    failure_signals,
    publish_on_change,
    publish_summary,
    window_of,
)
from jobs.context import MonitorContext

log = logging.getLogger(__name__)

SUBMITTING = "submitting"
ON_DEMAND = "on demand"
#: A row still ``submitting`` this long after it was written lost its submitter (a crash
#: between the row and the platform call): the watcher submits it, under the same name.
RESUBMIT_AFTER = timedelta(seconds=60)


@dataclass(frozen=True)
class Submission:
    """What a scheduled run of a platform check did: submitted ``job``, or found ``running``."""

    job_name: str
    submitted: bool
    sentence: str


def job_name(model: str, kind: str, env: str, end: datetime) -> str:
    """``check-<model>-<kind>-<env>-<UTC time>-<random>``: readable in the platform's job list,
    within Azure's 255 characters of letters, digits, ``-`` and ``_``."""
    return f"check-{model}-{kind}-{env}-{end:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"[:255]


def in_flight_key(model: str, env: str, kind: str) -> str:
    return f"{model}|{env}|{kind}"


def submit(
    ctx: MonitorContext,
    kind: str,
    model_cfg: ModelConfig,
    env: str,
    *,
    window: timedelta | None = None,
    trigger: str = "scheduled",
) -> Submission:
    """Record, then submit the check as a platform job. A check whose previous job is still in
    flight is not submitted again (the sentence says which job runs)."""
    end = ctx.now()
    start = end - (window or window_of(model_cfg, kind))
    name = job_name(model_cfg.name, kind, env, end)
    try:
        with ctx.store.session() as session:
            session.add(
                CheckJobRun(
                    job_name=name,
                    model=model_cfg.name,
                    environment=env,
                    kind=kind,
                    trigger=trigger,
                    status=SUBMITTING,
                    window_start=start,
                    window_end=end,
                    submitted_at=end,
                    in_flight=in_flight_key(model_cfg.name, env, kind),
                )
            )
    except IntegrityError:
        running = _in_flight(ctx, model_cfg.name, env, kind)
        what = f"job {running.job_name} ({running.status})" if running else "a job"
        sentence = (
            f"the {kind} check of {model_cfg.name} in {env} still runs as {what} on the "
            "platform; not submitted again"
        )
        log.warning(sentence)
        return Submission(running.job_name if running else "", False, sentence)
    request = CheckJobRequest(
        name=name,
        kind=kind,
        model=model_cfg.name,
        environment=env,
        start=start,
        end=end,
        spec=CheckJobSpec(
            kind=kind,
            model=model_cfg.model_dump(mode="json"),
            environment=env,
            start=start,
            end=end,
            checked_at=end,
        ).encode(),
    )
    follower = CheckJobs(ctx)
    try:
        job = ctx.platform.submit_check(request)
    except PlatformError as exc:
        if exc.retryable:  # the row stays "submitting": the watcher submits it again
            log.warning("submitting check job %s failed for now (%s); will retry", name, exc)
            return Submission(name, True, f"check job {name} will be submitted again: {exc}")
        follower.fail(name, f"the platform refused the check job: {exc}")
        if ctx.publisher is None:  # a command: its answer says it
            raise
        return Submission(name, False, f"the platform refused check job {name}: {exc}")
    follower.moved(name, job)
    if ctx.on_job_submitted is not None:
        ctx.on_job_submitted(name, model_cfg.name, env)
    return Submission(name, True, f"submitted as job {name} on the platform's compute")


def _in_flight(ctx: MonitorContext, model: str, env: str, kind: str) -> CheckJobRun | None:
    with ctx.store.read() as session:
        return session.scalars(
            select(CheckJobRun).where(CheckJobRun.in_flight == in_flight_key(model, env, kind))
        ).first()


class CheckJobs:
    """Follows ``check_jobs`` rows to their end; polled by :class:`jobs.watcher.JobWatcher`."""

    def __init__(self, ctx: MonitorContext) -> None:
        self.ctx = ctx

    def _row(self, name: str) -> CheckJobRun | None:
        with self.ctx.store.read() as session:
            return session.get(CheckJobRun, name)

    def moved(self, name: str, job: JobInfo) -> None:
        """Record the job's status (best effort: the next poll reads it again anyway)."""
        row = self._row(name)
        if row is None or row.reported or row.status == job.status.value:
            return
        with contextlib.suppress(StaleStateError):
            self.ctx.store.compare_and_set(
                CheckJobRun, name, row.version_no, status=job.status.value
            )

    def poll(self) -> int:
        """One round over the unreported check jobs; how many results were applied."""
        with self.ctx.store.read() as session:
            rows = session.scalars(select(CheckJobRun).where(CheckJobRun.reported.is_(False))).all()
        applied = 0
        for row in rows:
            try:
                applied += self._follow(row)
            except StaleStateError:
                continue  # another process applied it
            except Exception as exc:
                # Nothing was kept (store or platform failed): the next poll tries again.
                log.warning("could not follow check job %s (%s); will retry", row.job_name, exc)
        return applied

    def _follow(self, row: CheckJobRun) -> int:
        now = self.ctx.now()
        settings = self.ctx.settings
        if row.model not in {m.name for m in settings.models}:
            # The model left the configuration while its job ran: nobody to post for.
            self.ctx.store.compare_and_set(
                CheckJobRun,
                row.job_name,
                row.version_no,
                reported=True,
                in_flight=None,
                finished_at=now,
                outcome="dropped",
                error=f"{row.model} is no longer configured",
            )
            return 0
        if row.status == SUBMITTING:
            if now - row.submitted_at < RESUBMIT_AFTER:
                return 0
            return self._resubmit(row)
        try:
            job = self.ctx.platform.check_job(row.environment, row.job_name)
        except NotFoundError:
            return self.fail(row.job_name, "the check job disappeared from the platform")
        except PlatformError as exc:
            log.warning("cannot read check job %s: %s", row.job_name, exc)
            return 0
        if not job.status.finished:
            timeout = settings.monitoring.platform_compute.timeout
            if now - row.submitted_at > timeout:
                try:
                    self.ctx.platform.cancel_check_job(row.environment, row.job_name)
                except PlatformError as exc:
                    log.warning("could not cancel check job %s: %s", row.job_name, exc)
                return self.fail(
                    row.job_name,
                    f"the check job did not finish within {format_duration(timeout.total_seconds())}"
                    " and was canceled",
                    outcome="timed_out",
                )
            self.moved(row.job_name, job)
            return 0
        if job.status is not JobStatus.COMPLETED:
            verb = "was canceled" if job.status is JobStatus.CANCELED else "failed"
            reason = public_text(job.error or "").splitlines()
            detail = f": {reason[0]}" if reason and reason[0] else ""
            return self.fail(row.job_name, f"the check job {verb}{detail}")
        try:
            report = report_from_files(
                self.ctx.platform.check_outputs(row.environment, row.job_name)
            )
            self._same_check(row, report)
        except ResultError as exc:
            return self.fail(row.job_name, str(exc))
        except PlatformError as exc:
            log.warning("cannot read the outputs of check job %s: %s", row.job_name, exc)
            return 0
        return self._apply(row, report)

    @staticmethod
    def _same_check(row: CheckJobRun, report: CheckReport) -> None:
        wrote = (report.kind, report.model, report.environment)
        if wrote != (row.kind, row.model, row.environment):
            raise ResultError(
                f"the check job wrote the {wrote[0]} check of {wrote[1]} in {wrote[2]}, not the "
                f"{row.kind} check of {row.model} in {row.environment} it was submitted for"
            )

    def _resubmit(self, row: CheckJobRun) -> int:
        model_cfg = self.ctx.settings.model(row.model)
        request = CheckJobRequest(
            name=row.job_name,
            kind=row.kind,
            model=row.model,
            environment=row.environment,
            start=row.window_start,
            end=row.window_end,
            spec=CheckJobSpec(
                kind=row.kind,
                model=model_cfg.model_dump(mode="json"),
                environment=row.environment,
                start=row.window_start,
                end=row.window_end,
                checked_at=row.window_end,
            ).encode(),
        )
        try:
            job = self.ctx.platform.submit_check(request)
        except PlatformError as exc:
            if exc.retryable:
                return 0
            return self.fail(row.job_name, f"the platform refused the check job: {exc}")
        self.moved(row.job_name, job)
        return 0

    def _apply(self, row: CheckJobRun, report: CheckReport) -> int:
        model_cfg = self.ctx.settings.model(row.model)
        with self.ctx.store.transaction():
            self.ctx.store.compare_and_set(
                CheckJobRun,
                row.job_name,
                row.version_no,
                status=JobStatus.COMPLETED.value,
                reported=True,
                in_flight=None,
                finished_at=self.ctx.now(),
                outcome=report.level.value,
            )
            apply_report(
                self.ctx,
                model_cfg,
                report,
                now=self.ctx.now(),
                # An on-demand window is no point of the series the alert lifecycle follows.
                track_alerts=row.trigger != ON_DEMAND,
                trigger=row.trigger,
            )
        return 1

    def fail(self, name: str, message: str, *, outcome: str = "failed") -> int:
        """Report the check as one that could not run: "no data" for each of its signals, and
        its summary says why (never healthy, never silent)."""
        row = self._row(name)
        if row is None or row.reported:
            return 0
        model_cfg = self.ctx.settings.model(row.model)
        text = f"{message} (job {name})"
        with self.ctx.store.transaction():
            self.ctx.store.compare_and_set(
                CheckJobRun,
                name,
                row.version_no,
                status=JobStatus.FAILED.value if row.status == SUBMITTING else row.status,
                reported=True,
                in_flight=None,
                finished_at=self.ctx.now(),
                outcome=outcome,
                error=text,
            )
            if row.trigger != ON_DEMAND:
                _record_failure(self.ctx, row.kind, model_cfg, row.environment, text)
            if self.ctx.publisher is not None:
                publish_failure(self.ctx, model_cfg, row, text)
        log.warning("%s check of %s in %s: %s", row.kind, row.model, row.environment, text)
        return 1


def follow(ctx: MonitorContext, *, timeout: float = 300.0, every: float = 0.25) -> int:
    """Poll the check jobs until none is left unreported (a one-shot run: ``demo --once``);
    how many results were applied. Stops at ``timeout``; a running bot reports the rest."""
    import time

    follower = CheckJobs(ctx)
    deadline = time.monotonic() + timeout
    applied = 0
    while True:
        applied += follower.poll()
        with ctx.store.read() as session:
            left = session.scalars(
                select(CheckJobRun.job_name).where(CheckJobRun.reported.is_(False))
            ).first()
        if left is None or time.monotonic() >= deadline:
            return applied
        time.sleep(every)


def failed_report(model_cfg: ModelConfig, row: CheckJobRun, message: str) -> CheckReport:
    """The summary of a check that could not run: every signal "no data", saying why."""
    headline = f"check could not run: {message}"
    return CheckReport(
        kind=row.kind,
        model=model_cfg.name,
        environment=row.environment,
        start=row.window_start,
        end=row.window_end,
        signals=tuple(
            SignalResult(signal=s, level=Verdict.NO_DATA, headline=headline)
            for s in failure_signals(row.kind, model_cfg)
        ),
        fields=(("Ran on", "platform compute"), ("Job", row.job_name)),
        details=(headline,),
    )


def publish_failure(
    ctx: MonitorContext, model_cfg: ModelConfig, row: CheckJobRun, message: str
) -> CheckRun:
    report = failed_report(model_cfg, row, message)
    scheduled = row.trigger == "scheduled"
    if scheduled and ctx.settings.slack.scheduled_summaries == "on_change":
        ref = publish_on_change(ctx, model_cfg, report, muted=())
    else:
        ref = publish_summary(ctx, model_cfg, report, trigger=row.trigger)
    return CheckRun(report, summary=ref)
