"""One function per check: platform data -> monitoring engine -> report -> alert policy -> Slack.

``check_drift``, ``check_performance`` and ``check_utilization`` are what the scheduler,
``mlops-bot run-job`` and the ``/mlops drift|perf|usage`` commands call. Each reads its window
from the platform port, runs the engine in :mod:`engine`, turns the result into a
:class:`~core.reports.CheckReport` with charts, and then (when asked) feeds every signal through
the alert lifecycle, applies the retraining policy, and posts one summary with its charts in
the summary's thread.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd

from commands.context import CommandContext
from commands.parsing import UsageError, parse_args, parse_window
from core.publisher import key_of
from core.replies import ErrorReply, MessageRef, MessageReply, Reply, Upload
from core.reports import (
    KIND_SIGNALS,
    CheckReport,
    Finding,
    SignalResult,
    SummaryReply,
    from_verdict,
    level_rank,
    worst_level,
)
from engine import (
    ColumnDriftResult,
    DriftReport,
    MetricResult,
    PerformanceReport,
    UtilizationReport,
    UtilizationState,
    run_drift,
    run_performance,
    run_utilization,
)
from engine.verdict import Verdict
from infra.platform.base import PlatformError
from infra.settings import ModelConfig
from jobs import charts
from jobs.alerts import (
    AlertBook,
    Observation,
    Outcome,
    active_mute,
    fingerprint,
    open_alert_signals,
    retrain_mode,
)
from jobs.context import MonitorContext
from jobs.retraining import on_breach

log = logging.getLogger(__name__)

MAX_FINDINGS = 8


class CheckFailed(Exception):
    """The check could not read its data; ``str()`` is safe to show in Slack."""


@dataclass(frozen=True)
class CheckRun:
    report: CheckReport
    outcomes: tuple[Outcome, ...] = ()
    summary: MessageRef | None = None
    muted: tuple[str, ...] = ()
    retraining: tuple[str, ...] = field(default_factory=tuple)
    """What the retraining policy did, one sentence each (submitted / skipped and why)."""


def window_of(model_cfg: ModelConfig, kind: str) -> timedelta:
    config = getattr(model_cfg.monitoring, kind)
    return config.window


def describe_window(start: datetime, end: datetime) -> str:
    span = end - start
    hours = span.total_seconds() / 3600
    length = f"{hours / 24:g}d" if hours >= 24 and hours % 24 == 0 else f"{hours:g}h"
    return f"{start:%b %d %H:%M} – {end:%b %d %H:%M} UTC (last {length})"


def _upload(chart: charts.Chart | None) -> Upload | None:
    if chart is None:
        return None
    return Upload(
        filename=chart.filename, content=chart.png, title=chart.title, alt_text=chart.alt_text
    )


def _num(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if math.isinf(value):
        return "∞"
    return f"{value:.{digits}g}"


# --------------------------------------------------------------------------- drift


def _check_reference(model_cfg: ModelConfig, reference: pd.DataFrame) -> None:
    """A reference without rows, or without any configured feature, is a broken data file: say
    so, instead of comparing against nothing (which reads as "every category is new")."""
    if reference.empty:
        raise CheckFailed(
            f"the reference data of {model_cfg.name} has no rows; point "
            "models[].reference_data at the training or baseline data"
        )
    features = list(model_cfg.features.all)
    if features and not set(features) & set(map(str, reference.columns)):
        have = ", ".join(map(str, list(reference.columns)[:10])) or "none"
        raise CheckFailed(
            f"the reference data of {model_cfg.name} has none of the configured features "
            f"({', '.join(features[:10])}); its columns are: {have}"
        )


def drift_report(
    ctx: MonitorContext, model_cfg: ModelConfig, env: str, start: datetime, end: datetime
) -> CheckReport:
    try:
        reference = ctx.platform.reference_data(model_cfg.name)
        current = ctx.platform.production_data(model_cfg.name, env, start, end)
    except PlatformError as exc:
        raise CheckFailed(f"could not read the data of {model_cfg.name} in {env}: {exc}") from exc
    _check_reference(model_cfg, reference)
    report = run_drift(model_cfg, reference, current)
    overview = _upload(
        charts.drift_overview_chart(report, title=f"{model_cfg.name} · {env} · drift")
    )
    distributions = _upload(charts.distributions_chart(report)) if report.tested_count else None
    return CheckReport(
        kind="drift",
        model=model_cfg.name,
        environment=env,
        start=start,
        end=end,
        signals=(_drift_signal(report, overview, end), _quality_signal(report)),
        fields=_drift_fields(report),
        details=_drift_details(report),
        charts=tuple(c for c in (overview, distributions) if c is not None),
        notes=tuple(report.notes),
    )


def _drift_signal(report: DriftReport, chart: Upload | None, end: datetime) -> SignalResult:
    findings = []
    for column in report.ranked():
        if not column.tested:
            continue
        findings.append(_column_finding(column))
    for name, column in report.outputs.items():
        if column.drifted:  # after the features: the headline already says outputs drifted
            findings.append(_column_finding(column, name=f"{name} (model output)"))
    level = from_verdict(report.verdict)
    headline = report.headline
    if report.prediction_drift:
        headline += "; the model's outputs drifted too"
    return SignalResult(
        signal="drift",
        level=level,
        headline=headline,
        findings=tuple(findings[:MAX_FINDINGS]),
        chart=chart,
        trend=((end.isoformat(), report.share_drifted),) if report.tested_count else (),
    )


def _column_finding(column: ColumnDriftResult, *, name: str | None = None) -> Finding:
    method, score, threshold = column.method, column.score, column.threshold
    if method.is_test:
        value, limit = f"p = {_num(score)}", f"drift when p < {threshold:g} ({method.label})"
    else:
        value, limit = f"{_num(score)}", f"drift when > {threshold:g} ({method.label})"
    level = "breach" if column.drifted else "healthy"
    return Finding(
        name=name or column.column,
        value=value,
        limit=limit,
        level=level,
        note=column.note or "",
    )


def _quality_signal(report: DriftReport) -> SignalResult:
    quality = report.quality
    findings = sorted(quality.findings, key=lambda f: -f.verdict.severity)
    level = from_verdict(quality.verdict) if report.n_current else "unknown"
    if not findings:
        headline = "no data quality problems" if report.n_current else "no rows in the window"
    else:
        worst = findings[0]
        headline = f"{len(findings)} data quality finding{'s' if len(findings) > 1 else ''}: {worst.message}"
    return SignalResult(
        signal="data_quality",
        level=level,
        headline=headline,
        findings=tuple(
            Finding(
                name=f"{f.column}: {str(f.check).replace('_', ' ')}",
                value=f"{f.value:.1%}",
                limit=f"> {f.threshold:.1%}"
                + (f" (reference {f.reference:.1%})" if f.reference is not None else ""),
                level=from_verdict(f.verdict),
                note=f.message,
            )
            for f in findings[:MAX_FINDINGS]
        ),
    )


def _drift_fields(report: DriftReport) -> tuple[tuple[str, str], ...]:
    fields = [
        ("Drifted features", f"{report.drifted_count} of {report.tested_count}"),
        (
            "Share drifted",
            f"{report.share_drifted:.0%} (dataset drift at {report.share_threshold:.0%})",
        ),
        ("Rows", f"{report.n_current:,} current · {report.n_reference:,} reference"),
        ("Prediction drift", "yes" if report.prediction_drift else "no"),
        ("Data quality", from_verdict(report.quality.verdict)),
    ]
    top = [c for c in report.ranked() if c.drifted][:3]
    if top:
        fields.append(("Most drifted", ", ".join(c.column for c in top)))
    return tuple(fields)


def _drift_details(report: DriftReport) -> tuple[str, ...]:
    lines = [report.headline]
    for column in report.ranked():
        if column.tested:
            score = f"p={_num(column.score)}" if column.method.is_test else _num(column.score)
            mark = "DRIFTED" if column.drifted else "ok"
            line = (
                f"{column.column}: {column.method.label} {score} vs {column.threshold:g} — {mark}"
            )
        else:
            line = f"{column.column}: not tested — {column.note or 'not enough data'}"
        lines.append(line)
    for name, column in report.outputs.items():
        lines.append(
            f"{name} (output): {column.method.label} {_num(column.score)} — "
            + ("DRIFTED" if column.drifted else "ok")
        )
    lines.extend(f"quality: {f.column}: {f.message}" for f in report.quality.findings)
    lines.extend(f"note: {n}" for n in report.notes)
    return tuple(lines)


# --------------------------------------------------------------------------- performance


#: How many windows the performance trend chart shows.
TREND_POINTS = 14


def backfilled_trend(
    ctx: MonitorContext,
    model_cfg: ModelConfig,
    env: str,
    start: datetime,
    end: datetime,
    reference: object,
    metric: str,
) -> list[tuple[datetime, float]]:
    """The headline metric for each of the previous windows, from the platform's labelled data."""
    window = end - start
    earliest = start - window * (TREND_POINTS - 1)
    try:
        history = ctx.platform.production_data(model_cfg.name, env, earliest, start)
    except PlatformError:
        return []
    timestamp = model_cfg.columns.timestamp
    if history.empty or timestamp not in history:
        return []
    points: list[tuple[datetime, float]] = []
    for index in range(TREND_POINTS - 1):
        bucket_start = earliest + window * index
        bucket_end = bucket_start + window
        rows = history[(history[timestamp] >= bucket_start) & (history[timestamp] < bucket_end)]
        if rows.empty:
            continue
        value = run_performance(model_cfg, reference, rows).metrics.get(metric)
        if value is not None and value.value is not None:
            points.append((bucket_end, float(value.value)))
    return points


