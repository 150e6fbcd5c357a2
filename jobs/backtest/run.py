"""Run a backtest: read the stored production data once, recompute the check per past window,
judge each window by the current and the proposed settings, replay the alert rules over both.

Cost is one read of the request log for the whole span and one engine run per window whatever
is proposed: the statistic of a window does not depend on the threshold it is held to, so the
two verdicts come from one computation (drift: the share of drifted features against either
share; performance: the metrics re-judged by :func:`engine.performance.rejudge`). The
reference is profiled once (the engine's profile cache, keyed by one fingerprint) and the
performance baseline is computed once, where a scheduled check would redo both per run.

Windows are back to back, of the check's configured length, the last one ending now: the same
window ``/mlops drift`` or ``/mlops perf`` would check now. A scheduled check that runs more
often than its window slides it instead; the backtest sees each day once, so its times are to
the window.
"""

from __future__ import annotations

import abc
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from core.alerting.episodes import replay
from core.backtest import BacktestResult, BacktestWindow
from core.checks import CheckKind
from engine import run_drift, run_performance
from engine.performance import PerformanceLimits, PerformanceReport, rejudge
from engine.profile import frame_fingerprint
from engine.verdict import Verdict
from infra.durations import format_duration
from infra.platform.base import PlatformError
from infra.settings import ModelConfig
from jobs.backtest.settings import Proposal
from jobs.checks.base import CheckFailed
from jobs.checks.options import performance_limits
from jobs.checks.performance import performance_level
from jobs.checks.run import alert_level
from jobs.context import MonitorContext

#: More windows than this is a mistake (a 1-minute window over a month), not a backtest.
MAX_WINDOWS = 1000

Progress = Callable[[int, int], None]
"""Called with (windows done, windows in all) as the backtest advances."""


class HistoryTooShort(Exception):
    """The stored production data does not reach back as far as asked; ``str()`` says how far
    it does, and :attr:`available_days` is the most that can be asked."""

    def __init__(self, message: str, available_days: int) -> None:
        super().__init__(message)
        self.available_days = available_days


@dataclass(frozen=True)
class History:
    """The production data of the whole backtest span, sorted by time, and its windows."""

    frame: pd.DataFrame
    times: np.ndarray
    """The timestamp column as int64 nanoseconds, sorted, for slicing windows by bisection."""
    edges: tuple[datetime, ...]
    """Window boundaries, oldest first: ``len(edges) - 1`` windows."""

    @property
    def count(self) -> int:
        return len(self.edges) - 1

    def window(self, index: int) -> pd.DataFrame:
        lo, hi = (_ns(self.edges[index]), _ns(self.edges[index + 1]))
        first, last = np.searchsorted(self.times, [lo, hi], side="left")
        return self.frame.iloc[first:last]


def _ns(at: datetime) -> int:
    return int(pd.Timestamp(at).value)


def plan_windows(end: datetime, days: int, window: timedelta) -> tuple[datetime, ...]:
    """Back-to-back windows covering the last ``days`` days, the last one ending at ``end``."""
    count = int(timedelta(days=days) / window)
    return tuple(end - window * (count - i) for i in range(count + 1))


