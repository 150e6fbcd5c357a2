"""A promotion of a candidate worse than what serves is flagged on the card and in the
confirm dialog (issue 14, item 10)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.slack.blocks.render import render
from core.promotion.cards import ApprovalCardReply, metric_regressions
from core.promotion.policy import PolicySummary
from core.promotion.states import ApprovalSnapshot, ApprovalState
from infra.settings import Principals

NOW = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


def snapshot(source: dict[str, float], target: dict[str, float], **over: Any) -> ApprovalSnapshot:
    base: dict[str, Any] = {
        "id": "req1",
        "model": "churn-model",
        "version": "3",
        "source_env": "preprod",
        "target_env": "prod",
        "requester": "U0ALICE",
        "state": ApprovalState.PENDING,
        "required": 2,
        "created_at": NOW,
        "updated_at": NOW,
        "expires_at": NOW + timedelta(hours=24),
        "channel": "C0APPROVALS",
        "message_ts": None,
        "reason": None,
        "rollout": {},
        "context": {
            "source": {"metrics": source},
            "target": {"version": "2", "metrics": target, "serving": "v2 (100%)"},
        },
        "row_version": 1,
    }
    base.update(over)
    return ApprovalSnapshot(**base)


def policy(production: bool = True) -> PolicySummary:
    return PolicySummary(
        approvers=Principals(groups=("ml-approvers",)),
        required=2,
        self_approval=False,
        production=production,
        expiry=timedelta(hours=24),
    )


def card(approval: ApprovalSnapshot, production: bool = True) -> list[dict[str, Any]]:
    return render(ApprovalCardReply(approval=approval, policy=policy(production)))


def approve_button(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    [actions] = [b for b in blocks if b["type"] == "actions"]
    return next(e for e in actions["elements"] if e["action_id"].endswith("approve"))


WORSE = snapshot({"accuracy": 0.70, "f1": 0.55, "rmse": 0.3}, {"accuracy": 0.789, "f1": 0.68})
BETTER = snapshot({"accuracy": 0.81, "f1": 0.70}, {"accuracy": 0.789, "f1": 0.68})


def test_a_worse_candidate_is_flagged_right_under_the_status() -> None:
    assert [(w.metric, round(w.change, 3)) for w in metric_regressions(WORSE)] == [
        ("accuracy", -0.089),
        ("f1", -0.13),
    ]
    blocks = card(WORSE)
    warning = blocks[2]["text"]["text"]  # header, status, then the warning
    assert warning.startswith(":warning: *v3 is worse than v2, which serves prod*")
    assert "accuracy −0.089 · f1 −0.130" in warning

    confirm = approve_button(blocks)["confirm"]
    assert confirm["title"]["text"] == "Approve a worse model?"
    assert "v3 is worse than v2" in confirm["text"]["text"]
    assert "accuracy −0.089" in confirm["text"]["text"]
    assert confirm["confirm"]["text"] == "Approve anyway" and confirm["style"] == "danger"


def test_a_worse_candidate_asks_for_confirmation_outside_production_too() -> None:
    confirm = approve_button(card(WORSE, production=False)).get("confirm")
    assert confirm is not None and confirm["title"]["text"] == "Approve a worse model?"


def test_a_better_candidate_gets_no_warning_and_the_usual_dialog() -> None:
    assert metric_regressions(BETTER) == []
    blocks = card(BETTER)
    assert not any("is worse than" in str(b) for b in blocks)
    confirm = approve_button(blocks)["confirm"]
    assert confirm["title"]["text"] == "Approve for production?"
    # Whether the clicker may approve is decided on the click: the dialog promises nothing.
    assert "Your approval counts" not in confirm["text"]["text"]
    assert approve_button(card(BETTER, production=False)).get("confirm") is None


def test_noise_and_missing_baselines_are_not_regressions() -> None:
    assert metric_regressions(snapshot({"accuracy": 0.7885}, {"accuracy": 0.789})) == []
    first = snapshot({"accuracy": 0.5}, {}, context={"source": {"metrics": {"accuracy": 0.5}}})
    assert metric_regressions(first) == []
    lower_better = snapshot({"rmse": 0.40, "mae": 0.2}, {"rmse": 0.30, "mae": 0.2})
    assert [w.metric for w in metric_regressions(lower_better)] == ["rmse"]
