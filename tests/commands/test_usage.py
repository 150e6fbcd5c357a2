"""`/mlops usage` without Slack: the utilization of the demo's prod endpoint."""

from __future__ import annotations

from datetime import timedelta

from tests.commands.checks import announced, common_errors, summary, window
from tests.commands.support import Bench

USAGE = "/mlops usage <model> [--env <environment>] [--window 6h]"


def test_usage_on_prod_is_healthy(bench: Bench) -> None:
    reply = summary(bench.command("usage churn-model"), "utilization")
    announced(bench, "utilization")
    [utilization] = reply.report.signals
    assert utilization.level == "healthy"
    assert utilization.headline.startswith("1 deployment healthy")
    assert {f.name for f in utilization.findings} >= {
        "churn-model-v1 · CPU",
        "churn-model-v1 · error rate",
    }
    assert window(reply) == timedelta(hours=6)


def test_usage_of_another_environment_and_window(bench: Bench) -> None:
    reply = summary(
        bench.command("usage churn-model --env preprod --window 24h"), "utilization", "preprod"
    )
    announced(bench, "utilization", "preprod")
    assert window(reply) == timedelta(hours=24)


def test_usage_usage_errors(bench: Bench) -> None:
    common_errors(bench, "usage", USAGE)


def test_a_window_too_short_for_metrics_says_so_in_words(bench: Bench) -> None:
    from bot.slack.blocks.render import render

    reply = summary(bench.command("usage churn-model --window 1m"), "utilization")
    [utilization] = reply.report.signals
    assert utilization.level == "no_data"
    text = reply.fallback_text
    assert "in prod: no data — churn-model-v1: too few metrics (only " in text, text
    assert "no_data" not in text and "(need " not in text
    assert render(reply)[0]["text"]["text"].endswith("— no data")
