"""`/mlops rollback <model> --env E`: traffic back to the split before the last change."""

from __future__ import annotations

from commands.context import CommandContext
from commands.parsing import parse_args
from commands.rollouts import endpoint_held
from core.inputs import UsageError
from core.replies import MessageReply, Reply, Tone
from core.rollout import previous_split
from core.serving import current_split

NAME = "rollback"
USAGE = "/mlops rollback <model> --env E"
SUMMARY = "shift traffic back to the previous deployment"
EXAMPLE = "/mlops rollback churn-model --env dev"


def run(ctx: CommandContext, words: list[str]) -> Reply:
    args = parse_args(words, options={"env": True}, usage=USAGE, max_positionals=1)
    if not args.positionals:
        raise ctx.no_model(usage=USAGE)
    if "env" not in args.options:
        raise UsageError("say which environment to roll back with --env", usage=USAGE)
    model = ctx.model(args.positionals[0], usage=USAGE)
    env = ctx.env(str(args.options["env"]), usage=USAGE)
    ctx.require("rollback", env, model=model.name)

    # One rollout in flight per endpoint: a rollback in the middle of a promotion's traffic
    # steps would be undone by its next step.
    with endpoint_held(ctx, model.name, env, "rollback"):
        state = ctx.platform.endpoint_state(model.name, env)
        current = current_split(state)
        before = previous_split(ctx.store, model.name, env, current)
        existing = {d.name: d for d in state.deployments}
        if before is None or not set(before) <= set(existing):
            # No recorded change (or its deployments are gone): fall back to the newest deployment
            # that is not serving, which is what blue/green keeps around for exactly this.
            idle = [d for d in state.deployments if d.traffic == 0 and d.healthy]
            if not idle:
                raise UsageError(
                    f"nothing to roll back to in {env}: {model.name} has no previous deployment "
                    "(it may have been retired)"
                )
            newest = max(idle, key=lambda d: (len(d.model_version), d.model_version))
            before = {newest.name: 100}
        target = {name: 0 for name in existing}
        target.update(before)
        ctx.platform.set_traffic(model.name, env, target)
        ctx.store.audit(
            ctx.user,
            "traffic",
            "ok",
            model=model.name,
            environment=env,
            before=current,
            after=before,
            reason="rollback",
        )
        ctx.audit(
            "rollback", "succeeded", model=model.name, environment=env, before=current, after=before
        )
    versions = ", ".join(f"v{existing[n].model_version} {t}%" for n, t in before.items())
    was = ", ".join(f"v{existing[n].model_version} {t}%" for n, t in current.items()) or "nothing"
    return MessageReply(
        public=True,
        title=f"Rolled back {model.name} in {env}",
        text=f"Now serving {versions} (was {was}).",
        tone=Tone.SUCCESS,
        requested_by=ctx.user,
    )
