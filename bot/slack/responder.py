"""Sending replies to Slack: post, edit in place, ephemeral, response_url and chart uploads.

The only place (with the listeners) that makes Slack calls for replies; everything above it
hands over reply objects, and :mod:`bot.slack.blocks` turns them into Block Kit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.webhook import WebhookClient

from bot.slack.blocks.render import message_payload as render_payload
from core.replies import MessageRef, Reply, Upload
from infra.logs import redact, redactor

log = logging.getLogger(__name__)

SLACK_API_DEFAULT = "https://slack.com/api/"


def scrub(value: Any) -> Any:
    """``value`` with every secret removed from every string in it (see infra.logs.redact).

    Replies quote errors, and an SDK error can quote a credential, a SAS signature or a
    connection string; nothing the bot sends to Slack may carry one."""
    return _scrub(value, redactor())


def _scrub(value: Any, redact: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _scrub(v, redact) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v, redact) for v in value]
    return value


def message_payload(reply: Reply) -> dict[str, Any]:
    """Block Kit and fallback text of ``reply``, scrubbed of secrets."""
    return scrub(render_payload(reply))


def retry_handlers() -> list[Any]:
    """429 honouring Retry-After, 5xx and connection errors: what slack_sdk can retry safely."""
    return [
        RateLimitErrorRetryHandler(max_retry_count=4),
        ServerErrorRetryHandler(max_retry_count=3),
        ConnectionErrorRetryHandler(max_retry_count=3),
    ]


def make_client(token: str | None, base_url: str | None = None, *, timeout: int = 15) -> WebClient:
    url = base_url or SLACK_API_DEFAULT
    if not url.endswith("/"):
        url += "/"
    return WebClient(token=token, base_url=url, timeout=timeout, retry_handlers=retry_handlers())


class Responder:
    def __init__(self, client: WebClient) -> None:
        self.client = client

    def post(self, channel: str, reply: Reply, *, thread_ts: str | None = None) -> MessageRef:
        response = self.client.chat_postMessage(
            channel=channel,
            thread_ts=thread_ts,
            unfurl_links=False,
            unfurl_media=False,
            **message_payload(reply),
        )
        return MessageRef(str(response["channel"]), str(response["ts"]))

    def post_text(self, channel: str, text: str, *, thread_ts: str | None = None) -> MessageRef:
        response = self.client.chat_postMessage(
            channel=channel, text=redact(text), thread_ts=thread_ts, unfurl_links=False
        )
        return MessageRef(str(response["channel"]), str(response["ts"]))

    def update(self, ref: MessageRef, reply: Reply) -> None:
        self.client.chat_update(channel=ref.channel, ts=ref.ts, **message_payload(reply))

    def ephemeral(self, channel: str, user: str, reply: Reply) -> None:
        self.client.chat_postEphemeral(channel=channel, user=user, **message_payload(reply))

    def respond(self, response_url: str, reply: Reply, *, replace_original: bool = False) -> None:
        webhook = WebhookClient(response_url, timeout=15, retry_handlers=retry_handlers())
        response = webhook.send(
            response_type="in_channel" if reply.public else "ephemeral",
            replace_original=replace_original,
            **message_payload(reply),
        )
        if response.status_code >= 400:
            log.warning("response_url answered %s: %s", response.status_code, response.body[:200])

    def permalink(self, ref: MessageRef) -> str | None:
        try:
            return str(
                self.client.chat_getPermalink(channel=ref.channel, message_ts=ref.ts)["permalink"]
            )
        except SlackApiError:
            return None

    def upload(
        self,
        channel: str,
        uploads: Sequence[Upload],
        *,
        thread_ts: str | None = None,
        comment: str | None = None,
    ) -> None:
        """Upload charts with files_upload_v2 into a message's thread (never a flood of posts)."""
        if not uploads:
            return
        self.client.files_upload_v2(
            channel=channel,
            thread_ts=thread_ts,
            initial_comment=comment,
            file_uploads=[
                {
                    "content": u.content,
                    "filename": u.filename,
                    "title": u.title,
                    "alt_txt": u.alt_text,
                }
                for u in uploads
            ],
        )


class CommandMessage:
    """The one message a command edits as it progresses.

    Public progress is posted to the channel (so the team sees a deploy happen) and edited with
    chat.update; if the bot is not in that channel it falls back to the response_url.
    """

    def __init__(self, responder: Responder, channel: str | None, response_url: str | None) -> None:
        self.responder = responder
        self.channel = channel
        self.response_url = response_url
        self.ref: MessageRef | None = None
        self._via_response_url = False

    def show(self, reply: Reply) -> None:
        if self.ref is not None:
            try:
                self.responder.update(self.ref, reply)
                return
            except SlackApiError as exc:
                log.warning("could not edit %s: %s", self.ref, exc.response.get("error"))
                return
        if self._via_response_url and self.response_url:
            self.responder.respond(self.response_url, reply, replace_original=True)
            return
        if reply.public and self.channel:
            try:
                self.ref = self.responder.post(self.channel, reply)
                return
            except SlackApiError as exc:
                log.info(
                    "cannot post in %s (%s); answering through response_url",
                    self.channel,
                    exc.response.get("error"),
                )
        if self.response_url:
            self._via_response_url = reply.public
            self.responder.respond(self.response_url, reply)
