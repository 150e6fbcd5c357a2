"""The outbox's timings and sizes, one object shared by its parts, so a change made on the
:class:`~bot.slack.outbox.Outbox` (tests shorten the backoff) is seen by delivery and the loop."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Generic, TypeVar, overload

from bot.slack.outbox.failures import backoff


@dataclass
class OutboxSettings:
    interval: float = 1.0
    """Seconds between two rounds of the delivery loop."""
    backoff_base: float = 2.0
    backoff_max: float = 300.0
    claim: timedelta = field(default_factory=lambda: timedelta(seconds=60))
    """How long a claim on a row holds before another worker may take it."""
    max_age: timedelta = field(default_factory=lambda: timedelta(days=1))
    """A message still failing after this long is given up."""
    keep_delivered: timedelta = field(default_factory=lambda: timedelta(days=7))
    batch: int = 50
    """Rows sent per round at most."""

    def backoff(self, attempts: int) -> float:
        return backoff(attempts, self.backoff_base, self.backoff_max)


T = TypeVar("T")


class Setting(Generic[T]):
    """An attribute of its owner that lives in the owner's ``settings``
    (:class:`OutboxSettings`): reading and assigning it reads and assigns the shared value."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, objtype: type | None = None) -> Setting[T]: ...
    @overload
    def __get__(self, obj: Any, objtype: type | None = None) -> T: ...
    def __get__(self, obj: Any, objtype: type | None = None) -> T | Setting[T]:
        if obj is None:
            return self
        return getattr(obj.settings, self.name)  # type: ignore[no-any-return]

    def __set__(self, obj: Any, value: T) -> None:
        setattr(obj.settings, self.name, value)
