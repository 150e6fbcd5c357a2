"""`/mlops perf <model> [--env E] [--window 7d]`: model performance and fairness on labelled traffic."""

from __future__ import annotations

from commands.checks import on_demand
from commands.context import CommandContext
from core.checks import CheckKind
from core.replies import Reply

NAME = "perf"
USAGE = "/mlops perf <model> [--env <environment>] [--window 7d]"
SUMMARY = "check performance and fairness on recent labelled traffic now"
EXAMPLE = "/mlops perf churn-model --env prod"


def run(ctx: CommandContext, words: list[str]) -> Reply:
    return on_demand(ctx, words, kind=CheckKind.PERFORMANCE, usage=USAGE)
