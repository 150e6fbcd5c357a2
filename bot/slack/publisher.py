"""The Slack implementation of the Publisher port: keyed messages through the outbox, answers
to one person straight through the responder."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.slack.outbox import Outbox
from bot.slack.responder import Responder
from core.publisher import Delivery, DeliveryHook
from core.replies import MessageRef, Reply, Upload

log = logging.getLogger(__name__)


class SlackPublisher:
    """What promotion, alerts, summaries and job results use to reach Slack."""

    def __init__(self, outbox: Outbox, responder: Responder) -> None:
        self.outbox = outbox
        self.responder = responder

    def post(
        self,
        key: str,
        channel: str | None,
        message: Reply | str,
        *,
        thread_ts: str | None = None,
        parent: str | None = None,
        hook: str | None = None,
        hook_args: Mapping[str, Any] | None = None,
    ) -> Delivery:
        return self.outbox.post(
            key,
            channel,
            message,
            thread_ts=thread_ts,
            parent=parent,
            hook=hook,
            hook_args=hook_args,
        )

    def update(
        self, key: str, ref: MessageRef | None, message: Reply, *, parent: str | None = None
    ) -> Delivery:
        return self.outbox.update(key, ref, message, parent=parent)

    def upload(
        self,
        key: str,
        channel: str | None,
        uploads: Sequence[Upload],
        *,
        thread_ts: str | None = None,
        parent: str | None = None,
    ) -> Delivery:
        return self.outbox.upload(key, channel, uploads, thread_ts=thread_ts, parent=parent)

    def is_pending(self, key: str) -> bool:
        return self.outbox.is_pending(key)

    def ephemeral(self, channel: str, user: str, message: Reply) -> bool:
        try:
            self.responder.ephemeral(channel, user, message)
            return True
        except SlackApiError as exc:
            log.info("could not answer %s in %s: %s", user, channel, exc.response.get("error"))
            return False

    def direct_message(self, user: str, message: Reply) -> None:
        try:
            self.responder.post(user, message)
        except SlackApiError as exc:
            log.warning("could not message %s: %s", user, exc.response.get("error"))

    def permalink(self, ref: MessageRef) -> str | None:
        return self.responder.permalink(ref)

    def on_delivered(self, name: str, hook: DeliveryHook) -> None:
        self.outbox.on_delivered(name, hook)
