"""Two bot replicas on one store and one Slack: one card, one vote per person, one rollout."""

from __future__ import annotations

import threading

from bot.sandbox import seed
from core.promotion.states import ApprovalState
from tests.fakes.signing import post
from tests.scenarios.approvals.harness import APPROVALS, MODEL, wait_until


def test_two_replicas_post_one_card_and_run_one_rollout(make_bot) -> None:
    first, second = make_bot(), make_bot()
    first.command(f"promote {MODEL} --to prod")
    card = wait_until(lambda: first.cards(), what="a card")[0]
    approval = wait_until(
        lambda: (a := first.approvals()) and a[0].published and a[0], what="the card recorded"
    )
    requests = []
    for user in (seed.BOB, seed.CAROL) * 5:
        for bot in (first, second):
            requests.append(
                (
                    bot,
                    first.server.interactions.click(
                        APPROVALS, card["ts"], "approval_approve", user_id=user
                    ),
                )
            )
    go = threading.Barrier(len(requests))

    def press(bot, request) -> None:
        go.wait()
        post(bot.url, request.body, request.headers)

    threads = [threading.Thread(target=press, args=pair) for pair in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    done = second.wait_state(approval.id, ApprovalState.SUCCEEDED, ApprovalState.ROLLED_BACK)
    assert done.state is ApprovalState.SUCCEEDED, done.reason
    assert len(first.cards()) == 1
    actions = [(a, o) for _, a, o in first.audit(approval.id)]
    assert actions.count(("promotion", "rolling_out")) == 1
    assert actions.count(("deployment_created", "ok")) == 1
    assert actions.count(("approval_approve", "recorded")) == 2
    deployments = first.platform.endpoint_state(MODEL, "prod").deployments
    assert [d.model_version for d in deployments].count("2") == 1
