"""Shadow evaluation before approval, through the real app: the candidate is deployed at 0%
with live traffic mirrored to it, the card's Evidence section fills in, Approve is offered only
once the minimum of mirrored requests is met (a click before that is refused, saying why), and
the rollout reuses the shadow deployment. A request that ends without a rollout removes it."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from bot.sandbox import seed
from core.promotion.evidence import ShadowState, shadow_view
from core.promotion.states import ApprovalState
from tests.scenarios.approvals.harness import MODEL, Bot, wait_until
from tests.scenarios.approvals.models import training_frame

MIN_REQUESTS = 40
SHADOW = {
    "mirror": "50%",
    "min_requests": MIN_REQUESTS,
    "max_duration": "1h",
    "required": True,
    "refresh": "0.2s",
}


def _actions(card: dict[str, Any]) -> list[str]:
    return [e["action_id"] for b in card["blocks"] if b["type"] == "actions" for e in b["elements"]]


def _live_traffic(bot: Bot, rows: int, seed_: int) -> None:
    """Live requests to prod, one per row, with their labels known at once."""
    frame, labels = training_frame(rows=rows, seed=seed_)
    ids = [uuid.uuid4().hex for _ in range(rows)]
    bot.platform.score(MODEL, "prod", frame, correlation_ids=ids, request_ids=ids, seed=seed_)
    bot.platform.record_labels(MODEL, "prod", dict(zip(ids, labels.tolist(), strict=True)))
    bot.platform.flush()


def _mirroring(bot: Bot, approval_id: str) -> Any:
    def check() -> Any:
        view = shadow_view(bot.desk.book.require(approval_id))
        return view if view is not None and view.state is ShadowState.MIRRORING else None

    return wait_until(check, 60, "the shadow deployment to mirror prod's traffic")


def test_approve_waits_for_the_evidence_and_the_rollout_reuses_the_shadow(make_bot) -> None:
    bot = make_bot(prod_approval={"shadow": SHADOW})
    approval, ts = bot.request()
    card = bot.card(ts)
    assert _actions(card) == ["approval_reject", "approval_cancel"]  # no Approve yet

    view = _mirroring(bot, approval.id)
    state = bot.platform.endpoint_state(MODEL, "prod")
    shadow = state.deployment(view.deployment)
    assert (shadow.model_version, shadow.traffic, shadow.mirror_traffic) == ("2", 0, 50)
    assert bot.serving() == {"1": 100, "2": 0}

    # A click on a card that still shows Approve (a client that has not refreshed) is refused.
    old = copy.deepcopy(bot.card(ts))
    actions = next(b for b in old["blocks"] if b["type"] == "actions")
    actions["elements"].insert(
        0, {"type": "button", "action_id": "approval_approve", "value": approval.id}
    )
    bot.click_stale(old, "approval_approve", seed.BOB)
    refusal = bot.wait_ephemeral(seed.BOB, "shadow evaluation is not complete")
    assert f"at least {MIN_REQUESTS} mirrored requests" in refusal, refusal[:900]
    assert bot.desk.book.get(approval.id).votes == ()

    _live_traffic(bot, 30, seed_=1)  # about 15 mirrored: not enough yet
    wait_until(
        lambda: "Agreement" in bot.card_text(ts) and "Evidence" in bot.card_text(ts),
        what="the Evidence section to fill in",
    )
    assert "approval_approve" not in _actions(bot.card(ts))
    assert "Approve is offered once" in bot.card_text(ts)

    _live_traffic(bot, 200, seed_=2)
    wait_until(
        lambda: "approval_approve" in _actions(bot.card(ts)),
        what="Approve to be offered once the minimum is met",
    )
    text = bot.card_text(ts)
    assert "the gates pass" in text and "Accuracy on the same" in text
    assert "Latency p50 / p99" in text and "PSI" in text and "Paired predictions" in text
    view = shadow_view(bot.desk.book.require(approval.id))
    assert view.ready and view.requests >= MIN_REQUESTS and view.evidence.paired > 0
    edits = [c for c in bot.server.calls_of("chat.update") if c.args.get("ts") == ts]
    assert len(edits) >= 2  # refreshed in place

    bot.click(ts, "approval_approve", seed.BOB)
    bot.wait_ephemeral(seed.BOB, "1 of 2")
    bot.click(ts, "approval_approve", seed.CAROL)
    done = bot.wait_state(approval.id, ApprovalState.SUCCEEDED, ApprovalState.FAILED)
    assert done.state is ApprovalState.SUCCEEDED, done.reason
    assert done.rollout["new_deployment"] == view.deployment
    assert f"Use the shadow deployment {view.deployment}" in done.rollout["steps"][1]["label"]
    state = bot.platform.endpoint_state(MODEL, "prod")
    v2 = [d for d in state.deployments if d.model_version == "2"]
    assert [(d.name, d.traffic, d.mirror_traffic) for d in v2] == [(view.deployment, 100, 0)]
    wait_until(
        lambda: f"the rollout reused its deployment `{view.deployment}`" in bot.card_text(ts),
        what="the finished card to say the rollout reused the shadow deployment",
    )
    trail = bot.audit(approval.id)
    assert ("mlops-bot", "shadow_adopted", "ok") in trail
    assert not any(action == "deployment_created" for _, action, _ in trail)


def test_a_canceled_request_removes_its_shadow_deployment(make_bot) -> None:
    bot = make_bot(prod_approval={"shadow": SHADOW})
    approval, ts = bot.request()
    view = _mirroring(bot, approval.id)
    bot.click(ts, "approval_cancel", seed.ALICE)
    bot.wait_state(approval.id, ApprovalState.CANCELED)

    def removed() -> bool:
        current = shadow_view(bot.desk.book.require(approval.id))
        return current is not None and current.state is ShadowState.REMOVED

    wait_until(removed, 60, "the shadow deployment to be removed")
    names = [d.name for d in bot.platform.endpoint_state(MODEL, "prod").deployments]
    assert view.deployment not in names
    assert bot.serving() == {"1": 100}
    assert ("mlops-bot", "shadow", "removed") in bot.audit(approval.id)


def test_two_replicas_deploy_one_shadow_and_show_its_evidence_on_one_card(make_bot) -> None:
    first, second = (
        make_bot(prod_approval={"shadow": SHADOW}),
        make_bot(prod_approval={"shadow": SHADOW}),
    )
    approval, ts = first.request()
    view = _mirroring(first, approval.id)
    _live_traffic(first, 200, seed_=3)
    wait_until(
        lambda: "approval_approve" in _actions(first.card(ts)),
        what="Approve to be offered",
    )
    second.desk.wake()
    wait_until(
        lambda: (v := shadow_view(second.desk.book.require(approval.id))) and v.requests >= 80,
        what="the evidence to count the mirrored requests",
    )
    deployments = first.platform.endpoint_state(MODEL, "prod").deployments
    assert [d.name for d in deployments if d.model_version == "2"] == [view.deployment]
    trail = first.audit(approval.id)
    assert trail.count(("mlops-bot", "shadow", "mirroring")) == 1
    assert len(first.cards()) == 1


def test_mirroring_stops_after_max_duration_and_the_evidence_stays(make_bot) -> None:
    bot = make_bot(prod_approval={"shadow": {**SHADOW, "max_duration": "2s"}})
    approval, ts = bot.request()
    view = _mirroring(bot, approval.id)
    _live_traffic(bot, 60, seed_=4)

    def finished() -> Any:
        current = shadow_view(bot.desk.book.require(approval.id))
        return current if current is not None and current.state is ShadowState.FINISHED else None

    done = wait_until(finished, 60, "mirroring to stop after max_duration")
    shadow = bot.platform.endpoint_state(MODEL, "prod").deployment(view.deployment)
    assert (shadow.traffic, shadow.mirror_traffic) == (0, 0)  # kept for the rollout, no mirror
    assert done.evidence is not None and done.evidence.candidate_requests > 0
    wait_until(lambda: "mirroring stopped" in bot.card_text(ts), what="the card to say so")


def test_a_candidate_failing_on_mirrored_traffic_is_never_offered_approve(make_bot) -> None:
    from tests.scenarios.approvals.models import FailsOnHighX1, fitted_model

    bot = make_bot(candidate=FailsOnHighX1(fitted_model(seed=3)), prod_approval={"shadow": SHADOW})
    approval, ts = bot.request()
    _mirroring(bot, approval.id)
    for seed_ in range(5, 9):  # requests one by one: each mirrored copy fails or answers alone
        frame, _ = training_frame(rows=40, seed=seed_)
        for i in range(len(frame)):
            cid = uuid.uuid4().hex
            bot.platform.score(
                MODEL, "prod", frame.iloc[[i]], correlation_ids=[cid], request_ids=[cid]
            )
    bot.platform.flush()

    def counted() -> Any:
        view = shadow_view(bot.desk.book.require(approval.id))
        return view if view is not None and view.requests >= MIN_REQUESTS else None

    view = wait_until(counted, 60, "the mirrored requests to be counted")
    assert not view.ready and any("error rate" in w for w in view.waiting)
    assert any(line.startswith("error rate") for line in view.worse)
    text = bot.card_text(ts)
    assert "approval_approve" not in _actions(bot.card(ts))
    assert "is above the rollout limit" in text and "is worse than v1" in text
    assert bot.serving() == {"1": 100, "2": 0}  # live answers never came from the candidate
