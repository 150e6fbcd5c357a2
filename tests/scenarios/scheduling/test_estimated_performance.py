"""Windows without labels: the performance summary, the status card, the digest and a drift
alert show the performance estimated from the scores, labelled "estimated" (issue 16, item 2),
or say plainly why it was not estimated."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.sandbox import seed
from bot.slack.blocks.render import render
from core.reports import SummaryReply
from engine.estimation import MIN_REFERENCE_LABELS
from infra.store import Alert
from jobs.digest import build_digest
from tests.scenarios.scheduling.conftest import Harness, text_of
from tests.scenarios.scheduling.test_commands_and_digest import slash

PERF_JOB = "performance:churn:prod"


def _text(reply: object) -> str:
    return text_of({"blocks": render(reply)})  # type: ignore[arg-type]


def test_a_window_without_labels_is_summarized_with_estimated_performance(
    harness: Harness,
) -> None:
    harness.platform.labelled = False
    reply = slash(harness, "perf churn")
    assert isinstance(reply, SummaryReply) and reply.report is not None
    signal = reply.report.signal("performance")
    assert signal is not None
    assert signal.headline.startswith("estimated accuracy ")
    assert signal.headline.endswith("no labels yet")
    assert signal.level == "healthy"  # the scripted model holds up without drift
    fields = dict(reply.report.fields)
    assert fields["Labelled rows"].startswith("0 of ")
    assert "Accuracy · estimated" in fields and "at 95%" in fields["Accuracy · estimated"]
    assert any(f.name == "Accuracy (estimated)" for f in signal.findings)
    text = _text(reply)
    assert "estimated accuracy" in text and "no labels yet" in text
    assert signal.chart is not None and "estimated from the scores" in signal.chart.alt_text


def test_labels_a_day_late_estimate_the_newest_window_and_measure_the_previous_one(
    harness: Harness,
) -> None:
    """With a label delay of one window the check would only ever estimate: the previous window,
    whose labels have arrived, is measured too, and its verdict counts."""
    harness.platform.labels_until = harness.clock.now - timedelta(days=1)
    reply = slash(harness, "perf churn")
    assert isinstance(reply, SummaryReply) and reply.report is not None
    signal = reply.report.signal("performance")
    assert signal is not None
    assert signal.headline.startswith("estimated accuracy ")
    assert "— no labels yet; the previous window measured Accuracy 0." in signal.headline
    assert signal.level == "healthy"  # the scripted model holds up, measured and estimated
    assert not signal.estimated  # the level is the measurement: the alert lifecycle reads it
    assert any(d.startswith("the previous window, measured on ") for d in reply.report.details)
    # The trend shows the measured windows and the estimated newest one on one chart.
    assert signal.chart is not None and "1 of them estimated" in signal.chart.alt_text


@pytest.mark.usefixtures("quick_charts")
def test_labelled_windows_are_not_estimated(harness: Harness) -> None:
    reply = slash(harness, "perf churn")
    assert isinstance(reply, SummaryReply) and reply.report is not None
    assert "estimated" not in _text(reply)


@pytest.mark.usefixtures("quick_charts")
def test_status_card_and_digest_say_estimated(harness: Harness) -> None:
    harness.platform.labelled = False
    harness.start()
    harness.run(PERF_JOB)
    status = _text(slash(harness, "status churn"))
    assert "estimated accuracy" in status
    digest = build_digest(harness.services.monitor)
    line = next(line for line in digest.lines if line.environment == "prod")
    performance = next(text for signal, _, text in line.signals if signal == "performance")
    assert "estimated accuracy" in performance
    assert "estimated accuracy" in _text(digest)


@pytest.mark.usefixtures("quick_charts")
def test_a_drift_alert_without_labels_says_whether_estimated_performance_dropped(
    harness: Harness,
) -> None:
    harness.platform.labelled = False
    harness.platform.drifted = True
    harness.start()
    harness.run()
    alerts = harness.top_level(seed.ALERTS_CHANNEL)
    assert alerts, "the drifted window raised no drift alert"
    text = text_of(alerts[0])
    assert "no labels yet; estimated accuracy" in text
    assert " dropped to " in text or " held at " in text


@pytest.mark.usefixtures("quick_charts")
def test_uncalibratable_scores_are_refused_plainly(harness: Harness) -> None:
    harness.platform.labelled = False
    harness.platform.reference = harness.platform.reference.assign(score=0.5)
    reply = slash(harness, "perf churn")
    assert isinstance(reply, SummaryReply) and reply.report is not None
    signal = reply.report.signal("performance")
    assert signal is not None and signal.level == "no_data"
    assert "not estimated: the scores are constant on the reference" in signal.headline
    assert "not estimated" in _text(reply)


@pytest.mark.usefixtures("quick_charts")
def test_too_few_reference_labels_are_refused_plainly(harness: Harness) -> None:
    harness.platform.labelled = False
    harness.platform.reference = harness.platform.reference.head(MIN_REFERENCE_LABELS - 1)
    reply = slash(harness, "perf churn")
    assert isinstance(reply, SummaryReply) and reply.report is not None
    signal = reply.report.signal("performance")
    assert signal is not None and signal.level == "no_data"
    assert f"need {MIN_REFERENCE_LABELS} to calibrate" in signal.headline


@pytest.mark.usefixtures("quick_charts")
def test_an_estimate_leaves_a_breach_measured_on_labels_open(harness: Harness) -> None:
    """Labels late for the newest window must not resolve the breach the labelled ones measured:
    the estimate cannot see concept drift, and a band is not a measurement."""
    harness.platform.drifted = True
    harness.start()

    def performance_alert() -> Alert | None:
        with harness.store.session() as session:
            return session.scalars(
                select(Alert).where(Alert.signal == "performance", Alert.environment == "prod")
            ).first()

    for _ in range(5):  # as many labelled breaches as the policy wants in a row
        harness.run(PERF_JOB)
        opened = performance_alert()
        if opened is not None and opened.state == "open":
            break
    assert opened is not None and opened.state == "open", opened
    harness.platform.labelled = False
    harness.run(PERF_JOB)
    after = performance_alert()
    assert after is not None and after.state == "open" and after.resolved_at is None