def performance_report(
    ctx: MonitorContext,
    model_cfg: ModelConfig,
    env: str,
    start: datetime,
    end: datetime,
    *,
    history: list[tuple[str, float]] | None = None,
) -> CheckReport:
    try:
        reference = ctx.platform.reference_data(model_cfg.name)
    except PlatformError:
        reference = None  # absolute limits still apply without a baseline
    try:
        current = ctx.platform.production_data(model_cfg.name, env, start, end)
    except PlatformError as exc:
        raise CheckFailed(f"could not read the data of {model_cfg.name} in {env}: {exc}") from exc
    report = run_performance(model_cfg, reference, current)
    headline_metric = next((m for m in report.metrics.values() if m.value is not None), None)
    chart: Upload | None = None
    trend: tuple[tuple[str, float], ...] = ()
    if headline_metric is not None and headline_metric.value is not None:
        trend = ((end.isoformat(), float(headline_metric.value)),)
        points = [(datetime.fromisoformat(t), v) for t, v in (history or [])]
        if len(points) < TREND_POINTS // 2:
            # Few checks have run yet: rebuild the trend from the labelled traffic itself, so
            # the first chart already shows when the metric started to move.
            points = backfilled_trend(
                ctx, model_cfg, env, start, end, reference, headline_metric.name
            )
        points.append((end, float(headline_metric.value)))
        chart = _upload(
            charts.metric_trend_chart(
                points[-TREND_POINTS:],
                metric=headline_metric.name,
                threshold=headline_metric.threshold,
                baseline=headline_metric.baseline,
                higher_is_better=headline_metric.higher_is_better,
                model=model_cfg.name,
            )
        )
    signals = [_performance_signal(report, chart, trend)]
    fairness_chart = None
    if report.fairness:
        worst = max(report.fairness, key=lambda f: f.verdict.severity)
        fairness_chart = _upload(charts.fairness_chart(worst, model=model_cfg.name))
        signals.append(_fairness_signal(report, fairness_chart))
    return CheckReport(
        kind="performance",
        model=model_cfg.name,
        environment=env,
        start=start,
        end=end,
        signals=tuple(signals),
        fields=_performance_fields(report),
        details=_performance_details(report),
        charts=tuple(c for c in (chart, fairness_chart) if c is not None),
        notes=tuple(report.notes),
    )


