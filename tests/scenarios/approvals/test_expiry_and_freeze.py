"""Time-bound rules: an unanswered request expires (the card loses its buttons) and a freeze
window refuses requests (and approvals) with its reason."""

from __future__ import annotations

import json

from bot.sandbox import seed
from core.promotion.states import ApprovalState
from tests.scenarios.approvals.harness import MODEL, wait_until


def test_expiry_marks_the_card_expired_and_removes_the_buttons(make_bot) -> None:
    # Long enough that a loaded machine gets Bob's vote in before the request expires.
    bot = make_bot(prod_approval={"expiry": "5s"})
    approval, ts = bot.request()
    pending = bot.card(ts)
    bot.click(ts, "approval_approve", seed.BOB)
    bot.wait_ephemeral(seed.BOB, "1 of 2")

    done = bot.wait_state(approval.id, ApprovalState.EXPIRED, timeout=30)
    assert "nobody completed the approvals" in (done.reason or "")
    card = wait_until(lambda: (c := bot.card(ts)) and "Expired" in json.dumps(c["blocks"]) and c)
    assert not [b for b in card["blocks"] if b["type"] == "actions"]
    wait_until(lambda: "expired with 1 of 2 approvals" in bot.thread_text(ts))

    bot.click_stale(pending, "approval_approve", seed.CAROL)
    assert "already expired" in bot.wait_ephemeral(seed.CAROL, "already expired")
    assert bot.serving() == {"1": 100}
    assert (("mlops-bot", "promotion", "expired")) in bot.audit(approval.id)


def test_freeze_window_refuses_the_request_with_its_reason(make_bot) -> None:
    freeze = {"cron": "* * * * *", "duration": "1m", "reason": "quarter-end close"}
    bot = make_bot(prod_approval={"freeze_windows": [freeze]})
    bot.command(f"promote {MODEL} --to prod")
    answer = bot.wait_ephemeral(seed.ALICE, "frozen")
    assert "promotions into prod are frozen until" in answer
    assert "quarter-end close" in answer
    assert bot.approvals() == [] and bot.cards() == []
    refused = [
        e for e in bot.runtime.store.audit_trail(model=MODEL) if e.action == "promotion_request"
    ]
    assert refused and refused[0].outcome == "refused"
    assert "quarter-end close" in refused[0].detail["reason"]

    # the freeze belongs to prod: a request into preprod gets past it (and fails later, for
    # another reason: v1 was never deployed in dev)
    bot.command(f"promote {MODEL} 1 --to preprod --from dev")
    assert "frozen" not in bot.wait_ephemeral(seed.ALICE, "not deployed in dev")
