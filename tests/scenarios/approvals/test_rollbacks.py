"""Rollouts that must end rolled back: a failing smoke test and a failing health check. The old
deployment serves 100% again, the new one is gone, and the card says why."""

from __future__ import annotations

import json
import threading
import uuid

import numpy as np
import pandas as pd

from bot.sandbox import seed
from core.promotion.states import ApprovalState
from tests.scenarios.approvals.harness import MODEL, wait_until
from tests.scenarios.approvals.models import (
    FEATURES,
    AnswersThenBreaks,
    FailsOnHighX1,
    fitted_model,
)


def _approve_both(bot, ts: str) -> None:
    bot.click(ts, "approval_approve", seed.BOB)
    bot.wait_ephemeral(seed.BOB, "1 of 2")
    bot.click(ts, "approval_approve", seed.CAROL)


def _assert_rolled_back(bot, approval_id: str, ts: str, why: str) -> None:
    done = bot.wait_state(
        approval_id, ApprovalState.ROLLED_BACK, ApprovalState.SUCCEEDED, ApprovalState.FAILED
    )
    assert done.state is ApprovalState.ROLLED_BACK, done.reason
    assert why in (done.reason or "")
    assert bot.serving() == {"1": 100}  # the old deployment alone, at 100%
    card = wait_until(
        lambda: (c := bot.card(ts)) and "Rolled back" in json.dumps(c["blocks"]) and c
    )
    text = json.dumps(card["blocks"])
    assert why in text
    assert not [b for b in card["blocks"] if b["type"] == "actions"]
    thread = wait_until(lambda: "was rolled back" in bot.thread_text(ts) and bot.thread_text(ts))
    assert f"<@{seed.ALICE}>" in thread and f"<@{seed.BOB}>" in thread
    actions = [(a, o) for _, a, o in bot.audit(approval_id)]
    assert ("rolled_back", "ok") in actions and ("promotion", "rolled_back") in actions


def test_failing_smoke_test_rolls_back(make_bot) -> None:
    AnswersThenBreaks.answers_left = 1_000_000
    bot = make_bot(candidate=AnswersThenBreaks(fitted_model(seed=3)))
    approval, ts = bot.request()
    AnswersThenBreaks.answers_left = 1  # the platform's load check in prod gets the last answer
    _approve_both(bot, ts)
    _assert_rolled_back(bot, approval.id, ts, "smoke test failed")
    assert "lost the connection to the feature store" in bot.card_text(ts)


def test_failing_health_check_rolls_back(make_bot) -> None:
    bot = make_bot(
        candidate=FailsOnHighX1(fitted_model(seed=3)), prod_rollout={"bake_time": "1.5s"}
    )
    approval, ts = bot.request()
    stop = threading.Event()

    def live_traffic() -> None:
        rng = np.random.default_rng(5)
        while not stop.is_set():
            rows = pd.DataFrame(rng.uniform(-1, 1, size=(20, len(FEATURES))), columns=FEATURES)
            bot.platform.score(
                MODEL, "prod", rows, request_ids=[uuid.uuid4().hex for _ in range(20)]
            )
            stop.wait(0.02)

    traffic = threading.Thread(target=live_traffic, daemon=True)
    traffic.start()
    try:
        _approve_both(bot, ts)
        _assert_rolled_back(bot, approval.id, ts, "error rate")
    finally:
        stop.set()
        traffic.join(5)
    steps = bot.desk.book.get(approval.id).rollout["steps"]
    shift = next(s for s in steps if s["label"].startswith("Shift 10%"))
    assert shift["state"] == "failed" and "above the limit" in shift["detail"]
    assert all(s["state"] == "skipped" for s in steps if s["label"].startswith("Shift 50%"))