def _performance_signal(
    report: PerformanceReport, chart: Upload | None, trend: tuple[tuple[str, float], ...]
) -> SignalResult:
    if not report.has_labels:
        level = "unknown"
        headline = report.notes[0] if report.notes else "no labelled rows in the window"
    else:
        level = worst_level(from_verdict(m.verdict) for m in report.metrics.values())
        breaches = [
            m.note or m.label for m in report.metrics.values() if m.verdict is Verdict.BREACH
        ]
        if breaches:
            headline = "; ".join(breaches)
        else:
            shown = [
                f"{m.label} {m.value:.3f}"
                + (f" (baseline {m.baseline:.3f})" if m.baseline is not None else "")
                for m in report.metrics.values()
                if m.value is not None
            ][:3]
            headline = ", ".join(shown) or "no metric could be computed"
    findings = sorted(
        (_metric_finding(m) for m in report.metrics.values() if m.value is not None),
        key=lambda f: -level_rank(f.level),
    )
    return SignalResult(
        signal="performance",
        level=level,
        headline=headline,
        findings=tuple(findings[:MAX_FINDINGS]),
        chart=chart,
        trend=trend,
    )


def _metric_finding(m: MetricResult) -> Finding:
    limits = []
    if m.minimum is not None:
        limits.append(f"≥ {m.minimum:g}")
    if m.maximum is not None:
        limits.append(f"≤ {m.maximum:g}")
    if m.baseline is not None and m.max_drop is not None:
        limits.append(f"drop ≤ {m.max_drop:g} from {m.baseline:.3f}")
    value = f"{m.value:.3f}"
    if m.change is not None:
        value += f" ({m.change:+.3f})"
    return Finding(
        name=m.label,
        value=value,
        limit="; ".join(limits) or "no limit set",
        level=from_verdict(m.verdict),
        note=m.note or "",
    )


