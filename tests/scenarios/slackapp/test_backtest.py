"""`/mlops backtest` through signed HTTP into the real Bolt app: a progress message edited in
place into the answer card, the chart in its thread; bad input answered privately."""

from __future__ import annotations

import pytest

from bot.sandbox import seed
from commands import backtest
from tests.scenarios.slackapp.conftest import RunningBot, blocks_text


def test_backtest_answers_in_place_with_its_chart_in_the_thread(bot: RunningBot) -> None:
    bot.command("backtest churn-model drift --share-threshold 0.1 --days 5")
    card = bot.slack.wait_for(
        "chat.update", lambda c: ":test_tube: Backtest" in blocks_text(c.args), timeout=60
    )
    progress = next(
        c for c in bot.slack.calls_of("chat.postMessage") if "window 0 of 5" in blocks_text(c.args)
    )
    # The progress message became the card: one message in the channel, not two.
    assert progress.args["channel"] == seed.MLOPS_CHANNEL
    assert card.args["ts"] == progress.response["ts"]
    text = blocks_text(card.args)
    assert "--share-threshold 0.1" in text and "(now 0.3)" in text
    assert "*Proposed:" in text and "*Now:" in text
    assert "monitoring.drift.share_threshold: 0.1" in text
    upload = bot.slack.wait_for("files.completeUploadExternal", timeout=30)
    assert upload.args.get("thread_ts") == card.args["ts"]
    assert upload.args.get("channel_id") == seed.MLOPS_CHANNEL
    bot.drain()
    # Nothing was changed: no alert was opened by trying a threshold.
    assert bot.slack.messages(seed.ALERTS_CHANNEL) == []


def test_backtest_bad_input_is_a_private_usage_message(bot: RunningBot) -> None:
    bot.command("backtest churn-model drift --share-threshold 2")
    reply = bot.wait_for_reply(lambda a: "--share-threshold expects" in blocks_text(a))
    text = blocks_text(reply)
    assert "a number above 0 and up to 1, got 2" in text and "Usage" in text
    assert reply.get("response_type") == "ephemeral"
    bot.drain()
    assert not [
        c for c in bot.slack.calls_of("chat.postMessage") if "Backtest" in blocks_text(c.args)
    ]


def test_a_long_backtest_edits_its_progress_in_place(
    bot: RunningBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backtest, "PROGRESS_EVERY_SECONDS", 0.0)  # every window, not every second
    bot.command("backtest churn-model drift --share-threshold 0.2 --days 5 --window 12h")
    card = bot.slack.wait_for(
        "chat.update", lambda c: ":test_tube: Backtest" in blocks_text(c.args), timeout=60
    )
    steps = [
        c.args["text"].rsplit(": ", 1)[1]
        for c in bot.slack.calls_of("chat.update")
        if c.args["ts"] == card.args["ts"] and "Backtesting" in str(c.args.get("text"))
    ]
    assert steps == [f"window {k} of 10…" for k in range(1, 10)]
