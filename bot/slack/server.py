"""The HTTP front of the Slack app: a threaded server for /slack/events (signature checked by
Bolt, replays refused), /healthz, /readyz and /metrics (Prometheus)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from slack_bolt import App, BoltRequest
from slack_sdk.signature import SignatureVerifier

from bot.slack.inbox import FIRST_SIGHT
from bot.slack.metrics import observe_ack
from infra.metrics import Metrics
from infra.replays import ReplayMemory
from infra.sights import FirstSight

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000


class ReplayGuard:
    """Refuses a correctly signed request seen before.

    Bolt refuses signatures older than five minutes; inside those five minutes a captured request
    could be sent again. Each valid signature is remembered for the five minutes (plus clock
    skew) in which Bolt would still accept it, and a second request with it is refused (except
    what Slack marks as a retry of an event or interaction, see :func:`_redelivery`). Given a
    ``shared`` memory (:class:`infra.replays.ReplayMemory` in a running bot) the memory is the
    database's, so a request replayed to another replica is refused there too; without one (a
    bare server in a test) it is this process's. With the shared memory, a slash command's or a
    block action's signature is written in the same transaction as its inbox row (see
    :meth:`deferred`).
    """

    WINDOW_SECONDS = 60 * 5 + 60
    MAX_ENTRIES = 200_000

    def __init__(
        self,
        signing_secret: str,
        clock: Callable[[], float] = time.time,
        shared: ReplayMemory | None = None,
    ) -> None:
        self.verifier = SignatureVerifier(signing_secret) if signing_secret else None
        self.clock = clock
        self.shared = shared
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def is_replay(self, body: str, headers: dict[str, list[str]]) -> bool:
        """True when this exact signed request was already accepted (invalid ones are left to
        Bolt, which refuses them)."""
        if self.verifier is None:
            return False
        signature = (headers.get("x-slack-signature") or [""])[0]
        if not self.is_signed(body, headers):
            return False  # Bolt refuses it
        if self.shared is not None:
            return not self.shared.first_sight(signature)
        now = self.clock()
        with self._lock:
            while self._seen and (
                len(self._seen) > self.MAX_ENTRIES
                or next(iter(self._seen.values())) < now - self.WINDOW_SECONDS
            ):
                self._seen.popitem(last=False)
            if signature in self._seen:
                return True
            self._seen[signature] = now
            return False

    def deferred(self, body: str, headers: dict[str, list[str]]) -> FirstSight | None:
        """The first sight of a signed slash command or block action, for its listener to write
        with the inbox row (one write transaction in front of the ack instead of two); None
        when the request is to be checked before it is dispatched (see :meth:`is_replay`).

        Every listener of those two kinds records to the inbox or settles the sight before it
        acts (:func:`bot.slack.inbox.settled`); what no listener took (no listener, a refused
        team) is settled by the server after Bolt answered."""
        if self.shared is None or not self.is_signed(body, headers) or not _inbox_bound(body):
            return None
        signature = (headers.get("x-slack-signature") or [""])[0]
        return self.shared.sight(signature, enforce=not _redelivery(body, headers))

    def is_signed(self, body: str, headers: dict[str, list[str]]) -> bool:
        """A valid, fresh Slack signature of ``body``."""
        if self.verifier is None:
            return False
        signature = (headers.get("x-slack-signature") or [""])[0]
        timestamp = (headers.get("x-slack-request-timestamp") or [""])[0]
        if not signature or not timestamp.isdigit():
            return False
        return self.verifier.is_valid(body, timestamp, signature)


def _redelivery(body: str, headers: dict[str, list[str]]) -> bool:
    """A delivery Slack says it is retrying (``X-Slack-Retry-Num``) of an event or interaction.

    Those go through: their handlers are idempotent (every change is a compare-and-set, a vote
    counts once), so a retry changes nothing twice. Slack never retries slash commands, so a
    "retried" slash command is a replay and is refused like one."""
    if not headers.get("x-slack-retry-num"):
        return False
    try:
        return "command" not in parse_qs(body, max_num_fields=64)
    except ValueError:  # not what Slack sends
        return False


def _inbox_bound(body: str) -> bool:
    """A slash command or a block action: the kinds whose listeners record to the inbox."""
    if body.startswith("command=") or "&command=" in body:
        return True  # a slash command's form field, seen without parsing the form (every ack)
    try:
        fields = parse_qs(body, max_num_fields=64)
    except ValueError:
        return False
    if "command" in fields:
        return True
    try:
        payload = json.loads((fields.get("payload") or ["{}"])[0])
    except ValueError:
        return False
    return isinstance(payload, dict) and payload.get("type") == "block_actions"


class SlackRequestHandler(BaseHTTPRequestHandler):
    """Hands Slack's HTTP requests to Bolt (which verifies the signature) and serves probes."""

    server: SlackHTTPServer
    protocol_version = "HTTP/1.1"
    timeout = 30
    """Seconds a connection may stay silent: a client that never sends its body frees the
    thread instead of holding it forever."""

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http: " + format, *args)

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        headers = {"Content-Type": "text/plain; charset=utf-8", **(headers or {})}
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = urlparse(self.path).path
        if path == "/healthz":
            alive, text = self.server.health()
            self._send(200 if alive else 503, text.encode())
        elif path == "/readyz":
            ok, checks = self.server.readiness()
            self._send(
                200 if ok else 503,
                json.dumps(checks).encode(),
                {"Content-Type": "application/json"},
            )
        elif path == "/metrics" and self.server.metrics is not None:
            metrics = self.server.metrics
            self._send(200, metrics.render(), {"Content-Type": metrics.content_type})
        else:
            self._send(404, b"not found")

    def do_POST(self) -> None:
        started = time.perf_counter()
        parsed = urlparse(self.path)
        if parsed.path != "/slack/events":
            self._send(404, b"not found")
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            self._send(400, b"invalid Content-Length")
            return
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            self._send(413, b"request too large")
            return
        body = self.rfile.read(length).decode("utf-8", errors="replace")
        headers: dict[str, list[str]] = {}
        for key, value in self.headers.items():
            headers.setdefault(key.lower(), []).append(value)
        replays = self.server.replays
        sight = replays.deferred(body, headers)
        if sight is None and replays.is_replay(body, headers) and not _redelivery(body, headers):
            self._refuse_replay()
            return
        try:
            request = BoltRequest(body=body, query=parsed.query, headers=headers)
        except Exception:
            # Bolt parses the body before it checks the signature; a body that is not what
            # Slack sends must not crash the handler (and tells a forger nothing).
            signed = self.server.replays.is_signed(body, headers)
            self._send(
                400 if signed else 401, b"malformed request" if signed else b"invalid request"
            )
            return
        if sight is not None:
            request.context[FIRST_SIGHT] = sight
        try:
            response = self.server.app.dispatch(request)
        except Exception:
            log.exception("Bolt failed on a request")
            self._send(500, b"internal error")
            return
        finally:
            if sight is not None:
                self._settle(sight)
        if sight is not None and sight.refused:
            self._refuse_replay()  # its listener recorded nothing and ran nothing
            return
        out_headers = {
            k: ",".join(v) if isinstance(v, list) else str(v) for k, v in response.headers.items()
        }
        out_headers.pop("content-length", None)
        self._send(response.status, (response.body or "").encode("utf-8"), out_headers)
        # Requests Bolt handled only (forged, replayed and malformed ones are not acks).
        observe_ack(self.server.metrics, "http", request.body, time.perf_counter() - started)

    def _settle(self, sight: FirstSight) -> None:
        """Remember a request no listener recorded (no listener, a refused team)."""
        try:
            sight.settle()
        except Exception:
            log.exception("could not remember a request's signature")

    def _refuse_replay(self) -> None:
        log.warning("refused a replayed Slack request (same signature seen before)")
        self._send(401, b"replayed request")


class SlackHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        app: App,
        readiness: Callable[[], tuple[bool, dict[str, str]]] = lambda: (True, {}),
        signing_secret: str | None = None,
        health: Callable[[], tuple[bool, str]] = lambda: (True, "ok"),
        replay_memory: ReplayMemory | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        super().__init__(address, SlackRequestHandler)
        self.app = app
        self.metrics = metrics
        """Served at ``/metrics`` and counting ack latency (None: no ``/metrics``)."""
        self.readiness = readiness
        self.health = health
        secret = signing_secret if signing_secret is not None else _signing_secret(app)
        self.replays = ReplayGuard(secret, shared=replay_memory)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


def _signing_secret(app: App) -> str:
    return str(getattr(app, "_signing_secret", "") or "")


def start_http(
    app: App,
    host: str,
    port: int,
    *,
    readiness: Callable[[], tuple[bool, dict[str, str]]],
    signing_secret: str,
    health: Callable[[], tuple[bool, str]] = lambda: (True, "ok"),
    replay_memory: ReplayMemory | None = None,
    metrics: Metrics | None = None,
) -> SlackHTTPServer:
    """Serve in a background thread; stop with :func:`stop_http`. ``replay_memory``: the
    replay memory shared by the replicas (see :class:`ReplayGuard`); ``metrics``: what
    ``/metrics`` serves."""
    server = SlackHTTPServer(
        (host, port),
        app,
        readiness,
        signing_secret=signing_secret,
        health=health,
        replay_memory=replay_memory,
        metrics=metrics,
    )
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    return server


def stop_http(server: SlackHTTPServer) -> None:
    server.shutdown()
    server.server_close()  # the listening socket too, or a restart in-process leaks it
