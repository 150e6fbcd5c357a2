"""Socket Mode: the app's events over a WebSocket the bot opens to Slack (no public URL)."""

from __future__ import annotations

from collections.abc import Callable

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler


def connect_socket_mode(app: App, app_token: str) -> Callable[[], None]:
    """Connect ``app`` to Slack over Socket Mode; returns what closes the connection."""
    handler = SocketModeHandler(app, app_token)
    handler.connect()
    return handler.close
