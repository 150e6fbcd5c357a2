"""Signed request builders, checked with slack_sdk's SignatureVerifier and Slack's own example."""

from __future__ import annotations

import json
import time
import urllib.parse

from slack_sdk.signature import SignatureVerifier

from bot.sandbox import seed
from tests.fakes.signing import (
    SIGNING_SECRET,
    app_home_opened,
    block_actions,
    event_callback,
    sign,
    signature,
    slash_command,
    view_submission,
)

verifier = SignatureVerifier(SIGNING_SECRET)


def form(body: bytes) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))


def interaction_payload(body: bytes) -> dict:
    fields = form(body)
    assert list(fields) == ["payload"]
    return json.loads(fields["payload"])


def test_signature_matches_slacks_documented_example() -> None:
    # The worked example of Slack's "Verifying requests from Slack" guide.
    body = (
        "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
        "&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
        "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        "&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    assert signature("8f742231b10e8888abcd99yyyzzz85a5", 1531420618, body) == (
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    )


def test_slash_command_is_form_encoded_and_verifies() -> None:
    body, headers = slash_command(
        "promote churn-model 7 --to prod",
        user_id=seed.ALICE,
        channel_id=seed.APPROVALS_CHANNEL,
        response_url="http://127.0.0.1:1/commands/x",
        trigger_id="123.456.abc",
    )
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert verifier.is_valid_request(body, headers)
    fields = form(body)
    assert fields["command"] == "/mlops" and fields["text"] == "promote churn-model 7 --to prod"
    assert fields["user_id"] == seed.ALICE and fields["user_name"] == "alice"
    assert fields["channel_name"] == "mlops-approvals" and fields["team_id"] == seed.TEAM_ID
    assert fields["response_url"] == "http://127.0.0.1:1/commands/x"
    assert fields["trigger_id"] == "123.456.abc"
    assert b"%2Fmlops" in body and b"promote+churn-model" in body  # encoded as Slack encodes


def test_tampered_stale_or_wrongly_signed_requests_fail_verification() -> None:
    body, headers = slash_command("status churn-model")
    assert not verifier.is_valid_request(body.replace(b"status", b"deploy"), headers)
    assert not SignatureVerifier("another-secret").is_valid_request(body, headers)
    stale = sign(body, timestamp=int(time.time()) - 6 * 60)
    assert not verifier.is_valid_request(stale.body, stale.headers)
    sent_at = int(time.time()) - 60
    fresh = sign(body, timestamp=sent_at)
    assert fresh.headers["X-Slack-Request-Timestamp"] == str(sent_at)
    assert verifier.is_valid_request(fresh.body, fresh.headers)


def test_block_actions_payload_reads_the_button_off_the_message() -> None:
    message = {
        "type": "message",
        "ts": "1700000000.000100",
        "text": "approve?",
        "blocks": [
            {
                "type": "actions",
                "block_id": "decision",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "approve",
                        "text": {"type": "plain_text", "text": "Approve"},
                        "style": "primary",
                        "value": "req-1",
                    }
                ],
            }
        ],
    }
    body, headers = block_actions(
        "approve",
        None,
        seed.BOB,
        seed.APPROVALS_CHANNEL,
        message=message,
        response_url="http://127.0.0.1:1/actions/x",
    )
    assert verifier.is_valid_request(body, headers)
    payload = interaction_payload(body)
    assert payload["type"] == "block_actions"
    assert payload["user"] == {
        "id": seed.BOB,
        "username": "bob",
        "name": "bob",
        "team_id": seed.TEAM_ID,
    }
    assert payload["container"] == {
        "type": "message",
        "message_ts": "1700000000.000100",
        "channel_id": seed.APPROVALS_CHANNEL,
        "is_ephemeral": False,
    }
    [action] = payload["actions"]
    assert (action["action_id"], action["block_id"], action["value"], action["style"]) == (
        "approve",
        "decision",
        "req-1",
        "primary",
    )
    assert (
        payload["message"] == message and payload["response_url"] == "http://127.0.0.1:1/actions/x"
    )


def test_view_submission_carries_state_and_metadata() -> None:
    state = {"params": {"value": {"type": "plain_text_input", "value": "learning_rate=0.05"}}}
    body, headers = view_submission("retrain", "churn-model", state, seed.CAROL)
    assert verifier.is_valid_request(body, headers)
    payload = interaction_payload(body)
    assert payload["type"] == "view_submission" and payload["user"]["id"] == seed.CAROL
    view = payload["view"]
    assert (view["callback_id"], view["private_metadata"]) == ("retrain", "churn-model")
    assert view["state"] == {"values": state} and view["type"] == "modal"


def test_events_are_json_and_can_carry_retry_headers() -> None:
    body, headers = event_callback(
        {"type": "app_mention", "user": seed.ALICE, "text": "hi"}, retry_num=1
    )
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Slack-Retry-Num"] == "1" and headers["X-Slack-Retry-Reason"] == "http_timeout"
    assert verifier.is_valid_request(body, headers)
    assert json.loads(body)["event"]["type"] == "app_mention"
    home = json.loads(app_home_opened(seed.DAVE).body)
    assert home["event"] == home["event"] | {
        "type": "app_home_opened",
        "user": seed.DAVE,
        "tab": "home",
    }
