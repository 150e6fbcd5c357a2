"""`/mlops jobs [<model>]`: recent training jobs with status and duration, and scheduled jobs."""

from __future__ import annotations

from commands.context import CommandContext
from commands.parsing import parse_args
from core.replies import JobRow, JobsReply, Reply, ScheduledJobRow
from core.serving import gather

NAME = "jobs"
USAGE = "/mlops jobs [<model>]"
SUMMARY = "recent training jobs and the scheduled checks with their next run"
EXAMPLE = "/mlops jobs churn-model"


def run(ctx: CommandContext, words: list[str]) -> Reply:
    args = parse_args(words, options={}, usage=USAGE, max_positionals=1)
    models = ctx.settings.models
    if args.positionals:
        models = (ctx.model(args.positionals[0], usage=USAGE),)
    calls = {
        m.name: (lambda m=m: ctx.platform.list_jobs(m.name, ctx.settings.training_env(m), 5))
        for m in models
    }
    results = gather(calls, parallel=ctx.platform.remote)
    rows: list[JobRow] = []
    for model in models:
        result = results[model.name]
        if isinstance(result, list):
            rows.extend(JobRow(model.name, ctx.settings.training_env(model), job) for job in result)
    rows.sort(key=lambda r: r.job.created, reverse=True)
    selected = models[0].name if args.positionals else None
    scheduled: list[ScheduledJobRow] = ctx.scheduled_jobs(selected) if ctx.scheduled_jobs else []
    return JobsReply(rows=tuple(rows[:15]), scheduled=tuple(scheduled), model=selected)
