"""A local Socket Mode server: the WebSocket end of Slack's Socket Mode, for the sandbox
(``mlops-bot demo --socket-mode``) and the tests (``tests/fakes/socket_mode.py``).

Beside the sandbox Web API (:class:`bot.sandbox.webapi.SlackWebApiServer`), whose
``apps.connections.open`` it answers with a single-use ``ws://`` URL, it accepts the bot's
connections, greets each with ``hello``, sends envelopes and records every ack. It can also do
what Slack does to a connection: close it, ask the client to reconnect (``disconnect`` with
``refresh_requested`` or ``warning``), go silent (stop answering pings), and deliver an envelope
again (same ``envelope_id``, ``retry_attempt`` > 0) as Slack does after a missed ack.

Shapes, from Slack's documentation (docs.slack.dev/apis/events-api/using-socket-mode/, "Using
Socket Mode", the hello / disconnect / envelope examples) and slack_sdk's client, which reads
them (slack_sdk/socket_mode/request.py, builtin/client.py):

    hello       {"type": "hello", "num_connections": 1, "debug_info": {"host": "applink-...",
                 "build_number": 10, "approximate_connection_time": 18060},
                 "connection_info": {"app_id": "A..."}}
    disconnect  {"type": "disconnect", "reason": "refresh_requested" | "warning" | ...,
                 "debug_info": {"host": "applink-..."}}
    envelope    {"envelope_id": "...", "type": "slash_commands" | "interactive" | "events_api",
                 "payload": {...the body Slack would POST to a Request URL...},
                 "accepts_response_payload": bool,
                 events_api only: "retry_attempt": int, "retry_reason": str}
    ack         {"envelope_id": "...", "payload": {...}}  (payload optional)

The payloads are the ones :mod:`bot.sandbox.signed_requests` builds for HTTP: a slash command's
form fields as a JSON object, an interaction's ``payload`` field decoded, an event callback as
is. ``accepts_response_payload`` is true where Slack reads a response from the ack (slash
commands, view submissions) and false otherwise, as in the documentation's examples.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from bot.sandbox import seed
from bot.sandbox.signed_requests import SignedRequest
from bot.sandbox.webapi import SlackWebApiServer

HOST = "applink-fake-1"


@dataclass
class Ack:
    envelope_id: str
    payload: dict[str, Any] | None
    link: int
    """Which connection (index in ``links``) carried it."""
    at: float
    """time.monotonic() when it arrived."""
    wall: float
    """time.time() when it arrived (to compare with the Web API call log)."""


@dataclass
class Link:
    """One accepted WebSocket connection."""

    index: int
    connection: ServerConnection
    ticket: str
    open: bool = True
    answering_pings: bool = True
    received: list[dict[str, Any]] = field(default_factory=list)


def envelope(
    kind: str,
    payload: dict[str, Any],
    *,
    envelope_id: str | None = None,
    accepts_response_payload: bool | None = None,
) -> dict[str, Any]:
    """A Socket Mode envelope of ``kind`` (slash_commands / interactive / events_api)."""
    if accepts_response_payload is None:
        accepts_response_payload = kind == "slash_commands" or (
            kind == "interactive" and payload.get("type") == "view_submission"
        )
    message: dict[str, Any] = {
        "envelope_id": envelope_id or str(uuid.uuid4()),
        "payload": payload,
        "type": kind,
        "accepts_response_payload": accepts_response_payload,
    }
    if kind == "events_api":
        message["retry_attempt"] = 0
        message["retry_reason"] = ""
    return message


def payload_of(request: SignedRequest | tuple[bytes, dict[str, str]]) -> dict[str, Any]:
    """What a signed HTTP request carries, as Socket Mode's ``payload``."""
    body, headers = request
    content_type = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    if content_type.startswith("application/json"):
        return dict(json.loads(body))
    fields = dict(parse_qsl(body.decode(), keep_blank_values=True))
    if set(fields) == {"payload"}:
        return dict(json.loads(fields["payload"]))
    return fields


