"""The fake Slack Web API for tests: the sandbox server plus test conveniences.

It is the real sandbox (:class:`bot.sandbox.webapi.SlackWebApiServer`) with its seeded demo
workspace, so tests and the demo exercise one implementation. Added here: ``interactions`` to
build signed requests with working response URLs and trigger ids, and ``client()`` for a
slack_sdk WebClient pointed at it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from slack_sdk import WebClient
from slack_sdk.http_retry import RetryHandler

from bot.sandbox import seed
from bot.sandbox.interactions import Interactions
from bot.sandbox.webapi import SlackWebApiServer
from bot.sandbox.workspace import Workspace


class FakeSlackServer(SlackWebApiServer):
    """A started-on-demand fake Slack. See SlackWebApiServer for calls, faults and routes."""

    bot_token = seed.BOT_TOKEN
    signing_secret = seed.SIGNING_SECRET

    def __init__(self, workspace: Workspace | None = None) -> None:
        super().__init__(workspace)
        self.interactions = Interactions(self, signing_secret=self.signing_secret)

    def client(
        self,
        *,
        token: str | None = None,
        retry_handlers: Sequence[RetryHandler] | None = None,
        **kwargs: Any,
    ) -> WebClient:
        """A WebClient on this server (the bot token unless ``token``)."""
        client = WebClient(
            token=token or self.bot_token, base_url=self.base_url, timeout=10, **kwargs
        )
        if retry_handlers is not None:
            client.retry_handlers = list(retry_handlers)
        return client

    def messages(self, channel_id: str) -> list[dict[str, Any]]:
        """Top-level messages in a channel, oldest first."""
        return self.workspace.messages(channel_id)

    def thread(self, channel_id: str, ts: str) -> list[dict[str, Any]]:
        """A thread's parent and replies, oldest first."""
        return self.workspace.replies(channel_id, ts)

    def ephemerals(self, user_id: str, channel_id: str | None = None) -> list[dict[str, Any]]:
        return self.workspace.ephemerals(user_id, channel_id)


@contextmanager
def running_slack_server(workspace: Workspace | None = None) -> Iterator[FakeSlackServer]:
    """A started FakeSlackServer, stopped on exit."""
    server = FakeSlackServer(workspace)
    server.start()
    try:
        yield server
    finally:
        server.stop()
