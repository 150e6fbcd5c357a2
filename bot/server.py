"""`mlops-bot serve`: HTTP mode (threaded server for /slack/events, /healthz, /readyz) or Socket
Mode, plus the background services (job watcher, scheduler) the app needs."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlparse

from slack_bolt import App, BoltRequest

from bot.app import build_app, build_services
from bot.platform.base import MLPlatform
from bot.services import Services
from bot.settings import Secrets, Settings
from bot.store import Store, default_database_url, open_store

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000


@dataclass
class Runtime:
    """Everything a running bot holds, so serve/demo/tests start and stop it the same way."""

    settings: Settings
    secrets: Secrets
    platform: MLPlatform
    store: Store
    services: Services
    app: App
    stoppers: list[Callable[[], None]]

    def stop(self) -> None:
        for stop in reversed(self.stoppers):
            try:
                stop()
            except Exception:
                log.exception("error while stopping")


def database_url(settings: Settings, secrets: Secrets) -> str:
    return (
        secrets.mlops_bot_database_url
        or settings.database_url
        or default_database_url(settings.state_path)
    )


def build_runtime(
    settings: Settings,
    secrets: Secrets | None = None,
    *,
    platform: MLPlatform | None = None,
    start_background: bool = True,
) -> Runtime:
    from bot.platform.factory import build_platform

    secrets = secrets or Secrets()
    store = open_store(database_url(settings, secrets))
    platform = platform or build_platform(settings)
    services = build_services(settings, platform, store, secrets=secrets)
    app = build_app(settings, platform, store, secrets=secrets, services=services)
    runtime = Runtime(
        settings, secrets, platform, store, services, app, [store.close, platform.close]
    )
    runtime.stoppers.append(lambda: services.workers.shutdown(wait=False))
    if start_background:
        from bot.background import start_background_services

        start_background_services(runtime)
    return runtime


def readiness(runtime: Runtime) -> tuple[bool, dict[str, str]]:
    checks: dict[str, str] = {}
    ok = True
    for name, probe in (("store", runtime.store.ping), ("platform", runtime.platform.check)):
        try:
            probe()
            checks[name] = "ok"
        except Exception as exc:  # readiness reports, it does not crash
            ok = False
            checks[name] = f"failed: {type(exc).__name__}: {exc}"[:300]
    return ok, checks


class SlackRequestHandler(BaseHTTPRequestHandler):
    """Hands Slack's HTTP requests to Bolt (which verifies the signature) and serves probes."""

    server: SlackHTTPServer
    protocol_version = "HTTP/1.1"

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
            self._send(200, b"ok")
        elif path == "/readyz":
            ok, checks = self.server.readiness()
            self._send(
                200 if ok else 503,
                json.dumps(checks).encode(),
                {"Content-Type": "application/json"},
            )
        else:
            self._send(404, b"not found")

    def do_POST(self) -> None:
        parsed = urlparse(self.path)
        if parsed.path != "/slack/events":
            self._send(404, b"not found")
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._send(413, b"request too large")
            return
        body = self.rfile.read(length).decode("utf-8", errors="replace")
        headers: dict[str, list[str]] = {}
        for key, value in self.headers.items():
            headers.setdefault(key.lower(), []).append(value)
        request = BoltRequest(body=body, query=parsed.query, headers=headers)
        response = self.server.app.dispatch(request)
        out_headers = {
            k: ",".join(v) if isinstance(v, list) else str(v) for k, v in response.headers.items()
        }
        out_headers.pop("content-length", None)
        self._send(response.status, (response.body or "").encode("utf-8"), out_headers)


class SlackHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        app: App,
        readiness: Callable[[], tuple[bool, dict[str, str]]] = lambda: (True, {}),
    ) -> None:
        super().__init__(address, SlackRequestHandler)
        self.app = app
        self.readiness = readiness

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


def start_http(runtime: Runtime, host: str, port: int) -> SlackHTTPServer:
    server = SlackHTTPServer((host, port), runtime.app, lambda: readiness(runtime))
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    runtime.stoppers.append(server.shutdown)
    return server


def serve(settings: Settings, args: argparse.Namespace) -> int:
    secrets = Secrets()
    socket_mode = bool(secrets.slack_app_token) and not args.http
    missing = [] if secrets.slack_bot_token else ["SLACK_BOT_TOKEN"]
    if not socket_mode and not secrets.slack_signing_secret:
        missing.append("SLACK_SIGNING_SECRET")
    if missing:
        log.error(
            "%s not set: create the Slack app from manifest.yml and export its tokens "
            "(see README, 'Run against a real Slack workspace'); `mlops-bot demo` runs without Slack",
            " and ".join(missing),
        )
        return 2
    # Acks are tiny and must not queue behind the work that follows earlier acks: a shorter GIL
    # switch interval lets a waiting request thread in sooner (measured by ack_latency.py).
    sys.setswitchinterval(0.001)
    runtime = build_runtime(settings, secrets, start_background=not args.no_scheduler)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server = start_http(runtime, args.host, args.port)
    if socket_mode:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        handler = SocketModeHandler(runtime.app, secrets.slack_app_token)
        handler.connect()
        runtime.stoppers.append(handler.close)
        log.info("Socket Mode connected; health probes on %s/healthz", server.url)
    else:
        log.info("listening for Slack on %s/slack/events (health: /healthz, /readyz)", server.url)
    stop.wait()
    log.info("shutting down")
    runtime.stop()
    return 0