def _fairness_signal(report: PerformanceReport, chart: Upload | None) -> SignalResult:
    judged = [f for f in report.fairness if f.verdict is not Verdict.NO_DATA]
    if not report.has_labels or not judged:
        level, headline = "unknown", "not enough labelled rows per group to judge fairness"
    else:
        level = worst_level(from_verdict(f.verdict) for f in judged)
        breaches = [f"{f.feature}: {text}" for f in judged for text in f.breaches]
        headline = (
            "; ".join(breaches)
            if breaches
            else ("within limits for " + ", ".join(f.feature for f in judged))
        )
    findings = []
    for f in report.fairness:
        findings.append(
            Finding(
                name=f"{f.feature}: demographic parity difference",
                value=_num(f.demographic_parity_difference),
                limit=f"≤ {f.max_demographic_parity_difference:g}",
                level=_limit_level(
                    f.demographic_parity_difference, f.max_demographic_parity_difference
                ),
                note=f.note or "",
            )
        )
        findings.append(
            Finding(
                name=f"{f.feature}: equalized odds difference",
                value=_num(f.equalized_odds_difference),
                limit=f"≤ {f.max_equalized_odds_difference:g}",
                level=_limit_level(f.equalized_odds_difference, f.max_equalized_odds_difference),
            )
        )
    findings.sort(key=lambda f: -level_rank(f.level))
    return SignalResult("fairness", level, headline, tuple(findings[:MAX_FINDINGS]), chart)


def _limit_level(value: float | None, limit: float) -> str:
    if value is None:
        return "unknown"
    return "breach" if value > limit else "healthy"


def _performance_fields(report: PerformanceReport) -> tuple[tuple[str, str], ...]:
    fields = [
        (
            "Labelled rows",
            f"{report.n_labelled:,} of {report.n_rows:,} ({report.label_coverage:.0%})",
        )
    ]
    for metric in list(report.metrics.values())[:5]:
        if metric.value is None:
            continue
        text = f"{metric.value:.3f}"
        if metric.baseline is not None:
            text += f" (baseline {metric.baseline:.3f}, {metric.change:+.3f})"
        fields.append((metric.label, text))
    for result in report.fairness[:2]:
        fields.append(
            (
                f"Fairness · {result.feature}",
                f"DP diff {_num(result.demographic_parity_difference)} · "
                f"EO diff {_num(result.equalized_odds_difference)}",
            )
        )
    return tuple(fields[:10])


def _performance_details(report: PerformanceReport) -> tuple[str, ...]:
    lines = [f"{report.n_labelled} labelled rows of {report.n_rows}"]
    for metric in report.metrics.values():
        finding = _metric_finding(metric) if metric.value is not None else None
        if finding is None:
            lines.append(f"{metric.label}: not computed — {metric.note or 'no value'}")
        else:
            lines.append(
                f"{finding.name}: {finding.value} — limit {finding.limit} — {finding.level}"
            )
    for cls in report.per_class:
        lines.append(
            f"class {cls.label}: precision {cls.precision:.3f}, recall {cls.recall:.3f}, "
            f"F1 {cls.f1:.3f}, support {cls.support}"
        )
    for result in report.fairness:
        lines.append(
            f"fairness {result.feature}: DP {_num(result.demographic_parity_difference)}, "
            f"EO {_num(result.equalized_odds_difference)} — {from_verdict(result.verdict)}"
        )
        for group in result.groups:
            lines.append(
                f"  {group.group}: n={group.count}, selection {_num(group.selection_rate)}, "
                f"TPR {_num(group.true_positive_rate)}, FPR {_num(group.false_positive_rate)}"
            )
    lines.extend(f"note: {n}" for n in report.notes)
    return tuple(lines)


