"""``mlops-bot serve``: the bot on Slack, in Socket Mode when ``SLACK_APP_TOKEN`` is set, else over
HTTP; the health probes are served over HTTP in both modes."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys
import threading

from bot.runtime import build_runtime, serve_http
from infra.settings import Secrets, Settings

log = logging.getLogger(__name__)


def _ping_interval() -> float:
    """``MLOPS_BOT_SOCKET_PING_INTERVAL``: seconds between Socket Mode pings (default 10; a
    connection silent for four of them is replaced). Tests shorten it."""
    from bot.slack.socket_mode import DEFAULT_PING_INTERVAL

    raw = os.environ.get("MLOPS_BOT_SOCKET_PING_INTERVAL", "")
    try:
        return max(0.2, float(raw)) if raw else DEFAULT_PING_INTERVAL
    except ValueError:
        return DEFAULT_PING_INTERVAL


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
    # --no-scheduler: a Slack-only replica. It still delivers the outbox and runs the desk; it
    # runs no configured check and never holds the scheduler lease.
    runtime = build_runtime(settings, secrets, scheduling=not args.no_scheduler)
    # Everything start-up created (modules of pandas, SQLAlchemy, matplotlib, Bolt: a few hundred
    # thousand objects) lives as long as the process: out of the collector's sight, a full
    # collection no longer walks them. Measured in serve: a gen-2 pause of 115-126 ms, which
    # every ack in flight waited out, became none over the same benchmark.
    gc.collect()
    gc.freeze()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server = serve_http(runtime, args.host, args.port)
    if socket_mode:
        from bot.runtime import connect_socket_mode
        from bot.slack.socket_mode import SocketModeRefused

        try:
            connect_socket_mode(
                runtime, str(secrets.slack_app_token), ping_interval=_ping_interval()
            )
        except SocketModeRefused as refused:
            log.error(
                "Slack refused SLACK_APP_TOKEN (apps.connections.open: %s): export the app-level "
                "token (xapp-..., scope connections:write) of the app from manifest.yml",
                refused.error,
            )
            runtime.stop()
            return 3
        log.info("Socket Mode connected; health probes on %s/healthz and /readyz", server.url)
    else:
        log.info("listening for Slack on %s/slack/events (health: /healthz, /readyz)", server.url)
    stop.wait()
    log.info("shutting down")
    runtime.stop()
    return 0
