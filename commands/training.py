"""`/mlops retrain`'s side of a retraining submission: the use case is
:func:`jobs.training.submit_retraining`; this adapter feeds it the command's context and turns
its refusals into what a command shows (a denial, a usage error)."""

from __future__ import annotations

from commands.context import CommandContext, CommandDenied
from core.inputs import UsageError
from infra.platform.base import JobInfo
from infra.settings import ModelConfig
from jobs.training import RetrainDenied, RetrainRefused
from jobs.training import submit_retraining as submit


def submit_retraining(
    ctx: CommandContext, model: ModelConfig, overrides: dict[str, str], *, reason: str
) -> JobInfo:
    """Submit ``model``'s retraining for the invoking user; raises CommandDenied or UsageError."""
    try:
        return submit(
            settings=ctx.settings,
            platform=ctx.platform,
            store=ctx.store,
            access=ctx.access,
            user=ctx.user,
            model=model,
            overrides=overrides,
            reason=reason,
            clock=ctx.clock,
            channel=ctx.invocation.channel_id,
            on_job_submitted=ctx.on_job_submitted,
        )
    except RetrainDenied as exc:
        raise CommandDenied(str(exc)) from exc
    except RetrainRefused as exc:
        raise UsageError(exc.message) from exc
