"""Follows submitted training jobs to their end and reports each end exactly once.

The store's ``job_runs`` rows are the source of truth, so a restart loses nothing: the next poll
picks up every job that has not been reported. Reporting is a compare-and-set on ``reported``,
so two bot processes never post the same result twice, and the result goes through the outbox
(key ``job-result:<job id>``), so a Slack outage delays it instead of losing it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import select

from core.publisher import key_of
from core.replies import JobReply
from infra.platform.base import JobInfo, PlatformError
from infra.store import JobRun, StaleStateError
from jobs.context import MonitorContext

log = logging.getLogger(__name__)


class JobWatcher:
    """Polled by the scheduler's watcher job (only the leader polls) and by ``run-job``."""

    def __init__(self, ctx: MonitorContext) -> None:
        self.ctx = ctx

    # -- one round
    def poll_once(self) -> int:
        """Refresh every unreported job; report the finished ones. Returns how many were reported."""
        with self.ctx.store.session() as session:
            runs = session.scalars(select(JobRun).where(JobRun.reported.is_(False))).all()
        reported = 0
        for run in runs:
            try:
                job = self.ctx.platform.get_job(run.environment, run.job_id)
            except PlatformError as exc:
                log.warning("cannot read job %s: %s", run.job_id, exc)
                continue
            if not job.status.finished:
                if job.status.value != run.status:
                    self._cas(run, status=job.status.value)
                continue
            try:
                # Composed first: it reads the platform, which must not hold a transaction open.
                reply = self.compose(run, job)
                # "Reported", the result message and its audit row are one transaction (a
                # transactional outbox): a crash leaves the job unreported, never reported
                # without its message.
                with self.ctx.store.transaction():
                    self._cas(
                        run,
                        status=job.status.value,
                        reported=True,
                        finished_at=job.ended or datetime.now(UTC),
                    )
                    self.report(run, job, reply)
                reported += 1
            except StaleStateError:
                continue  # another process reports it
            except Exception as exc:
                # Nothing was kept (the store or the platform failed): report it next poll.
                log.warning("could not report job %s (%s); will retry", run.job_id, exc)
        return reported

    def _cas(self, run: JobRun, **changes: object) -> None:
        self.ctx.store.compare_and_set(JobRun, run.job_id, run.version_no, **changes)
        run.version_no += 1  # only ever read again when the write committed

    def compose(self, run: JobRun, job: JobInfo) -> JobReply:
        """The result message of a finished job (with the serving version's metrics)."""
        settings = self.ctx.settings
        baseline = self._serving_metrics(run.model)
        verb = {"completed": "finished", "failed": "failed", "canceled": "was canceled"}[
            job.status.value
        ]
        actions: tuple[tuple[str, str, str], ...] = ()
        if job.produced_version:
            first = settings.env_names[0]
            value = f"{run.model}|{job.produced_version}|{first}"
            actions = (("job_deploy", f"Deploy v{job.produced_version} to {first}", value),)
            if len(settings.env_names) > 1:
                actions += (
                    (
                        "job_promote",
                        f"Promote v{job.produced_version} to {settings.env_names[1]}",
                        f"{run.model}|{job.produced_version}|{settings.env_names[1]}",
                    ),
                )
        return JobReply(
            public=True,
            heading=f"Retraining of {run.model} {verb}"
            + (f": new version v{job.produced_version}" if job.produced_version else ""),
            job=job,
            baseline_metrics=baseline,
            actions=actions,
        )

    def report(self, run: JobRun, job: JobInfo, reply: JobReply) -> None:
        """Queue the result (in the caller's transaction) and audit it."""
        model = self.ctx.settings.model(run.model)
        channel = run.channel or self.ctx.settings.channel(model, "alerts")
        # Through the outbox: a Slack outage delays the result, it never loses or repeats it.
        delivery = self.ctx.out.post(
            key_of("job-result", run.job_id), channel, reply, thread_ts=run.thread_ts
        )
        if not delivery.delivered:
            log.info("the result of job %s is queued: %s", run.job_id, delivery.error)
        self.ctx.store.audit(
            "bot",
            "retrain",
            job.status.value,
            model=run.model,
            environment=run.environment,
            subject=run.job_id,
            produced_version=job.produced_version,
        )

    def _serving_metrics(self, model: str) -> dict[str, float]:
        """Metrics of the version serving in the last environment (what a new one must beat)."""
        env = self.ctx.settings.env_names[-1]
        try:
            state = self.ctx.platform.endpoint_state(model, env)
            if state.primary is None:
                return {}
            return dict(
                self.ctx.platform.get_version(model, state.primary.model_version, env).metrics
            )
        except PlatformError:
            return {}
