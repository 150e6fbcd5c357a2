"""`/mlops models`: every configured model with the version serving in each environment."""

from __future__ import annotations

from commands.context import CommandContext
from commands.parsing import parse_args
from core.replies import ModelRow, ModelsReply, Reply
from core.serving import gather, traffic_summary

NAME = "models"
USAGE = "/mlops models"
SUMMARY = "every model and the version serving in each environment"
EXAMPLE = "/mlops models"


def overview(ctx: CommandContext) -> ModelsReply:
    envs = ctx.settings.env_names
    calls = {
        (m.name, env): (lambda m=m, env=env: ctx.platform.endpoint_state(m.name, env))
        for m in ctx.settings.models
        for env in envs
    }
    results = gather(calls, parallel=ctx.platform.remote)
    rows = []
    for model in ctx.settings.models:
        versions: dict[str, str] = {}
        problems: list[str] = []
        for env in envs:
            state = results[(model.name, env)]
            if isinstance(state, Exception):
                versions[env] = "unavailable"
                problems.append(f"{env}: {state}")
            else:
                versions[env] = traffic_summary(state)
                if state.deployments and not state.healthy:
                    problems.append(f"{env}: endpoint {state.endpoint} is not healthy")
        rows.append(ModelRow(model.name, model.task, versions, tuple(problems)))
    return ModelsReply(environments=tuple(envs), rows=tuple(rows))


def run(ctx: CommandContext, words: list[str]) -> Reply:
    parse_args(words, options={}, usage=USAGE, max_positionals=0)
    return overview(ctx)
