"""The workspace and server pieces the sandbox page builds on: change waits, routes, limits."""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Iterator

from bot.sandbox import HttpRequest, HttpResponse, seed
from bot.sandbox.blockcheck import check_blocks
from bot.sandbox.workspace import Workspace
from tests.fakes.slack_server import FakeSlackServer


def test_wait_for_change_wakes_on_a_new_message() -> None:
    workspace = Workspace()
    seen = workspace.version
    timer = threading.Timer(
        0.1, lambda: workspace.post_message("#mlops", user_id=seed.ALICE, text="hello")
    )
    timer.start()
    assert workspace.wait_for_change(seen, timeout=5) > seen
    timer.join()
    assert workspace.wait_for_change(workspace.version, timeout=0.05) == workspace.version


def test_seeded_demo_workspace() -> None:
    workspace = Workspace()
    names = {c["name"]: c for c in workspace.channels()}
    assert set(names) == {"mlops", "mlops-alerts", "mlops-approvals", "general"}
    assert seed.BOT_USER_ID in names["mlops-approvals"]["members"]
    assert seed.BOT_USER_ID not in names["general"]["members"]
    assert workspace.usergroup_users(seed.APPROVERS_GROUP_ID) == [seed.BOB, seed.CAROL]
    assert {u["name"] for u in workspace.list_users()} == {
        "mlops-bot",
        "alice",
        "bob",
        "carol",
        "dave",
    }
    assert Workspace(with_demo_data=False).channels() == []


def test_added_routes_take_precedence_and_can_stream(slack_server: FakeSlackServer) -> None:
    def page(request: HttpRequest) -> HttpResponse:
        return HttpResponse.text(f"<h1>{request.path}</h1>", content_type="text/html")

    def events(request: HttpRequest) -> HttpResponse:
        def chunks() -> Iterator[bytes]:
            for n in range(3):
                yield f"data: {n}\n\n".encode()

        return HttpResponse(headers={"Content-Type": "text/event-stream"}, stream=chunks())

    slack_server.add_route("GET", "/", page)
    slack_server.add_route("GET", "/events", events)
    with urllib.request.urlopen(slack_server.root_url + "channels/C0MLOPS", timeout=5) as response:
        assert response.read() == b"<h1>/channels/C0MLOPS</h1>"
    with urllib.request.urlopen(slack_server.root_url + "events", timeout=5) as response:
        assert response.headers["Content-Type"] == "text/event-stream"
        assert response.read() == b"data: 0\n\ndata: 1\n\ndata: 2\n\n"
    # Slack's own paths win over page routes: GET /api/users.info is not the page.
    assert slack_server.client().users_info(user=seed.ALICE)["user"]["name"] == "alice"


def test_block_checks_catch_what_slack_refuses() -> None:
    section = {"type": "section", "block_id": "a", "text": {"type": "mrkdwn", "text": "x"}}
    assert check_blocks([section]) == []
    assert check_blocks([section, dict(section)]) == [
        "[ERROR] duplicate block_id: a [json-pointer:/blocks/1/block_id]"
    ]
    assert check_blocks([{"type": "header", "text": {"type": "mrkdwn", "text": "x"}}]) == [
        "[ERROR] must be one of: plain_text [json-pointer:/blocks/0/text/type]"
    ]
    assert check_blocks([{"type": "section", "text": {"type": "mrkdwn", "text": ""}}]) == [
        "[ERROR] must be more than 0 characters [json-pointer:/blocks/0/text/text]"
    ]
    confirm = {
        "title": {"type": "plain_text", "text": "Sure?"},
        "text": {"type": "mrkdwn", "text": "Deploy to prod"},
        "confirm": {"type": "plain_text", "text": "Yes"},
        "deny": {"type": "plain_text", "text": "No"},
        "style": "danger",
    }
    button = {"type": "button", "action_id": "go", "text": {"type": "plain_text", "text": "Go"}}
    actions = {"type": "actions", "elements": [button | {"confirm": confirm}]}
    assert check_blocks([actions]) == []
    assert check_blocks([{"type": "actions", "elements": [button, button]}]) == [
        "[ERROR] duplicate action_id: go [json-pointer:/blocks/0/elements/1/action_id]"
    ]
    assert check_blocks([{"type": "image", "image_url": "http://x/y.png"}]) == [
        "[ERROR] missing required field [json-pointer:/blocks/0/alt_text]"
    ]
    assert check_blocks([{"type": "carousel"}]) == [
        "[ERROR] unsupported type: carousel [json-pointer:/blocks/0/type]"
    ]
    fields = {"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}
    assert check_blocks([fields]) == [
        "[ERROR] no more than 10 items allowed [json-pointer:/blocks/0/fields]"
    ]