# --------------------------------------------------------------------------- utilization


def utilization_report(
    ctx: MonitorContext, model_cfg: ModelConfig, env: str, start: datetime, end: datetime
) -> CheckReport:
    cfg = model_cfg.monitoring.utilization
    try:
        state = ctx.platform.endpoint_state(model_cfg.name, env)
        deployments = [d.name for d in (state.serving or state.deployments)]
        frames = {
            name: ctx.platform.deployment_metrics(model_cfg.name, env, start, end, deployment=name)
            for name in deployments
        }
    except PlatformError as exc:
        raise CheckFailed(
            f"could not read the metrics of {model_cfg.name} in {env}: {exc}"
        ) from exc
    if not frames:
        raise CheckFailed(f"{model_cfg.name} has no deployment in {env} to measure")
    report = run_utilization(cfg, frames)
    worst = max(report.deployments.values(), key=lambda d: d.verdict.severity)
    chart = _upload(
        charts.utilization_chart(
            frames[worst.deployment], worst, cfg, model=model_cfg.name, environment=env
        )
    )
    return CheckReport(
        kind="utilization",
        model=model_cfg.name,
        environment=env,
        start=start,
        end=end,
        signals=(_utilization_signal(report, chart),),
        fields=_utilization_fields(report),
        details=_utilization_details(report),
        charts=(chart,) if chart else (),
    )


_STATE_TEXT = {
    UtilizationState.OVER: "over-utilized",
    UtilizationState.UNDER: "under-utilized",
    UtilizationState.HEALTHY: "healthy",
    UtilizationState.NO_DATA: "no metrics",
}


def _utilization_signal(report: UtilizationReport, chart: Upload | None) -> SignalResult:
    deployments = sorted(report.deployments.values(), key=lambda d: -d.verdict.severity)
    worst = deployments[0]
    if worst.verdict is Verdict.HEALTHY:
        cpu = worst.summary.get("cpu_percent")
        latency = worst.summary.get("latency_p99_ms")
        parts = [f"{len(deployments)} deployment{'s' if len(deployments) > 1 else ''} healthy"]
        if cpu is not None and not math.isnan(cpu):
            parts.append(f"CPU {cpu:.0f}%")
        if latency is not None and not math.isnan(latency):
            parts.append(f"p99 {latency:.0f} ms")
        headline = ", ".join(parts)
    else:
        headline = f"{worst.deployment}: {_STATE_TEXT[worst.state]}"
        if worst.reasons:
            headline += f" ({'; '.join(worst.reasons[:2])})"
        if worst.recommendation:
            headline += f" — {worst.recommendation}"
    findings = [
        Finding(
            name=f"{d.deployment} · {c.label}",
            value=f"{c.mean:.2%}"
            if c.metric == "error_rate"
            else f"mean {c.mean:.3g}, {c.share:.0%} of samples",
            limit=f"{c.direction} {c.threshold:g}",
            level=from_verdict(c.verdict),
            note=c.note or "",
        )
        for d in deployments
        for c in d.checks
    ]
    findings.sort(key=lambda f: -level_rank(f.level))
    return SignalResult(
        signal="utilization",
        level=from_verdict(report.verdict),
        headline=headline,
        findings=tuple(findings[:MAX_FINDINGS]),
        chart=chart,
    )


def _utilization_fields(report: UtilizationReport) -> tuple[tuple[str, str], ...]:
    fields = []
    for d in list(report.deployments.values())[:5]:
        parts = [_STATE_TEXT[d.state]]
        for key, label, fmt in (
            ("cpu_percent", "CPU", "{:.0f}%"),
            ("memory_percent", "mem", "{:.0f}%"),
            ("latency_p99_ms", "p99", "{:.0f} ms"),
            ("error_rate", "errors", "{:.2%}"),
        ):
            value = d.summary.get(key)
            if value is not None and not math.isnan(value):
                parts.append(f"{label} {fmt.format(value)}")
        if d.instance_count is not None:
            parts.append(f"{d.instance_count} inst.")
        fields.append((d.deployment, " · ".join(parts)))
        if d.recommendation:
            fields.append((f"{d.deployment} · suggestion", d.recommendation))
    return tuple(fields[:10])


