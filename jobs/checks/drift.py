"""The drift check: feature and output drift (signal ``drift``) and data quality (signal
``data_quality``) of a model's window against its reference data."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pandas as pd

from core.checks import CheckKind
from core.replies import Upload
from core.reports import CheckReport, Finding, SignalResult
from engine import ColumnDriftResult, DriftReport, run_drift
from engine.estimation import PerformanceEstimate, PerformanceEstimator
from engine.performance import MIN_LABELLED_ROWS
from engine.results import SHORT_METHOD
from engine.verdict import Verdict
from infra.platform.base import PlatformError
from infra.settings import ModelConfig
from jobs import charts
from jobs.checks.base import MAX_FINDINGS, CheckFailed
from jobs.checks.options import drift_options, performance_limits

if TYPE_CHECKING:  # the platform check job imports this module without the bot's context
    from jobs.context import MonitorContext


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


class DriftCheck:
    """Feature and output drift plus data quality of the window against the reference data."""

    kind = CheckKind.DRIFT
    signals = CheckKind.DRIFT.signals

    def build_report(
        self, ctx: MonitorContext, model_cfg: ModelConfig, env: str, start: datetime, end: datetime
    ) -> CheckReport:
        return drift_report(ctx, model_cfg, env, start, end)


def drift_report(
    ctx: MonitorContext, model_cfg: ModelConfig, env: str, start: datetime, end: datetime
) -> CheckReport:
    try:
        # The reference's identity, read before and after the data: the same on both sides
        # means the frame read is that version, and it keys the engine's profile cache (no
        # fingerprint of the whole reference on every run); different, or unknown: fingerprint.
        version = ctx.platform.reference_version(model_cfg.name)
        reference = ctx.platform.reference_data(model_cfg.name)
        if version is not None and ctx.platform.reference_version(model_cfg.name) != version:
            version = None
        current = ctx.platform.production_data(model_cfg.name, env, start, end)
    except PlatformError as exc:
        raise CheckFailed(f"could not read the data of {model_cfg.name} in {env}: {exc}") from exc
    return drift_report_of(
        model_cfg, env, start, end, reference, current, checked=ctx.now(), reference_key=version
    )


def drift_report_of(
    model_cfg: ModelConfig,
    env: str,
    start: datetime,
    end: datetime,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    checked: datetime,
    reference_key: str | None = None,
) -> CheckReport:
    """The drift report of data already read: inline after the platform read, or inside a check
    job on the platform's compute (:mod:`jobs.checkjob`), where the data lives.

    ``reference_key``: the reference's version (:meth:`MLPlatform.reference_version`), which
    keys the engine's profile cache; None fingerprints the frame."""
    _check_reference(model_cfg, reference)
    report = run_drift(
        model_cfg,
        reference,
        current,
        options=drift_options(model_cfg),
        reference_key=reference_key,
    )
    # The chart names its check, as the alert card does ("numbers and chart from the check at").
    checked = checked.astimezone(UTC)
    overview = charts.drift_overview_chart(
        report, title=f"{model_cfg.name} · {env} · drift · check {checked:%Y-%m-%d %H:%M} UTC"
    )
    distributions = charts.distributions_chart(report) if report.tested_count else None
    estimate = unlabelled_estimate(model_cfg, reference, current)
    return CheckReport(
        kind=CheckKind.DRIFT,
        model=model_cfg.name,
        environment=env,
        start=start,
        end=end,
        signals=(_drift_signal(report, overview, end, estimate), _quality_signal(report)),
        fields=_drift_fields(report) + _estimate_fields(estimate),
        details=_drift_details(report) + _estimate_details(estimate),
        charts=tuple(c for c in (overview, distributions) if c is not None),
        notes=tuple(report.notes),
    )


def unlabelled_estimate(
    model_cfg: ModelConfig, reference: pd.DataFrame, current: pd.DataFrame
) -> PerformanceEstimate | None:
    """For a classifier whose window has no labels yet, the performance estimated from its
    scores (or why it was not estimated): the drift alert then says whether the drift costs
    accuracy. None when the labels are in (the performance check speaks for the window)."""
    if model_cfg.task != "classification" or current.empty:
        return None
    target = model_cfg.columns.target or "target"
    if target in current.columns and current[target].notna().sum() >= MIN_LABELLED_ROWS:
        return None
    return PerformanceEstimator(model_cfg, reference).estimate(
        current, performance_limits(model_cfg)
    )