def load_history(
    ctx: MonitorContext, model_cfg: ModelConfig, env: str, *, days: int, window: timedelta
) -> History:
    """Read the span once; refuse a span the stored data does not reach back to."""
    edges = plan_windows(ctx.now(), days, window)
    if len(edges) < 2:
        raise HistoryTooShort(
            f"{days} days hold no whole {format_duration(window)} window; ask for more days", 0
        )
    try:
        frame = ctx.platform.production_data(model_cfg.name, env, edges[0], edges[-1])
    except PlatformError as exc:
        raise CheckFailed(f"could not read the data of {model_cfg.name} in {env}: {exc}") from exc
    column = model_cfg.columns.timestamp
    if frame.empty or column not in frame:
        raise HistoryTooShort(
            f"{model_cfg.name} has no stored production data in {env} in the last {days} days",
            0,
        )
    stamps = pd.to_datetime(frame[column], utc=True)
    order = np.argsort(stamps.to_numpy(dtype="datetime64[ns]").astype(np.int64), kind="stable")
    frame = frame.iloc[order]
    times = stamps.iloc[order].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    history = History(frame, times, edges)
    if history.window(0).empty:
        earliest = stamps.iloc[order[0]].floor("s").to_pydatetime()
        # The most windows whose first one still holds a row, in whole days.
        fits = math.ceil((edges[-1] - earliest) / window)
        reach = int(window * fits / timedelta(days=1))
        raise HistoryTooShort(
            f"the stored production data of {model_cfg.name} in {env} starts "
            f"{earliest:%b %d %H:%M} UTC, {reach} days back; "
            + (f"ask for --days {reach} or fewer" if reach >= 1 else "try again tomorrow"),
            reach,
        )
    return history


def run_backtest(
    ctx: MonitorContext,
    model_cfg: ModelConfig,
    env: str,
    proposal: Proposal,
    history: History,
    *,
    progress: Progress | None = None,
) -> BacktestResult:
    """Every window judged twice, the alert rules replayed twice (see the module docstring)."""
    started = time.perf_counter()
    try:
        reference = ctx.platform.reference_data(model_cfg.name)
    except PlatformError as exc:
        if proposal.kind is CheckKind.DRIFT:
            raise CheckFailed(
                f"could not read the reference data of {model_cfg.name}: {exc}"
            ) from exc
        reference = None  # as the performance check: absolute limits still apply
    if proposal.kind is CheckKind.DRIFT:
        assert reference is not None
        judge: _Judge = _DriftJudge(model_cfg, proposal, reference)
    else:
        judge = _PerformanceJudge(model_cfg, proposal, reference)
    windows: list[BacktestWindow] = []
    current_headlines: list[str] = []
    proposed_headlines: list[str] = []
    for index in range(history.count):
        rows = history.window(index)
        value, (now_level, now_text), (new_level, new_text) = judge(rows)
        windows.append(
            BacktestWindow(
                start=history.edges[index],
                end=history.edges[index + 1],
                value=value,
                rows=len(rows),
                current=now_level,
                proposed=new_level,
            )
        )
        current_headlines.append(now_text)
        proposed_headlines.append(new_text)
        if progress is not None:
            progress(index + 1, history.count)
    current_rules = model_cfg.monitoring.alerts
    proposed_rules = proposal.alert_rules(model_cfg)
    checks_now = [(w.end, w.current) for w in windows]
    checks_new = [(w.end, w.proposed) for w in windows]
    current_line, proposed_line = judge.lines()
    return BacktestResult(
        model=model_cfg.name,
        environment=env,
        kind=proposal.kind.value,
        window=history.edges[1] - history.edges[0],
        changes=proposal.changes(model_cfg),
        statistic=judge.statistic,
        percent=judge.percent,
        higher_is_worse=judge.higher_is_worse,
        current_line=current_line,
        proposed_line=proposed_line,
        windows=tuple(windows),
        consecutive_breaches=(
            current_rules.consecutive_breaches,
            proposed_rules.consecutive_breaches,
        ),
        current=replay(checks_now, current_rules, headlines=current_headlines),
        proposed=replay(checks_new, proposed_rules, headlines=proposed_headlines),
        elapsed_seconds=time.perf_counter() - started,
    )


Judged = tuple[float | None, tuple[str, str], tuple[str, str]]
"""(statistic, (current level, headline), (proposed level, headline)) of one window."""


class _Judge(abc.ABC):
    """One check kind's way of computing a window once and judging it by both settings."""

    statistic: str
    percent: bool = False
    higher_is_worse: bool = False

    @abc.abstractmethod
    def __call__(self, rows: pd.DataFrame) -> Judged:
        """The window's statistic and its level (with headline) by each setting."""

    @abc.abstractmethod
    def lines(self) -> tuple[float | None, float | None]:
        """The current and the proposed threshold on the plotted statistic (None: no line)."""