def _utilization_details(report: UtilizationReport) -> tuple[str, ...]:
    lines = []
    for d in report.deployments.values():
        lines.append(f"{d.deployment}: {_STATE_TEXT[d.state]} over {d.n_samples} samples")
        for c in d.checks:
            lines.append(
                f"  {c.label}: mean {c.mean:.4g}, p95 {c.p95:.4g}, latest {c.latest:.4g}, "
                f"{c.direction} {c.threshold:g} in {c.share:.0%} — {from_verdict(c.verdict)}"
            )
        lines.extend(f"  reason: {r}" for r in d.reasons)
        if d.recommendation:
            lines.append(f"  suggestion: {d.recommendation}")
    return tuple(lines)


# --------------------------------------------------------------------------- running a check


def build_report(
    ctx: MonitorContext,
    kind: str,
    model_cfg: ModelConfig,
    env: str,
    *,
    window: timedelta | None = None,
    end: datetime | None = None,
) -> CheckReport:
    end = end or ctx.now()
    start = end - (window or window_of(model_cfg, kind))
    if kind == "drift":
        return drift_report(ctx, model_cfg, env, start, end)
    if kind == "performance":
        history = AlertBook(ctx).previous_trend(fingerprint(model_cfg.name, env, "performance"))
        return performance_report(ctx, model_cfg, env, start, end, history=history)
    if kind == "utilization":
        return utilization_report(ctx, model_cfg, env, start, end)
    raise ValueError(f"unknown check {kind!r}; expected drift, performance or utilization")


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
    muted = tuple(
        s.signal for s in report.signals if active_mute(ctx.store, model_cfg.name, s.signal, end)
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
                    level=signal.level,
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
    ref = publish_summary(ctx, model_cfg, report, muted=muted, trigger=trigger) if publish else None
    return CheckRun(report, tuple(outcomes), ref, muted, tuple(retraining))


def _apply_retraining(
    ctx: MonitorContext, model_cfg: ModelConfig, env: str, signal: SignalResult, outcome: Outcome
) -> str | None:
    if retrain_mode(model_cfg, signal.signal) != "auto":
        return None
    decision = on_breach(
        ctx, model_cfg, env=env, signal=signal.signal, headline=signal.headline, alert=outcome
    )
    return decision.sentence


def _record_failure(
    ctx: MonitorContext, kind: str, model_cfg: ModelConfig, env: str, message: str
) -> None:
    """A check that cannot run shows as "unknown" in /mlops status and the digest."""
    book = AlertBook(ctx)
    signals = KIND_SIGNALS[kind]
    if kind == "performance" and not model_cfg.sensitive_features:
        signals = ("performance",)
    for signal in signals:
        book.observe(
            Observation(model_cfg.name, env, signal, "unknown", f"check could not run: {message}"),
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


# --------------------------------------------------------------------------- /mlops drift|perf|usage


def on_demand(command: CommandContext, words: list[str], *, kind: str, usage: str) -> Reply:
    """Run a check now for a slash command: the same report and charts as a scheduled run,
    returned as the reply (the alert lifecycle is left alone: ad-hoc windows are not a series)."""
    args = parse_args(words, options={"env": True, "window": True}, usage=usage, max_positionals=1)
    if not args.positionals:
        raise UsageError("expected a model name", usage=usage)
    model_cfg = command.model(args.positionals[0], usage=usage)
    env_option = args.options.get("env")
    env = (
        command.env(str(env_option), usage=usage)
        if env_option
        else command.settings.monitored_envs(model_cfg)[0]
    )
    window_option = args.options.get("window")
    window = parse_window(str(window_option), usage=usage) if window_option else None
    ctx = MonitorContext(command.settings, command.platform, command.store, clock=command.clock)
    command.progress(
        MessageReply(public=True, text=f"Running the {kind} check of {model_cfg.name} in {env}…")
    )
    try:
        report = build_report(ctx, kind, model_cfg, env, window=window)
    except CheckFailed as exc:
        return ErrorReply(message=str(exc))
    now = ctx.now()
    muted = tuple(
        s.signal for s in report.signals if active_mute(ctx.store, model_cfg.name, s.signal, now)
    )
    return SummaryReply(
        public=True,
        report=report,
        muted=muted,
        open_alerts=tuple(
            open_alert_signals(ctx.store, model_cfg.name, env, [s.signal for s in report.signals])
        ),
        trigger="on demand",
    )
