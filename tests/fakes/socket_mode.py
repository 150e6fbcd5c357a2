"""The local Socket Mode server for tests: the sandbox's (:mod:`bot.sandbox.socket_mode`), so
tests and ``mlops-bot demo --socket-mode`` exercise one implementation.

    with FakeSocketModeServer(slack_server) as sockets:   # answers apps.connections.open
        ...start the bot with SLACK_APP_TOKEN=seed.APP_TOKEN...
        envelope = sockets.send_request(slack_server.interactions.slash_command("status x"))
        ack = sockets.wait_ack(envelope["envelope_id"])
"""

from __future__ import annotations

from bot.sandbox.socket_mode import (
    Ack,
    Link,
    SocketModeServer,
    envelope,
    envelope_for,
    payload_of,
)

FakeSocketModeServer = SocketModeServer

__all__ = [
    "Ack",
    "FakeSocketModeServer",
    "Link",
    "SocketModeServer",
    "envelope",
    "envelope_for",
    "payload_of",
]