class _DriftJudge(_Judge):
    """Drift: the share of features drifted against the current and the proposed share."""

    statistic = "share of features drifted"
    percent = True
    higher_is_worse = True

    def __init__(self, model_cfg: ModelConfig, proposal: Proposal, reference: pd.DataFrame):
        if reference.empty:
            raise CheckFailed(f"the reference data of {model_cfg.name} has no rows")
        self.model_cfg = model_cfg
        self.reference = reference
        self.key = frame_fingerprint(reference)  # once: the engine's profile cache does the rest
        self.options = proposal.drift_options(model_cfg)
        self.current_share = model_cfg.monitoring.drift.share_threshold
        self.proposed_share = self.options.share_threshold

    def __call__(self, rows: pd.DataFrame) -> Judged:
        report = run_drift(
            self.model_cfg, self.reference, rows, options=self.options, reference_key=self.key
        )
        now = replace(report, share_threshold=self.current_share)
        new = replace(report, share_threshold=self.proposed_share)
        value = report.share_drifted if report.tested_count else None
        return (
            value,
            (alert_level(now.verdict), now.headline),
            (alert_level(new.verdict), new.headline),
        )

    def lines(self) -> tuple[float | None, float | None]:
        return self.current_share, self.proposed_share


class _PerformanceJudge(_Judge):
    """Performance: the metrics of each window computed once, judged by both sets of limits."""

    def __init__(self, model_cfg: ModelConfig, proposal: Proposal, reference: pd.DataFrame | None):
        self.model_cfg = model_cfg
        self.current_limits = performance_limits(model_cfg)
        self.proposed_limits = proposal.performance_limits(model_cfg)
        tunable = proposal.tunable
        headline = "accuracy" if model_cfg.task == "classification" else "r2"
        self.metric = (tunable.metric if tunable is not None else None) or headline
        self.drop_line = tunable is not None and tunable.key == "max_drop"
        self.statistic = _METRIC_WORDS.get(self.metric, self.metric)
        self.higher_is_worse = self.metric in ("mae", "rmse")
        # The baseline once (the same metrics on the labelled reference), not per window.
        self.baseline: dict[str, float] = {}
        if reference is not None:
            base = run_performance(model_cfg, None, reference, limits=self.current_limits)
            self.baseline = {
                name: float(m.value) for name, m in base.metrics.items() if m.value is not None
            }

    def __call__(self, rows: pd.DataFrame) -> Judged:
        report = run_performance(
            self.model_cfg,
            None,
            rows,
            baseline=self.baseline or None,
            limits=self.current_limits,
        )
        new = rejudge(report, self.proposed_limits)
        metric = report.metrics.get(self.metric)
        value = None if metric is None or metric.value is None else float(metric.value)
        return value, _level(report), _level(new)

    def lines(self) -> tuple[float | None, float | None]:
        return self._line(self.current_limits), self._line(self.proposed_limits)

    def _line(self, limits: PerformanceLimits) -> float | None:
        if self.drop_line:
            baseline = self.baseline.get(self.metric)
            if baseline is None:
                return None
            drop = limits.max_drop
            return baseline * (1 + drop) if self.higher_is_worse else baseline - drop
        key = ("max_" if self.higher_is_worse else "min_") + self.metric
        value = getattr(limits, key, None)
        return None if value is None else float(value)


_METRIC_WORDS = {
    "accuracy": "accuracy",
    "f1": "F1",
    "roc_auc": "ROC AUC",
    "mae": "MAE",
    "rmse": "RMSE",
    "r2": "R²",
}


def _level(report: PerformanceReport) -> tuple[str, str]:
    level = performance_level(report)
    if level is Verdict.NO_DATA:
        return alert_level(level), report.notes[0] if report.notes else "no labelled rows"
    breaches = [m.note or m.label for m in report.metrics.values() if m.verdict is Verdict.BREACH]
    return alert_level(level), "; ".join(breaches)
