"""chat.* and conversations.* through a real slack_sdk WebClient, as the bot will call them."""

from __future__ import annotations

import json
import threading

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.sandbox import seed
from tests.fakes.slack_server import FakeSlackServer

SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "*churn-model* v7 serves prod"}}


def slack_error(excinfo: pytest.ExceptionInfo[SlackApiError]) -> str:
    return excinfo.value.response["error"]


def test_auth_test_answers_like_slack_for_a_bot_token(slack_client: WebClient) -> None:
    body = slack_client.auth_test().data
    assert body == {
        "ok": True,
        "url": slack_client.base_url.removesuffix("api/"),
        "team": seed.TEAM_NAME,
        "user": seed.BOT_NAME,
        "team_id": seed.TEAM_ID,
        "user_id": seed.BOT_USER_ID,
        "bot_id": seed.BOT_ID,
        "is_enterprise_install": False,
    }


def test_missing_or_wrong_token_is_refused(slack_server: FakeSlackServer) -> None:
    with pytest.raises(SlackApiError) as missing:
        WebClient(base_url=slack_server.base_url).auth_test()
    assert slack_error(missing) == "not_authed"
    assert missing.value.response.status_code == 200
    with pytest.raises(SlackApiError) as wrong:
        slack_server.client(token="xoxb-not-a-real-token").chat_postMessage(
            channel="#mlops", text="x"
        )
    assert slack_error(wrong) == "invalid_auth"
    # The token may also come as a form field, as Slack accepts.
    form = WebClient(base_url=slack_server.base_url).api_call(
        "auth.test", params={"token": seed.BOT_TOKEN}
    )
    assert form["user_id"] == seed.BOT_USER_ID


def test_post_by_channel_name_returns_channel_id_ts_and_message(
    slack_client: WebClient, slack_server: FakeSlackServer
) -> None:
    response = slack_client.chat_postMessage(
        channel="#mlops",
        text="status",
        blocks=[SECTION],
        attachments=[{"text": "details", "fallback": "details"}],
        unfurl_links=False,
        unfurl_media=False,
    )
    assert response["channel"] == seed.MLOPS_CHANNEL
    message = response["message"]
    assert message["ts"] == response["ts"]
    assert message["bot_id"] == seed.BOT_ID and message["user"] == seed.BOT_USER_ID
    assert message["blocks"][0]["text"] == SECTION["text"]
    assert message["blocks"][0]["block_id"]  # Slack fills in missing block ids
    assert message["attachments"] == [{"id": 1, "text": "details", "fallback": "details"}]
    assert slack_server.messages(seed.MLOPS_CHANNEL) == [message]
    call = slack_server.wait_for("chat.postMessage")
    assert call.args["blocks"] == [SECTION]
    assert call.args["unfurl_links"] is False and call.args["unfurl_media"] is False


def test_form_bodies_with_json_strings_are_decoded(
    slack_client: WebClient, slack_server: FakeSlackServer
) -> None:
    response = slack_client.api_call(
        "chat.postMessage",
        params={"channel": "#mlops", "text": "t", "blocks": json.dumps([SECTION])},
    )
    assert response["message"]["blocks"][0]["text"] == SECTION["text"]
    call = slack_server.calls_of("chat.postMessage")[-1]
    assert call.json is None and isinstance(call.params["blocks"], str)
    assert call.args["blocks"] == [SECTION]


def test_json_bodies_are_accepted(slack_client: WebClient, slack_server: FakeSlackServer) -> None:
    response = slack_client.api_call(
        "chat.postMessage",
        json={"channel": seed.ALERTS_CHANNEL, "text": "drift", "blocks": [SECTION]},
    )
    assert response["channel"] == seed.ALERTS_CHANNEL
    call = slack_server.calls_of("chat.postMessage")[-1]
    assert call.json is not None and call.json["blocks"] == [SECTION]


