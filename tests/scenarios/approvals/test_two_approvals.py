"""The happy path through the real app: request, two distinct approvals, rollout, retirement."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from bot.sandbox import seed
from core.promotion.states import ApprovalState
from tests.scenarios.approvals.harness import MODEL, wait_until


def _actions(card: dict) -> list[dict]:
    return [b for b in card["blocks"] if b["type"] == "actions"]


def test_two_approvals_needed_then_rollout_succeeds(make_bot, tmp_path: Path) -> None:
    bot = make_bot()
    approval, ts = bot.request()
    assert approval.state is ApprovalState.PENDING
    assert (approval.version, approval.source_env, approval.target_env) == ("2", "preprod", "prod")
    assert approval.required == 2

    before = bot.card(ts)
    # Nothing changed between posting the card and recording it: Slack must not show a
    # brand-new card as "(edited)".
    bot.wait_ephemeral(seed.ALICE, "open the card")
    assert "edited" not in bot.card(ts)
    buttons = _actions(before)[0]["elements"]
    assert [b["action_id"] for b in buttons] == [
        "approval_approve",
        "approval_reject",
        "approval_cancel",
    ]
    assert all(b["value"] == approval.id for b in buttons)
    assert "confirm" in buttons[0]  # production asks before approving
    text = bot.card_text(ts)
    assert "0 of 2 approvals" in text and "@ml-approvers" in text and "v1" in text
    link = bot.wait_ephemeral(seed.ALICE, "open the card")
    # One answer: the command waits a moment for the card and names the request, its policy
    # and the card's link together (the desk leaves the link to it).
    assert "requested" in link and approval.id in link and "It needs 2" in link
    assert "/archives/" in link
    time.sleep(0.5)  # a second message would come from the desk right after the card
    assert len([t for t in bot.ephemeral_texts(seed.ALICE) if approval.id in t]) == 1

    bot.click(ts, "approval_approve", seed.BOB)
    bot.wait_ephemeral(seed.BOB, "1 of 2")
    wait_until(lambda: "1 of 2 approvals" in bot.card_text(ts), what="the card to count 1 of 2")
    assert bot.desk.book.get(approval.id).state is ApprovalState.PENDING
    assert bot.serving() == {"1": 100}

    bot.click(ts, "approval_approve", seed.CAROL)
    done = bot.wait_state(approval.id, ApprovalState.SUCCEEDED)
    assert {"2": 100}.items() <= bot.serving().items()
    after = wait_until(
        lambda: (c := bot.card(ts)) and "Promoted" in json.dumps(c["blocks"]) and c,
        what="the card to say Promoted",
    )
    assert not _actions(after)
    assert ":white_check_mark: Shift 100% of traffic" in json.dumps(after["blocks"])
    thread = wait_until(lambda: "is live" in bot.thread_text(ts) and bot.thread_text(ts))
    for person in (seed.ALICE, seed.BOB, seed.CAROL):
        assert f"<@{person}>" in thread
    assert [v.user for v in done.votes] == [seed.BOB, seed.CAROL]

    # the old deployment is kept for rollback, then retired after retire_after (1s here)
    wait_until(lambda: bot.serving() == {"2": 100}, what="the old deployment to be retired")
    wait_until(lambda: "removed" in bot.card_text(ts), what="the card to show the retirement")

    trail = bot.audit(approval.id)
    assert trail[0] == (seed.ALICE, "promotion_request", "created")
    assert (seed.BOB, "approval_approve", "recorded") in trail
    assert (seed.CAROL, "promotion", "approved") in trail
    assert [a for _, a, o in trail if a == "deployment_created"] == ["deployment_created"]
    assert ("mlops-bot", "promotion", "succeeded") in trail

    preview = os.environ.get("MLOPS_BOT_CARD_PREVIEW_DIR")
    if preview:
        Path(preview).mkdir(parents=True, exist_ok=True)
        Path(preview, "approval-before.json").write_text(
            json.dumps({"blocks": before["blocks"]}, indent=2)
        )
        Path(preview, "approval-after.json").write_text(
            json.dumps({"blocks": bot.card(ts)["blocks"]}, indent=2)
        )
    assert MODEL in json.dumps(before["blocks"])
