"""Follows submitted training jobs to their end and reports each end exactly once.

The store's ``job_runs`` rows are the source of truth, so a restart loses nothing: the next poll
picks up every job that has not been reported. Each move of a job (queued → running → completed
/ failed) is a compare-and-set on its row, and only the process that wins it edits the job's
card in place (``job_runs.card_channel/card_ts``, or the card still queued under
``job-card:<job id>``), so the card people look at always says where the job is. The end is
also announced in the card's thread, mentioning who asked, because an edit notifies nobody.
Everything goes through the outbox, so a Slack outage delays it instead of losing it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy import select

from core.publisher import key_of
from core.replies import JobReply, MessageRef
from infra.durations import format_duration
from infra.platform.base import JobInfo, JobStatus, PlatformError
from infra.store import JobRun, StaleStateError
from jobs.context import BOT_ACTOR, MonitorContext

log = logging.getLogger(__name__)


class JobWatcher:
    """Polled by the scheduler's watcher job (only the leader polls) and by ``run-job``."""

    def __init__(self, ctx: MonitorContext, *, also: Sequence[Callable[[], int]] = ()) -> None:
        self.ctx = ctx
        self.also = tuple(also)
        """Other followers polled in the same round: the check jobs on the platform's compute
        (:class:`jobs.checks.platform.CheckJobs`, given by the wiring, which may import it)."""

    # -- one round
    def poll_once(self) -> int:
        """Refresh every unreported job; report the finished ones. Returns how many were reported."""
        reported = self._poll_training()
        for follow in self.also:
            try:
                reported += follow()
            except Exception as exc:  # one follower's failure never stops the others
                log.warning("a job follower failed (%s); will retry", exc)
        return reported

    def _poll_training(self) -> int:
        with self.ctx.store.read() as session:
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
                    try:
                        # The move and its card edit are one transaction (a transactional
                        # outbox): only the process that wins the move edits the card.
                        with self.ctx.store.transaction():
                            self._cas(run, status=job.status.value)
                            self._edit_card(run, job, self.card(run, job))
                    except StaleStateError:
                        continue  # another process saw the move and edits the card
                continue
            try:
                # Composed first: it reads the platform, which must not hold a transaction open.
                reply = self.compose(run, job)
                # "Reported", the card's last edit, the end line and the audit row are one
                # transaction: a crash leaves the job unreported, never reported without them.
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

    def card(
        self,
        run: JobRun,
        job: JobInfo,
        *,
        baseline: dict[str, float] | None = None,
        baseline_source: str = "",
        actions: tuple[tuple[str, str, str], ...] = (),
    ) -> JobReply:
        """The job's card as it stands: its state, duration and (at the end) new version."""
        return JobReply(
            public=True,
            heading=card_heading(run.model, job),
            job=job,
            baseline_metrics=baseline or {},
            baseline_source=baseline_source,
            actions=actions,
            requested_by=None if run.requested_by == BOT_ACTOR else run.requested_by,
            reason=run.reason,
        )

    def _edit_card(self, run: JobRun, job: JobInfo, reply: JobReply) -> None:
        """Edit the job's card to ``reply`` (once per state: the key names the state)."""
        key = key_of("job-card", run.job_id, job.status.value)
        if run.card_ts and run.card_channel:
            ref = MessageRef(run.card_channel, run.card_ts)
            delivery = self.ctx.out.update(key, ref, reply)
        else:
            # The card went through the outbox (an alert's or a scheduled retraining): edit
            # the message queued under its key, whether it is out already or not.
            delivery = self.ctx.out.update(key, None, reply, parent=key_of("job-card", run.job_id))
        if not delivery.delivered:
            log.info("the card of job %s is queued: %s", run.job_id, delivery.error)

    def compose(self, run: JobRun, job: JobInfo) -> JobReply:
        """The card of a finished job, with what the serving version scores (it reads the
        platform: call it outside any transaction)."""
        settings = self.ctx.settings
        baseline, baseline_source = self._serving_metrics(run.model)
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
        return self.card(
            run, job, baseline=baseline, baseline_source=baseline_source, actions=actions
        )

    def report(self, run: JobRun, job: JobInfo, reply: JobReply) -> None:
        """Edit the card to its end, announce the end in its thread and audit it (in the
        caller's transaction, with the job's "reported" mark)."""
        settings = self.ctx.settings
        model = settings.model(run.model)
        self._edit_card(run, job, reply)
        channel = run.card_channel or run.channel or settings.channel(model, "alerts")
        thread = run.thread_ts or run.card_ts
        # The edit notifies nobody: a line in the card's thread tells whoever asked.
        # Through the outbox: a Slack outage delays the result, it never loses or repeats it.
        delivery = self.ctx.out.post(
            key_of("job-result", run.job_id),
            channel,
            end_line(run, job),
            thread_ts=thread,
            parent=None if thread else key_of("job-card", run.job_id),
        )
        if not delivery.delivered:
            log.info("the result of job %s is queued: %s", run.job_id, delivery.error)
        self.ctx.store.audit(
            BOT_ACTOR,  # the same name as every other entry the bot writes in the trail
            "retrain",
            job.status.value,
            model=run.model,
            environment=run.environment,
            subject=run.job_id,
            produced_version=job.produced_version,
        )

    def _serving_metrics(self, model: str) -> tuple[dict[str, float], str]:
        """Metrics of the version serving in the last environment (what a new one must beat),
        and which version and environment that is."""
        env = self.ctx.settings.env_names[-1]
        try:
            state = self.ctx.platform.endpoint_state(model, env)
            if state.primary is None:
                return {}, ""
            version = state.primary.model_version
            metrics = dict(self.ctx.platform.get_version(model, version, env).metrics)
            return metrics, f"v{version} in {env}"
        except PlatformError:
            return {}, ""


