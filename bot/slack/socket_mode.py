"""Socket Mode: the app's events over a WebSocket the bot opens to Slack (no public URL).

Slack's Socket Mode client (slack_sdk's built-in one, through Bolt's handler) keeps the
connection: it pings every ``ping_interval`` seconds, drops a connection that stops answering,
and reconnects (a new ``apps.connections.open``) after a close or a ``disconnect`` message. What
this module adds on top:

- the token is checked once before anything connects, so a wrong or revoked app token stops
  ``serve`` with Slack's error code (:class:`SocketModeRefused`) instead of a retry loop;
- an envelope Slack delivers again (same ``envelope_id``; Slack retries after a missed ack, and a
  reconnection can replay what was in flight) is acked again but not acted on twice, also when
  the re-delivery reaches another replica's connection (a durable claim in the store);
- the connection state, for the health probes and the log (``disconnected`` / ``reconnected``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from slack_bolt import App, BoltRequest
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.socket_mode.internals import build_headers, send_response
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.slack.inbox import FIRST_SIGHT
from bot.slack.metrics import observe_ack
from infra.metrics import Metrics
from infra.sights import FirstSight

log = logging.getLogger(__name__)

DEFAULT_PING_INTERVAL = 10.0
"""Seconds between the client's pings; a connection silent for four of them is replaced."""


class SocketModeRefused(Exception):
    """Slack refused the app token (``apps.connections.open`` answered ``ok: false``)."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class EnvelopeMemory:
    """The envelope ids acted on lately (bounded: Slack re-delivers within minutes, so the
    newest ``size`` are enough). A delivery whose handling did not ack is forgotten, so that
    Slack's retry of it is acted on."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, envelope_id: str) -> bool:
        with self._lock:
            if envelope_id in self._seen:
                return False
            self._seen[envelope_id] = None
            while len(self._seen) > self.size:
                self._seen.popitem(last=False)
            return True

    def forget(self, envelope_id: str) -> None:
        with self._lock:
            self._seen.pop(envelope_id, None)


class Claims(Protocol):
    """Durable first-claim of a key, shared by the replicas (``infra.leases.OnceClaims``)."""

    def claim(self, key: str) -> bool: ...

    def sight(self, key: str) -> FirstSight: ...

    def release(self, key: str) -> None: ...


