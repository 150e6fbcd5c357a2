"""Glue between commands and core.rollout: a rollout's progress shown on the command's card.

Plans come from :func:`core.rollout.plan_for`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from commands.context import CommandContext
from core.inputs import UsageError
from core.replies import ProgressReply, Step, Tone
from core.rollout import Rollout, RolloutPlan, RolloutResult
from infra.holders import new_holder
from infra.rollout_locks import EndpointBusyError, hold_endpoint


@contextmanager
def endpoint_held(ctx: CommandContext, model: str, env: str, what: str) -> Iterator[None]:
    """Hold the endpoint for a deploy or rollback (one rollout in flight per endpoint, enforced
    by the database), or refuse with what is running there; nothing is changed then."""
    with ExitStack() as stack:
        try:
            stack.enter_context(
                hold_endpoint(
                    ctx.store,
                    model,
                    env,
                    holder=new_holder(),
                    what=f"{what} by <@{ctx.user}>",
                    ttl=ctx.settings.reliability.endpoint_lock,
                )
            )
        except EndpointBusyError as busy:
            kind = what.split(" ", 1)[0]
            ctx.audit(kind, "refused", model=model, environment=env, reason=str(busy))
            raise UsageError(str(busy)) from None
        yield


def run_with_progress(ctx: CommandContext, plan: RolloutPlan, title: str) -> RolloutResult:
    """Run the rollout, editing the command's card at every step."""

    def report(steps: list[Step]) -> None:
        ctx.progress(
            ProgressReply(
                public=True, title=title, steps=tuple(steps), tone=Tone.INFO, actor=ctx.user
            )
        )

    return Rollout(ctx.platform, ctx.store).run(plan, report)
