"""What the Slack listeners act through, built once by :mod:`bot.runtime` (typed fields only)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient

from bot.slack.groups import SlackGroupResolver
from bot.slack.inbox import InboxWorker
from bot.slack.outbox import Outbox
from bot.slack.publisher import SlackPublisher
from bot.slack.responder import Responder
from core.access import AccessPolicy
from core.promotion.desk import PromotionDesk
from infra.platform.base import MLPlatform
from infra.settings import Settings
from infra.store import Store
from jobs.context import MonitorContext
from jobs.scheduler import MonitoringScheduler

log = logging.getLogger(__name__)


class WorkerPool:
    """Runs work after the ack; exceptions are logged, never lost in a Future nobody reads."""

    def __init__(self, max_workers: int = 2, name: str = "work") -> None:
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=name)
        self._pending = 0
        self._idle = threading.Condition()

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any]:
        def guarded() -> Any:
            try:
                return fn(*args, **kwargs)
            except Exception:
                log.exception("background work %s failed", getattr(fn, "__name__", fn))
                raise
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

        with self._idle:
            self._pending += 1
        return self._pool.submit(guarded)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no submitted work is left (graceful shutdown, tests)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait)


@dataclass
class Services:
    settings: Settings
    platform: MLPlatform
    store: Store
    client: WebClient
    responder: Responder
    access: AccessPolicy
    groups: SlackGroupResolver
    workers: WorkerPool
    outbox: Outbox
    publisher: SlackPublisher
    monitor: MonitorContext
    """The context alert buttons and on-demand checks act through (the scheduler's, once one runs
    here: same clock, same job-watcher wake-up)."""
    desk: PromotionDesk
    inbox: InboxWorker
    """Acked interactions, recorded before the ack and run from there (bot.slack.inbox)."""
    scheduler: MonitoringScheduler | None = None
    """Set when this process runs the scheduler (``serve`` without ``--no-scheduler``)."""

    @property
    def jobs_context(self) -> MonitorContext:
        return self.scheduler.context if self.scheduler is not None else self.monitor
