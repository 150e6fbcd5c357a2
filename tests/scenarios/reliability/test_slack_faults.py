"""Slack failing while the bot has something important to say: alerts, approval cards,
rollout progress and results, training-job results. Nothing is lost, nothing is said twice,
and a rollout never fails because Slack did.

Scheduled checks run through the real scheduler on the scheduling harness (scripted platform,
real store, real fake Slack); promotions run on the approvals harness (the real bot behind the
real HTTP server, a real local platform). Slack is made to fail with the fake's fault
injection: HTTP 500/503/429, ``ok: false``, and answers slower than the client waits.
"""

from __future__ import annotations

import json

import pytest

from bot.sandbox import seed
from bot.slack.outbox import Outbox
from bot.slack.services import Services
from core.promotion.states import ApprovalState
from infra.platform.base import JobStatus
from tests.scenarios.approvals.harness import APPROVALS, MODEL, Bot, wait_until
from tests.scenarios.scheduling.conftest import Harness, text_of

SLACK_WRITES = ("chat.postMessage", "chat.update", "files.getUploadURLExternal")


def quick_outbox(services: Services) -> Outbox:
    """The bot's outbox with test-sized backoffs (seconds, not minutes)."""
    outbox = services.outbox
    outbox.backoff_base, outbox.backoff_max, outbox.interval = 0.1, 0.5, 0.1
    return outbox


def slack_down(slack, *methods: str, status: int = 503) -> None:
    for method in methods or SLACK_WRITES:
        slack.inject(method, status=status, times=None)


def slack_back(slack, outbox: Outbox) -> None:
    slack.clear_faults()
    outbox._resume()


def drain(outbox: Outbox, rounds: int = 20) -> None:
    """Deliver what is due until nothing is pending (the loop of a running bot, by hand)."""
    import time

    for _ in range(rounds):
        if not outbox.counts()["pending"]:
            return
        outbox._resume()
        outbox.deliver_due()
        time.sleep(0.6)
    assert outbox.counts()["pending"] == 0, outbox.pending_keys()


# --------------------------------------------------------------------------- alerts


@pytest.mark.usefixtures("quick_charts")
@pytest.mark.parametrize("status", [503, 429])
def test_an_alert_raised_while_slack_is_down_is_posted_once_when_it_is_back(
    harness: Harness, status: int
) -> None:
    harness.start()
    outbox = quick_outbox(harness.services)
    harness.platform.drifted = True
    slack_down(harness.slack, status=status)
    harness.clock.advance()
    harness.run()
    assert harness.top_level() == []  # nothing got through ...
    assert any(k.startswith("alert:churn/prod/drift") for k in outbox.pending_keys())
    harness.clock.advance()
    harness.run()  # ... a second breaching check refreshes the queued card, no second one
    slack_back(harness.slack, outbox)
    drain(outbox)
    alerts = harness.top_level()
    assert len(alerts) == 1 and "Drift alert" in text_of(alerts[0])
    assert "*Breaching checks*\\n2" in text_of(alerts[0])  # the newest content
    charts = [m for m in harness.replies(alerts[0]["ts"]) if m.get("files")]
    assert len(charts) == 1  # its chart, once, in its thread
    with harness.store.session() as session:
        from infra.store import Alert

        row = session.get(Alert, "churn/prod/drift")
        assert row.message_ts == alerts[0]["ts"]  # the alert knows its card now
    harness.clock.advance()
    harness.run()  # still breaching: a reply in the card's thread, not a new card
    assert len(harness.top_level()) == 1
    assert any("Still breaching" in text_of(m) for m in harness.replies(alerts[0]["ts"]))


@pytest.mark.usefixtures("quick_charts")
def test_recovery_during_an_outage_reaches_the_card_and_its_thread(harness: Harness) -> None:
    harness.start()
    outbox = quick_outbox(harness.services)
    harness.platform.drifted = True
    harness.clock.advance()
    harness.run()
    card = harness.top_level()[0]
    harness.platform.drifted = False
    slack_down(harness.slack, "chat.update", "chat.postMessage")
    harness.clock.advance()
    harness.run()
    slack_back(harness.slack, outbox)
    drain(outbox)
    final = harness.slack.workspace.message(seed.ALERTS_CHANNEL, card["ts"])
    assert "Resolved" in text_of(final) or "resolved" in text_of(final)
    notes = [text_of(m) for m in harness.replies(card["ts"])]
    assert sum("Resolved after" in n for n in notes) == 1
    assert len(harness.top_level()) == 1


@pytest.mark.usefixtures("quick_charts")
@pytest.mark.parametrize("method", ["files.getUploadURLExternal", "files.completeUploadExternal"])
def test_a_chart_upload_that_keeps_failing_is_kept_and_delivered_later(
    harness: Harness, method: str
) -> None:
    harness.start()
    outbox = quick_outbox(harness.services)
    harness.platform.drifted = True
    harness.slack.inject(method, error="internal_error", times=None)
    harness.clock.advance()
    harness.run()
    alert = harness.top_level()[0]
    assert not [m for m in harness.replies(alert["ts"]) if m.get("files")]
    slack_back(harness.slack, outbox)
    drain(outbox)
    charts = [m for m in harness.replies(alert["ts"]) if m.get("files")]
    assert len(charts) == 1


