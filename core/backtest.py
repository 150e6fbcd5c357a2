"""What a backtest found (``/mlops backtest``): plain data, no Slack.

The backtest use case (:mod:`jobs.backtest`) recomputes a check over past windows with the
current settings and with proposed ones and replays the alert rules over both
(:mod:`core.alerting.episodes`); :class:`BacktestReply` carries the result to the card that
:mod:`bot.slack.blocks.backtest` renders, with its chart in the card's thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from core.alerting.episodes import Replay
from core.replies import Reply, Upload


@dataclass(frozen=True)
class BacktestWindow:
    """One past window: the plotted statistic and the alert level under each setting."""

    start: datetime
    end: datetime
    value: float | None
    """The statistic the chart plots (share of features drifted, accuracy, ...); None without
    enough data."""
    rows: int
    current: str
    """The alert level with the current settings (breach, warning, healthy, unknown)."""
    proposed: str
    """The alert level with the proposed settings."""


@dataclass(frozen=True)
class SettingChange:
    """One setting tried: its option spelling, the value now and the value proposed."""

    option: str
    """As typed and as in the configuration, with dashes: ``share-threshold``, ``min-accuracy``."""
    section: str
    """The ``monitoring`` section that holds it: drift, performance or alerts."""
    current: float | None
    """None when the setting is not set now (an optional limit)."""
    proposed: float

    @property
    def key(self) -> str:
        """The configuration key the setting is read from (``share_threshold``)."""
        return self.option.replace("-", "_")


@dataclass(frozen=True)
class BacktestResult:
    model: str
    environment: str
    kind: str
    """The check kind (drift, performance)."""
    window: timedelta
    """The length of each window (the check's configured window unless given)."""
    changes: tuple[SettingChange, ...]
    statistic: str
    """What the chart plots, in words (``share of features drifted``)."""
    percent: bool
    """The statistic is a share, shown as a percentage."""
    higher_is_worse: bool
    current_line: float | None
    """The threshold line of the current settings on the plotted statistic (None: no line)."""
    proposed_line: float | None
    windows: tuple[BacktestWindow, ...]
    consecutive_breaches: tuple[int, int]
    """The alert rule's K (breaches in a row before an alert), now and proposed."""
    current: Replay
    proposed: Replay
    elapsed_seconds: float = 0.0

    @property
    def start(self) -> datetime:
        return self.windows[0].start

    @property
    def end(self) -> datetime:
        return self.windows[-1].end

    @property
    def without_data(self) -> int:
        """Windows that said nothing (too few rows or labels): they neither breach nor recover."""
        return sum(1 for w in self.windows if w.current == "unknown")


@dataclass(frozen=True)
class BacktestReply(Reply):
    result: BacktestResult | None = None
    chart: Upload | None = None

    @property
    def uploads(self) -> tuple[Upload, ...]:
        return (self.chart,) if self.chart else ()

    @property
    def fallback_text(self) -> str:
        r = self.result
        if r is None:
            return "backtest"
        alerts = "alert" if r.proposed.alerts == 1 else "alerts"
        return (
            f"Backtest of the {r.kind} check of {r.model} in {r.environment} over "
            f"{len(r.windows)} windows: {r.proposed.alerts} {alerts} with the proposed settings, "
            f"{r.current.alerts} with the current ones"
        )
