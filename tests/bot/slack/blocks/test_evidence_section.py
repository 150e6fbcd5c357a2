"""The Evidence section of a request card under a shadow policy: Approve hidden until the
evidence is in, the lines of a worse candidate flagged on the card and in the confirm dialog,
and answers that could not be paired said so (issue 16, item 1)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

from bot.slack.blocks.render import render
from core.promotion.cards import ApprovalCardReply
from core.promotion.evidence import judged
from engine.shadow import LatencySummary, ShadowComparison
from infra.settings import RolloutPolicy, ShadowPolicy
from tests.bot.slack.blocks.test_approval_card import NOW, policy, snapshot

SHADOW = ShadowPolicy(mirror=20, min_requests=500)


def shadowed(evidence: ShadowComparison | None, **over: Any) -> Any:
    shadow: dict[str, Any] = {
        "state": "mirroring",
        "required": True,
        "mirror": 20,
        "min_requests": 500,
        "deployment": "churn-model-v3",
        "serving_deployment": "churn-model-v2",
        "serving_version": "2",
        "started": NOW.isoformat(),
        "until": (NOW + timedelta(hours=2)).isoformat(),
        "refreshed": NOW.isoformat(),
        **judged(evidence, SHADOW, RolloutPolicy(), "classification"),
        **over,
    }
    if evidence is not None:
        shadow["evidence"] = evidence.as_dict()
    base = snapshot({"accuracy": 0.8}, {"accuracy": 0.8})
    return replace(base, context={**base.context, "shadow": shadow})


def blocks_of(approval: Any) -> list[dict[str, Any]]:
    summary = replace(policy(), shadow_required=True)
    return render(ApprovalCardReply(approval=approval, policy=summary))


def buttons(blocks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    [actions] = [b for b in blocks if b["type"] == "actions"]
    return {e["action_id"]: e for e in actions["elements"]}


GOOD = ShadowComparison(
    candidate_requests=612,
    serving_requests=2448,
    paired=612,
    agreement=0.962,
    confusion={"0": {"0": 380, "1": 12}, "1": {"0": 11, "1": 209}},
    psi=0.031,
    labelled=580,
    serving_accuracy=0.861,
    candidate_accuracy=0.874,
    serving_latency=LatencySummary(2448, 11.0, 30.0, 0.0),
    candidate_latency=LatencySummary(612, 12.0, 31.0, 0.0),
)


def test_approve_is_hidden_until_the_minimum_then_offered() -> None:
    few = replace(GOOD, candidate_requests=120, paired=120)
    blocks = blocks_of(shadowed(few))
    assert set(buttons(blocks)) == {"approval_reject", "approval_cancel"}
    text = json.dumps(blocks, ensure_ascii=False)
    assert "*120* of 500 mirrored requests" in text
    assert "Approve is offered once: all 500 are in" in text
    assert text.count("500") == 2  # the minimum is said once on the line, not repeated

    blocks = blocks_of(shadowed(GOOD))
    assert "approval_approve" in buttons(blocks)
    text = json.dumps(blocks, ensure_ascii=False)
    assert "the gates pass" in text
    assert "*612* mirrored requests (at least 500 needed)" in text  # not "612 of 500"
    assert "96.2% same label on 612 paired requests" in text
    assert "PSI 0.031" in text
    assert "v3 12 / 31 ms" in text and "v2 11 / 30 ms" in text
    assert "v3 87.4% · v2 86.1%" in text
    assert "worse" not in text


def test_before_the_deployment_is_up_there_is_no_approve() -> None:
    blocks = blocks_of(shadowed(None, state="deploying"))
    assert "approval_approve" not in buttons(blocks)
    assert "Deploying v3 at 0% in prod" in json.dumps(blocks, ensure_ascii=False)


def test_a_worse_candidate_is_flagged_on_the_card_and_in_the_dialog() -> None:
    worse = replace(
        GOOD,
        candidate_accuracy=0.80,
        candidate_latency=LatencySummary(612, 40.0, 95.0, 0.0),
    )
    blocks = blocks_of(shadowed(worse))
    text = json.dumps(blocks, ensure_ascii=False)
    assert "On the mirrored requests v3 is worse than v2" in text
    assert "accuracy 80.0% vs 86.1%" in text and "p99 latency 95 ms vs 30 ms" in text
    confirm = buttons(blocks)["approval_approve"]["confirm"]
    assert confirm["title"]["text"] == "Approve a worse model?"
    assert "On the mirrored requests v3 is worse than v2" in confirm["text"]["text"]


def test_unpaired_answers_show_distributions_only_and_say_why() -> None:
    unpaired = replace(GOOD, joinable=False, paired=0, agreement=None, confusion={})
    note = "the collector logged the mirrored copies under their own correlation ids"
    text = json.dumps(blocks_of(shadowed(unpaired, note=note)), ensure_ascii=False)
    assert "Answers not paired" in text and "own correlation ids" in text
    assert "Agreement" not in text and "PSI" in text


def test_before_the_evaluation_starts_the_card_says_what_approve_waits_for() -> None:
    blocks = blocks_of(snapshot({"accuracy": 0.8}, {"accuracy": 0.8}))
    assert "approval_approve" not in buttons(blocks)
    assert "Starting the shadow evaluation" in json.dumps(blocks)
