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
from engine.results import SHORT_METHOD
from engine.verdict import Verdict
from infra.platform.base import PlatformError
from infra.settings import ModelConfig
from jobs import charts
from jobs.checks.base import MAX_FINDINGS, CheckFailed
from jobs.checks.options import drift_options

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
        reference = ctx.platform.reference_data(model_cfg.name)
        current = ctx.platform.production_data(model_cfg.name, env, start, end)
    except PlatformError as exc:
        raise CheckFailed(f"could not read the data of {model_cfg.name} in {env}: {exc}") from exc
    return drift_report_of(model_cfg, env, start, end, reference, current, checked=ctx.now())


def drift_report_of(
    model_cfg: ModelConfig,
    env: str,
    start: datetime,
    end: datetime,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    checked: datetime,
) -> CheckReport:
    """The drift report of data already read: inline after the platform read, or inside a check
    job on the platform's compute (:mod:`jobs.checkjob`), where the data lives."""
    _check_reference(model_cfg, reference)
    report = run_drift(model_cfg, reference, current, options=drift_options(model_cfg))
    # The chart names its check, as the alert card does ("numbers and chart from the check at").
    checked = checked.astimezone(UTC)
    overview = charts.drift_overview_chart(
        report, title=f"{model_cfg.name} · {env} · drift · check {checked:%Y-%m-%d %H:%M} UTC"
    )
    distributions = charts.distributions_chart(report) if report.tested_count else None
    return CheckReport(
        kind=CheckKind.DRIFT,
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
    level = report.verdict
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
