"""The performance check: model metrics on the labelled rows of the window (signal
``performance``, with a trend chart across windows) and fairness across the configured sensitive
features (signal ``fairness``).

A classifier's window without labels (they arrive weeks late) gets its performance estimated
from the scores (``engine.estimation``), labelled "estimated" with its band everywhere it
shows, or a plain sentence saying why it was not estimated; the trend chart draws realized
windows solid and estimated ones dashed with their band. An estimate warns, never breaches;
the previous window, measured where its labels have arrived (labels that lag by about a
window), does count.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from core.checks import CheckKind
from core.replies import Upload
from core.reports import (
    CheckReport,
    Finding,
    SignalResult,
)
from engine import MetricResult, PerformanceLimits, PerformanceReport, run_performance
from engine.estimation import MetricEstimate, PerformanceEstimate, PerformanceEstimator
from engine.verdict import Verdict
from infra.platform.base import PlatformError
from infra.settings import ModelConfig
from jobs import charts
from jobs.alerts import AlertBook, fingerprint
from jobs.charts import EstimatedPoint
from jobs.checks.base import MAX_FINDINGS, CheckFailed, num
from jobs.checks.options import performance_limits
from jobs.context import MonitorContext

#: How many windows the performance trend chart shows.
TREND_POINTS = 14


@dataclass(frozen=True)
class TrendWindows:
    """The previous windows of the trend: realized where labelled, estimated where not."""

    realized: list[tuple[datetime, float]] = field(default_factory=list)
    estimated: list[EstimatedPoint] = field(default_factory=list)


def backfilled_trend(
    ctx: MonitorContext,
    model_cfg: ModelConfig,
    env: str,
    start: datetime,
    end: datetime,
    reference: object,
    metric: str,
    estimator: PerformanceEstimator | None = None,
) -> TrendWindows:
    """The headline metric for each of the previous windows, from the platform's data: the
    realized value where the window has labels, else (with an ``estimator`` that can) the
    estimate from the scores. One read of the whole span."""
    window = end - start
    earliest = start - window * (TREND_POINTS - 1)
    try:
        history = ctx.platform.production_data(model_cfg.name, env, earliest, start)
    except PlatformError:
        return TrendWindows()
    timestamp = model_cfg.columns.timestamp
    if history.empty or timestamp not in history:
        return TrendWindows()
    limits = performance_limits(model_cfg)
    out = TrendWindows()
    for index in range(TREND_POINTS - 1):
        bucket_start = earliest + window * index
        bucket_end = bucket_start + window
        rows = history[(history[timestamp] >= bucket_start) & (history[timestamp] < bucket_end)]
        if rows.empty:
            continue
        # Only the metric's value is kept: no baseline (the reference's metrics, computed again
        # for each of thirteen windows) and no fairness, neither of which changes a value.
        report = run_performance(
            model_cfg,
            reference,  # type: ignore[arg-type]
            rows,
            baseline={},
            limits=limits,
            fairness_check=False,
        )
        value = report.metrics.get(metric)
        if value is not None and value.value is not None:
            out.realized.append((bucket_end, float(value.value)))
        elif not report.has_labels and estimator is not None:
            guess = estimator.estimate(rows, limits).metrics.get(metric)
            if guess is not None and guess.value is not None:
                out.estimated.append((bucket_end, guess.value, guess.low, guess.high))
    return out


def needs_backfill(stored: list[tuple[datetime, float]], start: datetime, end: datetime) -> bool:
    """Rebuild the trend from traffic only while the stored one is short and holds no point
    from before the previous window (a backfill leaves such points; so do a few days of
    checks): a stored history, once it exists, is reused."""
    if len(stored) >= TREND_POINTS // 2:
        return False
    window = end - start
    return not any(t < start - window for t, _ in stored)


def _near(moment: datetime, others: list[datetime], window: timedelta) -> bool:
    return any(abs(moment - other) < window / 2 for other in others)


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
    limits = performance_limits(model_cfg)
    report = run_performance(model_cfg, reference, current, limits=limits)
    estimator: PerformanceEstimator | None = None
    estimate: PerformanceEstimate | None = None
    if not report.has_labels and model_cfg.task == "classification":
        # No labels yet: estimate from the scores (calibrated once on the reference, reused
        # for the trend's unlabelled windows), or say plainly why not.
        estimator = PerformanceEstimator(model_cfg, reference)
        estimate = estimator.estimate(current, limits)
    previous = _window_before(ctx, model_cfg, env, start, end, reference) if estimator else None
    headline_metric = next((m for m in report.metrics.values() if m.value is not None), None)
    guess = estimate.headline_metric if estimate is not None and estimate.estimated else None
    chart: Upload | None = None
    trend: tuple[tuple[str, float], ...] = ()
    shown = headline_metric or guess
    if shown is not None and shown.value is not None:
        stored = [(datetime.fromisoformat(t), v) for t, v in (history or [])]
        window = end - start
        now: list[tuple[datetime, float]] = []
        estimated: list[EstimatedPoint] = []
        if headline_metric is not None and headline_metric.value is not None:
            now = [(end, float(headline_metric.value))]
        elif guess is not None and guess.value is not None:
            estimated = [(end, guess.value, guess.low, guess.high)]
        added: list[tuple[datetime, float]] = []
        if needs_backfill(stored, start, end) or guess is not None:
            # Few checks have run yet, or this window has no labels: rebuild the trend from
            # the traffic itself (realized where the labels are in, estimated where not), so
            # the first chart already shows when the metric started to move. The rebuilt
            # realized points go into the stored trend with this run's, so the next run
            # reuses them instead of recomputing thirteen windows; estimates are never
            # stored, so a window's labels replace its estimate as soon as they arrive.
            rebuilt = backfilled_trend(
                ctx, model_cfg, env, start, end, reference, shown.name, estimator
            )
            stored_times = [t for t, _ in stored]
            added = [p for p in rebuilt.realized if not _near(p[0], stored_times, window)]
            estimated = rebuilt.estimated + estimated
        points = sorted({t: v for t, v in [*added, *stored, *now]}.items())[-TREND_POINTS:]
        realized_times = [t for t, _ in points]
        estimated = [p for p in estimated if not _near(p[0], realized_times, window)]
        trend = tuple((t.isoformat(), v) for t, v in [*added, *now])
        chart = charts.metric_trend_chart(
            points,
            metric=shown.name,
            threshold=headline_metric.threshold
            if headline_metric is not None
            else _minimum(shown.name, limits),
            baseline=shown.baseline,
            higher_is_better=headline_metric.higher_is_better if headline_metric else True,
            model=model_cfg.name,
            estimated=estimated,
        )
    signals = [_performance_signal(report, chart, trend, estimate, previous)]
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
        fields=_performance_fields(report, estimate),
        details=_performance_details(report, estimate)
        + (_previous_details(previous) if previous is not None else ()),
        charts=tuple(c for c in (chart, fairness_chart) if c is not None),
        notes=tuple(report.notes) + (estimate.notes if estimate is not None else ()),
    )


def _window_before(
    ctx: MonitorContext,
    model_cfg: ModelConfig,
    env: str,
    start: datetime,
    end: datetime,
    reference: object,
) -> PerformanceReport | None:
    """The window just before an unlabelled one, measured where its labels have arrived.

    Labels lag by a fixed delay (a churn shows a day later), so a check of the newest window
    always finds it unlabelled and would only ever estimate: the estimate cannot see a change
    in how the features relate to the outcome, and an open breach would resolve on it. The
    window before is where the labels arrive first; its measured verdict keeps the signal
    honest (a breach there is a breach now, one window late, as labels allow)."""
    try:
        rows = ctx.platform.production_data(model_cfg.name, env, start - (end - start), start)
    except PlatformError:
        return None
    if rows.empty:
        return None
    report = run_performance(model_cfg, reference, rows, limits=performance_limits(model_cfg))  # type: ignore[arg-type]
    return report if report.has_labels else None


def _previous_details(previous: PerformanceReport) -> tuple[str, ...]:
    return (
        f"the previous window, measured on {previous.n_labelled} labelled rows of {previous.n_rows}:",
        *(f"  {metric_sentence(m)}" for m in previous.metrics.values()),
    )


def _measured_before(previous: PerformanceReport) -> str:
    """``the previous window measured Accuracy 0.631 below the minimum 0.75`` (its first
    breach, else its headline metrics)."""
    breaches = [m.note or m.label for m in previous.metrics.values() if m.verdict is Verdict.BREACH]
    if breaches:  # the first (the headline metric's); the findings list them all
        more = f" (+{len(breaches) - 1} more)" if len(breaches) > 1 else ""
        return f"the previous window measured {breaches[0]}{more}"
    shown = [f"{m.label} {m.value:.3f}" for m in previous.metrics.values() if m.value is not None]
    return "the previous window measured " + ", ".join(shown[:2])


def performance_level(report: PerformanceReport) -> Verdict:
    """The level of the ``performance`` signal: the worst metric (fairness is its own signal);
    no data without enough labels. The backtest judges past windows by this same rule."""
    if not report.has_labels:
        return Verdict.NO_DATA
    return Verdict.worst(m.verdict for m in report.metrics.values())


def _minimum(metric: str, limits: PerformanceLimits) -> float | None:
    return {
        "accuracy": limits.min_accuracy,
        "f1": limits.min_f1,
        "roc_auc": limits.min_roc_auc,
    }.get(metric)


def _performance_signal(
    report: PerformanceReport,
    chart: Upload | None,
    trend: tuple[tuple[str, float], ...],
    estimate: PerformanceEstimate | None = None,
    previous: PerformanceReport | None = None,
) -> SignalResult:
    level = performance_level(report)
    if not report.has_labels:
        why = report.notes[0] if report.notes else "no labelled rows in the window"
        if estimate is not None and estimate.estimated:
            # Shown for what it is: an estimate, its band, and that no label backs it yet.
            level = estimate.verdict
            headline = estimate.sentence()
            main = estimate.headline_metric
            if main is not None and main.minimum_crossed:
                headline += f", below the minimum {main.minimum:g}"
            others = [m.label for m in estimate.metrics.values() if m.note and m is not main]
            if others:
                limits = "their limits" if len(others) > 1 else "its limit"
                headline += f"; {', '.join(others)} estimated past {limits} too"
            headline += " — no labels yet"
            findings = tuple(_estimate_finding(m) for m in estimate.metrics.values())
            estimated = True
            if previous is not None:
                # The labels of the previous window have arrived: the labels decide, so the
                # level is what they measured (a breach is a breach, one window late) and the
                # alert lifecycle reads it as a measurement; the estimate's own level stays on
                # its findings.
                measured = performance_level(previous)
                if measured.severity > level.severity:
                    # The measured breach leads, so a shortened headline (the digest) keeps it.
                    headline = f"{_measured_before(previous)}; {headline}"
                else:
                    headline += f"; {_measured_before(previous)}"
                level, estimated = measured, False
                findings += tuple(
                    replace(_metric_finding(m), name=f"{m.label} (previous window)")
                    for m in previous.metrics.values()
                    if m.value is not None and m.verdict is Verdict.BREACH
                )
            findings = tuple(sorted(findings, key=lambda f: -f.level.severity))
            return SignalResult(
                signal="performance",
                level=level,
                headline=headline,
                findings=findings[:MAX_FINDINGS],
                chart=chart,
                trend=trend,
                estimated=estimated,
            )
        headline = why
        if estimate is not None:
            headline += f"; {estimate.sentence()}"
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


def _estimate_finding(m: MetricEstimate) -> Finding:
    value = f"{m.value:.3f} estimated ({m.band_text})"
    if m.change is not None:
        value += f" ({m.change:+.3f})"
    limit = NO_LIMIT
    if m.baseline is not None and m.name in ("accuracy", "f1", "roc_auc"):
        limit = f"reference {m.baseline:.3f}"
    return Finding(
        name=f"{m.label} (estimated)",
        value=value,
        limit=limit,
        level=m.verdict,
        note=m.note or "estimated from the scores; no labels yet",
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


def _performance_fields(
    report: PerformanceReport, estimate: PerformanceEstimate | None = None
) -> tuple[tuple[str, str], ...]:
    fields = [
        (
            "Labelled rows",
            f"{report.n_labelled:,} of {report.n_rows:,} ({report.label_coverage:.0%})",
        )
    ]
    if estimate is not None and estimate.estimated:
        for metric in estimate.metrics.values():
            text = f"{metric.value:.3f} ({metric.band_text} at 95%)"
            if metric.baseline is not None:
                text += f", reference {metric.baseline:.3f}"
            fields.append((f"{metric.label} · estimated", text))
    elif estimate is not None:
        fields.append(("Estimated performance", f"not estimated: {estimate.refused}"))
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


def _performance_details(
    report: PerformanceReport, estimate: PerformanceEstimate | None = None
) -> tuple[str, ...]:
    lines = [f"{report.n_labelled} labelled rows of {report.n_rows}"]
    if estimate is not None and estimate.estimated:
        lines.append(
            "no labels yet: performance estimated from the scores, calibrated on the reference "
            "(it cannot see a change in how the features relate to the outcome)"
        )
        for m in estimate.metrics.values():
            line = f"{m.label} estimated {m.value:.3f} (95% band {m.band_text})"
            if m.baseline is not None:
                line += f", reference {m.baseline:.3f}"
            lines.append(line + (f": {m.note}" if m.note else ""))
    elif estimate is not None:
        lines.append(f"not estimated: {estimate.refused}")
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
