"""What every scheduled job receives, and the few Slack calls jobs make through the responder.

The clock is part of the context so scenario tests can move time (windows, mutes, cooldowns,
flapping) without sleeping; the scheduler itself still fires on real time.

Chart uploads get one more layer of patience than slack_sdk's own retry handler: a rate limit
that outlasts the handler's retries waits for ``Retry-After`` and tries the whole upload again,
so a burst of 429s delays the charts instead of dropping them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from slack_sdk.errors import SlackApiError

import bot.slack.blocks.monitoring  # noqa: F401  (registers the cards of the replies jobs post)
from bot.slack.outbox import Outbox, digest, key_of, outbox_for
from bot.slack.responder import MessageRef, Responder, Upload
from bot.slack.services import Services
from core.replies import Reply
from infra.platform.base import MLPlatform
from infra.settings import Settings
from infra.store import Store

log = logging.getLogger(__name__)

#: The actor recorded in the audit log for what the scheduler does on its own.
BOT_ACTOR = "mlops-bot"

UPLOAD_ATTEMPTS = 5
MAX_RETRY_AFTER_SECONDS = 120.0


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class MonitorContext:
    settings: Settings
    platform: MLPlatform
    store: Store
    responder: Responder | None = None
    """None where nothing is posted (``/mlops drift`` answers through its reply)."""
    clock: Callable[[], datetime] = utcnow
    on_job_submitted: Callable[[str, str, str], None] | None = None
    """Wakes the job watcher after a retraining submission."""
    sleep: Callable[[float], None] = field(default=time.sleep)
    outbox: Outbox | None = None
    """Where edits and thread notes go so a Slack outage delays them instead of losing them
    (None: straight to Slack, best effort)."""

    @classmethod
    def from_services(
        cls,
        services: Services,
        *,
        clock: Callable[[], datetime] = utcnow,
        on_job_submitted: Callable[[str, str, str], None] | None = None,
    ) -> MonitorContext:
        return cls(
            services.settings,
            services.platform,
            services.store,
            services.responder,
            clock=clock,
            on_job_submitted=on_job_submitted,
            outbox=outbox_for(services),
        )

    def now(self) -> datetime:
        return self.clock()

    @property
    def slack(self) -> Responder:
        if self.responder is None:
            raise RuntimeError("this monitoring context has no Slack responder")
        return self.responder

    # -- Slack, through the responder
    def post(self, channel: str, reply: Reply, *, thread_ts: str | None = None) -> MessageRef:
        return self.slack.post(channel, reply, thread_ts=thread_ts)

    def publish(
        self,
        key: str,
        channel: str,
        reply: Reply,
        uploads: Sequence[Upload],
        *,
        what: str,
        thread_ts: str | None = None,
        hook: str | None = None,
        hook_args: Mapping[str, Any] | None = None,
    ) -> MessageRef | None:
        """Post a report (in ``thread_ts``'s thread when given) with its charts in its thread,
        once per ``key``.

        Through the outbox a report that Slack refuses for now (outage, rate limit, timeout)
        is kept and delivered when Slack is back, its charts right after it (``hook`` runs when
        a queued message finally goes out); posting again under the same key while it is queued
        refreshes its content. Without an outbox the failure is logged. Returns where it went,
        or None while it is not posted.
        """
        if self.outbox is None:
            try:
                ref = self.post(channel, reply, thread_ts=thread_ts)
            except (SlackApiError, OSError) as exc:  # refused, or Slack did not answer in time
                log.warning("could not post %s: %s", what, _describe(exc))
                return None
            self.upload(ref, uploads)
            return ref
        delivery = self.outbox.post(
            key, channel, reply, thread_ts=thread_ts, hook=hook, hook_args=hook_args
        )
        charts_key = f"{key}:charts"
        if delivery.ref is None:
            log.warning("%s is queued (%s); it goes out when Slack takes it", what, delivery.error)
            if uploads:
                self.outbox.upload(charts_key, channel, uploads, parent=key)
            return None
        ref = delivery.ref
        if not uploads:
            return ref
        if self.outbox.is_pending(charts_key):  # queued with the message: refresh, send now
            self.outbox.upload(charts_key, ref.channel, uploads, parent=key)
        elif not self.upload(ref, uploads):
            self.outbox.upload(charts_key, ref.channel, uploads, thread_ts=ref.ts)
        return ref

    def update(self, ref: MessageRef, reply: Reply) -> None:
        """Edit a card; through the outbox, the newest content is delivered even after an outage."""
        if self.outbox is not None:
            self.outbox.update(key_of("edit", ref.channel, ref.ts), ref, reply)
            return
        self.slack.update(ref, reply)

    def note(self, ref: MessageRef, text: str) -> MessageRef | None:
        """A plain reply in a message's thread (the same line is sent once); through the outbox
        it is kept until Slack takes it, else a failure is logged, never raised."""
        if self.outbox is not None:
            key = key_of("note", ref.channel, ref.ts, digest(text))
            return self.outbox.post(key, ref.channel, text, thread_ts=ref.ts).ref
        try:
            return self.slack.post_text(ref.channel, text, thread_ts=ref.ts)
        except SlackApiError as exc:
            log.warning("could not reply in %s/%s: %s", ref.channel, ref.ts, _error(exc))
            return None

    def upload(
        self, ref: MessageRef, uploads: Sequence[Upload], *, comment: str | None = None
    ) -> bool:
        """Upload charts into ``ref``'s thread, waiting out rate limits. True when delivered."""
        if not uploads:
            return True
        for attempt in range(1, UPLOAD_ATTEMPTS + 1):
            try:
                self.slack.upload(ref.channel, uploads, thread_ts=ref.ts, comment=comment)
                return True
            except SlackApiError as exc:
                wait = _retry_after(exc)
                if wait is None or attempt == UPLOAD_ATTEMPTS:
                    log.warning(
                        "chart upload to %s/%s failed after %d attempts: %s",
                        ref.channel,
                        ref.ts,
                        attempt,
                        _error(exc),
                    )
                    return False
                log.info("Slack rate-limited the chart upload; retrying in %.1fs", wait)
                self.sleep(wait)
        return False


def _describe(exc: Exception) -> str:
    return _error(exc) if isinstance(exc, SlackApiError) else str(exc) or type(exc).__name__


def _error(exc: SlackApiError) -> str:
    try:
        return str(exc.response.get("error"))
    except Exception:  # a response without a body
        return str(exc)


def _retry_after(exc: SlackApiError) -> float | None:
    """Seconds to wait when the failure is a rate limit or an outage worth retrying, else None."""
    response = exc.response
    status = getattr(response, "status_code", 200)
    if status != 429 and status < 500:
        return None
    headers = getattr(response, "headers", {}) or {}
    value = headers.get("Retry-After") or headers.get("retry-after")
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        seconds = float(value) if value is not None else 1.0
    except ValueError:
        seconds = 1.0
    return min(max(seconds, 0.5), MAX_RETRY_AFTER_SECONDS)
