"""`/mlops drift` without Slack: the drift check on the demo's drifted prod traffic."""

from __future__ import annotations

import re
from datetime import timedelta

from tests.commands.checks import announced, common_errors, summary, window
from tests.commands.support import Bench

USAGE = "/mlops drift <model> [--env <environment>] [--window 7d]"


def test_drift_on_prod_finds_the_seeded_drift(bench: Bench) -> None:
    reply = summary(bench.command("drift churn-model"), "drift")  # prod is the monitored env
    announced(bench, "drift")
    report = reply.report
    drift = next(s for s in report.signals if s.signal == "drift")
    assert drift.level == "breach"
    # The seed draws its traffic at random each session: three or four features cross their
    # thresholds in the last day; the two the seed drifts hardest always do.
    assert re.match(r"[34] of 10 features drifted", drift.headline), drift.headline
    drifted = {f.name for f in drift.findings if f.level == "breach"}
    assert {"monthly_charges", "contract"} <= drifted
    assert window(reply) == timedelta(days=1)  # the configured drift window
    assert reply.uploads  # charts for the thread
    assert reply.muted == () and reply.open_alerts == ()
    # an on-demand check leaves the alert lifecycle alone
    assert bench.audits() == []


def test_a_muted_signal_is_marked_and_the_window_can_be_chosen(bench: Bench) -> None:
    assert type(bench.command("mute churn-model drift 2h")).__name__ == "MuteReply"
    reply = summary(bench.command("drift churn-model --env prod --window 3d"), "drift")
    assert "drift" in reply.muted
    assert window(reply) == timedelta(days=3)


def test_drift_usage_errors(bench: Bench) -> None:
    common_errors(bench, "drift", USAGE)
