"""Slack failing during a scheduled run delays what the bot says, but loses none of it."""

from __future__ import annotations

import time

import pytest

from bot.sandbox import seed
from tests.scheduling.conftest import Harness, text_of


def chart_messages(harness: Harness, ts: str, channel: str = seed.MLOPS_CHANNEL) -> list[dict]:
    return [m for m in harness.replies(ts, channel) if m.get("files")]


def test_a_429_during_the_chart_upload_delays_the_post_but_loses_nothing(harness: Harness) -> None:
    harness.start()
    fault = harness.slack.inject("files.getUploadURLExternal", status=429, retry_after=1, times=1)
    started = time.monotonic()
    harness.clock.advance()
    harness.run()
    elapsed = time.monotonic() - started
    assert fault.spent and elapsed >= 1.0  # waited for Retry-After ...
    summaries = harness.top_level(seed.MLOPS_CHANNEL)
    assert len(summaries) == 1  # ... posted once ...
    files = [f for m in chart_messages(harness, summaries[0]["ts"]) for f in m["files"]]
    assert len(files) == 2  # ... with both charts, in the summary's thread
    assert {f["title"] for f in files} == {"churn · prod · drift", "churn · reference vs current"}
    statuses = [c.http_status for c in harness.slack.calls_of("files.getUploadURLExternal")]
    assert statuses[0] == 429 and statuses.count(200) == 2


@pytest.mark.usefixtures("quick_charts")
def test_rate_limits_beyond_the_clients_retries_are_waited_out(harness: Harness) -> None:
    """slack_sdk retries a 429 four times; a longer limit is waited out by the job itself."""
    harness.start()
    harness.platform.drifted = True
    fault = harness.slack.inject("files.completeUploadExternal", status=429, retry_after=0, times=5)
    harness.clock.advance()
    harness.run()
    assert fault.spent
    alert = harness.top_level()[0]
    assert "Drift alert" in text_of(alert)
    summary = harness.top_level(seed.MLOPS_CHANNEL)[0]
    # The alert's chart and the summary's two charts all arrived, each exactly once.
    assert len(chart_messages(harness, alert["ts"], seed.ALERTS_CHANNEL)) == 1
    assert len(chart_messages(harness, summary["ts"])) == 1
    assert sum(len(m["files"]) for m in chart_messages(harness, summary["ts"])) == 2


@pytest.mark.usefixtures("quick_charts")
def test_an_alert_that_could_not_be_posted_is_posted_by_the_next_check(harness: Harness) -> None:
    harness.start()
    harness.platform.drifted = True
    harness.slack.inject("chat.postMessage", error="channel_not_found", times=1)
    harness.clock.advance()
    harness.run()
    assert harness.top_level() == []  # Slack refused the alert ...
    harness.clock.advance()
    harness.run()
    alerts = harness.top_level()
    assert len(alerts) == 1  # ... so the next check posts it, once, with the full count
    assert "*Breaching checks*\\n2" in text_of(alerts[0])
