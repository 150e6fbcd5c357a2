"""Running a check: build its report, feed every signal through the alert lifecycle and the
retraining policy, and post one summary with its charts in the summary's thread. By default
(``slack.scheduled_summaries: on_change``) a scheduled run posts only when its verdict changed
and otherwise edits the standing summary (:mod:`jobs.checks.standing`).

This is what the scheduler and ``mlops-bot run-job`` call (through :mod:`jobs.run`); the
``/mlops drift|perf|usage`` commands call :func:`build_report` only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.checks import CheckKind
from core.publisher import key_of
from core.replies import MessageRef
from core.reports import CheckReport, SignalResult, SummaryReply
from engine.verdict import Verdict
from infra.settings import ModelConfig
from jobs.alerts import (
    AlertBook,
    Observation,
    Outcome,
    active_mute,
    open_alert_signals,
    retrain_mode,
)
from jobs.checks.base import CheckFailed
from jobs.checks.kinds import check_of
from jobs.checks.standing import StandingSummaries
from jobs.context import MonitorContext
from jobs.retraining import on_breach


@dataclass(frozen=True)
class CheckRun:
    report: CheckReport
    outcomes: tuple[Outcome, ...] = ()
    summary: MessageRef | None = None
    muted: tuple[str, ...] = ()
    retraining: tuple[str, ...] = field(default_factory=tuple)
    """What the retraining policy did, one sentence each (submitted / skipped and why)."""


def window_of(model_cfg: ModelConfig, kind: str) -> timedelta:
    """The configured window of a model's check (``monitoring.<kind>.window``)."""
    return getattr(model_cfg.monitoring, check_of(kind).kind.value).window


def describe_window(start: datetime, end: datetime) -> str:
    span = end - start
    hours = span.total_seconds() / 3600
    length = f"{hours / 24:g}d" if hours >= 24 and hours % 24 == 0 else f"{hours:g}h"
    return f"{start:%b %d %H:%M} – {end:%b %d %H:%M} UTC (last {length})"


def alert_level(verdict: Verdict) -> str:
    """A verdict as the alert book (:mod:`jobs.alerts`) stores and compares it: ``unknown`` for
    NO_DATA, as every stored alert row spells it (``Verdict("unknown")`` reads it back)."""
    return "unknown" if verdict is Verdict.NO_DATA else verdict.value


def build_report(
    ctx: MonitorContext,
    kind: str,
    model_cfg: ModelConfig,
    env: str,
    *,
    window: timedelta | None = None,
    end: datetime | None = None,
) -> CheckReport:
    """The report of one check over ``window`` (default: the configured one) ending at ``end``."""
    check = check_of(kind)
    end = end or ctx.now()
    start = end - (window or window_of(model_cfg, kind))
    return check.build_report(ctx, model_cfg, env, start, end)


def run_check(
    ctx: MonitorContext,
    kind: str,
    model_cfg: ModelConfig,
    env: str,
    *,
    window: timedelta | None = None,
    track_alerts: bool = True,
    publish: bool = True,
    trigger: str = "scheduled",
) -> CheckRun:
    """Run one check; with ``track_alerts`` feed the alert lifecycle and the retraining policy,
    with ``publish`` post the summary and its charts."""
    end = ctx.now()
    try:
        report = build_report(ctx, kind, model_cfg, env, window=window, end=end)
    except CheckFailed as exc:
        if track_alerts:
            _record_failure(ctx, kind, model_cfg, env, str(exc))
        raise
    return apply_report(
        ctx,
        model_cfg,
        report,
        now=end,
        track_alerts=track_alerts,
        publish=publish,
        trigger=trigger,
    )


