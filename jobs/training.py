"""Submitting a retraining job: the permission check, one run in flight per model, the
``job_runs`` row the job watcher follows to its end, and the audit entry.

Shared by ``/mlops retrain`` (through :mod:`commands.training`), the alert card's Retrain button
and the automatic triggers (:mod:`jobs.retraining`). It takes plain, typed arguments rather than
a command's context, and reports refusals with its own errors: :class:`RetrainDenied` (the user
may not retrain there; the denial is audited) and :class:`RetrainRefused` (another run of the
model is in flight, or a parameter value does not fit its type). Callers translate them to what they show.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from sqlalchemy import select

from core.access import AccessPolicy
from infra.platform.base import JobInfo, JobStatus, MLPlatform
from infra.settings import ModelConfig, Settings
from infra.store import JobRun, Store


class RetrainRefused(Exception):
    """Nothing was submitted: another retraining run of the model is in flight, or a
    parameter does not fit its declared type or range."""

    def __init__(self, message: str, running: JobRun | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.running = running


class RetrainDenied(Exception):
    """The user may not retrain in the training environment; the message names the rule."""


def in_flight(store: Store, model: str) -> JobRun | None:
    """The queued or running retraining job of ``model``, if there is one."""
    active = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)
    with store.read() as session:
        return session.scalars(
            select(JobRun).where(JobRun.model == model, JobRun.status.in_(active)).limit(1)
        ).first()


def require_retrain(store: Store, access: AccessPolicy, user: str, env: str, model: str) -> None:
    """Raise :class:`RetrainDenied` (after auditing the denial) unless ``user`` may retrain in
    ``env``."""
    decision = access.check(user, "retrain", env)
    if not decision.allowed:
        store.audit(user, "retrain", "denied", model=model, environment=env, rule=decision.rule)
        raise RetrainDenied(f"You may not retrain in {env} ({decision.rule}).")


def submit_retraining(
    *,
    settings: Settings,
    platform: MLPlatform,
    store: Store,
    access: AccessPolicy,
    user: str,
    model: ModelConfig,
    overrides: Mapping[str, str],
    reason: str,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    channel: str | None = None,
    on_job_submitted: Callable[[str, str, str], None] | None = None,
) -> JobInfo:
    """Submit the retraining job of ``model`` in its training environment for ``user``.

    Raises :class:`RetrainDenied`, :class:`RetrainRefused`, or the platform's ``PlatformError``.
    ``channel`` is where the job's result is reported (the alerts channel when None);
    ``on_job_submitted(job_id, model, env)`` wakes the job watcher.
    """
    env = settings.training_env(model)
    require_retrain(store, access, user, env, model.name)
    problems = model.retraining.parameter_problems(dict(overrides))
    if problems:
        raise RetrainRefused("Nothing was submitted: " + "; ".join(problems) + ".")
    running = in_flight(store, model.name)
    if running is not None:
        raise RetrainRefused(
            f"{model.name} already has a retraining job in flight ({running.job_id}, "
            f"{running.status}); wait for it to finish",
            running,
        )
    parameters = {**model.retraining.parameters, **overrides}
    job = platform.submit_training(model.name, env, parameters, reason=reason)
    with store.session() as session:
        session.add(
            JobRun(
                job_id=job.id,
                model=model.name,
                environment=env,
                reason=reason,
                requested_by=user,
                status=job.status.value,
                channel=channel,
                submitted_at=clock(),
            )
        )
    store.audit(
        user,
        "retrain",
        "submitted",
        model=model.name,
        environment=env,
        subject=job.id,
        parameters=parameters,
        reason=reason,
    )
    if on_job_submitted is not None:
        on_job_submitted(job.id, model.name, env)
    return job
