"""Glue between commands and core.rollout: a rollout's progress shown on the command's card.

Plans come from :func:`core.rollout.plan_for`."""

from __future__ import annotations

from commands.context import CommandContext
from core.replies import ProgressReply, Step, Tone
from core.rollout import Rollout, RolloutPlan, RolloutResult


def run_with_progress(ctx: CommandContext, plan: RolloutPlan, title: str) -> RolloutResult:
    """Run the rollout, editing the command's card at every step."""

    def report(steps: list[Step]) -> None:
        ctx.progress(
            ProgressReply(
                public=True, title=title, steps=tuple(steps), tone=Tone.INFO, actor=ctx.user
            )
        )

    return Rollout(ctx.platform, ctx.store).run(plan, report)
