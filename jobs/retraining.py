"""The retraining policy: a cron schedule, and triggers on drift / performance breaches.

A breach trigger is ``auto`` (submit now) or ``ask`` (the alert's Retrain button, for the people
allowed to retrain in the training environment). Triggered runs respect a per-model cooldown;
no trigger ever submits while another run of the model is in flight. The in-flight check and
the submission happen under a short lease in ``locks`` so two bot processes cannot both pass the
check. Every submission, and every trigger that was held back, is in the audit log with its
reason; the job watcher reports the run's end in the alert's (or the announcement's) thread.

Submissions go through :func:`jobs.training.submit_retraining` (the same JobRun rows and audit
as ``/mlops retrain``). Automatic ones act as the bot under the configuration's authority, which
is what :class:`PolicyAccess` expresses.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from core.access import AccessPolicy, Decision, NoGroups
from core.publisher import key_of
from core.replies import MessageReply, Tone
from infra.leases import Lease
from infra.platform.base import JobInfo, PlatformError
from infra.settings import ModelConfig
from infra.store import JobRun
from jobs.alerts import AlertBook, Outcome, retrain_mode
from jobs.context import BOT_ACTOR, MonitorContext
from jobs.training import RetrainRefused, in_flight, require_retrain, submit_retraining
from jobs.watcher import post_card

log = logging.getLogger(__name__)

TRIGGER_PREFIX = "triggered by "
SUBMIT_LEASE = timedelta(seconds=60)
MAX_REASON = 255


class PolicyAccess(AccessPolicy):
    """Access for submissions the configuration itself ordered (``on_drift: auto``, cron)."""

    def __init__(self, settings: object, rule: str) -> None:
        super().__init__(settings, NoGroups())  # type: ignore[arg-type]
        self.rule = rule

    def check(self, user_id: str, action: str, env: str) -> Decision:
        return Decision(True, self.rule)


@dataclass(frozen=True)
class RetrainDecision:
    submitted: JobInfo | None
    sentence: str
    """What happened, one sentence for Slack and the logs."""
    held: str | None = None
    """Why nothing was submitted: cooldown, in_flight, off, ask, busy."""


def last_triggered(ctx: MonitorContext, model: str) -> JobRun | None:
    with ctx.store.read() as session:
        return session.scalars(
            select(JobRun)
            .where(JobRun.model == model, JobRun.reason.like(f"{TRIGGER_PREFIX}%"))
            .order_by(JobRun.submitted_at.desc())
            .limit(1)
        ).first()


def cooldown_until(ctx: MonitorContext, model_cfg: ModelConfig) -> datetime | None:
    """When the next triggered run may start, if the cooldown holds now."""
    last = last_triggered(ctx, model_cfg.name)
    if last is None:
        return None
    until = last.submitted_at + model_cfg.retraining.cooldown
    return until if until > ctx.now() else None


def trigger_reason(signal: str, env: str, mode: str, headline: str) -> str:
    how = "automatic" if mode == "auto" else "approved from the alert"
    return f"{TRIGGER_PREFIX}{signal} breach in {env} ({how}): {headline}"[:MAX_REASON]


def on_breach(
    ctx: MonitorContext,
    model_cfg: ModelConfig,
    *,
    env: str,
    signal: str,
    headline: str,
    alert: Outcome | None = None,
) -> RetrainDecision:
    """Apply the automatic trigger of ``signal`` after a confirmed breach."""
    mode = retrain_mode(model_cfg, signal)
    if mode != "auto":
        return RetrainDecision(None, f"retraining on {signal} is {mode!r}: nothing submitted", mode)
    access = PolicyAccess(
        ctx.settings, f"retraining.on_{'drift' if signal == 'drift' else 'performance'}: auto"
    )
    reason = trigger_reason(signal, env, mode, headline)
    try:
        return submit_triggered(
            ctx,
            model_cfg,
            actor=BOT_ACTOR,
            access=access,
            reason=reason,
            alert_fingerprint=alert.fingerprint if alert else None,
        )
    except PlatformError as exc:
        # The check itself succeeded; a refused submission is reported, not raised.
        return _held(
            ctx, model_cfg, reason, "refused", f"the platform refused the retraining: {exc}"
        )


def submit_triggered(
    ctx: MonitorContext,
    model_cfg: ModelConfig,
    *,
    actor: str,
    access: AccessPolicy,
    reason: str,
    alert_fingerprint: str | None = None,
    respect_cooldown: bool = True,
    card_channel: str | None = None,
    card: bool = True,
) -> RetrainDecision:
    """Cooldown, in-flight check and submission, serialised across processes.

    A submitted job gets its card (which the job watcher edits as the job moves): in the
    alert's thread for a retraining from an alert, else in ``card_channel`` (the alerts channel
    by default); ``card=False`` posts none (``run-job`` follows the job in the terminal).

    Raises RetrainDenied when ``actor`` may not retrain (button presses), PlatformError when the
    platform refuses the submission.
    """
    name = model_cfg.name
    book = AlertBook(ctx)
    alert_row = book.get(alert_fingerprint) if alert_fingerprint else None
    alert_ref = book.message_ref(alert_row) if alert_row is not None else None
    lease = Lease(ctx.store, f"retrain:{name}", f"{actor}:{time.monotonic_ns()}", SUBMIT_LEASE)
    if not lease.acquire():
        return _held(ctx, model_cfg, reason, "busy", "another retraining submission is under way")
    try:
        running = in_flight(ctx.store, name)
        if running is not None:
            return _held(
                ctx,
                model_cfg,
                reason,
                "in_flight",
                f"{name} already has a retraining job in flight ({running.job_id}, {running.status})",
            )
        if respect_cooldown:
            until = cooldown_until(ctx, model_cfg)
            if until is not None:
                return _held(
                    ctx,
                    model_cfg,
                    reason,
                    "cooldown",
                    f"the retraining cooldown of {name} lasts until {until:%Y-%m-%d %H:%M} UTC",
                )
        channel = alert_ref.channel if alert_ref else ctx.settings.channel(model_cfg, "alerts")
        try:
            job = submit_retraining(
                settings=ctx.settings,
                platform=ctx.platform,
                store=ctx.store,
                access=access,
                user=actor,
                model=model_cfg,
                overrides={},
                reason=reason,
                clock=ctx.clock,
                channel=channel,
            )
        except RetrainRefused as exc:  # the in-flight guard of submit_retraining itself
            return _held(ctx, model_cfg, reason, "in_flight", exc.message)
        if card:
            post_card(
                ctx,
                job,
                requested_by=actor,
                reason=reason,
                channel=alert_ref.channel if alert_ref else (card_channel or channel),
                thread_ts=alert_ref.ts if alert_ref else None,
            )
    finally:
        lease.release()
    sentence = f"Retraining of {name} submitted ({job.id}): {reason}"
    if alert_fingerprint is not None and alert_row is not None:
        book.set_fields(
            alert_fingerprint, summary={"retrain_note": f"Retraining job {job.id} submitted"}
        )
        book.refresh(alert_fingerprint, model_cfg)
    if ctx.on_job_submitted is not None:
        ctx.on_job_submitted(job.id, name, job.environment)
    return RetrainDecision(job, sentence)


def _held(
    ctx: MonitorContext, model_cfg: ModelConfig, reason: str, why: str, sentence: str
) -> RetrainDecision:
    ctx.store.audit(
        BOT_ACTOR,
        "retrain",
        "held",
        model=model_cfg.name,
        environment=ctx.settings.training_env(model_cfg),
        why=why,
        detail_text=sentence,
        reason=reason,
    )
    log.info("retraining of %s held (%s): %s", model_cfg.name, why, sentence)
    return RetrainDecision(None, sentence, why)


def scheduled_retrain(
    ctx: MonitorContext, model_cfg: ModelConfig, *, announce: bool = True
) -> RetrainDecision:
    """The cron trigger: announce the run in the model's channel; the watcher reports its end
    in that message's thread. Skipped (and audited) while a run is in flight."""
    name = model_cfg.name
    schedule = model_cfg.retraining.schedule or "manual"
    reason = f"scheduled ({schedule} UTC)"
    access = PolicyAccess(ctx.settings, f"retraining.schedule: {schedule}")
    channel = ctx.settings.channel(model_cfg, "digest")
    decision = submit_triggered(
        ctx,
        model_cfg,
        actor=BOT_ACTOR,
        access=access,
        reason=reason,
        respect_cooldown=False,
        card_channel=channel,
        card=announce,
    )
    if not announce or decision.submitted is not None:
        return decision  # the job's card is its announcement
    ctx.publish(
        key_of("scheduled-retrain", name, ctx.now().isoformat()),
        channel,
        MessageReply(
            public=True,
            title=f"Scheduled retraining · {name}",
            text=f"Scheduled retraining of {name} skipped: {decision.sentence}.",
            tone=Tone.WARNING,
        ),
        (),
        what=f"the scheduled retraining announcement of {name}",
    )
    return decision


def submit_from_alert(
    ctx: MonitorContext,
    model_cfg: ModelConfig,
    *,
    user_id: str,
    access: AccessPolicy,
    alert_fingerprint: str,
) -> RetrainDecision:
    """The Retrain button ("ask first" policy, or a manual decision on any alert)."""
    book = AlertBook(ctx)
    row = book.get(alert_fingerprint)
    if row is None:
        raise KeyError(alert_fingerprint)
    env = ctx.settings.training_env(model_cfg)
    require_retrain(ctx.store, access, user_id, env, model_cfg.name)  # raises RetrainDenied
    headline = str(row.summary.get("headline", ""))
    reason = trigger_reason(row.signal, row.environment, "ask", headline)
    try:
        return submit_triggered(
            ctx,
            model_cfg,
            actor=user_id,
            access=access,
            reason=reason,
            alert_fingerprint=alert_fingerprint,
        )
    except PlatformError as exc:
        return RetrainDecision(None, f"the platform refused the retraining: {exc}", "refused")
