"""The performance check: model metrics on the labelled rows of the window (signal
``performance``, with a trend chart across windows) and fairness across the configured sensitive
features (signal ``fairness``)."""

from __future__ import annotations

from datetime import datetime

from core.checks import CheckKind
from core.replies import Upload
from core.reports import (
    CheckReport,
    Finding,
    SignalResult,
)
from engine import MetricResult, PerformanceReport, run_performance
from engine.verdict import Verdict
from infra.platform.base import PlatformError
from infra.settings import ModelConfig
from jobs import charts
from jobs.alerts import AlertBook, fingerprint
from jobs.checks.base import MAX_FINDINGS, CheckFailed, num
from jobs.checks.options import performance_limits
from jobs.context import MonitorContext

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
        value = run_performance(
            model_cfg, reference, rows, limits=performance_limits(model_cfg)
        ).metrics.get(metric)
        if value is not None and value.value is not None:
            points.append((bucket_end, float(value.value)))
    return points


def needs_backfill(stored: list[tuple[datetime, float]], start: datetime, end: datetime) -> bool:
    """Rebuild the trend from traffic only while the stored one is short and holds no point
    from before the previous window (a backfill leaves such points; so do a few days of
    checks): a stored history, once it exists, is reused."""
    if len(stored) >= TREND_POINTS // 2:
        return False
    window = end - start
    return not any(t < start - window for t, _ in stored)


class PerformanceCheck:
    """Model metrics on the labelled rows of the window (signal ``performance``) and fairness
    across the sensitive features (signal ``fairness``)."""

    kind = CheckKind.PERFORMANCE
    signals = CheckKind.PERFORMANCE.signals

    def build_report(
        self, ctx: MonitorContext, model_cfg: ModelConfig, env: str, start: datetime, end: datetime
    ) -> CheckReport:
        history = AlertBook(ctx).previous_trend(fingerprint(model_cfg.name, env, "performance"))
        return performance_report(ctx, model_cfg, env, start, end, history=history)


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
    report = run_performance(model_cfg, reference, current, limits=performance_limits(model_cfg))
    headline_metric = next((m for m in report.metrics.values() if m.value is not None), None)
    chart: Upload | None = None
    trend: tuple[tuple[str, float], ...] = ()
    if headline_metric is not None and headline_metric.value is not None:
        current = (end, float(headline_metric.value))
        stored = [(datetime.fromisoformat(t), v) for t, v in (history or [])]
        added: list[tuple[datetime, float]] = []
        if needs_backfill(stored, start, end):
            # Few checks have run yet: rebuild the trend from the labelled traffic itself, so
            # the first chart already shows when the metric started to move. The rebuilt
            # points go into the stored trend with this run's, so the next run reuses them
            # instead of recomputing thirteen windows.
            oldest = min((t for t, _ in stored), default=None)
            added = [
                p
                for p in backfilled_trend(
                    ctx, model_cfg, env, start, end, reference, headline_metric.name
                )
                if oldest is None or p[0] < oldest
            ]
        points = sorted({t: v for t, v in [*added, *stored, current]}.items())
        trend = tuple((t.isoformat(), v) for t, v in [*added, current])
        chart = charts.metric_trend_chart(
            points[-TREND_POINTS:],
            metric=headline_metric.name,
            threshold=headline_metric.threshold,
            baseline=headline_metric.baseline,
            higher_is_better=headline_metric.higher_is_better,
            model=model_cfg.name,
        )
    signals = [_performance_signal(report, chart, trend)]
    fairness_chart = None
    if report.fairness:
        worst = max(report.fairness, key=lambda f: f.verdict.severity)
        fairness_chart = charts.fairness_chart(worst, model=model_cfg.name)
        signals.append(_fairness_signal(report, fairness_chart))
    return CheckReport(
        kind=CheckKind.PERFORMANCE,
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


def performance_level(report: PerformanceReport) -> Verdict:
    """The level of the ``performance`` signal: the worst metric (fairness is its own signal);
    no data without enough labels. The backtest judges past windows by this same rule."""
    if not report.has_labels:
        return Verdict.NO_DATA
    return Verdict.worst(m.verdict for m in report.metrics.values())


def _performance_signal(
    report: PerformanceReport, chart: Upload | None, trend: tuple[tuple[str, float], ...]
) -> SignalResult:
    level = performance_level(report)
    if not report.has_labels:
        headline = report.notes[0] if report.notes else "no labelled rows in the window"
    else:
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
        key=lambda f: -f.level.severity,
    )
    return SignalResult(
        signal="performance",
        level=level,
        headline=headline,
        findings=tuple(findings[:MAX_FINDINGS]),
        chart=chart,
        trend=trend,
    )