def apply_report(
    ctx: MonitorContext,
    model_cfg: ModelConfig,
    report: CheckReport,
    *,
    now: datetime,
    track_alerts: bool = True,
    publish: bool = True,
    trigger: str = "scheduled",
) -> CheckRun:
    """Feed a check's report through the alert lifecycle and the retraining policy and post
    its summary: the same path for a report built here and one a platform job wrote."""
    env = report.environment
    muted = tuple(
        s.signal for s in report.signals if active_mute(ctx.store, model_cfg.name, s.signal, now)
    )
    outcomes: list[Outcome] = []
    retraining: list[str] = []
    if track_alerts:
        book = AlertBook(ctx)
        window_text = describe_window(report.start, report.end)
        for signal in report.signals:
            outcome = book.observe(
                Observation(
                    model=model_cfg.name,
                    environment=env,
                    signal=signal.signal,
                    level=alert_level(Verdict.NO_DATA if signal.estimated else signal.level),
                    headline=signal.headline,
                    findings=signal.findings,
                    window=window_text,
                    details=report.details,
                    chart=signal.chart,
                    trend=signal.trend,
                ),
                model_cfg,
            )
            outcomes.append(outcome)
            if outcome.confirmed_breach and not outcome.muted:
                decision = _apply_retraining(ctx, model_cfg, env, signal, outcome)
                if decision:
                    retraining.append(decision)
    ref = None
    if publish and trigger == "scheduled" and ctx.settings.slack.scheduled_summaries == "on_change":
        ref = publish_on_change(ctx, model_cfg, report, muted=muted)
    elif publish:
        ref = publish_summary(ctx, model_cfg, report, muted=muted, trigger=trigger)
    return CheckRun(report, tuple(outcomes), ref, muted, tuple(retraining))


def publish_on_change(
    ctx: MonitorContext, model_cfg: ModelConfig, report: CheckReport, *, muted: tuple[str, ...]
) -> MessageRef | None:
    """A new top-level summary only when the check's verdict changed (its first verdict too);
    otherwise the model's standing summary in the environment is edited, and posted by the first
    unchanged run. A change edits a standing summary that exists but never posts one beside its
    own summary: one check, one top-level message."""
    standing = StandingSummaries(ctx)
    recorded = standing.record(report, muted)
    if recorded.changed:
        ref = publish_summary(ctx, model_cfg, report, muted=muted, trigger="scheduled")
        standing.show(model_cfg, report.environment, create=False)
        return ref
    return standing.show(model_cfg, report.environment)


def _apply_retraining(
    ctx: MonitorContext, model_cfg: ModelConfig, env: str, signal: SignalResult, outcome: Outcome
) -> str | None:
    if retrain_mode(model_cfg, signal.signal) != "auto":
        return None
    decision = on_breach(
        ctx, model_cfg, env=env, signal=signal.signal, headline=signal.headline, alert=outcome
    )
    return decision.sentence


def failure_signals(kind: str, model_cfg: ModelConfig) -> tuple[str, ...]:
    """The signals a check of ``kind`` reports for this model."""
    if kind == CheckKind.PERFORMANCE and not model_cfg.sensitive_features:
        return ("performance",)
    return check_of(kind).signals


def _record_failure(
    ctx: MonitorContext, kind: str, model_cfg: ModelConfig, env: str, message: str
) -> None:
    """A check that cannot run shows as "no data" in /mlops status and the digest."""
    book = AlertBook(ctx)
    for signal in failure_signals(kind, model_cfg):
        book.observe(
            Observation(
                model_cfg.name,
                env,
                signal,
                alert_level(Verdict.NO_DATA),
                f"check could not run: {message}",
            ),
            model_cfg,
        )


def publish_summary(
    ctx: MonitorContext,
    model_cfg: ModelConfig,
    report: CheckReport,
    *,
    muted: tuple[str, ...] = (),
    trigger: str = "scheduled",
    channel: str | None = None,
) -> MessageRef | None:
    """One message in the model's channel with the charts in its thread."""
    target = channel or ctx.settings.channel(model_cfg, "digest")
    reply = SummaryReply(
        public=True,
        report=report,
        muted=muted,
        open_alerts=tuple(
            open_alert_signals(
                ctx.store, report.model, report.environment, [s.signal for s in report.signals]
            )
        ),
        trigger=trigger,
    )
    key = key_of("summary", report.kind, report.model, report.environment, report.end.isoformat())
    return ctx.publish(
        key, target, reply, report.charts, what=f"the {report.kind} summary of {report.model}"
    )
