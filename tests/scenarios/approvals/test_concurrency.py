"""Twenty Approve clicks at the same moment (two approvers, ten clicks each): one rollout."""

from __future__ import annotations

import threading

from bot.sandbox import seed
from core.promotion.states import ApprovalState
from tests.fakes.signing import HttpResult
from tests.scenarios.approvals.harness import wait_until


def test_twenty_concurrent_approve_clicks_start_exactly_one_rollout(make_bot) -> None:
    bot = make_bot()
    approval, ts = bot.request()
    clickers = [seed.BOB, seed.CAROL] * 10
    requests = [
        bot.server.interactions.click(seed.APPROVALS_CHANNEL, ts, "approval_approve", user_id=u)
        for u in clickers
    ]
    start = threading.Barrier(len(requests))
    results: list[HttpResult] = []

    def press(index: int) -> None:
        start.wait()
        results.append(bot.send(requests[index]))

    threads = [threading.Thread(target=press, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == 20 and all(r.status == 200 for r in results)
    assert max(r.elapsed for r in results) < 3.0  # every click acked within Slack's 3 s

    done = bot.wait_state(approval.id, ApprovalState.SUCCEEDED, ApprovalState.ROLLED_BACK)
    assert done.state is ApprovalState.SUCCEEDED, done.reason
    assert sorted(v.user for v in done.votes) == sorted([seed.BOB, seed.CAROL])
    # The rollout can end before the last of the twenty clicks has been looked at (two
    # workers take them in turn): count the trail once every click has been handled.
    assert bot.runtime.services.workers.wait_idle(60), "clicks still being handled"
    trail = bot.audit(approval.id)
    actions = [(a, o) for _, a, o in trail]
    assert actions.count(("promotion", "approved")) == 1
    assert actions.count(("promotion", "rolling_out")) == 1
    assert actions.count(("deployment_created", "ok")) == 1
    assert actions.count(("approval_approve", "recorded")) == 2
    assert (
        actions.count(("approval_approve", "duplicate"))
        + actions.count(("approval_approve", "ignored"))
        == 18
    )
    deployments = bot.platform.endpoint_state("churn-model", "prod").deployments
    assert [d.model_version for d in deployments].count("2") == 1
    # everyone got an answer, and exactly one was told their vote started the rollout
    answers = wait_until(
        lambda: (
            (texts := bot.ephemeral_texts(seed.BOB) + bot.ephemeral_texts(seed.CAROL))
            and len(texts) >= 20
            and texts
        ),
        what="twenty answers",
    )
    assert sum("completes the policy" in t for t in answers) == 1
