"""Response URLs posted with slack_sdk's WebhookClient, the way Bolt's ``respond`` posts."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient

from bot.sandbox import RESPONSE_URL, seed
from bot.sandbox.workspace import Workspace
from tests.fakes.slack_server import FakeSlackServer, running_slack_server

CARD = [{"type": "section", "text": {"type": "mrkdwn", "text": "*churn-model* status"}}]


def approval_card(client: WebClient) -> dict:
    buttons = {
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
    return client.chat_postMessage(
        channel=seed.APPROVALS_CHANNEL, text="approve?", blocks=[buttons]
    ).data


def test_default_answer_is_ephemeral_to_the_person_who_acted(slack_server: FakeSlackServer) -> None:
    url = slack_server.new_response_url(seed.MLOPS_CHANNEL, seed.DAVE)
    response = WebhookClient(url).send(text="You may not deploy to prod", blocks=CARD)
    assert response.status_code == 200
    [private] = slack_server.ephemerals(seed.DAVE, seed.MLOPS_CHANNEL)
    assert private["text"] == "You may not deploy to prod" and private["blocks"][0]["text"]
    assert slack_server.messages(seed.MLOPS_CHANNEL) == []
    call = slack_server.wait_for(RESPONSE_URL)
    assert call.args["text"] == "You may not deploy to prod" and call.params["url"] == url


def test_in_channel_answer_and_thread_reply(slack_server: FakeSlackServer) -> None:
    url = slack_server.new_response_url(seed.MLOPS_CHANNEL, seed.ALICE)
    WebhookClient(url).send_dict(
        {"response_type": "in_channel", "text": "status card", "blocks": CARD}
    )
    [card] = slack_server.messages(seed.MLOPS_CHANNEL)
    assert card["user"] == seed.BOT_USER_ID and card["text"] == "status card"
    WebhookClient(url).send_dict(
        {"response_type": "in_channel", "text": "detail", "thread_ts": card["ts"]}
    )
    assert [m["text"] for m in slack_server.thread(seed.MLOPS_CHANNEL, card["ts"])] == [
        "status card",
        "detail",
    ]


def test_replace_original_edits_the_clicked_message_and_delete_removes_it(
    slack_client: WebClient, slack_server: FakeSlackServer
) -> None:
    card = approval_card(slack_client)
    url = slack_server.new_response_url(
        seed.APPROVALS_CHANNEL, seed.BOB, message_ts=card["ts"], kind="actions"
    )
    assert "/actions/" in url
    WebhookClient(url).send_dict(
        {"replace_original": True, "text": "Approved by bob", "blocks": CARD}
    )
    stored = slack_server.workspace.message(seed.APPROVALS_CHANNEL, card["ts"])
    assert stored["text"] == "Approved by bob" and stored["blocks"][0]["text"] == CARD[0]["text"]
    assert "edited" in stored
    WebhookClient(url).send_dict({"delete_original": True})
    assert slack_server.messages(seed.APPROVALS_CHANNEL) == []


def test_slash_command_replace_original_edits_its_previous_answer(
    slack_server: FakeSlackServer,
) -> None:
    url = slack_server.new_response_url(seed.MLOPS_CHANNEL, seed.ALICE)
    hook = WebhookClient(url)
    hook.send(text="Deploying v7 to dev… (0%)")
    hook.send_dict({"replace_original": True, "text": "Deploying v7 to dev… (100%)"})
    [progress] = slack_server.ephemerals(seed.ALICE)
    assert progress["text"] == "Deploying v7 to dev… (100%)"


def test_response_url_limits_uses_and_rejects_empty_answers(slack_server: FakeSlackServer) -> None:
    url = slack_server.new_response_url()
    hook = WebhookClient(url)
    empty = hook.send_dict({"response_type": "ephemeral"})
    assert empty.status_code == 400 and '"no_text"' in empty.body
    for i in range(4):
        assert hook.send(text=f"answer {i}").status_code == 200
    sixth = hook.send(text="one too many")
    assert sixth.status_code == 404 and '"used_url"' in sixth.body
    unknown = WebhookClient(slack_server.root_url + "commands/T0SANDBOX/1/nope").send(text="x")
    assert unknown.status_code == 404


def test_response_url_expires_after_thirty_minutes() -> None:
    now = [1_700_000_000.0]
    with running_slack_server(Workspace(clock=lambda: now[0])) as server:
        url = server.new_response_url()
        now[0] += 31 * 60
        expired = WebhookClient(url).send(text="late")
        assert expired.status_code == 404 and '"expired_url"' in expired.body


def test_faults_apply_to_response_urls(slack_server: FakeSlackServer) -> None:
    slack_server.inject(RESPONSE_URL, status=500)
    url = slack_server.new_response_url()
    assert WebhookClient(url).send(text="x").status_code == 500
    assert WebhookClient(url).send(text="x").status_code == 200