NO_LIMIT = "no limit set"


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
        limit="; ".join(limits) or NO_LIMIT,
        level=m.verdict,
        note=m.note or "",
    )


def _fairness_signal(report: PerformanceReport, chart: Upload | None) -> SignalResult:
    judged = [f for f in report.fairness if f.verdict is not Verdict.NO_DATA]
    if not report.has_labels or not judged:
        level, headline = Verdict.NO_DATA, "not enough labelled rows per group to judge fairness"
    else:
        level = Verdict.worst(f.verdict for f in judged)
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
                value=num(f.demographic_parity_difference),
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
                value=num(f.equalized_odds_difference),
                limit=f"≤ {f.max_equalized_odds_difference:g}",
                level=_limit_level(f.equalized_odds_difference, f.max_equalized_odds_difference),
            )
        )
    findings.sort(key=lambda f: -f.level.severity)
    return SignalResult("fairness", level, headline, tuple(findings[:MAX_FINDINGS]), chart)


def _limit_level(value: float | None, limit: float) -> Verdict:
    if value is None:
        return Verdict.NO_DATA
    return Verdict.BREACH if value > limit else Verdict.HEALTHY


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
                f"DP diff {num(result.demographic_parity_difference)} · "
                f"EO diff {num(result.equalized_odds_difference)}",
            )
        )
    return tuple(fields[:10])


def metric_sentence(metric: MetricResult) -> str:
    """``Precision 0.510, 0.305 below the reference (0.815): healthy, no limit is set``."""
    if metric.value is None:
        return f"{metric.label}: not computed — {metric.note or 'no value'}"
    text = f"{metric.label} {metric.value:.3f}"
    if metric.change is not None and metric.baseline is not None:
        direction = "above" if metric.change >= 0 else "below"
        text += f", {abs(metric.change):.3f} {direction} the reference ({metric.baseline:.3f})"
    finding = _metric_finding(metric)
    limit = "no limit is set" if finding.limit == NO_LIMIT else f"limit {finding.limit}"
    return f"{text}: {finding.level.label}, {limit}"


def _performance_details(report: PerformanceReport) -> tuple[str, ...]:
    lines = [f"{report.n_labelled} labelled rows of {report.n_rows}"]
    for metric in report.metrics.values():
        lines.append(metric_sentence(metric))
    for cls in report.per_class:
        lines.append(
            f"class {cls.label}: precision {cls.precision:.3f}, recall {cls.recall:.3f}, "
            f"F1 {cls.f1:.3f}, support {cls.support}"
        )
    for result in report.fairness:
        lines.append(
            f"fairness {result.feature}: DP {num(result.demographic_parity_difference)}, "
            f"EO {num(result.equalized_odds_difference)} — {result.verdict.label}"
        )
        for group in result.groups:
            lines.append(
                f"  {group.group}: n={group.count}, selection {num(group.selection_rate)}, "
                f"TPR {num(group.true_positive_rate)}, FPR {num(group.false_positive_rate)}"
            )
    lines.extend(f"note: {n}" for n in report.notes)
    return tuple(lines)