class _OnceHandler(SocketModeHandler):
    """Bolt's handler, acting on each envelope once.

    A memory in the process catches what reaches this replica twice. Across replicas and
    restarts, each envelope id is also claimed in the store: for a first delivery, in the same
    transaction as the interaction's inbox row (the one write in front of the ack; a listener
    that records nothing has it written just behind the ack), and checked before acting on a
    delivery Slack marks as a retry (``retry_attempt`` > 0), which is rare."""

    def __init__(
        self,
        app: App,
        app_token: str,
        *,
        ping_interval: float,
        claims: Claims | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        super().__init__(app, app_token, ping_interval=ping_interval)
        self.memory = EnvelopeMemory()
        self.claims = claims
        self.metrics = metrics
        self._behind = ThreadPoolExecutor(max_workers=1, thread_name_prefix="envelope-claims")
        self.acted = 0
        self.duplicates = 0

    def _first_time(self, req: SocketModeRequest) -> bool:
        if not self.memory.first_time(req.envelope_id):
            return False
        if self.claims is None or not req.retry_attempt:
            return True
        self._behind.submit(lambda: None).result()  # claims written behind land first
        try:
            return self.claims.claim(req.envelope_id)
        except Exception as exc:  # the store is down: act (at least once) rather than drop
            log.warning("could not check envelope %s: %s", req.envelope_id, exc)
            return True

    def _sight(self, req: SocketModeRequest) -> FirstSight | None:
        """A first delivery's claim, for its listener to write with the inbox row (a retry's
        claim was checked before acting, in :meth:`_first_time`)."""
        if self.claims is None or req.retry_attempt:
            return None
        try:
            return self.claims.sight(req.envelope_id)
        except Exception as exc:  # the store is down (a sweep failed): the inbox write will say
            log.warning("could not prepare the claim of envelope %s: %s", req.envelope_id, exc)
            return None

    def _settle_behind(self, envelope_id: str, sight: FirstSight) -> None:
        try:
            if not sight.settle():
                log.info("envelope %s was claimed elsewhere too", envelope_id)
        except Exception as exc:
            log.warning("could not record envelope %s: %s", envelope_id, exc)

    def _forget(self, envelope_id: str) -> None:
        self.memory.forget(envelope_id)
        if self.claims is not None:
            self._behind.submit(self._release_behind, envelope_id)

    def _release_behind(self, envelope_id: str) -> None:
        assert self.claims is not None
        try:
            self.claims.release(envelope_id)
        except Exception as exc:
            log.warning("could not release envelope %s: %s", envelope_id, exc)

    def close(self) -> None:
        super().close()
        self._behind.shutdown(wait=True)

    def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        if not self._first_time(req):
            self.duplicates += 1
            log.info(
                "envelope %s delivered again (retry_attempt %s): acked, not acted on twice",
                req.envelope_id,
                req.retry_attempt,
            )
            client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            return
        started = time.time()
        sight = self._sight(req)
        request = BoltRequest(mode="socket_mode", body=req.payload, headers=build_headers(req))
        if sight is not None:
            # The claim is written with the interaction's inbox row, before the ack, in one
            # transaction; a listener that records nothing has it written behind the ack.
            request.context[FIRST_SIGHT] = sight
        try:
            response = self.app.dispatch(request)
        except Exception:
            self._forget(req.envelope_id)  # nothing was started: Slack's retry may act
            raise
        if response.status != 200:  # not acked (Bolt refused it): a retry gets the same answer
            self._forget(req.envelope_id)
        elif sight is not None and sight.first is None:
            self._behind.submit(self._settle_behind, req.envelope_id, sight)
        elif sight is not None and sight.refused:
            self.duplicates += 1  # another connection or replica took it first: not recorded
            log.info(
                "envelope %s was claimed elsewhere first: acked, not acted on", req.envelope_id
            )
        # The work was handed over; if the ack is lost with the connection, Slack re-delivers
        # and the memory acks the retry without acting again.
        send_response(client, req, response, started)
        self.acted += 1
        observe_ack(self.metrics, "socket_mode", req.payload, time.time() - started)


class SocketModeConnection:
    """One Socket Mode connection of the app, kept up by the client until :meth:`close`."""

    def __init__(
        self,
        app: App,
        app_token: str,
        *,
        ping_interval: float = DEFAULT_PING_INTERVAL,
        claims: Claims | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.app_token = app_token
        self.handler = _OnceHandler(
            app, app_token, ping_interval=ping_interval, claims=claims, metrics=metrics
        )
        self._stop = threading.Event()
        self._down_since: float | None = time.monotonic()
        self._watcher = threading.Thread(target=self._watch, name="socket-mode-watch", daemon=True)

    def connect(self) -> None:
        """Open the first connection; raises :class:`SocketModeRefused` if Slack refuses the
        token (no retry: a wrong token stays wrong)."""
        client = self.handler.client
        try:
            response = client.web_client.apps_connections_open(app_token=self.app_token)
        except SlackApiError as refused:
            self.handler.close()  # its client's threads started with it
            raise SocketModeRefused(str(refused.response.get("error") or "unknown_error")) from None
        client.wss_uri = str(response["url"])
        self.handler.connect()
        self._watcher.start()

    @property
    def connected(self) -> bool:
        return bool(self.handler.client.is_connected())

    def state(self) -> tuple[bool, str]:
        """(connected, a line for the probes): ``connected`` or ``disconnected for Ns``."""
        down_since = self._down_since
        if self.connected:
            return True, "connected"
        if down_since is None:
            return False, "disconnected"
        return False, f"disconnected for {time.monotonic() - down_since:.0f}s, reconnecting"

    def disconnected_for(self) -> float:
        """Seconds since the connection was last seen up (0 while it is up)."""
        down_since = self._down_since
        return 0.0 if down_since is None or self.connected else time.monotonic() - down_since

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            up = self.connected
            if up and self._down_since is not None:
                self._down_since = None
                log.info("Socket Mode connected")
            elif not up and self._down_since is None:
                self._down_since = time.monotonic()
                log.warning("Socket Mode disconnected; reconnecting")

    def close(self) -> None:
        self._stop.set()
        self.handler.close()


def connect_socket_mode(
    app: App,
    app_token: str,
    *,
    ping_interval: float = DEFAULT_PING_INTERVAL,
    claims: Claims | None = None,
) -> SocketModeConnection:
    """Connect ``app`` to Slack over Socket Mode; ``close()`` on the result ends it. With
    ``claims``, an envelope is acted on once across every replica sharing them."""
    connection = SocketModeConnection(app, app_token, ping_interval=ping_interval, claims=claims)
    connection.connect()
    return connection
