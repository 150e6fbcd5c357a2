"""Glue between commands and core.rollout: plans from the configuration, progress to the card."""

from __future__ import annotations

from typing import Any

from commands.context import CommandContext
from core.replies import ProgressReply, Step, Tone
from core.rollout import HealthThresholds, Rollout, RolloutPlan, RolloutResult
from infra.platform.base import MLPlatform
from infra.settings import ModelConfig, Settings


def sample_request(platform: MLPlatform, model: ModelConfig) -> Any:
    """The model's configured smoke-test payload, else the first reference rows' features."""
    if model.sample_request is not None:
        return model.sample_request
    reference = platform.reference_data(model.name)
    features = [c for c in model.features.all if c in reference.columns] or list(reference.columns)
    return {"input_data": reference[features].head(2).to_dict(orient="records")}


def plan_for(
    settings: Settings,
    platform: MLPlatform,
    model: ModelConfig,
    env: str,
    version: str,
    *,
    actor: str,
    final_traffic: int = 100,
    subject: str | None = None,
) -> RolloutPlan:
    policy = settings.environment(env).rollout
    steps = (*[s for s in policy.steps if s < final_traffic], final_traffic)
    return RolloutPlan(
        model=model.name,
        env=env,
        version=version,
        steps=steps,
        bake_time=policy.bake_time,
        health=HealthThresholds(policy.max_error_rate, policy.max_latency_p99_ms),
        sample=sample_request(platform, model),
        actor=actor,
        instance_type=policy.instance_type,
        instance_count=policy.instance_count,
        subject=subject,
    )


def run_with_progress(ctx: CommandContext, plan: RolloutPlan, title: str) -> RolloutResult:
    """Run the rollout, editing the command's card at every step."""

    def report(steps: list[Step]) -> None:
        ctx.progress(
            ProgressReply(
                public=True, title=title, steps=tuple(steps), tone=Tone.INFO, actor=ctx.user
            )
        )

    return Rollout(ctx.platform, ctx.store).run(plan, report)