def test_threads_replies_and_broadcasts(slack_client: WebClient) -> None:
    parent = slack_client.chat_postMessage(channel=seed.MLOPS_CHANNEL, text="rollout started")
    slack_client.chat_postMessage(channel=seed.MLOPS_CHANNEL, thread_ts=parent["ts"], text="10%")
    done = slack_client.chat_postMessage(
        channel=seed.MLOPS_CHANNEL, thread_ts=parent["ts"], text="100%", reply_broadcast=True
    )
    assert done["message"]["thread_ts"] == parent["ts"]
    assert done["message"]["subtype"] == "thread_broadcast"
    replies = slack_client.conversations_replies(channel=seed.MLOPS_CHANNEL, ts=parent["ts"])
    assert [m["text"] for m in replies["messages"]] == ["rollout started", "10%", "100%"]
    assert replies["messages"][0]["reply_count"] == 2
    assert replies["messages"][0]["latest_reply"] == done["ts"]
    history = slack_client.conversations_history(channel=seed.MLOPS_CHANNEL)
    assert [m["text"] for m in history["messages"]] == ["100%", "rollout started"]
    with pytest.raises(SlackApiError) as unknown:
        slack_client.chat_postMessage(channel=seed.MLOPS_CHANNEL, thread_ts="1.000001", text="lost")
    assert slack_error(unknown) == "thread_not_found"


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_refusals_match_slack_error_codes(slack_client: WebClient) -> None:
    cases = [
        ({"channel": "#general", "text": "x"}, "not_in_channel"),
        ({"channel": "#nope", "text": "x"}, "channel_not_found"),
        ({"channel": "#mlops"}, "no_text"),
        ({"channel": "#mlops", "text": "x" * 40_001}, "msg_too_long"),
        (
            {"channel": "#mlops", "text": "x", "attachments": [{"text": "a"}] * 101},
            "too_many_attachments",
        ),
    ]
    for kwargs, error in cases:
        with pytest.raises(SlackApiError) as refused:
            slack_client.chat_postMessage(**kwargs)
        assert slack_error(refused) == error, kwargs


def test_block_kit_limits_are_enforced_with_slack_detail_lines(slack_client: WebClient) -> None:
    with pytest.raises(SlackApiError) as too_many:
        slack_client.chat_postMessage(channel="#mlops", text="x", blocks=[{"type": "divider"}] * 51)
    body = too_many.value.response.data
    assert body["error"] == "invalid_blocks"
    assert body["response_metadata"]["messages"] == [
        "[ERROR] no more than 50 items allowed [json-pointer:/blocks]"
    ]
    long_button = {
        "type": "actions",
        "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "A" * 76}, "action_id": "a"}
        ],
    }
    with pytest.raises(SlackApiError) as too_long:
        slack_client.chat_postMessage(channel="#mlops", text="x", blocks=[long_button])
    assert too_long.value.response["response_metadata"]["messages"] == [
        "[ERROR] must be less than 76 characters [json-pointer:/blocks/0/elements/0/text/text]"
    ]
    with pytest.raises(SlackApiError) as bad_json:
        slack_client.api_call("chat.postMessage", params={"channel": "#mlops", "blocks": "[{"})
    assert slack_error(bad_json) == "invalid_blocks_format"


def test_update_keeps_omitted_fields_clears_empty_ones_and_marks_edit(
    slack_client: WebClient, slack_server: FakeSlackServer
) -> None:
    posted = slack_client.chat_postMessage(channel="#mlops", text="deploying", blocks=[SECTION])
    updated = slack_client.chat_update(channel=posted["channel"], ts=posted["ts"], text="deployed")
    assert updated["ts"] == posted["ts"] and updated["text"] == "deployed"
    assert updated["message"]["blocks"][0]["text"] == SECTION["text"]
    assert updated["message"]["edited"]["user"] == seed.BOT_USER_ID
    slack_client.chat_update(channel=posted["channel"], ts=posted["ts"], text="plain", blocks=[])
    stored = slack_server.workspace.message(posted["channel"], posted["ts"])
    assert "blocks" not in stored and stored["text"] == "plain"
    with pytest.raises(SlackApiError) as missing:
        slack_client.chat_update(channel=posted["channel"], ts="1.000001", text="x")
    assert slack_error(missing) == "message_not_found"
    _, human = slack_server.workspace.post_message(
        seed.MLOPS_CHANNEL, user_id=seed.ALICE, text="hi"
    )
    with pytest.raises(SlackApiError) as not_ours:
        slack_client.chat_update(channel=seed.MLOPS_CHANNEL, ts=human["ts"], text="edited")
    assert slack_error(not_ours) == "cant_update_message"


