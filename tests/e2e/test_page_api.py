"""The sandbox page's server side, without a browser: what it sends to the bot and what it makes
of the answers.

A small recording app stands in for the bot here, so each test can choose the answer (an ack
body, a ``response_action``, silence, an error) and read the exact request the page delivered:
the bytes Slack would send, signed with the app's signing secret.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from slack_sdk.signature import SignatureVerifier

from bot.sandbox import SlackWebApiServer, seed
from bot.sandbox.page import SandboxPage

ACK_TIMEOUT = 2.0
"""How long the page waits for the app's ack in these tests (Slack waits three seconds)."""


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def form(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(self.body.decode()))

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.form["payload"])


@dataclass
class RecordingApp:
    """Answers ``/slack/events`` with ``answer(received) -> (status, body, delay)``."""

    answer: Callable[[Received], tuple[int, str, float]] = lambda _: (200, "", 0.0)
    received: list[Received] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def app() -> Iterator[RecordingApp]:
    recording = RecordingApp()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received = Received({k: v for k, v in self.headers.items()}, body)
            recording.received.append(received)
            status, answer, delay = recording.answer(received)
            time.sleep(delay)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer.encode())))
                self.end_headers()
                self.wfile.write(answer.encode())
            except (BrokenPipeError, ConnectionResetError):
                pass

        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/healthz" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    recording.url = f"http://127.0.0.1:{server.server_address[1]}/slack/events"
    yield recording
    server.shutdown()
    server.server_close()


@pytest.fixture
def sandbox(app: RecordingApp) -> Iterator[tuple[SlackWebApiServer, SandboxPage]]:
    server = SlackWebApiServer()
    # Long enough for a loaded machine to answer a local request; the slow app below waits
    # past it.
    page = SandboxPage(server, bot_url=app.url, ack_timeout=ACK_TIMEOUT).attach()
    server.start()
    yield server, page
    page.close()
    server.stop()