def test_a_job_result_while_slack_is_down_is_posted_once_when_it_is_back(
    harness: Harness,
) -> None:
    harness.start()
    outbox = quick_outbox(harness.services)
    harness.run("retrain:churn")
    announcement = harness.top_level(seed.MLOPS_CHANNEL)[0]
    slack_down(harness.slack, "chat.postMessage")
    harness.platform.finish("job-1", JobStatus.COMPLETED)
    harness.run("job-watcher")
    harness.run("job-watcher")  # polled again: reported once, queued once
    assert outbox.pending_keys() == ["job-result:job-1"]
    slack_back(harness.slack, outbox)
    drain(outbox)
    results = [
        m
        for m in harness.replies(announcement["ts"], seed.MLOPS_CHANNEL)
        if "Retraining churn completed" in text_of(m)
    ]
    assert len(results) == 1 and "v2" in text_of(results[0])


# --------------------------------------------------------------------------- promotions


def _rollout_bot(make_bot, **overrides) -> tuple[Bot, Outbox]:
    bot = make_bot(**overrides)
    outbox = quick_outbox(bot.runtime.services)
    return bot, outbox


def test_a_request_card_that_slack_refused_is_posted_once_when_it_is_back(
    make_bot,
) -> None:
    bot, outbox = _rollout_bot(make_bot)
    slack_down(bot.server, "chat.postMessage")
    bot.command(f"promote {MODEL} --to prod")
    approval = wait_until(lambda: bot.approvals(), what="the request")[0]
    wait_until(
        lambda: f"approval-card:{approval.id}" in outbox.pending_keys(), what="the queued card"
    )
    assert bot.cards() == []
    slack_back(bot.server, outbox)
    card = wait_until(lambda: bot.cards(), timeout=60, what="the card")[0]
    recorded = wait_until(
        lambda: (a := bot.desk.book.get(approval.id)) and a.published and a, what="the record"
    )
    assert recorded.message_ts == card["ts"]
    bot.desk.sweep()  # a sweep after the outage posts nothing more
    assert len(bot.cards()) == 1
    bot.click(card["ts"], "approval_approve", seed.BOB)
    bot.click(card["ts"], "approval_approve", seed.CAROL)
    assert bot.wait_state(approval.id, ApprovalState.SUCCEEDED).state is ApprovalState.SUCCEEDED


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 500},
        {"status": 429, "retry_after": 1},
        {"status": 503, "delay": 2.0},  # slower than the client waits: a timeout
        {"error": "fatal_error"},
    ],
    ids=["500", "429", "timeout", "ok_false"],
)
def test_slack_failing_during_a_rollout_never_fails_the_rollout(
    make_bot,
    fault: dict,
) -> None:
    bot, outbox = _rollout_bot(make_bot, prod_rollout={"bake_time": "0.3s"})
    approval, ts = bot.request()
    # Short enough that the "timeout" fault times out; set once the card is out, so a loaded
    # machine answering the setup's calls slowly is not mistaken for the fault under test.
    outbox.client.timeout = 1
    bot.click(ts, "approval_approve", seed.BOB)
    bot.wait_ephemeral(seed.BOB, "1 of 2")
    for method in ("chat.update", "chat.postMessage"):
        bot.server.inject(method, times=None, **fault)
    bot.click(ts, "approval_approve", seed.CAROL)
    done = bot.wait_state(
        approval.id,
        ApprovalState.SUCCEEDED,
        ApprovalState.ROLLED_BACK,
        ApprovalState.FAILED,
        timeout=60,
    )
    assert done.state is ApprovalState.SUCCEEDED, done.reason
    assert bot.serving()["2"] == 100
    stale = bot.card_text(ts)
    assert "Promoted" not in stale  # Slack has not been told yet ...
    slack_back(bot.server, outbox)
    text = wait_until(
        lambda: "Promoted" in bot.card_text(ts) and bot.card_text(ts),
        timeout=30,
        what="the card to tell the truth",
    )
    assert ":white_check_mark: Shift 100% of traffic" in text
    thread = wait_until(
        lambda: "is live" in bot.thread_text(ts) and bot.thread_text(ts),
        timeout=30,
        what="the end of the rollout in the thread",
    )
    lines = [m.get("text", "") for m in bot.server.thread(APPROVALS, ts)[1:]]
    assert len(lines) == len(set(lines)), "a thread line was posted twice"
    assert sum("is live" in line for line in lines) == 1
    assert json.dumps(thread)  # the thread is readable


def test_the_result_of_a_rollout_that_ends_while_slack_is_down_arrives_after(
    make_bot,
) -> None:
    bot, _ = _rollout_bot(make_bot)
    approval, ts = bot.request()
    bot.click(ts, "approval_approve", seed.BOB)
    bot.wait_ephemeral(seed.BOB, "1 of 2")
    bot.click(ts, "approval_approve", seed.CAROL)
    bot.wait_state(approval.id, ApprovalState.ROLLING_OUT, ApprovalState.SUCCEEDED)
    slack_down(bot.server, "chat.update", "chat.postMessage", status=500)
    bot.wait_state(approval.id, ApprovalState.SUCCEEDED)
    bot.runtime.stop()  # the bot restarts before Slack is back ...
    bot.stopped = True
    bot.server.clear_faults()
    second = make_bot()  # ... and the new process delivers what the old one queued
    quick_outbox(second.runtime.services)
    wait_until(lambda: "Promoted" in second.card_text(ts), timeout=30, what="the final card")
    wait_until(lambda: "is live" in second.thread_text(ts), timeout=30, what="the result")
    lines = [m.get("text", "") for m in second.server.thread(APPROVALS, ts)[1:]]
    assert sum("is live" in line for line in lines) == 1
    assert len(second.cards()) == 1
