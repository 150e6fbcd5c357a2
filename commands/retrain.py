"""`/mlops retrain <model> [key=value ...]`: submit the parameterized retraining job."""

from __future__ import annotations

from commands.context import CommandContext
from commands.parsing import parse_args
from commands.training import submit_retraining
from core.inputs import UsageError
from core.replies import JobReply, Reply

NAME = "retrain"
USAGE = "/mlops retrain <model> [key=value ...]"
SUMMARY = "run the retraining pipeline with parameter overrides"
EXAMPLE = "/mlops retrain churn-model learning_rate=0.05 max_iter=300"


def run(ctx: CommandContext, words: list[str]) -> Reply:
    args = parse_args(words, options={}, usage=USAGE, allow_params=True, max_positionals=1)
    if not args.positionals:
        raise ctx.no_model(usage=USAGE)
    model = ctx.model(args.positionals[0], usage=USAGE)
    allowed = model.retraining.allowed_parameters
    if allowed is not None:
        unknown = sorted(set(args.params) - set(allowed))
        if unknown:
            raise UsageError(
                f"parameter {', '.join(unknown)} cannot be set from Slack; allowed: {', '.join(allowed)}",
                usage=USAGE,
            )
    job = submit_retraining(ctx, model, args.params, reason="requested in Slack")
    return JobReply(
        public=True,
        heading=f"Retraining {model.name} submitted",
        job=job,
        requested_by=ctx.user,
        reason="requested in Slack",
    )
