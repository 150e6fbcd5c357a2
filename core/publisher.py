"""The Publisher port: how the domain and the scheduled jobs tell people things.

Nothing below the Slack layer knows Slack. Promotion, alerts, summaries and job results hand a
reply object to a :class:`Publisher`; the Slack layer implements it (``bot.slack.publisher``)
over the outbox, so a message Slack does not take at once is kept and delivered later, and a
dedupe key makes sending the same thing twice a no-op.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from core.replies import MessageRef, Reply, Upload

#: Longest dedupe key the outbox stores.
MAX_KEY = 255

DeliveryHook = Callable[[Mapping[str, Any], MessageRef | None, bool], None]
"""Called when a message sent with a hook name went out: ``(hook_args, where it went, whether
it waited in the outbox first)``. Registered by name, because a queued message may be
delivered by another process or after a restart."""


def key_of(*parts: object) -> str:
    """A dedupe key from its parts, hashed down when it would not fit the column."""
    key = ":".join(str(p) for p in parts)
    if len(key) <= MAX_KEY:
        return key
    tail = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"{key[: MAX_KEY - 33]}#{tail}"


def digest(text: str) -> str:
    """A short fingerprint of a text, for keys of thread lines (the same line is sent once)."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Delivery:
    """What became of one message: delivered now (with where it went), or queued (with why)."""

    key: str
    delivered: bool
    ref: MessageRef | None = None
    error: str | None = None


class Publisher(Protocol):
    """Post, edit, reply in threads, upload charts, answer one person. Every keyed call is sent
    at most once per key; a call Slack refuses for now is queued, never raised."""

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
        """Post ``message`` once per ``key`` (in ``thread_ts``'s thread, or in the thread of the
        message queued under ``parent``); ``hook`` names a :data:`DeliveryHook` to run when it
        goes out."""
        ...

    def update(
        self, key: str, ref: MessageRef | None, message: Reply, *, parent: str | None = None
    ) -> Delivery:
        """Replace a message's content; the newest content wins."""
        ...

    def upload(
        self,
        key: str,
        channel: str | None,
        uploads: Sequence[Upload],
        *,
        thread_ts: str | None = None,
        parent: str | None = None,
    ) -> Delivery:
        """Upload files into a message's thread, once per ``key``."""
        ...

    def is_pending(self, key: str) -> bool:
        """True while the message under ``key`` waits to be delivered."""
        ...

    def ephemeral(self, channel: str, user: str, message: Reply) -> bool:
        """Show ``message`` to ``user`` only; False when Slack refused (not in the channel...)."""
        ...

    def direct_message(self, user: str, message: Reply) -> None:
        """Send ``message`` to ``user`` in a direct message (best effort)."""
        ...

    def permalink(self, ref: MessageRef) -> str | None:
        """A link to a posted message, when the chat service gives one."""
        ...

    def on_delivered(self, name: str, hook: DeliveryHook) -> None:
        """Register the hook that ``post(..., hook=name)`` runs once the message is out."""
        ...
