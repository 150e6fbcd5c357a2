"""views.* with Slack's trigger-id rules, and the stored modals and Home tabs."""

from __future__ import annotations

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import InputBlock, PlainTextInputElement, SectionBlock
from slack_sdk.models.views import View

from bot.sandbox import seed
from bot.sandbox.workspace import Workspace
from tests.fakes.slack_server import FakeSlackServer, running_slack_server


def retrain_modal() -> View:
    return View(
        type="modal",
        callback_id="retrain",
        private_metadata="churn-model",
        title="Retrain churn-model",
        submit="Retrain",
        blocks=[
            InputBlock(
                block_id="params",
                label="Parameters",
                element=PlainTextInputElement(action_id="value"),
            )
        ],
    )


def test_open_update_and_stack(slack_client: WebClient, slack_server: FakeSlackServer) -> None:
    trigger = slack_server.issue_trigger_id(seed.ALICE)
    opened = slack_client.views_open(trigger_id=trigger, view=retrain_modal())["view"]
    assert opened["callback_id"] == "retrain" and opened["private_metadata"] == "churn-model"
    assert opened["root_view_id"] == opened["id"] and opened["app_id"] == seed.APP_ID
    [stacked] = slack_server.workspace.views.modal_stack(seed.ALICE)
    assert stacked["id"] == opened["id"]
    updated = slack_client.views_update(
        view_id=opened["id"],
        hash=opened["hash"],
        view=View(type="modal", title="Submitted", blocks=[SectionBlock(text="Job queued")]),
    )["view"]
    assert updated["id"] == opened["id"] and updated["hash"] != opened["hash"]
    with pytest.raises(SlackApiError) as stale:
        slack_client.views_update(view_id=opened["id"], hash=opened["hash"], view=retrain_modal())
    assert stale.value.response["error"] == "hash_conflict"
    with pytest.raises(SlackApiError) as missing:
        slack_client.views_update(view_id="V0NONE", view=retrain_modal())
    assert missing.value.response["error"] == "not_found"


def test_trigger_ids_work_once_and_must_look_like_slack(
    slack_client: WebClient, slack_server: FakeSlackServer
) -> None:
    trigger = slack_server.issue_trigger_id(seed.ALICE)
    slack_client.views_open(trigger_id=trigger, view=retrain_modal())
    with pytest.raises(SlackApiError) as reused:
        slack_client.views_open(trigger_id=trigger, view=retrain_modal())
    assert reused.value.response["error"] == "exchanged_trigger_id"
    with pytest.raises(SlackApiError) as malformed:
        slack_client.views_open(trigger_id="not-a-trigger", view=retrain_modal())
    assert malformed.value.response.data == {
        "ok": False,
        "error": "invalid_arguments",
        "response_metadata": {"messages": ["invalid `trigger_id`"]},
    }


def test_trigger_ids_expire_after_three_seconds() -> None:
    now = [1_700_000_000.0]
    with running_slack_server(Workspace(clock=lambda: now[0])) as server:
        trigger = server.issue_trigger_id(seed.ALICE)
        now[0] += 3.5
        with pytest.raises(SlackApiError) as late:
            server.client().views_open(trigger_id=trigger, view=retrain_modal())
        assert late.value.response["error"] == "expired_trigger_id"


def test_invalid_views_are_refused_with_detail(
    slack_client: WebClient, slack_server: FakeSlackServer
) -> None:
    too_long_title = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "x" * 25},
        "blocks": [],
    }
    with pytest.raises(SlackApiError) as refused:
        slack_client.views_open(trigger_id=slack_server.issue_trigger_id(), view=too_long_title)
    assert refused.value.response["error"] == "invalid_arguments"
    assert refused.value.response["response_metadata"]["messages"] == [
        "[ERROR] must be less than 25 characters [json-pointer:/view/title/text]"
    ]


def test_publish_home_per_user(slack_client: WebClient, slack_server: FakeSlackServer) -> None:
    home = View(type="home", blocks=[SectionBlock(text="*Models*")])
    first = slack_client.views_publish(user_id=seed.BOB, view=home)["view"]
    again = slack_client.views_publish(user_id=seed.BOB, view=home)["view"]
    assert first["type"] == "home" and again["id"] == first["id"]
    assert slack_server.workspace.views.home(seed.BOB)["blocks"][0]["text"]["text"] == "*Models*"
    assert slack_server.workspace.views.home(seed.ALICE) is None
    with pytest.raises(SlackApiError) as nobody:
        slack_client.views_publish(user_id="U0NOBODY", view=home)
    assert nobody.value.response["response_metadata"]["messages"] == ["invalid `user_id`"]
