"""Replay the alert rules over a series of past check levels: which alerts people would have got.

A backtest (``/mlops backtest``) recomputes a check over past windows; counting the windows that
breach would overstate the pages, because the real lifecycle (:func:`core.alerting.policy.plan`)
posts one alert per episode, holds a breach as "pending" until it has lasted
``consecutive_breaches`` checks, keeps a flapping fingerprint quiet and ends an episode only on
recovery. :func:`replay` feeds the levels through that very function, so the count here is the
count the alert channel would have shown, never a second set of rules that could drift from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.alerting.policy import Effect, Snapshot, plan
from infra.settings import AlertConfig

#: Alert states in which an episode is under way (an alert card exists and is not resolved).
_ACTIVE = frozenset({"open", "flapping"})


@dataclass(frozen=True)
class Episode:
    """One alert as people would have seen it: opened by a check, ended by a recovery."""

    opened_at: datetime
    """When the check that confirmed the breach ran (the end of its window)."""
    resolved_at: datetime | None
    """When the first clear check ran; None when it was still open at the last check."""
    last_check: datetime
    """The last check of the replay, to say how long an ongoing episode has lasted so far."""
    reopened: bool = False
    """It came back soon after an earlier one resolved (the old card is edited, not a new one)."""
    flapped: bool = False
    """It was held as flapping for a while (one note, no further posts)."""
    headline: str = ""
    """What the opening check said."""

    @property
    def ongoing(self) -> bool:
        return self.resolved_at is None

    @property
    def duration(self) -> timedelta:
        """Open for this long (until the last check while it is ongoing)."""
        return (self.resolved_at or self.last_check) - self.opened_at


@dataclass(frozen=True)
class Replay:
    episodes: tuple[Episode, ...]
    states: tuple[str, ...]
    """The alert state after each check (ok, pending, open, flapping, resolved)."""
    opened: tuple[bool, ...]
    """Whether each check opened an episode (the windows a chart marks as fired)."""

    @property
    def alerts(self) -> int:
        """Alerts people would have been paged with: one per episode."""
        return len(self.episodes)

    @property
    def active(self) -> tuple[bool, ...]:
        """Whether an alert was open after each check."""
        return tuple(state in _ACTIVE for state in self.states)


def replay(
    checks: Sequence[tuple[datetime, str]],
    rules: AlertConfig,
    *,
    headlines: Sequence[str] | None = None,
) -> Replay:
    """The episodes the alert rules make of ``checks``: (check time, level) in time order, the
    level as the alert book stores it (``breach``, ``warning``, ``healthy``, ``unknown``).

    Starts from a fingerprint with no history, never muted: a backtest asks what the rule
    would have done, not what people silenced."""
    snapshot = Snapshot()
    states: list[str] = []
    opened: list[bool] = []
    episodes: list[Episode] = []
    current: _Open | None = None
    last = checks[-1][0] if checks else None
    for index, (at, level) in enumerate(checks):
        headline = headlines[index] if headlines is not None else ""
        step = plan(snapshot, level, rules=rules, muted=False, now=at, headline=headline)
        was_active = snapshot.state in _ACTIVE
        now_active = step.state in _ACTIVE
        starts = now_active and not was_active
        if starts:
            current = _Open(at, step.effect is Effect.REOPENED, step.state == "flapping", headline)
        elif current is not None and step.state == "flapping":
            current.flapped = True
        if was_active and not now_active and current is not None:
            episodes.append(current.close(resolved_at=at, last=at))
            current = None
        states.append(step.state)
        opened.append(starts)
        snapshot = Snapshot(
            state=step.state,
            consecutive=step.consecutive,
            breach_count=step.breach_count,
            condition=step.condition,
            flips=step.flips,
            opened_at=step.opened_at,
            resolved_at=step.resolved_at,
            # The first alert is posted; from then on the fingerprint has a card to edit.
            has_message=snapshot.has_message or step.post_new,
        )
    if current is not None and last is not None:
        episodes.append(current.close(resolved_at=None, last=last))
    return Replay(tuple(episodes), tuple(states), tuple(opened))


@dataclass
class _Open:
    """The episode under way while replaying."""

    opened_at: datetime
    reopened: bool
    flapped: bool
    headline: str

    def close(self, *, resolved_at: datetime | None, last: datetime) -> Episode:
        return Episode(
            self.opened_at, resolved_at, last, self.reopened, self.flapped, self.headline
        )