def test_delete_leaves_a_tombstone_only_when_the_thread_has_replies(
    slack_client: WebClient, slack_server: FakeSlackServer
) -> None:
    lonely = slack_client.chat_postMessage(channel="#mlops", text="oops")
    assert (
        slack_client.chat_delete(channel=lonely["channel"], ts=lonely["ts"])["ts"] == lonely["ts"]
    )
    parent = slack_client.chat_postMessage(channel="#mlops", text="parent")
    slack_client.chat_postMessage(channel="#mlops", thread_ts=parent["ts"], text="reply")
    slack_client.chat_delete(channel=parent["channel"], ts=parent["ts"])
    [tombstone] = slack_server.messages(seed.MLOPS_CHANNEL)
    assert tombstone["subtype"] == "tombstone" and tombstone["reply_count"] == 1
    with pytest.raises(SlackApiError) as gone:
        slack_client.chat_delete(channel=lonely["channel"], ts=lonely["ts"])
    assert slack_error(gone) == "message_not_found"


def test_ephemeral_messages_are_kept_per_user(
    slack_client: WebClient, slack_server: FakeSlackServer
) -> None:
    response = slack_client.chat_postEphemeral(channel="#mlops", user=seed.DAVE, text="denied")
    [message] = slack_server.ephemerals(seed.DAVE)
    assert message["ts"] == response["message_ts"]
    assert message["channel"] == seed.MLOPS_CHANNEL and message["text"] == "denied"
    assert slack_server.ephemerals(seed.ALICE) == []
    slack_server.workspace.add_channel(
        "C0PRIVATE", "ml-private", members=[seed.BOT_USER_ID, seed.BOB]
    )
    with pytest.raises(SlackApiError) as outsider:
        slack_client.chat_postEphemeral(channel="C0PRIVATE", user=seed.DAVE, text="x")
    assert slack_error(outsider) == "user_not_in_channel"


def test_direct_messages_open_an_im(slack_client: WebClient, slack_server: FakeSlackServer) -> None:
    response = slack_client.chat_postMessage(channel=seed.CAROL, text="your approval is needed")
    assert response["channel"].startswith("D")
    opened = slack_client.conversations_open(users=seed.CAROL)
    assert opened["channel"]["id"] == response["channel"] and opened["already_open"] is True


def test_permalink_points_at_the_sandbox(
    slack_client: WebClient, slack_server: FakeSlackServer
) -> None:
    posted = slack_client.chat_postMessage(channel="#mlops", text="card")
    link = slack_client.chat_getPermalink(channel=posted["channel"], message_ts=posted["ts"])
    assert link["permalink"] == (
        f"{slack_server.root_url}archives/{seed.MLOPS_CHANNEL}/p{posted['ts'].replace('.', '')}"
    )