def estimate_sentence(estimate: PerformanceEstimate) -> str:
    """Whether the estimated performance dropped, in the words a drift alert uses."""
    if not estimate.estimated:
        return f"no labels yet and performance not estimated: {estimate.refused}"
    metric = estimate.headline_metric
    assert metric is not None and metric.value is not None
    name = "ROC AUC" if metric.name == "roc_auc" else metric.label.lower()
    value = f"{metric.value:.3f} ({metric.band_text})"
    if metric.baseline is None:
        return f"no labels yet; estimated {name} {value}"
    if estimate.dropped:
        return (
            f"no labels yet; estimated {name} dropped to {value} from {metric.baseline:.3f} "
            "on the reference"
        )
    return (
        f"no labels yet; estimated {name} held at {metric.value:.3f} "
        f"({metric.band_text}; reference {metric.baseline:.3f})"
    )


def _estimate_fields(estimate: PerformanceEstimate | None) -> tuple[tuple[str, str], ...]:
    if estimate is None:
        return ()
    metric = estimate.headline_metric
    if not estimate.estimated or metric is None:
        return (("Estimated performance", f"not estimated: {estimate.refused}"),)
    text = f"{metric.value:.3f} ({metric.band_text} at 95%)"
    if metric.baseline is not None:
        text += f", reference {metric.baseline:.3f}"
    return ((f"{metric.label} · estimated (no labels yet)", text),)


def _estimate_details(estimate: PerformanceEstimate | None) -> tuple[str, ...]:
    if estimate is None:
        return ()
    lines = [estimate_sentence(estimate)]
    for m in estimate.metrics.values():
        line = f"  {m.label} estimated {m.value:.3f} (95% band {m.band_text})"
        if m.baseline is not None:
            line += f", reference {m.baseline:.3f}"
        lines.append(line)
    lines.extend(f"note: {n}" for n in estimate.notes)
    return tuple(lines)


def _drift_signal(
    report: DriftReport,
    chart: Upload | None,
    end: datetime,
    estimate: PerformanceEstimate | None = None,
) -> SignalResult:
    findings = []
    for column in report.ranked():
        if not column.tested:
            continue
        findings.append(_column_finding(column))
    for name, column in report.outputs.items():
        if column.drifted:  # after the features: the headline already says outputs drifted
            findings.append(_column_finding(column, name=f"{name} (model output)"))
    level = report.verdict
    headline = report.headline
    if report.prediction_drift:
        headline += "; the model's outputs drifted too"
    if estimate is not None and level is not Verdict.HEALTHY:
        # The question a drift alert raises, answered before the labels can: does it cost?
        headline += f"; {estimate_sentence(estimate)}"
        metric = estimate.headline_metric
        if estimate.estimated and metric is not None:
            findings.insert(
                0,
                Finding(
                    name=f"{metric.label} (estimated, no labels yet)",
                    value=f"{metric.value:.3f} ({metric.band_text})",
                    limit=f"reference {metric.baseline:.3f}"
                    if metric.baseline is not None
                    else "no reference",
                    level=metric.verdict,
                    note=metric.note or "estimated from the scores",
                ),
            )
    return SignalResult(
        signal="drift",
        level=level,
        headline=headline,
        findings=tuple(findings[:MAX_FINDINGS]),
        chart=chart,
        trend=((end.isoformat(), report.share_drifted),) if report.tested_count else (),
    )


def _column_finding(column: ColumnDriftResult, *, name: str | None = None) -> Finding:
    """One feature as the card shows it: the labelled statistic its chart shows too
    (:attr:`ColumnDriftResult.statistic_text`), then the method's verdict and rule."""
    method, threshold = column.method, column.threshold
    short = SHORT_METHOD.get(method, str(method))
    rule = f"{short} < {threshold:g}" if method.is_test else f"{short} > {threshold:g}"
    value = column.statistic_text
    limit = f"{column.verdict_text} (drift when {rule})"
    level = Verdict.BREACH if column.drifted else Verdict.HEALTHY
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
    level = quality.verdict if report.n_current else Verdict.NO_DATA
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
                level=f.verdict,
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
        ("Data quality", report.quality.verdict.label),
    ]
    top = [c for c in report.ranked() if c.drifted][:3]
    if top:
        fields.append(("Most drifted", ", ".join(c.column for c in top)))
    return tuple(fields)


def _drift_details(report: DriftReport) -> tuple[str, ...]:
    lines = [report.headline]
    for column in report.ranked():
        if column.tested:
            mark = "DRIFTED" if column.drifted else "ok"
            line = f"{column.column}: {column.statistic_text} vs {column.threshold:g} — {mark}"
        else:
            line = f"{column.column}: not tested — {column.note or 'not enough data'}"
        lines.append(line)
    for name, column in report.outputs.items():
        lines.append(
            f"{name} (output): {column.statistic_text} — " + ("DRIFTED" if column.drifted else "ok")
        )
    lines.extend(f"quality: {f.column}: {f.message}" for f in report.quality.findings)
    lines.extend(f"note: {n}" for n in report.notes)
    return tuple(lines)