_ENDED = {
    JobStatus.COMPLETED: "completed",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELED: "was canceled",
}


def card_heading(model: str, job: JobInfo) -> str:
    """One line that says where the job is: queued, running for how long, or how it ended."""
    took = job.duration_seconds
    if job.status is JobStatus.QUEUED:
        return f"Retraining {model} · queued"
    if job.status is JobStatus.RUNNING:
        return f"Retraining {model} · running for {format_duration(took)}"
    verb = _ENDED.get(job.status, job.status.value)
    mark = "✅" if job.status is JobStatus.COMPLETED else "❌"
    text = f"{mark} Retraining {model} {verb}"
    if took is not None:
        text += f" in {format_duration(took)}"
    if job.produced_version:
        text += f": new version v{job.produced_version}"
    return text


def end_line(run: JobRun, job: JobInfo) -> str:
    """The thread line announcing the end, mentioning the requester (a Slack user ID)."""
    heading = card_heading(run.model, job)
    if run.requested_by and run.requested_by != BOT_ACTOR and run.requested_by.isalnum():
        return f"<@{run.requested_by}> {heading} (see the card above)."
    return f"{heading} (see the card above)."


def post_card(
    ctx: MonitorContext,
    job: JobInfo,
    *,
    requested_by: str,
    reason: str,
    channel: str,
    thread_ts: str | None = None,
) -> MessageRef | None:
    """Post the card of a job submitted outside a command (an alert's Retrain button, a
    schedule, a metric trigger) under ``job-card:<job id>``; the watcher edits it from then on.
    Records where it went (and the thread its end is announced in) on the job's row."""
    reply = JobReply(
        public=True,
        heading=card_heading(job.model, job),
        job=job,
        requested_by=None if requested_by == BOT_ACTOR else requested_by,
        reason=reason,
    )
    delivery = ctx.out.post(key_of("job-card", job.id), channel, reply, thread_ts=thread_ts)
    with ctx.store.session() as session:
        run = session.get(JobRun, job.id)
        if run is not None:
            run.channel, run.thread_ts = channel, thread_ts
            if delivery.ref is not None:
                run.card_channel, run.card_ts = delivery.ref.channel, delivery.ref.ts
    return delivery.ref
