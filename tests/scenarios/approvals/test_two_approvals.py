"""The happy path through the real app: request, two distinct approvals, rollout, retirement."""

from __future__ import annotations

import json
import os
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
    # The command's own answer names the request (it may land after the link: the card is
    # posted by the desk's thread while the command is still answering).
    assert "requested" in bot.wait_ephemeral(seed.ALICE, approval.id)
    assert "/archives/" in link

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
