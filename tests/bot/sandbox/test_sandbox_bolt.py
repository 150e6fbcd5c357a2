"""A Bolt app wired to the sandbox: signed requests in, Web API and response-URL calls out.

This is the loop the bot runs in tests and in the demo; here with a minimal app so the sandbox
is proven compatible with Bolt's verification, payload parsing, ``respond`` and ``client``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from slack_bolt import App, BoltRequest

from bot.sandbox import RESPONSE_URL, SignedRequest, seed
from tests.fakes.signing import slash_command
from tests.fakes.slack_server import FakeSlackServer

APPROVAL_BLOCKS = [
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
]


@pytest.fixture
def app(slack_server: FakeSlackServer) -> Iterator[App]:
    bolt = App(
        token=seed.BOT_TOKEN,
        signing_secret=seed.SIGNING_SECRET,
        client=slack_server.client(),
        process_before_response=True,
    )

    @bolt.command("/mlops")
    def mlops(ack: Any, respond: Any, command: dict[str, Any], client: Any) -> None:
        ack()
        if command["text"] == "retrain":
            client.views_open(
                trigger_id=command["trigger_id"],
                view={
                    "type": "modal",
                    "callback_id": "retrain",
                    "title": {"type": "plain_text", "text": "Retrain"},
                    "submit": {"type": "plain_text", "text": "Go"},
                    "blocks": [
                        {
                            "type": "input",
                            "block_id": "params",
                            "label": {"type": "plain_text", "text": "Params"},
                            "element": {"type": "plain_text_input", "action_id": "value"},
                        }
                    ],
                },
            )
            return
        respond(f"you said {command['text']}")

    @bolt.action("approve")
    def approve(ack: Any, respond: Any, body: dict[str, Any]) -> None:
        ack()
        value = body["actions"][0]["value"]
        respond(replace_original=True, text=f"{value} approved by {body['user']['name']}")

    @bolt.view("retrain")
    def retrain(ack: Any, view: dict[str, Any], client: Any, body: dict[str, Any]) -> None:
        ack()
        entered = view["state"]["values"]["params"]["value"]["value"]
        client.chat_postMessage(channel=seed.MLOPS_CHANNEL, text=f"retraining with {entered}")

    @bolt.event("app_home_opened")
    def home(event: dict[str, Any], client: Any) -> None:
        client.views_publish(
            user_id=event["user"],
            view={
                "type": "home",
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}],
            },
        )

    yield bolt


def dispatch(app: App, request: SignedRequest) -> int:
    return app.dispatch(BoltRequest(body=request.body.decode(), headers=request.headers)).status


def test_slash_command_answer_arrives_through_the_response_url(
    app: App, slack_server: FakeSlackServer
) -> None:
    assert (
        dispatch(app, slack_server.interactions.slash_command("status", user_id=seed.DAVE)) == 200
    )
    slack_server.wait_for(RESPONSE_URL)
    [answer] = slack_server.ephemerals(seed.DAVE)
    assert answer["text"] == "you said status"


def test_bad_signature_is_refused_before_any_call(app: App, slack_server: FakeSlackServer) -> None:
    before = len(slack_server.calls)
    body, headers = slash_command("status", signing_secret="not-the-secret")
    assert dispatch(app, SignedRequest(body, headers)) == 401
    assert len(slack_server.calls) == before


def test_button_click_replaces_the_card(app: App, slack_server: FakeSlackServer) -> None:
    card = slack_server.client().chat_postMessage(
        channel=seed.APPROVALS_CHANNEL, text="approve?", blocks=APPROVAL_BLOCKS
    )
    click = slack_server.interactions.click(
        seed.APPROVALS_CHANNEL, card["ts"], "approve", user_id=seed.BOB
    )
    assert dispatch(app, click) == 200
    stored = slack_server.workspace.message(seed.APPROVALS_CHANNEL, card["ts"])
    assert stored["text"] == "req-1 approved by bob" and "blocks" not in stored


def test_modal_opens_from_the_command_and_submits(app: App, slack_server: FakeSlackServer) -> None:
    assert (
        dispatch(app, slack_server.interactions.slash_command("retrain", user_id=seed.CAROL)) == 200
    )
    [modal] = slack_server.workspace.views.modal_stack(seed.CAROL)
    state = {"params": {"value": {"type": "plain_text_input", "value": "learning_rate=0.05"}}}
    assert dispatch(app, slack_server.interactions.submit_view(modal["id"], state)) == 200
    [posted] = slack_server.messages(seed.MLOPS_CHANNEL)
    assert posted["text"] == "retraining with learning_rate=0.05"


def test_app_home_opened_publishes_the_home_tab(app: App, slack_server: FakeSlackServer) -> None:
    assert dispatch(app, slack_server.interactions.open_home(seed.ALICE)) == 200
    assert slack_server.workspace.views.home(seed.ALICE)["blocks"][0]["text"]["text"] == "hi"


def test_button_on_an_ephemeral_message_replaces_that_ephemeral(
    app: App, slack_server: FakeSlackServer
) -> None:
    ts = slack_server.client().chat_postEphemeral(
        channel=seed.MLOPS_CHANNEL, user=seed.BOB, text="approve?", blocks=APPROVAL_BLOCKS
    )["message_ts"]
    click = slack_server.interactions.click(seed.MLOPS_CHANNEL, ts, "approve", user_id=seed.BOB)
    assert dispatch(app, click) == 200
    [replaced] = slack_server.ephemerals(seed.BOB)
    assert replaced["ts"] == ts and replaced["text"] == "req-1 approved by bob"
    assert slack_server.messages(seed.MLOPS_CHANNEL) == []
