"""App Home: the open alerts and mutes read as words, not as stored keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.slack.blocks.home import home_view
from core.monitoring_state import ActiveMute, OpenAlert
from core.replies import ModelsReply


def test_open_alerts_and_mutes_read_as_words() -> None:
    now = datetime.now(UTC)
    alert = OpenAlert(
        "fp",
        "churn-model",
        "prod",
        "data_quality",
        "critical",
        "open",
        "3 columns empty",
        now - timedelta(minutes=9),
        1,
    )
    mute = ActiveMute("churn-model", "data_quality", now + timedelta(hours=1), "U0BOB")
    view = home_view(
        ModelsReply(), (), (alert,), viewer="U0BOB", is_approver=lambda _: True, mutes=(mute,)
    )
    text = str(view["blocks"])
    assert "prod · data quality (critical)" in text
    assert "opened 9m" in text and " ago · 1 check in breach" in text
    assert "*churn-model* data quality alerts until" in text
    assert "data_quality" not in text and "open since" not in text
