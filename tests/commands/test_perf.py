"""`/mlops perf` without Slack: performance and fairness on the demo's labelled prod traffic."""

from __future__ import annotations

from datetime import timedelta

from tests.commands.checks import announced, common_errors, summary, window
from tests.commands.support import Bench

USAGE = "/mlops perf <model> [--env <environment>] [--window 7d]"


def test_perf_on_prod_reports_the_accuracy_drop(bench: Bench) -> None:
    reply = summary(bench.command("perf churn-model"), "performance")
    announced(bench, "performance")
    performance = next(s for s in reply.report.signals if s.signal == "performance")
    assert performance.level == "breach"
    assert "below the minimum 0.75" in performance.headline
    names = [f.name for f in performance.findings]
    assert {"Accuracy", "F1", "ROC AUC"} <= set(names)
    assert window(reply) == timedelta(days=1)


def test_perf_with_a_window(bench: Bench) -> None:
    reply = summary(bench.command("perf churn-model --window=2d"), "performance")
    assert window(reply) == timedelta(days=2)


def test_perf_usage_errors(bench: Bench) -> None:
    common_errors(bench, "perf", USAGE)
