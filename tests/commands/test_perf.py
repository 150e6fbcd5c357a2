"""`/mlops perf` without Slack: performance and fairness on the demo's prod traffic, whose labels
arrive a day after each request (``models[].local.label_delay``): the newest day is estimated
from the scores, older days are measured."""

from __future__ import annotations

from datetime import timedelta

from tests.commands.checks import announced, common_errors, summary, window
from tests.commands.support import Bench

USAGE = "/mlops perf <model> [--env <environment>] [--window 7d]"


def test_perf_on_prod_estimates_the_day_whose_labels_have_not_arrived(bench: Bench) -> None:
    reply = summary(bench.command("perf churn-model"), "performance")
    announced(bench, "performance")
    performance = next(s for s in reply.report.signals if s.signal == "performance")
    # The measured breach leads (a shortened headline keeps it), the estimate follows.
    assert performance.headline.startswith("the previous window measured Accuracy ")
    assert "; estimated accuracy " in performance.headline
    assert performance.headline.endswith("no labels yet")
    # The estimate cannot see the demo's changed churn behaviour; the labels of the day before
    # can, and a measured breach is a breach (an estimate alone would only warn).
    assert performance.level == "breach" and not performance.estimated
    assert "below the minimum 0.75" in performance.headline
    names = [f.name for f in performance.findings]
    assert "Accuracy (estimated)" in names and "Accuracy (previous window)" in names
    assert dict(reply.report.fields)["Labelled rows"].startswith("0 of ")
    assert window(reply) == timedelta(days=1)


def test_perf_over_two_days_reports_the_accuracy_drop_of_the_labelled_day(bench: Bench) -> None:
    reply = summary(bench.command("perf churn-model --window=2d"), "performance")
    performance = next(s for s in reply.report.signals if s.signal == "performance")
    assert performance.level == "breach"
    assert "below the minimum 0.75" in performance.headline
    names = [f.name for f in performance.findings]
    assert {"Accuracy", "F1", "ROC AUC"} <= set(names)
    assert window(reply) == timedelta(days=2)


def test_perf_usage_errors(bench: Bench) -> None:
    common_errors(bench, "perf", USAGE)
