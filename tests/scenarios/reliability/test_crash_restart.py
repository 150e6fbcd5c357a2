"""kill -9 at the worst moments, then a restart on the same state: nothing is done twice,
nothing is forgotten, and the cards tell the truth. Schedules, mutes, alert state and pending
approvals survive.

The bot runs in a child process (``crash_bot.py``) that sends itself SIGKILL at a chosen point:
right after the approval that completes the policy is recorded, after a rollout has moved the
first share of traffic, and inside a scheduled check just before its alert card goes to Slack.
The restarted bot is a new runtime on the same database, platform state and fake Slack.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox import seed
from core.promotion.states import ApprovalState
from infra.platform.local import LocalPlatform
from infra.store import Alert, JobRun, Lock, default_database_url, open_store
from jobs.alerts import list_mutes
from tests.fakes.signing import post
from tests.fakes.slack_server import FakeSlackServer
from tests.scenarios.approvals.harness import (
    APPROVALS,
    MODEL,
    config,
    prepare_platform,
    settings_for,
    wait_until,
)
from tests.scenarios.scheduling.conftest import text_of

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.slow  # each scenario starts a bot in a child process


class Child:
    """The crashing bot: started, driven by signed requests, and found dead."""

    def __init__(self, spec: dict[str, Any], tmp: Path, env: dict[str, str] | None = None) -> None:
        path = tmp / f"spec-{spec.get('die_at')}.json"
        path.write_text(json.dumps(spec))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.scenarios.reliability.crash_bot", str(path)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        )
        lines: list[str] = []
        reader = threading.Thread(
            target=lambda: lines.append(self.process.stdout.readline()), daemon=True
        )
        reader.start()
        reader.join(90)
        assert lines and lines[0].startswith("http://"), "the child bot did not start"
        self.url = lines[0].strip() + "/slack/events"

    def send(self, request: Any) -> None:
        body, headers = request
        post(self.url, body, headers)

    def wait_killed(self, timeout: float = 60) -> None:
        code = self.process.wait(timeout)
        assert code == -9, f"the bot exited with {code}, not SIGKILL"

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        if self.process.stdout is not None:
            self.process.stdout.close()


def _request_and_approve(child: Child, slack: FakeSlackServer) -> str:
    act = slack.interactions
    child.send(act.slash_command(f"promote {MODEL} --to prod", user_id=seed.ALICE))
    card = wait_until(lambda: slack.messages(APPROVALS), timeout=30, what="the card")[-1]
    child.send(act.click(APPROVALS, card["ts"], "approval_approve", user_id=seed.BOB))
    wait_until(lambda: slack.ephemerals(seed.BOB), timeout=60, what="Bob's vote")
    child.send(act.click(APPROVALS, card["ts"], "approval_approve", user_id=seed.CAROL))
    return card["ts"]


def _thread_lines(slack: FakeSlackServer, ts: str) -> list[str]:
    return [m.get("text", "") for m in slack.thread(APPROVALS, ts)[1:]]


def _approval_child(die_at: str, slack: FakeSlackServer, tmp: Path, **overrides: Any):
    state = tmp / "state"
    raw = config(**overrides)
    settings = settings_for(raw, state)
    prepare_platform(settings)
    spec = {
        "config": raw,
        "state_dir": str(state),
        "slack_api_url": slack.base_url,
        "die_at": die_at,
    }
    return Child(spec, tmp), state, settings


def test_killed_between_the_approval_and_its_rollout(make_bot, slack_server, tmp_path) -> None:
    child, state, _ = _approval_child("approved", slack_server, tmp_path)
    try:
        ts = _request_and_approve(child, slack_server)
        child.wait_killed()
    finally:
        child.kill()
    bot = make_bot(state=state)
    bot.desk.approved_grace = bot.desk.approved_grace.__class__(seconds=0.5)
    approval = bot.only_approval()
    # The approval was not forgotten. (On a slow machine the restarted bot's first sweep may
    # already have picked it up: the grace for an unclaimed approval is measured from the vote.)
    assert approval.state in (ApprovalState.APPROVED, ApprovalState.ROLLING_OUT)
    assert sorted(approval.approvers) == sorted([seed.BOB, seed.CAROL])
    done = bot.wait_state(
        approval.id,
        ApprovalState.SUCCEEDED,
        ApprovalState.FAILED,
        ApprovalState.ROLLED_BACK,
        timeout=60,
    )
    assert done.state is ApprovalState.SUCCEEDED, done.reason
    assert bot.serving()["2"] == 100
    deployments = bot.platform.endpoint_state(MODEL, "prod").deployments
    assert [d.model_version for d in deployments].count("2") == 1  # rolled out once
    actions = [(a, o) for _, a, o in bot.audit(approval.id)]
    assert actions.count(("promotion", "rolling_out")) == 1
    assert actions.count(("deployment_created", "ok")) == 1
    wait_until(lambda: "Promoted" in bot.card_text(ts), what="the card to say Promoted")
    assert len(bot.cards()) == 1
    lines = _thread_lines(slack_server, ts)
    assert len(lines) == len(set(lines)), lines


def test_killed_during_a_rollout_is_rolled_back_once_on_restart(
    make_bot, slack_server, tmp_path
) -> None:
    overrides = {"prod_rollout": {"bake_time": "30s"}}
    child, state, settings = _approval_child("traffic", slack_server, tmp_path, **overrides)
    try:
        ts = _request_and_approve(child, slack_server)
        child.wait_killed()
    finally:
        child.kill()
    platform = LocalPlatform(settings)
    try:
        serving = {
            d.model_version: d.traffic for d in platform.endpoint_state(MODEL, "prod").deployments
        }
    finally:
        platform.close()
    assert serving.get("2") == 10  # it died with v2 taking 10%
    bot = make_bot(state=state, **overrides)
    approval = bot.only_approval()
    done = bot.wait_state(
        approval.id,
        ApprovalState.ROLLED_BACK,
        ApprovalState.FAILED,
        ApprovalState.SUCCEEDED,
        timeout=60,
    )
    assert done.state is ApprovalState.ROLLED_BACK, done.reason
    assert "interrupted by a restart" in (done.reason or "")
    assert bot.serving() == {"1": 100}
    text = wait_until(
        lambda: "Rolled back after a restart" in bot.card_text(ts) and bot.card_text(ts),
        what="the card to tell the truth",
    )
    assert "approval_approve" not in text
    actions = [(a, o) for _, a, o in bot.audit(approval.id)]
    assert actions.count(("promotion_step", "taken_over")) == 1
    assert actions.count(("promotion", "rolled_back")) == 1
    bot.desk.sweep()  # another sweep finds nothing left to do
    assert [(a, o) for _, a, o in bot.audit(approval.id)] == actions
    lines = _thread_lines(slack_server, ts)
    assert len(lines) == len(set(lines)), lines


def test_killed_during_a_scheduled_check_and_what_survives(
    seeded_template, start_demo_bot, state_dir, slack_server, tmp_path, monkeypatch
) -> None:
    # Before the crash: a pending promotion request, a mute, the configured schedules.
    trigger = tmp_path / "run-the-check"
    spec = {
        "state_dir": str(state_dir),
        "slack_api_url": slack_server.base_url,
        "die_at": "alert_post",
        "run_job": "drift:churn-model:prod",
        "trigger": str(trigger),
    }
    child = Child(spec, tmp_path, env={"MLOPS_BOT_SCHEDULE": "on"})
    try:
        act = slack_server.interactions
        child.send(act.slash_command(f"promote {MODEL} --to prod", user_id=seed.ALICE))
        card = wait_until(lambda: slack_server.messages(APPROVALS), timeout=30, what="a card")[-1]
        child.send(act.slash_command(f"mute {MODEL} performance 24h", user_id=seed.BOB))
        observer = open_store(default_database_url(state_dir))
        try:
            wait_until(
                lambda: list_mutes(observer, MODEL, datetime.now(UTC)), timeout=60, what="the mute"
            )
        finally:
            observer.close()
        # Now the hourly drift check runs, breaches, and the bot dies posting its alert.
        trigger.touch()
        child.wait_killed(120)
    finally:
        child.kill()
    assert slack_server.messages(seed.ALERTS_CHANNEL) == []

    monkeypatch.setenv("MLOPS_BOT_SCHEDULE", "on")
    bot = start_demo_bot(background=True)
    runtime = bot.runtime
    store = runtime.store
    # The alert card that never reached Slack is delivered by the restarted bot, once.
    alert_card = wait_until(
        lambda: slack_server.messages(seed.ALERTS_CHANNEL), timeout=30, what="the alert card"
    )
    assert len(alert_card) == 1 and "Drift alert" in text_of(alert_card[0])

    def card_recorded() -> Alert | None:
        # The outbox records where the card went right after Slack answers; wait for that.
        with store.session() as session:
            row = session.get(Alert, f"{MODEL}/prod/drift")
            return row if row is not None and row.message_ts else None

    row = wait_until(card_recorded, timeout=60, what="the card's ts on the alert")
    assert row.state == "open" and row.message_ts == alert_card[0]["ts"]
    with store.session() as session:
        claims = [
            lock.name
            for lock in session.query(Lock).all()
            if lock.name.startswith("run:drift:churn-model:prod@")
        ]
    assert len(claims) == 1  # the killed occurrence is not run a second time ...
    scheduler = runtime.services.scheduler
    assert "drift:churn-model:prod" in scheduler.job_ids()  # ... and the schedule is still there
    # The killed leader's lease was taken over at once (same host, its pid is gone), so the
    # next check runs through the scheduler; it replies in the alert's thread, no second card.
    wait_until(lambda: scheduler.is_leader, timeout=10, what="the restarted bot to lead")
    assert scheduler.run_and_wait("drift:churn-model:prod", 60)
    wait_until(
        lambda: any(
            "Still breaching" in text_of(m)
            for m in slack_server.thread(seed.ALERTS_CHANNEL, alert_card[0]["ts"])
        ),
        timeout=60,
        what="a reply in the alert's thread",
    )
    assert len(slack_server.messages(seed.ALERTS_CHANNEL)) == 1
    # The mute and the pending request survived, and the request can still be approved.
    assert [m.signal for m in list_mutes(store, MODEL, row.opened_at)] == ["performance"]
    desk = runtime.services.desk
    pending = desk.book.in_states([ApprovalState.PENDING])
    assert len(pending) == 1 and pending[0].message_ts == card["ts"]
    bot.send(act.click(APPROVALS, card["ts"], "approval_approve", user_id=seed.BOB))
    wait_until(
        lambda: len(desk.book.require(pending[0].id).votes) == 1, what="the vote after the restart"
    )
    with store.session() as session:
        assert session.query(JobRun).count() == 0  # drift retraining is "ask": nothing submitted
