"""Reports while Slack is down: a check's summary, the daily digest and an alert's full report
(the Details button) are kept in the outbox and posted once, charts in their thread, when Slack
is back (they used to be lost).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.sandbox import seed
from jobs.digest import run_digest
from tests.scenarios.reliability.test_slack_faults import (
    drain,
    quick_outbox,
    slack_back,
    slack_down,
)
from tests.scenarios.scheduling.conftest import Harness, text_of
from tests.scenarios.scheduling.test_buttons import open_alert


def _charts_in_thread(harness: Harness, ts: str) -> list[dict]:
    return [m for m in harness.replies(ts, seed.MLOPS_CHANNEL) if m.get("files")]


@pytest.mark.usefixtures("quick_charts")
def test_a_summary_due_while_slack_is_down_is_posted_once_with_its_charts(
    harness: Harness,
) -> None:
    harness.start()
    outbox = quick_outbox(harness.services)
    slack_down(harness.slack)
    harness.clock.advance()
    harness.run()
    assert harness.top_level(seed.MLOPS_CHANNEL) == []
    pending = outbox.pending_keys()
    assert any(k.startswith("summary:drift:churn:prod:") for k in pending), pending
    assert any(k.endswith(":charts") for k in pending), pending
    slack_back(harness.slack, outbox)
    drain(outbox)
    drain(outbox)  # a second round finds nothing more to send
    summaries = harness.top_level(seed.MLOPS_CHANNEL)
    assert len(summaries) == 1 and "Drift" in text_of(summaries[0])
    assert len(_charts_in_thread(harness, summaries[0]["ts"])) == 1


@pytest.mark.usefixtures("quick_charts")
def test_a_digest_slack_refused_is_posted_once_when_it_is_back(harness: Harness) -> None:
    harness.start()
    outbox = quick_outbox(harness.services)
    slack_down(harness.slack, status=500)
    context = harness.scheduler.context
    _, ref = run_digest(context)
    assert ref is None and harness.top_level(seed.MLOPS_CHANNEL) == []
    _, again = run_digest(context)  # the same digest again (a retried job): still one queued
    assert again is None
    queued = [k for k in outbox.pending_keys() if k.startswith("digest:")]
    assert len(queued) == 2 and queued[1] == f"{queued[0]}:charts"  # the digest, its chart
    slack_back(harness.slack, outbox)
    drain(outbox)
    digests = harness.top_level(seed.MLOPS_CHANNEL)
    assert len(digests) == 1
    assert len(_charts_in_thread(harness, digests[0]["ts"])) == 1


@pytest.mark.usefixtures("quick_charts")
def test_details_pressed_while_slack_is_down_arrive_once_when_it_is_back(
    make_harness: Callable[..., Harness],
) -> None:
    # The press was marked as answered before the post; when the post was lost, every later
    # press said "already in the thread" and the report never came.
    harness, clicker, alert = open_alert(make_harness)
    outbox = quick_outbox(harness.services)
    slack_down(harness.slack, "chat.postMessage")
    clicker.press(alert["ts"], "alert_details")
    assert not [r for r in harness.replies(alert["ts"]) if "Full report" in text_of(r)]
    slack_back(harness.slack, outbox)
    drain(outbox)
    clicker.press(alert["ts"], "alert_details")  # pressed again once Slack is back
    drain(outbox)
    details = [r for r in harness.replies(alert["ts"]) if "Full report" in text_of(r)]
    assert len(details) == 1
