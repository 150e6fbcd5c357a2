"""Pure parts: freeze-window maths (crontab weekdays, window edges) and the card builder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.slack.blocks.approval import approval_card_blocks
from bot.slack.blocks.common import check_limits
from core.promotion.cards import ApprovalCardReply
from core.promotion.policy import PolicySummary, active_freeze
from core.promotion.states import ApprovalSnapshot, ApprovalState, VoteRecord, steps_json
from core.replies import Step, StepState
from infra.settings import FreezeWindow, Principals

FRIDAY_AFTERNOONS = FreezeWindow(cron="0 14 * * 5", duration=timedelta(hours=4), reason="weekend")


@pytest.mark.parametrize(
    ("at", "frozen"),
    [
        (datetime(2024, 5, 3, 13, 59, 59, tzinfo=UTC), False),  # Friday, just before
        (datetime(2024, 5, 3, 14, 0, 0, tzinfo=UTC), True),  # the first second
        (datetime(2024, 5, 3, 17, 59, 59, 900000, tzinfo=UTC), True),
        (datetime(2024, 5, 3, 18, 0, 0, tzinfo=UTC), False),  # the window is half-open
        (datetime(2024, 5, 4, 15, 0, 0, tzinfo=UTC), False),  # Saturday (APScheduler's "5")
    ],
)
def test_freeze_window_edges(at: datetime, frozen: bool) -> None:
    found = active_freeze([FRIDAY_AFTERNOONS], at)
    assert (found is not None) is frozen
    if found is not None:
        assert found.ends == datetime(2024, 5, 3, 18, 0, tzinfo=UTC)
        assert "until 2024-05-03 18:00 UTC: weekend" in found.describe("prod")


def test_back_to_back_windows_cover_the_boundary() -> None:
    hourly = FreezeWindow(cron="0 * * * *", duration=timedelta(hours=1))
    assert active_freeze([hourly], datetime(2024, 5, 3, 10, 0, 0, tzinfo=UTC)) is not None
    assert active_freeze([hourly], datetime(2024, 5, 3, 10, 59, 59, tzinfo=UTC)) is not None


def _approval(state: ApprovalState, **extra: object) -> ApprovalSnapshot:
    now = datetime(2024, 5, 3, 12, 0, tzinfo=UTC)
    base = dict(
        id="0123456789ab",
        model="churn-model",
        version="7",
        source_env="preprod",
        target_env="prod",
        requester="U0ALICE",
        state=state,
        required=2,
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(hours=24),
        channel="C0APPROVALS",
        message_ts="1.2",
        reason=None,
        rollout={},
        context={
            "target": {"serving": "v5", "version": "5", "metrics": {"accuracy": 0.8}},
            "source": {"metrics": {"accuracy": 0.9}, "health": "healthy"},
        },
        row_version=3,
    )
    base.update(extra)
    return ApprovalSnapshot(**base)  # type: ignore[arg-type]


POLICY = PolicySummary(
    approvers=Principals(groups=("ml-approvers",)),
    required=2,
    self_approval=False,
    production=True,
    expiry=timedelta(hours=24),
)


def test_pending_card_has_three_buttons_carrying_only_the_id() -> None:
    blocks = check_limits(
        approval_card_blocks(
            ApprovalCardReply(approval=_approval(ApprovalState.PENDING), policy=POLICY)
        )
    )
    actions = [b for b in blocks if b["type"] == "actions"]
    assert len(actions) == 1
    elements = actions[0]["elements"]
    assert {e["value"] for e in elements} == {"0123456789ab"}
    assert elements[0]["confirm"]["title"]["text"] == "Approve for production?"
    assert "confirm" not in elements[1]
    assert blocks[0] == {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": "Promote churn-model v7: preprod → prod",
            "emoji": True,
        },
    }


def test_finished_card_has_no_buttons_and_escapes_the_reason() -> None:
    steps = steps_json([Step("Smoke test with the sample request", StepState.FAILED, "x <b>")])
    approval = _approval(
        ApprovalState.ROLLED_BACK,
        reason="smoke test failed: <!here> & co",
        rollout={"steps": steps, "notes": ["Rolled back after a restart"]},
        votes=(VoteRecord("U0BOB", "approve", datetime(2024, 5, 3, 12, 5, tzinfo=UTC)),),
    )
    blocks = check_limits(approval_card_blocks(ApprovalCardReply(approval=approval, policy=POLICY)))
    text = str(blocks)
    assert not [b for b in blocks if b["type"] == "actions"]
    assert "smoke test failed: &lt;!here&gt; &amp; co" in text and "<!here>" not in text
    assert ":x: Smoke test with the sample request — _x &lt;b&gt;_" in text
    assert "Rolled back after a restart" in text and "<@U0BOB> approved" in text


def test_production_confirm_only_in_production() -> None:
    preprod = PolicySummary(Principals(groups=("g",)), 1, False, False, timedelta(hours=1))
    blocks = check_limits(
        approval_card_blocks(
            ApprovalCardReply(
                approval=_approval(ApprovalState.PENDING, target_env="preprod"), policy=preprod
            )
        )
    )
    approve = next(b for b in blocks if b["type"] == "actions")["elements"][0]
    assert "confirm" not in approve
