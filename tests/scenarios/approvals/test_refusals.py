"""Clicks that must change nothing: people outside the policy, the requester in production,
forged button values, double clicks and Slack retries; plus Reject (with its reason dialog)
and Cancel."""

from __future__ import annotations

import json

from bot.sandbox import seed
from core.promotion.states import ApprovalState
from tests.scenarios.approvals.harness import MODEL, wait_until


def test_non_approver_and_requesters_own_click_are_refused_and_audited(make_bot) -> None:
    bot = make_bot()
    approval, ts = bot.request(user=seed.BOB)  # Bob is an approver, but he asked

    bot.click(ts, "approval_approve", seed.DAVE)
    dave = bot.wait_ephemeral(seed.DAVE, "You cannot approve")
    assert "Approvals for prod come from @ml-approvers" in dave
    assert "Nothing was changed" in dave

    bot.click(ts, "approval_approve", seed.BOB)
    bob = bot.wait_ephemeral(seed.BOB, "You cannot approve")
    assert "requester's own approval never counts" in bob
    assert "allow_self_approval" in bob

    current = bot.desk.book.get(approval.id)
    assert current.state is ApprovalState.PENDING and current.votes == ()
    assert current.row_version == approval.row_version
    assert "0 of 2 approvals" in bot.card_text(ts)
    trail = bot.audit(approval.id)
    assert (seed.DAVE, "approval_approve", "denied") in trail
    assert (seed.BOB, "approval_approve", "denied") in trail
    rules = [
        e.detail["rule"]
        for e in bot.runtime.store.audit_trail(subject=approval.id)
        if e.outcome == "denied"
    ]
    assert any("@ml-approvers" in r for r in rules) and any("requester" in r for r in rules)


def test_forged_button_values_are_refused(make_bot) -> None:
    bot = make_bot()
    approval, ts = bot.request()
    for forged in ("0123456789ab", "not-an-id'; drop table approvals", approval.id + "0"):
        bot.click(ts, "approval_approve", seed.BOB, value=forged)
    # a real id on a message that is not its card
    other = bot.server.workspace.post_message(
        seed.APPROVALS_CHANNEL, user_id=seed.BOT_USER_ID, text="x", blocks=bot.card(ts)["blocks"]
    )[1]
    bot.click(other["ts"], "approval_approve", seed.CAROL)
    wait_until(
        lambda: len([t for t in bot.ephemeral_texts(seed.BOB) if "does not belong" in t]) == 3
    )
    bot.wait_ephemeral(seed.CAROL, "does not belong")
    assert bot.desk.book.get(approval.id).votes == ()
    refused = bot.runtime.store.audit_trail(model=None, limit=50)
    assert sum(1 for e in refused if e.action == "approval_approve" and e.outcome == "refused") == 4


def test_double_clicks_and_slack_retries_count_once(make_bot) -> None:
    bot = make_bot()
    approval, ts = bot.request()
    request = bot.server.interactions.click(
        seed.APPROVALS_CHANNEL, ts, "approval_approve", user_id=seed.BOB
    )
    bot.send(request)
    bot.send(request, **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    bot.click(ts, "approval_approve", seed.BOB)
    wait_until(
        lambda: len([t for t in bot.ephemeral_texts(seed.BOB) if "1 of 2" in t]) == 2,
        what="two answers to Bob",
    )
    bot.runtime.services.workers.wait_idle(10)
    current = bot.desk.book.get(approval.id)
    assert [v.user for v in current.votes] == [seed.BOB]
    assert current.state is ApprovalState.PENDING
    # Slack's retry is the same interaction (same action_ts, user and action): the inbox keeps
    # one row for both deliveries, so it is run, answered and audited once. The second click is
    # a new interaction: answered "already approved" and audited as a duplicate.
    assert sum("already approved" in t for t in bot.ephemeral_texts(seed.BOB)) == 1
    outcomes = [o for _, a, o in bot.audit(approval.id) if a == "approval_approve"]
    assert sorted(outcomes) == ["duplicate", "recorded"]


def test_reject_asks_for_a_reason_and_ends_the_request(make_bot) -> None:
    bot = make_bot()
    approval, ts = bot.request()

    bot.click(ts, "approval_reject", seed.DAVE)  # not an approver: no dialog
    assert "You cannot reject" in bot.wait_ephemeral(seed.DAVE, "You cannot reject")

    pending_card = bot.card(ts)
    bot.click(ts, "approval_reject", seed.CAROL)
    view = wait_until(lambda: bot.server.workspace.views._stacks.get(seed.CAROL), what="the dialog")
    view_id = view[-1]
    too_short = bot.send(
        bot.server.interactions.submit_view(
            view_id, {"reason": {"reason_input": {"type": "plain_text_input", "value": " "}}}
        )
    )
    assert too_short.json()["response_action"] == "errors"
    assert bot.desk.book.get(approval.id).state is ApprovalState.PENDING

    reason = "<!channel> drift in preprod is unexplained"
    bot.send(
        bot.server.interactions.submit_view(
            view_id, {"reason": {"reason_input": {"type": "plain_text_input", "value": reason}}}
        )
    )
    done = bot.wait_state(approval.id, ApprovalState.REJECTED)
    assert done.reason == reason
    card = wait_until(lambda: (c := bot.card(ts)) and "Rejected" in json.dumps(c["blocks"]) and c)
    assert not [b for b in card["blocks"] if b["type"] == "actions"]
    text = json.dumps(card["blocks"])
    assert "&lt;!channel&gt; drift in preprod" in text and "<!channel>" not in text
    assert f"<@{seed.CAROL}>" in text
    wait_until(lambda: "rejected this request" in bot.thread_text(ts))

    bot.click_stale(pending_card, "approval_approve", seed.BOB)
    assert "already rejected" in bot.wait_ephemeral(seed.BOB, "already rejected")
    assert bot.serving() == {"1": 100}


def test_only_the_requester_can_cancel(make_bot) -> None:
    bot = make_bot()
    approval, ts = bot.request()
    bot.click(ts, "approval_cancel", seed.BOB)
    assert "Only the requester" in bot.wait_ephemeral(seed.BOB, "You cannot cancel")
    assert bot.desk.book.get(approval.id).state is ApprovalState.PENDING
    bot.click(ts, "approval_cancel", seed.ALICE)
    bot.wait_state(approval.id, ApprovalState.CANCELED)
    wait_until(
        lambda: "Canceled" in bot.card_text(ts) and "approval_approve" not in bot.card_text(ts)
    )
    bot.command(f"promote {MODEL} --to prod")  # a new request is possible again
    wait_until(lambda: len(bot.cards()) == 2, what="a second card")