def call(server: SlackWebApiServer, path: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        server.root_url.rstrip("/") + path,
        data=data,
        headers={"Content-Type": "application/json"} if data else {},
        method="POST" if data is not None else "GET",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def verified(received: Received) -> bool:
    return SignatureVerifier(seed.SIGNING_SECRET).is_valid(
        received.body,
        received.headers["X-Slack-Request-Timestamp"],
        received.headers["X-Slack-Signature"],
    )


def test_a_typed_command_reaches_the_app_as_a_signed_slash_command(sandbox, app) -> None:
    server, _ = sandbox
    status, answer = call(
        server,
        "/sandbox/api/command",
        {"user": seed.BOB, "channel": seed.APPROVALS_CHANNEL, "text": "/mlops status churn-model"},
    )
    assert status == 200 and answer["delivered"] is True
    (received,) = app.received
    assert verified(received)
    form = received.form
    assert form["command"] == "/mlops" and form["text"] == "status churn-model"
    assert form["user_id"] == seed.BOB and form["user_name"] == "bob"
    assert form["channel_id"] == seed.APPROVALS_CHANNEL
    # The response URL works: an answer posted there shows up for Bob only.
    reply = urllib.request.Request(
        form["response_url"],
        data=json.dumps({"text": "status card"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(reply, timeout=5).close()
    assert [m["text"] for m in server.workspace.ephemerals(seed.BOB)] == ["status card"]
    assert server.workspace.ephemerals(seed.ALICE) == []


def test_an_ack_body_is_shown_to_the_person_as_slack_does(sandbox, app) -> None:
    server, _ = sandbox
    app.answer = lambda _: (200, json.dumps({"text": "Working on it…"}), 0.0)
    call(
        server,
        "/sandbox/api/command",
        {"user": seed.ALICE, "channel": "C0MLOPS", "text": "/mlops x"},
    )
    (shown,) = server.workspace.ephemerals(seed.ALICE, "C0MLOPS")
    assert shown["text"] == "Working on it…" and shown["user"] == seed.BOT_USER_ID


def test_an_app_that_does_not_ack_in_time_is_an_operation_timeout(sandbox, app) -> None:
    server, _ = sandbox
    app.answer = lambda _: (200, "", ACK_TIMEOUT + 1.0)
    status, answer = call(
        server,
        "/sandbox/api/command",
        {"user": seed.ALICE, "channel": "C0MLOPS", "text": "/mlops help"},
    )
    assert status == 200
    assert answer["delivered"] is False and answer["error"] == "operation_timeout"


def test_an_unreachable_app_is_a_dispatch_failure(sandbox) -> None:
    server, page = sandbox
    page.bot_url = "http://127.0.0.1:9/slack/events"
    _, answer = call(
        server,
        "/sandbox/api/command",
        {"user": seed.ALICE, "channel": "C0MLOPS", "text": "/mlops help"},
    )
    assert answer["error"] == "dispatch_failed"
    _, status = call(server, "/sandbox/api/status")
    assert status["bot_up"] is False


def test_other_commands_and_bad_requests_are_refused_before_the_app(sandbox, app) -> None:
    server, _ = sandbox
    status, answer = call(
        server,
        "/sandbox/api/command",
        {"user": seed.ALICE, "channel": "C0MLOPS", "text": "/giphy cats"},
    )
    assert status == 400 and "/giphy is not a command" in answer["error"]
    status, answer = call(
        server,
        "/sandbox/api/command",
        {"user": seed.BOT_USER_ID, "channel": "C0MLOPS", "text": "/mlops"},
    )
    assert status == 400 and "person" in answer["error"]
    status, _ = call(
        server,
        "/sandbox/api/action",
        {"user": seed.ALICE, "channel": "C0MLOPS", "ts": "1.000001", "action_id": "x"},
    )
    assert status == 400
    assert app.received == []


def test_a_button_press_sends_block_actions_from_the_stored_message(sandbox, app) -> None:
    server, _ = sandbox
    ws = server.workspace
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "Approve v7?"}},
        {
            "type": "actions",
            "block_id": "votes",
            "elements": [
                {
                    "type": "button",
                    "action_id": "approve",
                    "value": "req-1",
                    "style": "primary",
                    "text": {"type": "plain_text", "text": "Approve"},
                },
            ],
        },
    ]
    _, message = ws.post_message(
        seed.APPROVALS_CHANNEL, user_id=seed.BOT_USER_ID, text="card", blocks=blocks
    )
    _, answer = call(
        server,
        "/sandbox/api/action",
        {
            "user": seed.CAROL,
            "channel": seed.APPROVALS_CHANNEL,
            "ts": message["ts"],
            "action_id": "approve",
        },
    )
    assert answer["delivered"] is True
    (received,) = app.received
    assert verified(received)
    payload = received.payload
    assert payload["type"] == "block_actions" and payload["user"]["id"] == seed.CAROL
    assert (
        payload["actions"][0]["value"] == "req-1" and payload["actions"][0]["block_id"] == "votes"
    )
    assert payload["container"]["message_ts"] == message["ts"]
    assert payload["message"]["blocks"][1]["elements"][0]["style"] == "primary"


def open_modal(server: SlackWebApiServer, user: str) -> dict[str, Any]:
    view = {
        "type": "modal",
        "callback_id": "reject",
        "private_metadata": "req-1",
        "title": {"type": "plain_text", "text": "Reject"},
        "submit": {"type": "plain_text", "text": "Reject"},
        "blocks": [
            {
                "type": "input",
                "block_id": "reason",
                "label": {"type": "plain_text", "text": "Reason"},
                "element": {"type": "plain_text_input", "action_id": "text", "multiline": True},
            }
        ],
    }
    return server.workspace.views.open(server.issue_trigger_id(user), view)


def test_a_modal_submission_follows_the_apps_response_action(sandbox, app) -> None:
    server, _ = sandbox
    views = server.workspace.views
    modal = open_modal(server, seed.BOB)
    values = {"reason": {"text": {"type": "plain_text_input", "value": "no"}}}
    app.answer = lambda _: (
        200,
        json.dumps({"response_action": "errors", "errors": {"reason": "Too short"}}),
        0.0,
    )
    _, answer = call(
        server, "/sandbox/api/submit", {"user": seed.BOB, "view_id": modal["id"], "values": values}
    )
    assert answer["errors"] == {"reason": "Too short"}
    assert [v["id"] for v in views.modal_stack(seed.BOB)] == [modal["id"]]
    payload = app.received[-1].payload
    assert payload["type"] == "view_submission" and payload["view"]["callback_id"] == "reject"
    assert (
        payload["view"]["state"]["values"] == values
        and payload["view"]["private_metadata"] == "req-1"
    )

    app.answer = lambda _: (200, "", 0.0)
    _, answer = call(
        server, "/sandbox/api/submit", {"user": seed.BOB, "view_id": modal["id"], "values": values}
    )
    assert answer["errors"] == {} and views.modal_stack(seed.BOB) == []


def test_someone_elses_modal_cannot_be_submitted(sandbox, app) -> None:
    server, _ = sandbox
    modal = open_modal(server, seed.BOB)
    status, answer = call(
        server, "/sandbox/api/submit", {"user": seed.DAVE, "view_id": modal["id"], "values": {}}
    )
    assert status == 400 and "someone else" in answer["error"]
    assert app.received == []


def test_a_submission_not_shaped_like_a_views_state_is_refused_before_the_app(sandbox, app) -> None:
    server, _ = sandbox
    modal = open_modal(server, seed.BOB)
    for values in ({"reason": {"text": "no"}}, {"reason": "no"}, ["no"]):
        status, answer = call(
            server,
            "/sandbox/api/submit",
            {"user": seed.BOB, "view_id": modal["id"], "values": values},
        )
        assert status == 400 and "as Slack sends a view's state" in answer["error"], values
    assert app.received == []


def test_opening_home_sends_app_home_opened(sandbox, app) -> None:
    server, _ = sandbox
    call(server, "/sandbox/api/home", {"user": seed.DAVE})
    (received,) = app.received
    assert verified(received)
    event = json.loads(received.body)["event"]
    assert event["type"] == "app_home_opened" and event["user"] == seed.DAVE


def test_the_state_shows_each_person_only_what_they_may_see(sandbox) -> None:
    server, _ = sandbox
    ws = server.workspace
    _, root = ws.post_message(seed.MLOPS_CHANNEL, user_id=seed.BOT_USER_ID, text="summary")
    ws.post_message(
        seed.MLOPS_CHANNEL, user_id=seed.BOT_USER_ID, text="chart", thread_ts=root["ts"]
    )
    ws.post_ephemeral(seed.MLOPS_CHANNEL, seed.ALICE, user_id=seed.BOT_USER_ID, text="for alice")
    ws.post_message(seed.BOB, user_id=seed.BOT_USER_ID, text="a DM for bob")
    _, alice = call(
        server, f"/sandbox/api/state?user={seed.ALICE}&channel=C0MLOPS&thread={root['ts']}"
    )
    _, bob = call(server, f"/sandbox/api/state?user={seed.BOB}&channel=C0MLOPS")
    assert [m["text"] for m in alice["messages"]] == ["summary"]
    assert alice["messages"][0]["reply_count"] == 1
    assert [m["text"] for m in alice["thread"]["messages"]] == ["summary", "chart"]
    assert [m["text"] for m in alice["ephemerals"]] == ["for alice"] and bob["ephemerals"] == []
    assert not any(c["is_im"] for c in alice["channels"])
    assert [c["im_user"] for c in bob["channels"] if c["is_im"]] == [seed.BOB]
    approvers = {u["name"] for u in bob["users"] if u["approver"]}
    assert approvers == {"bob", "carol"}
    mlops = next(c for c in bob["channels"] if c["id"] == "C0MLOPS")
    assert (mlops["count"], mlops["replies"]) == (1, 1)


def test_events_stream_a_change_for_every_new_version(sandbox) -> None:
    server, _ = sandbox
    with urllib.request.urlopen(server.root_url + "sandbox/api/events", timeout=5) as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        first = _next_event(stream)
        server.workspace.post_message(seed.MLOPS_CHANNEL, user_id=seed.CAROL, text="hello")
        second = _next_event(stream)
    assert second["version"] > first["version"]


def _next_event(stream: Any) -> dict[str, Any]:
    while True:
        line = stream.readline().decode()
        if line.startswith("data: "):
            return json.loads(line[6:])


def test_the_page_and_its_files_are_served_locally(sandbox) -> None:
    server, _ = sandbox
    for path, kind in (
        ("", "text/html"),
        ("static/app.js", "text/javascript"),
        ("static/style.css", "text/css"),
        ("archives/C0MLOPS/p1700000000000100", "text/html"),
    ):
        with urllib.request.urlopen(server.root_url + path, timeout=5) as response:
            assert response.headers["Content-Type"].startswith(kind)
            text = response.read().decode()
            assert "https://" not in text and "http://" not in text  # nothing remote
    for bad in ("static/../page.py", "static/%2e%2e/page.py", "nothing-here"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(server.root_url + bad, timeout=5)
        assert refused.value.code == 404
