"""Slack failing during a scheduled run delays what the bot says, but loses none of it.

Every message and chart goes through the outbox: what Slack refuses for now (a 429 included)
is queued and delivered later, honouring Retry-After; the job itself never waits for Slack.
"""

from __future__ import annotations

import time

import pytest

from bot.sandbox import seed
from tests.scenarios.scheduling.conftest import Harness, text_of


def summaries_of(harness: Harness) -> list[dict]:
    """The checks' own summaries in #mlops (not the standing summary they also edit)."""
    return [
        m
        for m in harness.top_level(seed.MLOPS_CHANNEL)
        if "Standing summary" not in (m.get("text") or "")
    ]


def chart_messages(harness: Harness, ts: str, channel: str = seed.MLOPS_CHANNEL) -> list[dict]:
    return [m for m in harness.replies(ts, channel) if m.get("files")]


def drain_outbox(harness: Harness, timeout: float = 30.0) -> float:
    """Drive the outbox's delivery rounds (what its loop does in the running bot) until nothing
    waits in it; returns when that was (``time.monotonic()``). Fails after ``timeout``."""
    outbox = harness.services.outbox
    deadline = time.monotonic() + timeout
    while True:
        outbox.deliver_due()
        if not outbox.pending_keys():
            return time.monotonic()
        assert time.monotonic() < deadline, f"still queued: {outbox.pending_keys()}"
        time.sleep(0.1)


def test_a_429_during_the_chart_upload_delays_the_post_but_loses_nothing(harness: Harness) -> None:
    """The job does not wait: the refused upload is queued, and the outbox delivers it into
    the summary's thread once Retry-After has passed."""
    harness.start()
    fault = harness.slack.inject("files.getUploadURLExternal", status=429, retry_after=1, times=1)
    started = time.monotonic()
    checked = harness.clock.advance()
    harness.run()
    assert fault.spent
    summaries = summaries_of(harness)
    assert len(summaries) == 1  # the summary is posted once ...
    assert chart_messages(harness, summaries[0]["ts"]) == []  # ... its charts are queued ...
    assert harness.services.outbox.pending_keys()
    delivered_at = drain_outbox(harness)
    assert delivered_at - started >= 1.0  # ... and delivered after Retry-After ...
    assert len(summaries_of(harness)) == 1  # ... with no second summary ...
    files = [f for m in chart_messages(harness, summaries[0]["ts"]) for f in m["files"]]
    assert len(files) == 2  # ... with both charts, once, in the summary's thread
    assert {f["title"] for f in files} == {
        f"churn · prod · drift · check {checked:%Y-%m-%d %H:%M} UTC",  # the check it shows
        "churn · reference vs current",
    }
    statuses = [c.http_status for c in harness.slack.calls_of("files.getUploadURLExternal")]
    assert statuses[0] == 429 and statuses.count(200) == 2
    assert harness.services.outbox.counts()["given_up"] == 0  # nothing lost


@pytest.mark.usefixtures("quick_charts")
def test_rate_limits_beyond_the_clients_retries_are_waited_out(harness: Harness) -> None:
    """Five 429s in a row on the upload: the outbox keeps the charts (and anything queued
    behind the rate limit) and retries after each Retry-After until Slack takes them."""
    harness.start()
    harness.platform.drifted = True
    fault = harness.slack.inject("files.completeUploadExternal", status=429, retry_after=0, times=5)
    harness.clock.advance()
    harness.run()
    drain_outbox(harness, timeout=60.0)
    assert fault.spent
    alerts = harness.top_level()
    assert len(alerts) == 1  # one alert ...
    alert = alerts[0]
    assert "Drift alert" in text_of(alert)
    summaries = summaries_of(harness)
    assert len(summaries) == 1  # ... and one summary ...
    summary = summaries[0]
    # ... and the alert's chart and the summary's two charts all arrived, each exactly once.
    assert len(chart_messages(harness, alert["ts"], seed.ALERTS_CHANNEL)) == 1
    assert len(chart_messages(harness, summary["ts"])) == 1
    assert sum(len(m["files"]) for m in chart_messages(harness, summary["ts"])) == 2
    assert harness.services.outbox.counts()["given_up"] == 0  # nothing lost


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
