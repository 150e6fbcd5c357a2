"""What every scheduled job receives: the configuration, the platform, the store, the clock and
the Publisher port through which reports, alerts and results reach people.

The clock is part of the context so scenario tests can move time (windows, mutes, cooldowns,
flapping) without sleeping; the scheduler itself still fires on real time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core.publisher import Publisher, digest, key_of
from core.replies import MessageRef, Reply, Upload
from infra.platform.base import MLPlatform
from infra.settings import Settings
from infra.store import Store, utcnow

if TYPE_CHECKING:
    from infra.metrics import Metrics

log = logging.getLogger(__name__)

#: The actor recorded in the audit log for what the scheduler does on its own.
BOT_ACTOR = "mlops-bot"


@dataclass
class MonitorContext:
    settings: Settings
    platform: MLPlatform
    store: Store
    publisher: Publisher | None = None
    """None where nothing is posted (``/mlops drift`` answers through its reply)."""
    clock: Callable[[], datetime] = utcnow
    on_job_submitted: Callable[[str, str, str], None] | None = None
    """Wakes the job watcher after a retraining submission."""
    metrics: Metrics | None = None
    """Where check durations are counted (None: nowhere, e.g. ``mlops-bot run-job``)."""

    def now(self) -> datetime:
        return self.clock()

    @property
    def out(self) -> Publisher:
        if self.publisher is None:
            raise RuntimeError("this monitoring context posts nothing (no publisher)")
        return self.publisher

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

        A report Slack refuses for now (outage, rate limit, timeout) is kept and delivered when
        Slack is back, its charts right after it (``hook`` runs when a queued message finally
        goes out); posting again under the same key while it is queued refreshes its content.
        Returns where it went, or None while it is queued.
        """
        delivery = self.out.post(
            key, channel, reply, thread_ts=thread_ts, hook=hook, hook_args=hook_args
        )
        if delivery.ref is None:
            log.warning("%s is queued (%s); it goes out when Slack takes it", what, delivery.error)
        if uploads:
            # Into the thread of the message under ``key``, whether it is out already or not.
            self.out.upload(f"{key}:charts", channel, uploads, parent=key)
        return delivery.ref

    def update(self, ref: MessageRef, reply: Reply) -> None:
        """Edit a card; the newest content is delivered, after an outage too."""
        self.out.update(key_of("edit", ref.channel, ref.ts), ref, reply)

    def note(self, ref: MessageRef, text: str) -> MessageRef | None:
        """A plain reply in a message's thread; the same line is sent once."""
        key = key_of("note", ref.channel, ref.ts, digest(text))
        return self.out.post(key, ref.channel, text, thread_ts=ref.ts).ref
