"""A small HTTP server for a process that has no other: ``/metrics`` and ``/healthz`` of a
worker process (``mlops-bot worker``, and each of ``serve``'s local pool).

``serve`` answers both on its Slack HTTP server (``bot.slack.server``); a worker has no Slack
app and must not load one, so it gets this stdlib server instead: a thread per request (a slow
scrape never blocks the next), nothing else served. Prometheus scrapes each worker as its own
target (see docs/metrics.md).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlparse

from infra.metrics import Metrics

log = logging.getLogger(__name__)

HealthHook = Callable[[], tuple[bool, Mapping[str, Any]]]
"""Liveness and its details (JSON-serialisable), read at each ``/healthz``."""


class _Handler(BaseHTTPRequestHandler):
    server: MetricsHTTPServer
    timeout = 10
    """Seconds a connection may stay silent before its thread is freed."""

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("metrics http: " + format, *args)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = urlparse(self.path).path
        if path == "/metrics":
            metrics = self.server.metrics
            self._send(200, metrics.render(), metrics.content_type)
        elif path == "/healthz":
            try:
                alive, details = self.server.health()
            except Exception as exc:  # a probe reports, it does not crash
                log.warning("health probe failed: %s", exc)
                alive, details = False, {"error": type(exc).__name__}
            body = json.dumps({"status": "ok" if alive else "failing", **details}).encode()
            self._send(200 if alive else 503, body, "application/json")
        else:
            self._send(404, b"not found", "text/plain; charset=utf-8")


class MetricsHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], metrics: Metrics, health: HealthHook) -> None:
        super().__init__(address, _Handler)
        self.metrics = metrics
        self.health = health
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (the one asked for, or the one the system chose for port 0)."""
        return int(self.server_address[1])

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, name="metrics-http", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(5)


def start_metrics_server(
    metrics: Metrics, host: str, port: int, health: HealthHook
) -> MetricsHTTPServer:
    """Serve ``metrics`` and ``health`` on ``host:port`` in a background thread. Raises
    ``OSError`` when the port cannot be bound (taken, not allowed)."""
    server = MetricsHTTPServer((host, port), metrics, health)
    server.start()
    return server
