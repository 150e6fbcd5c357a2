"""The alert card's buttons, pressed through signed requests into the real Bolt app."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from slack_bolt import App, BoltRequest

from bot.sandbox import seed
from bot.sandbox.signed_requests import block_actions
from bot.slack.app import build_app
from infra.settings import Secrets
from infra.store import JobRun
from jobs.alerts import active_mute
from tests.scenarios.scheduling.conftest import Harness, model_config, text_of

pytestmark = pytest.mark.usefixtures("quick_charts")

RESTRICTED = [
    {"name": "dev", "permissions": {"retrain": ["U0BOB"]}},
    {"name": "prod"},
]


class Clicker:
    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        secrets = Secrets(
            slack_bot_token=seed.BOT_TOKEN,
            slack_signing_secret=seed.SIGNING_SECRET,
            slack_api_url=harness.slack.base_url,
        )
        self.app: App = build_app(
            harness.services, signing_secret=secrets.slack_signing_secret or ""
        )

    def press(
        self, ts: str, action_id: str, user: str = seed.ALICE, *, value: str | None = None
    ) -> None:
        body, headers = self.harness.slack.interactions.click(
            seed.ALERTS_CHANNEL, ts, action_id, user_id=user, value=value
        )
        response = self.app.dispatch(BoltRequest(body=body.decode(), headers=dict(headers)))
        assert response.status == 200
        assert self.harness.services.workers.wait_idle(30)

    def press_raw(
        self, channel: str, ts: str, action_id: str, value: str, user: str = seed.ALICE
    ) -> None:
        """A press Slack could send for a copy of the card that no longer matches (a double
        click, a stale client), or a forged one: built by hand, signed like Slack signs."""
        body, headers = block_actions(
            action_id,
            value,
            user_id=user,
            channel_id=channel,
            message_ts=ts,
            response_url=self.harness.slack.new_response_url(channel, user, kind="actions"),
        )
        response = self.app.dispatch(BoltRequest(body=body.decode(), headers=dict(headers)))
        assert response.status == 200
        assert self.harness.services.workers.wait_idle(30)

    def last_answer(self) -> str:
        """What the last clicking user was told (ephemerally, through the response_url)."""
        return text_of(self.harness.slack.calls_of("response_url")[-1].args)


def open_alert(
    make_harness: Callable[..., Harness], **kwargs: Any
) -> tuple[Harness, Clicker, dict]:
    harness = make_harness(**kwargs) if kwargs else make_harness()
    harness.start()
    harness.platform.drifted = True
    harness.clock.advance()
    harness.run()
    return harness, Clicker(harness), harness.top_level()[0]


def test_acknowledge_once_even_on_a_double_click(make_harness: Callable[..., Harness]) -> None:
    harness, clicker, alert = open_alert(make_harness)
    clicker.press(alert["ts"], "alert_ack")
    card = text_of(harness.slack.messages(seed.ALERTS_CHANNEL)[0])
    assert "Acknowledged by <@U0ALICE>" in card and "alert_ack" not in card
    # The State field agrees: not a bare "open" any more.
    assert "*State*\\nopen · acknowledged by <@U0ALICE>" in card
    notes = [
        r["text"] for r in harness.replies(alert["ts"]) if "acknowledged" in (r.get("text") or "")
    ]
    assert notes == [":eyes: <@U0ALICE> acknowledged this alert."]
    # A double click (the second press still carries the old card): nothing happens twice.
    clicker.press_raw(seed.ALERTS_CHANNEL, alert["ts"], "alert_ack", "churn/prod/drift", seed.BOB)
    assert (
        len([r for r in harness.replies(alert["ts"]) if "acknowledged" in (r.get("text") or "")])
        == 1
    )
    assert "Already acknowledged by <@U0ALICE>" in clicker.last_answer()  # a real mention


def test_mute_24h_from_the_card(make_harness: Callable[..., Harness]) -> None:
    harness, clicker, alert = open_alert(make_harness)
    clicker.press(alert["ts"], "alert_mute", seed.CAROL)
    mute = active_mute(harness.store, "churn", "drift", harness.clock.now)
    assert mute is not None and mute.by == seed.CAROL
    assert (mute.until - harness.clock.now).total_seconds() == 24 * 3600
    card = text_of(harness.slack.messages(seed.ALERTS_CHANNEL)[0])
    assert "Muted until" in card and "alert_mute" not in card
    harness.clock.advance()
    harness.run()
    assert not any("Still breaching" in (r.get("text") or "") for r in harness.replies(alert["ts"]))


def test_details_posts_the_full_report_once(make_harness: Callable[..., Harness]) -> None:
    harness, clicker, alert = open_alert(make_harness)
    clicker.press(alert["ts"], "alert_details")
    # The report goes to the thread, which the clicker may not have open: they are told.
    assert "posted in this alert's thread" in clicker.last_answer()
    clicker.press(alert["ts"], "alert_details")
    details = [r for r in harness.replies(alert["ts"]) if "Full report" in text_of(r)]
    assert len(details) == 1
    body = text_of(details[0])
    for feature in ("tenure", "charges", "calls", "usage", "plan"):
        assert f"{feature}: " in body
    assert "DRIFTED" in body
    assert "already in the thread" in clicker.last_answer()


def test_retrain_button_applies_permissions_and_the_in_flight_rule(
    make_harness: Callable[..., Harness],
) -> None:
    harness, clicker, alert = open_alert(make_harness)  # default policy: everyone may retrain
    clicker.press(alert["ts"], "alert_retrain", seed.DAVE)
    assert len(harness.platform.submissions) == 1
    with harness.store.session() as session:
        run = session.get(JobRun, "job-1")
        assert run is not None and run.requested_by == seed.DAVE
        assert run.reason.startswith("triggered by drift breach in prod (approved from the alert)")
        assert run.thread_ts == alert["ts"]
    assert "submitted (job-1)" in clicker.last_answer()
    cards = [r for r in harness.replies(alert["ts"]) if "Retraining churn · queued" in text_of(r)]
    assert len(cards) == 1 and "job-1" in text_of(cards[0])
    assert f"Requested by <@{seed.DAVE}>" in text_of(cards[0])
    clicker.press(alert["ts"], "alert_retrain", seed.BOB)
    assert len(harness.platform.submissions) == 1
    assert "in flight" in clicker.last_answer()


def test_retrain_button_refuses_people_without_the_retrain_permission(
    make_harness: Callable[..., Harness],
) -> None:
    harness = make_harness(model_config(), environments=RESTRICTED)
    harness.start()
    harness.platform.drifted = True
    harness.clock.advance()
    harness.run()
    alert = harness.top_level()[0]
    clicker = Clicker(harness)
    clicker.press(alert["ts"], "alert_retrain", seed.DAVE)
    assert harness.platform.submissions == []
    assert "You may not retrain in dev" in clicker.last_answer()
    clicker.press(alert["ts"], "alert_retrain", seed.BOB)
    assert len(harness.platform.submissions) == 1


def test_a_button_value_from_another_message_is_refused(
    make_harness: Callable[..., Harness],
) -> None:
    harness, clicker, _ = open_alert(make_harness)
    summary = harness.top_level(seed.MLOPS_CHANNEL)[0]
    clicker.press_raw(seed.MLOPS_CHANNEL, summary["ts"], "alert_ack", "churn/prod/drift", seed.DAVE)
    assert "does not belong" in clicker.last_answer()
    assert "Acknowledged" not in text_of(harness.slack.messages(seed.ALERTS_CHANNEL)[0])
