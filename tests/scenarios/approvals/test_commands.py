"""`/mlops promote` validation, `/mlops approvals` and `/mlops audit`, through signed slash
commands; answers arrive on the command's response URL."""

from __future__ import annotations

from bot.sandbox import seed
from core.promotion.states import ApprovalState
from tests.scenarios.approvals.harness import MODEL, wait_until


def test_promote_refuses_what_cannot_be_promoted(make_bot) -> None:
    bot = make_bot()
    cases = {
        f"promote {MODEL}": "say where to promote with --to",
        f"promote {MODEL} --to dev": "dev is the first environment",
        f"promote {MODEL} --to preprod --from prod": "promotions move forward",
        f"promote {MODEL} 9 --to prod": "version 9 is not registered in preprod",
        f"promote {MODEL} 1 --to prod": "prod already serves v1",
        "promote nosuch --to prod": "unknown model",
    }
    for text, expected in cases.items():
        bot.command(text, user=seed.ALICE)
        bot.wait_ephemeral(seed.ALICE, expected)
    assert bot.approvals() == []

    approval, _ts = bot.request()
    bot.command(f"promote {MODEL} --to prod", user=seed.CAROL)
    duplicate = bot.wait_ephemeral(seed.CAROL, "already pending")
    assert approval.id in duplicate
    assert len(bot.approvals()) == 1


def test_preprod_takes_one_approval_from_the_group(make_bot) -> None:
    bot = make_bot()
    bot.platform.copy_version(MODEL, "1", "preprod", "dev")
    from tests.scenarios.approvals.harness import deploy

    deploy(bot.platform, "1", "dev")
    approval, ts = bot.request(f"promote {MODEL} 1 --to preprod")
    assert approval.required == 1 and approval.source_env == "dev"
    bot.click(ts, "approval_approve", seed.ALICE)  # the requester may not approve...
    assert "never counts" in bot.wait_ephemeral(seed.ALICE, "You cannot approve")
    bot.click(ts, "approval_approve", seed.CAROL)  # ...one approver is enough here
    bot.wait_state(approval.id, ApprovalState.SUCCEEDED)
    assert bot.serving("preprod")["1"] == 100


def test_approvals_lists_pending_and_audit_shows_the_trail(make_bot) -> None:
    bot = make_bot()
    approval, ts = bot.request()
    bot.click(ts, "approval_approve", seed.DAVE)
    bot.click(ts, "approval_approve", seed.BOB)
    bot.wait_ephemeral(seed.BOB, "1 of 2")

    bot.command("approvals", user=seed.CAROL)
    listing = bot.wait_ephemeral(seed.CAROL, "Waiting for approval")
    assert approval.id in listing and "1 of 2 approvals" in listing

    bot.click(ts, "approval_approve", seed.CAROL)
    bot.wait_state(approval.id, ApprovalState.SUCCEEDED)

    bot.command(f"audit {MODEL} --env prod --limit 200", user=seed.DAVE)
    trail = bot.wait_ephemeral(seed.DAVE, "Audit trail")
    for expected in (
        "requested v2 preprod → prod",
        "Approve refused: approvals for prod come from @ml-approvers",
        "request pending → approved",
        "request approved → rolling_out",
        "created deployment",
        "traffic",
        "request rolling_out → succeeded",
        f"<@{seed.BOB}>",
    ):
        assert expected in trail, expected
    assert trail.index("requested v2") < trail.index("rolling_out → succeeded")

    bot.command(f"audit {MODEL} --request {approval.id}", user=seed.DAVE)
    wait_until(lambda: sum("Audit trail" in t for t in bot.ephemeral_texts(seed.DAVE)) == 2)
    bot.command(f"audit {MODEL} --request nope", user=seed.DAVE)
    bot.wait_ephemeral(seed.DAVE, "expected a request id")


def test_promote_button_under_a_training_result_requests_a_promotion(make_bot) -> None:
    from tests.fakes.signing import block_actions

    bot = make_bot()
    button = {
        "type": "button",
        "action_id": "job_promote",
        "text": {"type": "plain_text", "text": "Promote v2 to prod"},
        "value": f"{MODEL}|2|prod",
    }
    _ch, message = bot.server.workspace.post_message(
        seed.MLOPS_CHANNEL,
        user_id=seed.BOT_USER_ID,
        text="Retraining finished",
        blocks=[{"type": "actions", "block_id": "job", "elements": [button]}],
    )

    def press(value: str, user: str) -> None:
        bot.send(
            block_actions(
                "job_promote",
                value,
                user_id=user,
                channel_id=seed.MLOPS_CHANNEL,
                message=message,
                response_url=bot.server.new_response_url(seed.MLOPS_CHANNEL, user, kind="actions"),
            )
        )

    press(f"{MODEL}|2|prod --from dev", seed.DAVE)  # a forged value never reaches the parser
    assert "not valid" in bot.wait_ephemeral(seed.DAVE, "not valid")
    press(f"{MODEL}|2|prod", seed.ALICE)
    bot.wait_ephemeral(seed.ALICE, "requested")
    card = wait_until(lambda: bot.cards(), what="the card")[0]
    assert "Promote churn-model v2: preprod → prod" in bot.card_text(card["ts"])
