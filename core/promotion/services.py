"""What the promotion desk lends the parts it drives: the rollout runner, the reconciler, the
retirement of replaced deployments and the shadow evaluator.

They are typed against this protocol rather than :class:`core.promotion.desk.PromotionDesk`, so
they need not import the desk that imports them (no import cycle, even one only for type
checking), and what each may use of the desk is written down in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Protocol

from core.promotion.book import ApprovalBook
from core.promotion.cards import ThreadLine
from core.promotion.policy import ApprovalRules
from core.promotion.states import ApprovalSnapshot
from infra.platform.base import MLPlatform
from infra.settings import Settings
from infra.store import Store


class DeskServices(Protocol):
    """The desk's state and services shared with its parts (all set once, at start)."""

    settings: Settings
    platform: MLPlatform
    store: Store
    book: ApprovalBook
    rules: ApprovalRules
    pool: ThreadPoolExecutor
    clock: Callable[[], datetime]
    sleep: Callable[[float], None]
    instance: str
    """This process's id in claims and heartbeats (one per desk, so per replica)."""
    heartbeat_seconds: float
    stale_after: timedelta
    approved_grace: timedelta
    max_attempts: int

    def refresh_card(self, approval_id: str) -> None:
        """Re-render the request card from the store (through the outbox)."""

    def say(self, approval: ApprovalSnapshot, line: ThreadLine) -> None:
        """Post a line in the card's thread, at most once."""
