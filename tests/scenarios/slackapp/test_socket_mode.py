"""Black-box, Socket Mode: `mlops-bot serve` with SLACK_APP_TOKEN as a separate process, its
Web API calls going to the fake Slack and its WebSocket to the fake Socket Mode server
(tests/fakes/socket_mode.py), which sends envelopes as Slack documents them and records acks."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from slack_sdk.errors import SlackApiError

from bot.sandbox import seed
from infra.defaults import demo_config
from tests.fakes.processes import free_port, serve_command, serve_env, wait_healthy
from tests.fakes.slack_server import FakeSlackServer
from tests.fakes.socket_mode import FakeSocketModeServer
from tests.scenarios.slackapp.conftest import blocks_text

ACK_WINDOW = 3.0
"""Slack's: an envelope not acked within 3 seconds counts as failed (and is re-delivered)."""
PING_INTERVAL = "1"
"""The bot's ping interval here: a silent connection is replaced after about 5 s."""


def wait_until(check: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def probe(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as failing:
        return failing.code, failing.read().decode()


@dataclass
class SocketBot:
    """A `serve` process in Socket Mode and the fakes it talks to."""

    process: subprocess.Popen[bytes]
    probes: str
    slack: FakeSlackServer
    sockets: FakeSocketModeServer

    def send(self, request: Any) -> dict[str, Any]:
        """Deliver what Slack would POST as ``request`` as an envelope; assert the ack comes
        within Slack's window; returns the envelope."""
        envelope = self.sockets.send_request(request)
        self.acked(envelope)
        return envelope

    def acked(self, envelope: dict[str, Any], count: int = 1) -> dict[str, Any] | None:
        ack = self.sockets.wait_ack(envelope["envelope_id"], count=count, timeout=20)
        if count == 1:
            seconds = ack.at - self.sockets.sent[envelope["envelope_id"]]
            assert seconds < ACK_WINDOW, f"{envelope['type']} acked after {seconds:.2f}s"
        return ack.payload

    def command(self, text: str, user: str = seed.ALICE) -> tuple[dict[str, Any], str]:
        """``/mlops text`` over the socket; returns the envelope and its response URL."""
        request = self.slack.interactions.slash_command(text, user_id=user)
        envelope = self.send(request)
        return envelope, envelope["payload"]["response_url"]

    def replies_to(self, response_url: str) -> list[Any]:
        return [c for c in self.slack.calls_of("response_url") if c.params["url"] == response_url]

    def card_text(self, ts: str) -> str:
        return json.dumps(self.slack.workspace.message(seed.APPROVALS_CHANNEL, ts)["blocks"])

    def click(self, ts: str, action: str, user: str) -> dict[str, Any]:
        return self.send(
            self.slack.interactions.click(seed.APPROVALS_CHANNEL, ts, action, user_id=user)
        )


def start_serve(
    state_dir: Path, slack: FakeSlackServer, sockets: FakeSocketModeServer
) -> SocketBot:
    port = free_port()
    env = serve_env(
        slack.base_url,
        state_dir,
        app_token=seed.APP_TOKEN,
        MLOPS_BOT_SOCKET_PING_INTERVAL=PING_INTERVAL,
    )
    # The embedded defaults without prod's shadow evaluation: these scenarios approve at once
    # (tests/scenarios/approvals/test_shadow.py and tests/e2e cover the evaluation).
    config = state_dir.parent / "without-shadow.yaml"
    config.write_text(yaml.safe_dump(demo_config(shadow=False)), encoding="utf-8")
    env["MLOPS_BOT_CONFIG"] = str(config)
    process = subprocess.Popen(
        serve_command(port, http=False),
        env=env,
        cwd=state_dir.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    links = len(sockets.links)
    try:
        wait_healthy(f"{url}/healthz", process, timeout=60)
        sockets.wait_links(links + 1, timeout=30)
        wait_until(lambda: probe(f"{url}/readyz")[0] == 200, what="/readyz: connected")
    except (RuntimeError, TimeoutError) as exc:
        process.kill()
        pytest.fail(f"{exc}\n{process.communicate()[0].decode()}")
    return SocketBot(process, url, slack, sockets)


@pytest.fixture
def sockets(slack_server: FakeSlackServer) -> Iterator[FakeSocketModeServer]:
    with FakeSocketModeServer(slack_server) as server:
        yield server


@pytest.fixture
def socket_bot(
    state_dir: Path, slack_server: FakeSlackServer, sockets: FakeSocketModeServer
) -> Iterator[SocketBot]:
    bot = start_serve(state_dir, slack_server, sockets)
    try:
        yield bot
    finally:
        bot.process.terminate()
        try:
            code = bot.process.wait(20)
        except subprocess.TimeoutExpired:
            bot.process.kill()
            raise
        assert code == 0, bot.process.communicate()[0].decode()[-3000:]


# ---------------------------------------------------------------------- acks and work


def test_every_envelope_is_acked_in_time_and_the_work_follows_the_ack(
    socket_bot: SocketBot, slack_server: FakeSlackServer
) -> None:
    # The status card's Web API answer is slow: the ack must not wait for it.
    slack_server.inject("response_url", delay=4.0)
    envelope, url = socket_bot.command("status churn-model")
    assert socket_bot.acked(envelope) is None  # an empty ack, as Bolt acks a slash command
    card = wait_until(lambda: socket_bot.replies_to(url), timeout=30, what="the status card")[0]
    ack = socket_bot.sockets.acks_of(envelope["envelope_id"])[0]
    assert card.time >= ack.wall + 3.0  # posted after the delayed answer, long after the ack
    text = blocks_text(card.args)
    for env, version in (("dev", "3"), ("preprod", "2"), ("prod", "1")):
        assert f"*{env}*" in text and f"*v{version}* (100%)" in text

    # events_api: the Home tab is published after the ack
    home = socket_bot.send(slack_server.interactions.open_home(seed.BOB))
    assert home["type"] == "events_api" and home["retry_attempt"] == 0
    wait_until(
        lambda: any(
            c.args.get("user_id") == seed.BOB for c in slack_server.calls_of("views.publish")
        ),
        what="the Home tab",
    )
    assert socket_bot.sockets.links[0].received[0].get("type") is None  # acks only, no chatter

    # The probes server's /metrics counted both acks, by transport and kind.
    status, text = probe(f"{socket_bot.probes}/metrics")
    assert status == 200
    assert 'mlops_bot_ack_seconds_count{kind="command",mode="socket_mode"} 1.0' in text
    assert 'mlops_bot_ack_seconds_count{kind="event",mode="socket_mode"} 1.0' in text


def test_promotion_end_to_end_over_socket_mode(
    socket_bot: SocketBot, slack_server: FakeSlackServer
) -> None:
    approvals = seed.APPROVALS_CHANNEL
    before = {m["ts"] for m in slack_server.messages(approvals)}
    socket_bot.command("promote churn-model --to prod")
    card = wait_until(
        lambda: next((m for m in slack_server.messages(approvals) if m["ts"] not in before), None),
        what="the request card",
    )
    ts = card["ts"]
    assert "0 of 2 approvals" in socket_bot.card_text(ts)

    socket_bot.click(ts, "approval_approve", seed.BOB)
    wait_until(lambda: "1 of 2 approvals" in socket_bot.card_text(ts), what="1 of 2 on the card")
    socket_bot.click(ts, "approval_approve", seed.CAROL)
    wait_until(
        lambda: "Promoted" in socket_bot.card_text(ts), timeout=120, what="the card: Promoted"
    )
    text = socket_bot.card_text(ts)
    assert ":white_check_mark: Shift 100% of traffic" in text
    assert '"type": "actions"' not in text  # no buttons left
    thread = wait_until(
        lambda: (
            (t := " ".join(m.get("text", "") for m in slack_server.thread(approvals, ts)))
            and "is live" in t
            and t
        ),
        what="the thread to say the version is live",
    )
    for person in (seed.ALICE, seed.BOB, seed.CAROL):
        assert f"<@{person}>" in thread
    edits = [c for c in slack_server.calls_of("chat.update") if c.args.get("ts") == ts]
    assert len(edits) >= 2  # the card was edited in place, not re-posted
    assert len(socket_bot.sockets.acks) == len(socket_bot.sockets.sent)  # every envelope acked


def test_a_view_submission_ack_carries_the_response_action(
    socket_bot: SocketBot, slack_server: FakeSlackServer
) -> None:
    before = {m["ts"] for m in slack_server.messages(seed.APPROVALS_CHANNEL)}
    socket_bot.command("promote churn-model --to prod")
    ts = wait_until(
        lambda: next(
            (
                m["ts"]
                for m in slack_server.messages(seed.APPROVALS_CHANNEL)
                if m["ts"] not in before
            ),
            None,
        ),
        what="the request card",
    )
    socket_bot.click(ts, "approval_reject", seed.CAROL)
    stack = wait_until(
        lambda: slack_server.workspace.views._stacks.get(seed.CAROL), what="the dialog"
    )
    blank = {"reason": {"reason_input": {"type": "plain_text_input", "value": " "}}}
    envelope = socket_bot.send(slack_server.interactions.submit_view(stack[-1], blank))
    assert envelope["accepts_response_payload"] is True
    payload = socket_bot.acked(envelope)
    assert payload and payload["response_action"] == "errors" and "reason" in payload["errors"]

    reason = {
        "reason": {"reason_input": {"type": "plain_text_input", "value": "drift unexplained"}}
    }
    socket_bot.send(slack_server.interactions.submit_view(stack[-1], reason))
    wait_until(lambda: "Rejected" in socket_bot.card_text(ts), what="the card: Rejected")


# ---------------------------------------------------------------------- re-delivery


def test_a_redelivered_envelope_is_acked_but_not_acted_on_twice(
    socket_bot: SocketBot, slack_server: FakeSlackServer
) -> None:
    envelope, url = socket_bot.command("status churn-model")
    wait_until(lambda: socket_bot.replies_to(url), what="the status card")
    again = socket_bot.sockets.redeliver(envelope, retry_attempt=1, retry_reason="timeout")
    assert again["envelope_id"] == envelope["envelope_id"]
    socket_bot.acked(envelope, count=2)

    def publishes() -> list:
        return [
            c for c in slack_server.calls_of("views.publish") if c.args.get("user_id") == seed.CAROL
        ]

    home = socket_bot.send(slack_server.interactions.open_home(seed.CAROL))
    socket_bot.sockets.redeliver(home, retry_attempt=2)
    socket_bot.acked(home, count=2)
    # The home tab is built on a worker: wait for it rather than assume it beats the next command.
    wait_until(publishes, what="the home tab")

    # A later command is answered: by then the bot has finished with the re-deliveries.
    _, later = socket_bot.command("models")
    wait_until(lambda: socket_bot.replies_to(later), what="the later command's answer")
    assert len(socket_bot.replies_to(url)) == 1
    assert len(publishes()) == 1


# ---------------------------------------------------------------------- reconnection


def _reconnects(bot: SocketBot, cut: Callable[[], None]) -> None:
    """Cut the connection with ``cut`` right after an envelope went out; the bot reconnects
    through a new apps.connections.open, Slack re-delivers the envelope (it may have lost the
    ack), and the command is answered exactly once."""
    sockets = bot.sockets
    opens, links = sockets.opens, len(sockets.links)
    request = bot.slack.interactions.slash_command("status churn-model", user_id=seed.BOB)
    envelope = sockets.send_request(request)
    cut()
    sockets.wait_opens(opens + 1)
    sockets.wait_links(links + 1)
    new_link = sockets.links[-1]
    sockets.redeliver(envelope, retry_attempt=1, retry_reason="timeout", link=new_link)
    wait_until(
        lambda: any(a.link == new_link.index for a in sockets.acks_of(envelope["envelope_id"])),
        what="the re-delivery acked over the new connection",
    )
    url = envelope["payload"]["response_url"]
    wait_until(lambda: bot.replies_to(url), what="the command's answer after reconnecting")
    # The connection is in use again: a new command is acked and answered over it.
    _, later = bot.command("models")
    wait_until(lambda: bot.replies_to(later), what="an answer over the new connection")
    assert len(bot.replies_to(url)) == 1


def test_reconnects_when_slack_closes_the_socket(socket_bot: SocketBot) -> None:
    _reconnects(socket_bot, lambda: socket_bot.sockets.close())


@pytest.mark.parametrize("reason", ["refresh_requested", "warning"])
def test_reconnects_on_a_disconnect_message(socket_bot: SocketBot, reason: str) -> None:
    _reconnects(socket_bot, lambda: socket_bot.sockets.disconnect(reason))


def test_reconnects_when_pings_go_unanswered(socket_bot: SocketBot) -> None:
    _reconnects(socket_bot, lambda: socket_bot.sockets.stop_answering_pings())


def envelope_claims(state_dir: Path) -> int:
    """Envelope ids claimed in the bot's store (``locks`` rows under ``envelope:``)."""
    with closing(sqlite3.connect(state_dir / "bot.db", timeout=10)) as db:
        row = db.execute("SELECT count(*) FROM locks WHERE name LIKE 'envelope:%'").fetchone()
        return int(row[0])


def test_two_replicas_each_envelope_handled_once(
    state_dir: Path, socket_bot: SocketBot, sockets: FakeSocketModeServer
) -> None:
    """Slack spreads envelopes over an app's connections (up to 10); with two replicas on one
    store, each envelope is handled once, also when Slack re-delivers it to the other one."""
    second = start_serve(state_dir, socket_bot.slack, sockets)
    try:
        first_link, second_link = sockets.open_links()
        envelopes = []
        for n in range(6):
            request = socket_bot.slack.interactions.slash_command("status churn-model")
            envelope = sockets.send_request(request, link=(first_link, second_link)[n % 2])
            envelopes.append(envelope)
        for envelope in envelopes:
            socket_bot.acked(envelope)
        # Slack re-delivers seconds after a missed ack; by then the claims written behind the
        # acks are in the store (waited for here rather than slept for).
        wait_until(lambda: envelope_claims(state_dir) >= len(envelopes), what="the envelope claims")
        for n, envelope in enumerate(envelopes):
            other = (second_link, first_link)[n % 2]
            sockets.redeliver(envelope, retry_attempt=1, link=other)
            ack = sockets.wait_ack(envelope["envelope_id"], count=2, timeout=20)
            assert ack.link == other.index
        urls = [e["payload"]["response_url"] for e in envelopes]
        wait_until(lambda: all(socket_bot.replies_to(u) for u in urls), what="every status card")
        _, later = socket_bot.command("models")  # both replicas are past the re-deliveries
        _, later2 = socket_bot.command("models")
        wait_until(
            lambda: socket_bot.replies_to(later) and socket_bot.replies_to(later2),
            what="the later answers",
        )
        assert [len(socket_bot.replies_to(u)) for u in urls] == [1] * len(urls)
    finally:
        second.process.terminate()
        assert second.process.wait(20) == 0


# ---------------------------------------------------------------------- probes


def test_probes_report_the_connection_state(socket_bot: SocketBot) -> None:
    status, body = probe(f"{socket_bot.probes}/readyz")
    assert status == 200 and json.loads(body)["socket_mode"] == "connected"
    assert probe(f"{socket_bot.probes}/healthz") == (200, "ok: socket mode connected")

    socket_bot.sockets.accepting = False  # Slack unreachable: reconnecting fails for now
    socket_bot.sockets.close()
    status, body = wait_until(
        lambda: (r := probe(f"{socket_bot.probes}/readyz"))[0] == 503 and r,
        what="/readyz to fail while disconnected",
    )
    assert json.loads(body)["socket_mode"].startswith("disconnected")
    status, body = probe(f"{socket_bot.probes}/healthz")
    assert status == 200 and "disconnected" in body  # alive: the client keeps reconnecting

    socket_bot.sockets.accepting = True
    wait_until(
        lambda: probe(f"{socket_bot.probes}/readyz")[0] == 200, what="/readyz after reconnecting"
    )
    _, url = socket_bot.command("status churn-model")
    wait_until(lambda: socket_bot.replies_to(url), what="an answer after reconnecting")


# ---------------------------------------------------------------------- refused tokens


def _serve_until_exit(
    state_dir: Path, slack: FakeSlackServer, token: str
) -> subprocess.CompletedProcess[str]:
    env = serve_env(slack.base_url, state_dir, app_token=token)
    return subprocess.run(
        [*serve_command(free_port(), http=False), "--no-scheduler"],
        env=env,
        cwd=state_dir.parent,
        capture_output=True,
        text=True,
        timeout=90,
    )


@pytest.mark.parametrize("revoked", [False, True], ids=["wrong", "revoked"])
def test_a_refused_app_token_exits_with_one_clear_line(
    state_dir: Path, slack_server: FakeSlackServer, sockets: FakeSocketModeServer, revoked: bool
) -> None:
    token = seed.APP_TOKEN if revoked else "xapp-1-A0MLOPSBOT-0-notatoken"
    if revoked:
        slack_server.workspace.revoke_token(seed.APP_TOKEN)
    result = _serve_until_exit(state_dir, slack_server, token)
    output = result.stdout + result.stderr
    assert result.returncode == 3, output
    assert "Traceback" not in output
    refused = [line for line in output.splitlines() if "Slack refused SLACK_APP_TOKEN" in line]
    assert len(refused) == 1 and "invalid_auth" in refused[0], output
    assert token not in output  # the secret is not echoed
    assert sockets.links == []
    calls = slack_server.calls_of("apps.connections.open")
    assert [c.response["error"] for c in calls] == ["invalid_auth"]


def test_apps_connections_open_answers_like_slack(
    slack_server: FakeSlackServer, sockets: FakeSocketModeServer
) -> None:
    opened = slack_server.client(token=seed.APP_TOKEN).apps_connections_open(
        app_token=seed.APP_TOKEN
    )
    assert opened["ok"] is True and opened["url"].startswith(f"ws://127.0.0.1:{sockets.port}/link/")
    for token, error in ((seed.BOT_TOKEN, "not_allowed_token_type"), ("xapp-1-x", "invalid_auth")):
        with pytest.raises(SlackApiError) as refused:
            slack_server.client().apps_connections_open(app_token=token)
        assert refused.value.response["error"] == error
