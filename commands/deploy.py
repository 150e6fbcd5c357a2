"""`/mlops deploy <model> <version> --env E [--traffic N]`: blue/green deploy where direct
deploys are allowed (dev by default); protected environments go through `/mlops promote`."""

from __future__ import annotations

from commands.context import CommandContext, CommandDenied
from commands.parsing import parse_args, parse_percent
from commands.rollouts import endpoint_held, run_with_progress
from core.inputs import UsageError, parse_version
from core.replies import ProgressReply, Reply, Tone
from core.rollout import plan_for
from core.serving import current_split

NAME = "deploy"
USAGE = "/mlops deploy <model> <version> [--env dev] [--traffic 100]"
SUMMARY = "blue/green deploy of a registered version (smoke test, then traffic)"
EXAMPLE = "/mlops deploy churn-model 2 --env dev --traffic 20"


def run(ctx: CommandContext, words: list[str]) -> Reply:
    args = parse_args(words, options={"env": True, "traffic": True}, usage=USAGE, max_positionals=2)
    if not args.positionals:
        raise ctx.no_model(usage=USAGE)
    model = ctx.model(args.positionals[0], usage=USAGE)
    direct = [e.name for e in ctx.settings.environments if e.allow_direct_deploy]
    env_name = str(args.options.get("env") or (direct[0] if direct else ctx.settings.env_names[0]))
    env = ctx.env(env_name, usage=USAGE)
    given = args.positionals[1] if len(args.positionals) > 1 else None

    # The environment's policy first: a version would not make a deploy to prod possible.
    if not ctx.settings.environment(env).allow_direct_deploy:
        raise UsageError(
            f"{env} does not take direct deploys; request a promotion instead: "
            f"/mlops promote {model.name} {given or '<version>'} --to {env}",
        )
    if given is None:
        raise UsageError(
            f"expected the version of {model.name} to deploy to {env}, e.g. "
            f"/mlops deploy {model.name} 3 --env {env}",
            usage=USAGE,
        )
    version = parse_version(given, usage=USAGE)
    traffic = parse_percent(str(args.options.get("traffic", "100")), what="--traffic", usage=USAGE)
    ctx.require("deploy", env, model=model.name)
    ctx.platform.get_version(model.name, version, env)  # NotFoundError names what is missing
    state = ctx.platform.endpoint_state(model.name, env)
    if current_split(state) and all(d.model_version == version for d in state.serving):
        # As `/mlops promote` refuses: a second deployment of the same version changes nothing
        # a user can see, and would sit beside the serving one until retired.
        ctx.audit(
            "deploy",
            "refused",
            model=model.name,
            environment=env,
            version=version,
            reason="already serving",
        )
        raise CommandDenied(
            f"{env} already serves v{version} of {model.name} (100% of traffic); there is "
            "nothing to deploy"
        )

    plan = plan_for(
        ctx.settings, ctx.platform, model, env, version, actor=ctx.user, final_traffic=traffic
    )
    ctx.audit(
        "deploy", "started", model=model.name, environment=env, version=version, traffic=traffic
    )
    title = f"Deploy {model.name} v{version} to {env} ({traffic}% traffic)"
    with endpoint_held(ctx, model.name, env, f"deploy of v{version}"):
        result = run_with_progress(ctx, plan, title)
    ctx.audit(
        "deploy",
        "succeeded" if result.ok else "held" if result.held else "rolled_back",
        model=model.name,
        environment=env,
        version=version,
        reason=result.reason,
    )
    if result.ok:
        outcome = f"v{version} serves {traffic}% of {env} as deployment {result.new_deployment}."
        return ProgressReply(
            public=True,
            title=title,
            steps=tuple(result.steps),
            outcome=outcome,
            tone=Tone.SUCCESS,
            actor=ctx.user,
        )
    outcome = (
        f"Held: {result.reason}. {result.new_deployment} keeps its share until someone decides "
        f"(`/mlops rollback {model.name} --env {env}` undoes it)."
        if result.held
        else f"Rolled back: {result.reason}. The previous deployment serves as before."
    )
    return ProgressReply(
        public=True,
        title=title,
        steps=tuple(result.steps),
        outcome=outcome,
        tone=Tone.ERROR,
        actor=ctx.user,
    )
