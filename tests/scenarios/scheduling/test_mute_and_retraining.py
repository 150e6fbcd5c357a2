"""Mutes silence alerts until they expire; automatic retraining respects cooldown and in-flight."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.sandbox import seed
from commands.context import CommandContext, Invocation
from commands.registry import dispatch
from core.reports import MuteReply
from infra.platform.base import JobStatus
from infra.store import AuditEntry, JobRun
from tests.scenarios.scheduling.conftest import Harness, model_config, text_of

pytestmark = pytest.mark.usefixtures("quick_charts")


def slash(harness: Harness, text: str, user: str = seed.ALICE):  # type: ignore[no-untyped-def]
    ctx = CommandContext(
        settings=harness.settings,
        platform=harness.platform,
        store=harness.store,
        access=harness.services.access,
        invocation=Invocation(user_id=user, text=text, channel_id=seed.MLOPS_CHANNEL),
        clock=harness.clock,
    )
    return dispatch(ctx)


def test_a_mute_suppresses_alerts_until_it_expires(harness: Harness) -> None:
    harness.start()
    reply = slash(harness, "mute churn drift 3h")
    assert isinstance(reply, MuteReply) and reply.until == harness.clock.now + timedelta(hours=3)

    harness.platform.drifted = True
    for _ in range(2):
        harness.clock.advance(timedelta(hours=1))
        harness.run()
    assert harness.top_level() == []  # muted: no alert
    summaries = harness.top_level(seed.MLOPS_CHANNEL)
    assert len(summaries) == 2  # the first verdict and the standing summary ...
    assert all("muted: Drift" in text_of(m) for m in summaries)  # ... say they are muted

    harness.clock.advance(timedelta(hours=1, minutes=30))  # the mute ended 30 minutes ago
    harness.run()
    alerts = harness.top_level()
    assert len(alerts) == 1 and "Drift alert" in text_of(alerts[0])
    standing = [
        m
        for m in harness.top_level(seed.MLOPS_CHANNEL)
        if "Standing summary" in (m.get("text") or "")
    ]
    assert len(standing) == 1 and "muted" not in text_of(standing[0])

    # The alert's own Mute button path: a new mute silences the thread, counters still move.
    slash(harness, "mute churn 1h")  # every signal of the model
    before = len(harness.replies(alerts[0]["ts"]))
    harness.clock.advance(timedelta(minutes=20))
    harness.run()
    assert len(harness.replies(alerts[0]["ts"])) == before  # no "still breaching" note
    assert "Muted until" in text_of(harness.updates_of(alerts[0]["ts"])[-1])
    assert isinstance(slash(harness, "unmute churn"), MuteReply)
    harness.clock.advance(timedelta(minutes=20))
    harness.run()
    assert "Still breaching" in harness.replies(alerts[0]["ts"])[-1]["text"]


def test_unknown_signal_and_bad_duration_are_refused(harness: Harness) -> None:
    refused = slash(harness, "mute churn drfit 2h")
    assert "unknown signal 'drfit'" in refused.message and refused.suggestion == "drift"
    assert "expected a duration" in slash(harness, "mute churn drift soon").message
    assert "at most 30 days" in slash(harness, "mute churn 90d").message


def test_automatic_drift_retraining_once_per_cooldown_never_while_in_flight(make_harness) -> None:  # type: ignore[no-untyped-def]
    harness: Harness = make_harness(
        model_config(retraining={"on_drift": "auto", "cooldown": "6h", "schedule": None})
    )
    scheduler = harness.start()
    platform = harness.platform
    platform.drifted = True

    harness.clock.advance()  # t+1h: the first breach submits one run
    harness.run()
    assert len(platform.submissions) == 1
    first = next(iter(platform.jobs))
    alert = harness.top_level()[0]
    card = harness.replies(alert["ts"])[-1]
    assert "Retraining churn · queued" in text_of(card) and "job-1" in text_of(card)

    for _ in range(2):  # t+2h, t+3h: still breaching, the run is in flight
        harness.clock.advance()
        harness.run()
    assert len(platform.submissions) == 1

    platform.finish(first)  # the watcher (a scheduler job) edits the card and says so
    harness.run("job-watcher")
    replies = harness.replies(alert["ts"])
    edited = next(m for m in replies if m["ts"] == card["ts"])
    assert "Retraining churn completed" in text_of(edited)
    assert "new version v2" in text_of(edited)
    assert "job_deploy" in text_of(edited)  # buttons to deploy / promote the new version
    assert "Retraining churn completed" in text_of(replies[-1]) and replies[-1] is not edited

    for _ in range(3):  # t+4h .. t+6h: finished, but the cooldown (6h from t+1h) holds
        harness.clock.advance()
        harness.run()
    assert len(platform.submissions) == 1

    harness.clock.advance()  # t+7h: the cooldown is over, one more run
    harness.run()
    assert len(platform.submissions) == 2
    assert scheduler.is_leader

    with harness.store.session() as session:
        runs = session.scalars(select(JobRun).order_by(JobRun.submitted_at)).all()
        audits = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "retrain").order_by(AuditEntry.id)
        ).all()
    assert [r.requested_by for r in runs] == ["mlops-bot", "mlops-bot"]
    assert all(r.reason.startswith("triggered by drift breach in prod (automatic)") for r in runs)
    assert runs[0].thread_ts == alert["ts"]  # the watcher reported in the alert's thread
    submitted = [a for a in audits if a.outcome == "submitted"]
    held = [a for a in audits if a.outcome == "held"]
    assert len(submitted) == 2 and all("drift breach" in a.detail["reason"] for a in submitted)
    assert {a.detail["why"] for a in held} == {"in_flight", "cooldown"}
    assert [a.outcome for a in audits].count("completed") == 1
    assert {a.actor for a in audits if a.outcome == "completed"} == {"mlops-bot"}


def test_ask_mode_waits_for_a_person(make_harness) -> None:  # type: ignore[no-untyped-def]
    harness: Harness = make_harness(model_config(retraining={"on_drift": "ask", "schedule": None}))
    harness.start()
    harness.platform.drifted = True
    for _ in range(3):
        harness.clock.advance()
        harness.run()
    assert harness.platform.submissions == []
    card = text_of(harness.top_level()[0])
    assert '"action_id": "alert_retrain"' in card and '"style": "primary"' in card


def test_scheduled_retraining_is_announced_and_skipped_while_in_flight(harness: Harness) -> None:
    harness.start()
    harness.run("retrain:churn")
    harness.run("retrain:churn")
    assert len(harness.platform.submissions) == 1
    announcements = harness.top_level(seed.MLOPS_CHANNEL)
    assert len(announcements) == 2
    assert "Retraining churn · queued" in text_of(announcements[0])
    assert "job-1" in text_of(announcements[0]) and "scheduled (" in text_of(announcements[0])
    assert "skipped" in text_of(announcements[1]) and "in flight" in text_of(announcements[1])
    harness.platform.finish("job-1", JobStatus.FAILED)
    harness.run("job-watcher")
    card = harness.top_level(seed.MLOPS_CHANNEL)[0]
    assert card["ts"] == announcements[0]["ts"]
    assert "Retraining churn failed" in text_of(card) and "out of memory" in text_of(card)
    report = harness.replies(announcements[0]["ts"], seed.MLOPS_CHANNEL)[-1]
    assert "Retraining churn failed" in text_of(report)
