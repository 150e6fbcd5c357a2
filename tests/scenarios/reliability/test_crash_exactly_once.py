"""kill -9 at the edges (issue 17): between an acked click and its work, and between a state
change and the messages announcing it. A restarted bot on the same state finishes what was
acked, exactly once, and the thread says each thing once.

The bot runs in a child process (``crash_bot.py``) that sends itself SIGKILL at the chosen
point; the restart is a new runtime on the same database, platform state and fake Slack.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.sandbox import seed
from core.promotion.states import ApprovalState
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
from tests.scenarios.reliability.test_crash_restart import Child

pytestmark = pytest.mark.slow  # each scenario starts a bot in a child process


def _start(die_at: str, slack: FakeSlackServer, tmp: Path) -> tuple[Child, Path]:
    state = tmp / "state"
    raw = config()
    prepare_platform(settings_for(raw, state))
    spec = {
        "config": raw,
        "state_dir": str(state),
        "slack_api_url": slack.base_url,
        "die_at": die_at,
        "die_user": seed.CAROL,
    }
    return Child(spec, tmp), state


def _approve_both(child: Child, slack: FakeSlackServer) -> str:
    """Request, Bob approves (answered), Carol approves: her click must be acked (200)."""
    act = slack.interactions
    child.send(act.slash_command(f"promote {MODEL} --to prod", user_id=seed.ALICE))
    card = wait_until(lambda: slack.messages(APPROVALS), timeout=30, what="the card")[-1]
    child.send(act.click(APPROVALS, card["ts"], "approval_approve", user_id=seed.BOB))
    wait_until(lambda: slack.ephemerals(seed.BOB), timeout=60, what="Bob's vote")
    body, headers = act.click(APPROVALS, card["ts"], "approval_approve", user_id=seed.CAROL)
    acked = post(child.url, body, headers)
    assert acked.status == 200, "Carol's click was not acked"
    return card["ts"]


def _thread(slack: FakeSlackServer, ts: str) -> list[str]:
    return [m.get("text", "") for m in slack.thread(APPROVALS, ts)[1:]]


def _assert_rolled_out_once(bot, slack: FakeSlackServer, ts: str) -> None:
    approval = bot.only_approval()
    done = bot.wait_state(
        approval.id, ApprovalState.SUCCEEDED, ApprovalState.FAILED, ApprovalState.ROLLED_BACK
    )
    assert done.state is ApprovalState.SUCCEEDED, done.reason
    assert sorted(done.approvers) == sorted([seed.BOB, seed.CAROL])  # the acked vote counted
    actions = [(a, o) for _, a, o in bot.audit(approval.id)]
    assert actions.count(("approval_approve", "recorded")) == 2
    assert actions.count(("promotion", "approved")) == 1
    assert actions.count(("promotion", "rolling_out")) == 1
    assert actions.count(("deployment_created", "ok")) == 1
    assert bot.serving() == {"2": 100} or bot.serving().get("2") == 100
    wait_until(lambda: "Promoted" in bot.card_text(ts), what="the card to say Promoted")
    lines = wait_until(
        lambda: (t := _thread(slack, ts)) and any("Rolling out" in x for x in t) and t,
        what="the thread lines",
    )
    assert len(lines) == len(set(lines)), lines
    assert sum("(2 of 2)" in line for line in lines) == 1, lines  # Carol's vote line
    assert sum("Rolling out" in line for line in lines) == 1, lines


def test_killed_between_the_ack_of_a_vote_and_its_work(make_bot, slack_server, tmp_path) -> None:
    child, state = _start("vote_work", slack_server, tmp_path)
    try:
        ts = _approve_both(child, slack_server)
        child.wait_killed()
    finally:
        child.kill()
    bot = make_bot(state=state)  # drains the inbox the killed process left
    _assert_rolled_out_once(bot, slack_server, ts)
    assert bot.runtime.services.inbox.inbox.pending() == 0


def test_killed_between_the_state_change_and_its_notification(
    make_bot, slack_server, tmp_path
) -> None:
    child, state = _start("vote_committed", slack_server, tmp_path)
    try:
        ts = _approve_both(child, slack_server)
        child.wait_killed()
    finally:
        child.kill()
    bot = make_bot(state=state)
    _assert_rolled_out_once(bot, slack_server, ts)
