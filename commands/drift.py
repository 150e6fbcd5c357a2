"""`/mlops drift <model> [--env E] [--window 7d]`: run the drift check now and show its report."""

from __future__ import annotations

from commands.checks import on_demand
from commands.context import CommandContext
from core.checks import CheckKind
from core.replies import Reply

NAME = "drift"
USAGE = "/mlops drift <model> [--env <environment>] [--window 7d]"
SUMMARY = "check data drift and data quality now (report and charts)"
EXAMPLE = "/mlops drift churn-model --env prod --window 7d"


def run(ctx: CommandContext, words: list[str]) -> Reply:
    return on_demand(ctx, words, kind=CheckKind.DRIFT, usage=USAGE)