def envelope_for(request: SignedRequest | tuple[bytes, dict[str, str]]) -> dict[str, Any]:
    """The envelope Slack sends over Socket Mode for what it would POST as ``request``."""
    payload = payload_of(request)
    if "command" in payload:
        return envelope("slash_commands", payload)
    if payload.get("type") == "event_callback":
        return envelope("events_api", payload)
    return envelope("interactive", payload)


class SocketModeServer:
    """Slack's Socket Mode WebSocket side, bound to 127.0.0.1, paired with a fake Web API."""

    def __init__(self, slack: SlackWebApiServer, *, app_id: str = seed.APP_ID) -> None:
        self.slack = slack
        self.app_id = app_id
        self.links: list[Link] = []
        self.acks: list[Ack] = []
        self.sent: dict[str, float] = {}
        """envelope_id -> time.monotonic() of its first sending."""
        self.opens = 0
        """URLs issued by ``apps.connections.open``."""
        self._tickets: set[str] = set()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._changed = threading.Condition()
        self._next = 0
        self.accepting = True
        self.keep_acks: int | None = None
        """Acks kept (None: all, as tests want; the demo keeps the newest few thousand)."""
        """False: new connections are refused (HTTP 503), as during a Slack outage."""

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> SocketModeServer:
        self._server = serve(
            self._serve_link,
            "127.0.0.1",
            0,
            process_request=self._check_ticket,
            ping_interval=None,  # the client pings; this side only answers (or not)
            compression=None,  # slack_sdk's built-in client speaks no extensions
            close_timeout=2,
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="socket-mode-fake", daemon=True
        )
        self._thread.start()
        self.slack.workspace.socket_mode_url = self.issue_url
        return self

    def stop(self) -> None:
        self.slack.workspace.socket_mode_url = None
        for link in self.links:
            self._close(link)
        if self._server is not None:
            self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SocketModeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return int(self._server.socket.getsockname()[1])

    def issue_url(self) -> str:
        """A new single-use URL (what ``apps.connections.open`` returns)."""
        ticket = str(uuid.uuid4())
        with self._changed:
            self._tickets.add(ticket)
            self.opens += 1
            self._changed.notify_all()
        return f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={self.app_id}"

    # ------------------------------------------------------------------ the connections

    def _check_ticket(self, connection: ServerConnection, request: Request) -> Response | None:
        ticket = (parse_qs(urlsplit(request.path).query).get("ticket") or [""])[0]
        if not self.accepting:
            return connection.respond(503, "service unavailable\n")
        with self._changed:
            if ticket not in self._tickets:
                return connection.respond(401, "invalid or used ticket\n")
            self._tickets.discard(ticket)
        connection.ticket = ticket  # type: ignore[attr-defined]
        return None

    def _serve_link(self, connection: ServerConnection) -> None:
        with self._changed:
            link = Link(len(self.links), connection, getattr(connection, "ticket", ""))
            self.links.append(link)
            self._changed.notify_all()
        self._silence_pongs_when_asked(link)
        try:
            connection.send(json.dumps(self.hello()))
            for raw in connection:
                message = json.loads(raw)
                link.received.append(message)
                if "envelope_id" in message:
                    ack = Ack(
                        message["envelope_id"],
                        message.get("payload"),
                        link.index,
                        time.monotonic(),
                        time.time(),
                    )
                    with self._changed:
                        self.acks.append(ack)
                        if self.keep_acks is not None and len(self.acks) > self.keep_acks:
                            for old in self.acks[: -self.keep_acks]:
                                self.sent.pop(old.envelope_id, None)
                            del self.acks[: -self.keep_acks]
                        self._changed.notify_all()
        except (ConnectionClosed, OSError):
            pass
        finally:
            with self._changed:
                link.open = False
                self._changed.notify_all()

    def _silence_pongs_when_asked(self, link: Link) -> None:
        """websockets answers every ping inside its protocol; dropping the pong frame while
        ``link.answering_pings`` is false is how Slack looks when it stops answering."""
        protocol = link.connection.protocol
        send_frame = protocol.send_frame

        def maybe_send(frame: Frame) -> None:
            if frame.opcode is Opcode.PONG and not link.answering_pings:
                return
            send_frame(frame)

        protocol.send_frame = maybe_send  # type: ignore[method-assign]

    def hello(self) -> dict[str, Any]:
        return {
            "type": "hello",
            "num_connections": len(self.open_links()),
            "debug_info": {"host": HOST, "build_number": 10, "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.app_id},
        }

    def open_links(self) -> list[Link]:
        with self._changed:
            return [link for link in self.links if link.open]

    def wait_links(self, count: int = 1, *, timeout: float = 30.0) -> list[Link]:
        """Wait until ``count`` connections were accepted in all (open or not) and the newest
        is open; returns the open ones."""
        self._wait(
            lambda: len(self.links) >= count and self.links[count - 1].open,
            timeout,
            f"connection #{count}",
        )
        return self.open_links()

    # ------------------------------------------------------------------ envelopes

    def send(self, message: dict[str, Any], link: Link | None = None) -> dict[str, Any]:
        """Send an envelope over ``link`` (default: the open connections in turn, as Slack
        spreads envelopes across an app's connections); returns it."""
        target = link or self._pick()
        self.sent.setdefault(message["envelope_id"], time.monotonic())
        target.connection.send(json.dumps(message))
        return message

    def send_request(
        self, request: SignedRequest | tuple[bytes, dict[str, str]], link: Link | None = None
    ) -> dict[str, Any]:
        """What Slack would POST as ``request``, sent as an envelope."""
        return self.send(envelope_for(request), link)

    def redeliver(
        self,
        message: dict[str, Any],
        *,
        retry_attempt: int = 1,
        retry_reason: str = "timeout",
        link: Link | None = None,
    ) -> dict[str, Any]:
        """The same envelope again (same ``envelope_id``), marked as Slack's retry."""
        again = {**message, "retry_attempt": retry_attempt, "retry_reason": retry_reason}
        return self.send(again, link)

    def _pick(self) -> Link:
        links = self.open_links()
        assert links, "no open Socket Mode connection"
        self._next += 1
        return links[self._next % len(links)]

    def acks_of(self, envelope_id: str) -> list[Ack]:
        with self._changed:
            return [a for a in self.acks if a.envelope_id == envelope_id]

    def wait_ack(self, envelope_id: str, *, count: int = 1, timeout: float = 10.0) -> Ack:
        """The ``count``-th ack of ``envelope_id`` (waits for it)."""
        self._wait(lambda: len(self.acks_of(envelope_id)) >= count, timeout, f"ack {envelope_id}")
        return self.acks_of(envelope_id)[count - 1]

    def ack_seconds(self, envelope_id: str) -> float:
        """Seconds from the first sending to the first ack."""
        return self.wait_ack(envelope_id).at - self.sent[envelope_id]

    # ------------------------------------------------------------------ what Slack does to links

    def close(self, link: Link | None = None) -> None:
        """Close a connection (default: every open one) as a Slack server going away does."""
        for target in [link] if link else self.open_links():
            self._close(target)

    def _close(self, link: Link) -> None:
        with contextlib.suppress(Exception):  # already gone
            link.connection.close(code=1001, reason="going away")

    def disconnect(self, reason: str = "refresh_requested", link: Link | None = None) -> None:
        """Ask the client to reconnect; Slack sends this before closing the old connection."""
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": HOST}}
        for target in [link] if link else self.open_links():
            target.connection.send(json.dumps(message))

    def stop_answering_pings(self, link: Link | None = None) -> None:
        """The connection stays open but silent: pings go unanswered."""
        for target in [link] if link else self.open_links():
            target.answering_pings = False

    # ------------------------------------------------------------------ waiting

    def wait_opens(self, count: int, *, timeout: float = 30.0) -> None:
        self._wait(lambda: self.opens >= count, timeout, f"{count} apps.connections.open calls")

    def _wait(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not condition():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
                self._changed.wait(min(left, 0.2))