def test_people_groups_and_channels(slack_client: WebClient) -> None:
    alice = slack_client.users_info(user=seed.ALICE)["user"]
    assert alice["name"] == "alice" and alice["team_id"] == seed.TEAM_ID and not alice["is_bot"]
    groups = slack_client.usergroups_list(include_users=True, include_count=True)["usergroups"]
    [approvers] = [g for g in groups if g["handle"] == seed.APPROVERS_GROUP_HANDLE]
    assert approvers["id"] == seed.APPROVERS_GROUP_ID
    assert approvers["users"] == [seed.BOB, seed.CAROL] and approvers["user_count"] == "2"
    members = slack_client.usergroups_users_list(usergroup=seed.APPROVERS_GROUP_ID)["users"]
    assert members == [seed.BOB, seed.CAROL]
    info = slack_client.conversations_info(channel=seed.APPROVALS_CHANNEL)["channel"]
    assert info["name"] == "mlops-approvals" and info["is_member"] is True
    names = [
        c["name"]
        for page in slack_client.conversations_list(limit=2)
        for c in page["channels"]  # slack_sdk follows next_cursor
    ]
    assert sorted(names) == ["general", "mlops", "mlops-alerts", "mlops-approvals"]
    for call, error in [
        (lambda: slack_client.users_info(user="U0NOBODY"), "user_not_found"),
        (lambda: slack_client.usergroups_users_list(usergroup="S0NONE"), "no_such_subteam"),
        (lambda: slack_client.conversations_info(channel="C0NONE"), "channel_not_found"),
        (lambda: slack_client.api_call("chat.unknownThing"), "unknown_method"),
    ]:
        with pytest.raises(SlackApiError) as refused:
            call()
        assert slack_error(refused) == error


def test_group_membership_changes_are_visible(
    slack_client: WebClient, slack_server: FakeSlackServer
) -> None:
    slack_server.workspace.set_usergroup_users(seed.APPROVERS_GROUP_ID, [seed.BOB])
    assert slack_client.usergroups_users_list(usergroup=seed.APPROVERS_GROUP_ID)["users"] == [
        seed.BOB
    ]


def test_narrowed_token_gets_missing_scope_and_scopes_used_are_reported() -> None:
    from bot.sandbox.workspace import Workspace
    from tests.fakes.slack_server import running_slack_server

    with running_slack_server(Workspace(bot_scopes=("chat:write",))) as server:
        client = server.client()
        client.chat_postMessage(channel="#mlops", text="ok")
        with pytest.raises(SlackApiError) as refused:
            client.users_info(user=seed.ALICE)
        assert refused.value.response["needed"] == "users:read"
        assert refused.value.response["provided"] == "chat:write"
        assert server.scopes_used() == {"chat:write"}
        assert refused.value.response.headers["X-Accepted-OAuth-Scopes"] == "users:read"


def test_concurrent_posts_get_unique_increasing_ts(
    slack_server: FakeSlackServer,
) -> None:
    results: list[str] = []
    lock = threading.Lock()

    def post_ten() -> None:
        client = slack_server.client()
        for i in range(10):
            ts = client.chat_postMessage(channel="#mlops", text=str(i))["ts"]
            with lock:
                results.append(ts)

    threads = [threading.Thread(target=post_ten) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 80
    stored = [m["ts"] for m in slack_server.messages(seed.MLOPS_CHANNEL)]
    assert sorted(results, key=float) == stored
    assert len(slack_server.calls_of("chat.postMessage")) == 80


def test_wait_for_blocks_until_a_matching_call_arrives(slack_server: FakeSlackServer) -> None:
    client = slack_server.client()
    timer = threading.Timer(
        0.2, lambda: client.chat_postMessage(channel="#mlops-alerts", text="drift detected")
    )
    timer.start()
    call = slack_server.wait_for(
        "chat.postMessage", lambda c: "drift" in c.args.get("text", ""), timeout=5
    )
    timer.join()
    assert call.ok and call.response["channel"] == seed.ALERTS_CHANNEL
    with pytest.raises(TimeoutError, match=r"chat\.update.*chat\.postMessage"):
        slack_server.wait_for("chat.update", timeout=0.1)


def test_call_log_records_params_time_and_answer(
    slack_client: WebClient, slack_server: FakeSlackServer
) -> None:
    slack_client.chat_postMessage(channel="#mlops", text="hello")
    call = slack_server.calls[-1]
    assert call.method == "chat.postMessage"
    assert call.token == seed.BOT_TOKEN
    assert call.args["text"] == "hello"
    assert call.http_status == 200 and call.response["ok"] is True
    assert call.time > 0
    assert json.loads(json.dumps(call.response))["channel"] == seed.MLOPS_CHANNEL
