"""`/mlops status <model> [--env E]`: one card with every environment of the chain."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from commands.context import CommandContext
from commands.parsing import parse_args
from core.monitoring_state import latest_verdicts, pending_approvals
from core.replies import EnvironmentStatus, Reply, StatusReply
from core.serving import gather
from infra.platform.base import EndpointState, JobInfo, ModelVersion, PlatformError

NAME = "status"
USAGE = "/mlops status <model> [--env E]"
SUMMARY = "what serves where, health, verdicts, last training job, pending approvals"
EXAMPLE = "/mlops status churn-model"


def run(ctx: CommandContext, words: list[str]) -> Reply:
    args = parse_args(words, options={"env": True}, usage=USAGE, max_positionals=1)
    if not args.positionals:
        raise ctx.no_model(usage=USAGE)
    model = ctx.model(args.positionals[0], usage=USAGE)
    envs = ctx.settings.env_names
    if "env" in args.options:
        envs = [ctx.env(str(args.options["env"]), usage=USAGE)]
    training_env = ctx.settings.training_env(model)

    calls: dict[tuple[str, str], Callable[[], Any]] = {}
    for env in envs:
        calls[("endpoint", env)] = lambda env=env: ctx.platform.endpoint_state(model.name, env)
        calls[("versions", env)] = lambda env=env: ctx.platform.list_versions(model.name, env)
    calls[("jobs", training_env)] = lambda: ctx.platform.list_jobs(model.name, training_env, 1)
    results = gather(calls, parallel=ctx.platform.remote)

    verdicts = latest_verdicts(ctx.store, model.name)
    environments = []
    for env in envs:
        endpoint = results[("endpoint", env)]
        versions = results[("versions", env)]
        error = None
        if isinstance(endpoint, PlatformError):
            error, endpoint = str(endpoint), None
        by_version: dict[str, ModelVersion] = (
            {} if isinstance(versions, PlatformError) else {v.version: v for v in versions}
        )
        serving_metrics = {}
        if isinstance(endpoint, EndpointState):
            for deployment in endpoint.serving:
                version = by_version.get(deployment.model_version)
                if version is not None:
                    serving_metrics[deployment.model_version] = dict(version.metrics)
        environments.append(
            EnvironmentStatus(
                name=env,
                endpoint=endpoint,
                error=error,
                serving_metrics=serving_metrics,
                verdicts=tuple(verdicts.get(env, ())),
            )
        )
    training_versions = results.get(("versions", training_env))
    latest: tuple[ModelVersion, ...] = ()
    if isinstance(training_versions, list):
        latest = tuple(training_versions[:3])
    elif training_env not in envs:
        try:
            latest = tuple(ctx.platform.list_versions(model.name, training_env)[:3])
        except PlatformError:
            latest = ()
    jobs = results[("jobs", training_env)]
    last_job: JobInfo | None = jobs[0] if isinstance(jobs, list) and jobs else None
    return StatusReply(
        model=model.name,
        description=model.description,
        task=model.task,
        environments=tuple(environments),
        latest_versions=latest,
        last_job=last_job,
        pending=tuple(pending_approvals(ctx.store, model.name)),
    )
