"""`/mlops usage <model> [--env E] [--window 6h]`: CPU, memory, latency and errors of the endpoint."""

from __future__ import annotations

from commands.checks import on_demand
from commands.context import CommandContext
from core.checks import CheckKind
from core.replies import Reply

NAME = "usage"
USAGE = "/mlops usage <model> [--env <environment>] [--window 6h]"
SUMMARY = "check the endpoint's utilization now (over/under-utilized, latency, errors)"
EXAMPLE = "/mlops usage churn-model --env prod --window 24h"


def run(ctx: CommandContext, words: list[str]) -> Reply:
    return on_demand(ctx, words, kind=CheckKind.UTILIZATION, usage=USAGE)
