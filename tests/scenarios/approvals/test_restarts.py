"""Restarts: a pending request survives one and can still be approved; a rollout whose bot was
killed half-way is found on start-up and rolled back; one interrupted before it moved any
traffic is resumed. The card says which."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bot.sandbox import seed
from core.promotion.ownership import HOST
from core.promotion.states import ApprovalState, steps_json
from core.replies import Step, StepState
from infra.platform.local import LocalPlatform
from tests.fakes.signing import post
from tests.scenarios.approvals.harness import (
    APPROVALS,
    MODEL,
    config,
    prepare_platform,
    settings_for,
    wait_until,
)

ROOT = Path(__file__).resolve().parents[3]


def test_pending_request_survives_a_restart_and_can_be_approved(make_bot) -> None:
    first = make_bot()
    approval, ts = first.request()
    first.click(ts, "approval_approve", seed.BOB)
    first.wait_ephemeral(seed.BOB, "1 of 2")
    first.stop()

    second = make_bot()  # a new runtime on the same state directory
    assert second.desk.book.get(approval.id).state is ApprovalState.PENDING
    second.click(ts, "approval_approve", seed.CAROL)
    done = second.wait_state(approval.id, ApprovalState.SUCCEEDED)
    assert [v.user for v in done.votes] == [seed.BOB, seed.CAROL]
    assert second.serving()["2"] == 100
    assert len(second.cards()) == 1  # the card was not posted again


def _start_child(spec_path: Path) -> tuple[subprocess.Popen[str], str]:
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.scenarios.approvals.run_bot", str(spec_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(child.stdout.readline()), daemon=True)
    reader.start()
    reader.join(60)
    assert lines and lines[0].startswith("http://"), "the child bot did not start"
    return child, lines[0].strip() + "/slack/events"


@pytest.mark.slow  # a child process imports the whole bot (several seconds)
def test_rollout_killed_half_way_is_rolled_back_on_start_up(
    make_bot, slack_server, tmp_path
) -> None:
    overrides = {"prod_rollout": {"bake_time": "120s"}}
    state = tmp_path / "state"
    raw = config(**overrides)
    settings = settings_for(raw, state)
    prepare_platform(settings)
    spec = tmp_path / "spec.json"
    spec.write_text(
        json.dumps({"config": raw, "state_dir": str(state), "slack_api_url": slack_server.base_url})
    )
    child, url = _start_child(spec)
    platform = LocalPlatform(settings)
    try:
        act = slack_server.interactions
        post(url, *act.slash_command(f"promote {MODEL} --to prod", user_id=seed.ALICE))
        card = wait_until(lambda: slack_server.messages(APPROVALS), timeout=60)[-1]
        post(url, *act.click(APPROVALS, card["ts"], "approval_approve", user_id=seed.BOB))
        wait_until(lambda: slack_server.ephemerals(seed.BOB), what="Bob's vote")
        post(url, *act.click(APPROVALS, card["ts"], "approval_approve", user_id=seed.CAROL))

        def new_at_ten_percent() -> bool:
            deployments = platform.endpoint_state(MODEL, "prod").deployments
            return any(d.model_version == "2" and d.traffic == 10 for d in deployments)

        wait_until(new_at_ten_percent, timeout=60, what="v2 to take 10% in prod")
    finally:
        child.kill()  # SIGKILL: no clean-up, the rollout stops mid-bake
        child.wait(10)
        platform.close()

    bot = make_bot(state=state, **overrides)
    approval = bot.only_approval()
    done = bot.wait_state(
        approval.id, ApprovalState.ROLLED_BACK, ApprovalState.FAILED, ApprovalState.SUCCEEDED
    )
    assert done.state is ApprovalState.ROLLED_BACK, done.reason
    assert "interrupted by a restart" in done.reason and "10%" in done.reason
    assert bot.serving() == {"1": 100}
    text = wait_until(
        lambda: (
            "Rolled back after a restart" in bot.card_text(card["ts"]) and bot.card_text(card["ts"])
        ),
        what="the card to say it was rolled back",
    )
    assert "approval_approve" not in text
    assert "Rolled back after a restart" in bot.thread_text(card["ts"])
    actions = [(a, o) for _, a, o in bot.audit(approval.id)]
    assert ("promotion_step", "taken_over") in actions and ("promotion", "rolled_back") in actions


def _dead_process() -> dict:
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    return {"host": HOST, "pid": finished.pid, "started": 0.0, "instance": "gone"}


def test_rollout_interrupted_before_any_traffic_moved_is_resumed(make_bot) -> None:
    first = make_bot()
    approval, ts = first.request()
    first.stop()
    # What a bot leaves behind when it dies while copying the version into prod.
    book = first.desk.book
    approved = book.transition(book.require(approval.id), ApprovalState.APPROVED, actor=seed.BOB)
    book.transition(
        approved,
        ApprovalState.ROLLING_OUT,
        actor="mlops-bot",
        rollout={
            "owner": _dead_process(),
            "run": "interrupted",
            "heartbeat": book.clock().isoformat(),
            "attempt": 1,
            "steps": steps_json(
                [Step("Copy v2 from preprod into prod through the registry", StepState.RUNNING)]
            ),
        },
    )

    bot = make_bot()
    done = bot.wait_state(
        approval.id, ApprovalState.SUCCEEDED, ApprovalState.ROLLED_BACK, ApprovalState.FAILED
    )
    assert done.state is ApprovalState.SUCCEEDED, done.reason
    assert done.rollout["attempt"] == 2
    assert bot.serving()["2"] == 100
    wait_until(lambda: "Resumed after a restart" in bot.card_text(ts), what="the card's note")
    assert "Resumed after a restart" in bot.thread_text(ts)
