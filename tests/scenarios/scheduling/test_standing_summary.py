"""Issue 14 item 6: scheduled checks do not flood the main channel.

A check posts a new top-level message only when its verdict changes; otherwise it edits the
model's standing summary in that environment, which survives a restart and says what is muted.
``slack.scheduled_summaries: every_run`` keeps the old one-message-per-run behaviour.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from bot.sandbox import seed
from jobs.alerts import set_mute
from tests.scenarios.scheduling.conftest import Harness, text_of

pytestmark = pytest.mark.usefixtures("quick_charts")


def _mlops(h: Harness) -> list[dict]:
    return h.top_level(seed.MLOPS_CHANNEL)


def test_unchanged_verdicts_edit_one_standing_summary_and_changes_post(
    make_harness: Callable[..., Harness],
) -> None:
    first = make_harness()
    first.start()
    first.platform.drifted = True
    for _ in range(4):
        first.clock.advance(timedelta(hours=1))
        first.run()
    first.run("utilization:churn:prod")
    messages = _mlops(first)
    # the first verdict of each check is a change (its own message), then one standing summary
    assert len(messages) == 3, [text_of(m)[:100] for m in messages]
    standing = next(m for m in messages if "Standing summary" in (m.get("text") or ""))
    edits = first.updates_of(standing["ts"])
    assert len(edits) >= 3  # three more drift runs, edited in place
    last = text_of(edits[-1])
    assert "churn · prod" in last and "Drift" in last and "Utilization" in last
    assert "a new message is posted only when a verdict changes" in last

    # a muted signal says so on the summary
    set_mute(
        first.store, "churn", "drift", first.clock.now + timedelta(days=1), "U0BOB", first.clock.now
    )
    first.clock.advance(timedelta(hours=1))
    first.run()
    assert len(_mlops(first)) == 3
    assert "muted: Drift" in text_of(first.updates_of(standing["ts"])[-1])
    first.stop()

    # a restart edits the same message: where it is lives in the store
    second = make_harness()
    second.start()
    second.clock.advance(timedelta(hours=1))
    second.run()
    assert len(_mlops(second)) == 3
    edited = len(second.updates_of(standing["ts"]))
    assert edited > len(edits)

    # the verdict changes: that earns a new top-level message, with its charts in its thread
    second.platform.drifted = False
    second.clock.advance(timedelta(hours=1))
    second.run()
    after = _mlops(second)
    assert len(after) == 4
    change = after[-1]
    assert "Drift" in text_of(change) and "Standing summary" not in (change.get("text") or "")
    assert any(r.get("files") for r in second.replies(change["ts"], seed.MLOPS_CHANNEL))
    assert len(second.updates_of(standing["ts"])) > edited


def test_every_run_setting_posts_each_scheduled_check(
    make_harness: Callable[..., Harness],
) -> None:
    harness = make_harness(slack={"scheduled_summaries": "every_run"})
    harness.start()
    harness.platform.drifted = True
    for _ in range(3):
        harness.clock.advance(timedelta(hours=1))
        harness.run()
    assert len(_mlops(harness)) == 3
