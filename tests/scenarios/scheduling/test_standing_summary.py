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
    assert len(messages) == 1, [text_of(m)[:100] for m in messages]
    standing = messages[0]
    edits = first.updates_of(standing["ts"])
    assert len(edits) == 4  # three more drift runs and one utilization run, edited in place
    last = text_of(edits[-1])
    assert "churn · prod" in last and "Drift" in last and "Utilization" in last
    assert "a new message is posted only when a verdict changes" in last

    # a muted signal says so on the summary
    set_mute(
        first.store, "churn", "drift", first.clock.now + timedelta(days=1), "U0BOB", first.clock.now
    )
    first.clock.advance(timedelta(hours=1))
    first.run()
    assert len(_mlops(first)) == 1
    assert "muted: Drift" in text_of(first.updates_of(standing["ts"])[-1])
    first.stop()

    # a restart edits the same message: where it is lives in the store
    second = make_harness()
    second.start()
    second.clock.advance(timedelta(hours=1))
    second.run()
    assert [m["ts"] for m in _mlops(second)] == [standing["ts"]]
    assert len(second.updates_of(standing["ts"])) == 6

    # the verdict changes: that earns a new top-level message, with its charts in its thread
    second.platform.drifted = False
    second.clock.advance(timedelta(hours=1))
    second.run()
    after = _mlops(second)
    assert len(after) == 2
    change = next(m for m in after if m["ts"] != standing["ts"])
    assert "Drift check" in text_of(change) or "Drift" in text_of(change)
    assert any(r.get("files") for r in second.replies(change["ts"], seed.MLOPS_CHANNEL))
    assert len(second.updates_of(standing["ts"])) == 7


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
