"""Submitting retraining jobs: one in flight per model, audited, watched to their end."""

from __future__ import annotations

from sqlalchemy import select

from commands.context import CommandContext
from core.inputs import UsageError
from infra.platform.base import JobInfo, JobStatus
from infra.settings import ModelConfig
from infra.store import JobRun, Store


def in_flight(store: Store, model: str) -> JobRun | None:
    active = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)
    with store.session() as session:
        return session.scalars(
            select(JobRun).where(JobRun.model == model, JobRun.status.in_(active)).limit(1)
        ).first()


def submit_retraining(
    ctx: CommandContext, model: ModelConfig, overrides: dict[str, str], *, reason: str
) -> JobInfo:
    env = ctx.settings.training_env(model)
    ctx.require("retrain", env, model=model.name)
    running = in_flight(ctx.store, model.name)
    if running is not None:
        raise UsageError(
            f"{model.name} already has a retraining job in flight ({running.job_id}, {running.status}); "
            "wait for it to finish"
        )
    parameters = {**model.retraining.parameters, **overrides}
    job = ctx.platform.submit_training(model.name, env, parameters, reason=reason)
    with ctx.store.session() as session:
        session.add(
            JobRun(
                job_id=job.id,
                model=model.name,
                environment=env,
                reason=reason,
                requested_by=ctx.user,
                status=job.status.value,
                channel=ctx.invocation.channel_id,
            )
        )
    ctx.store.audit(
        ctx.user,
        "retrain",
        "submitted",
        model=model.name,
        environment=env,
        subject=job.id,
        parameters=parameters,
        reason=reason,
    )
    if ctx.on_job_submitted is not None:
        ctx.on_job_submitted(job.id, model.name, env)
    return job
