"""The utilization check: CPU, memory, p99 latency and error rate of every serving deployment
of a model in one environment (signal ``utilization``), with a right-sizing suggestion."""

from __future__ import annotations

import math
from datetime import datetime

from core.checks import CheckKind
from core.replies import Upload
from core.reports import CheckReport, Finding, SignalResult
from engine import UtilizationReport, UtilizationState, run_utilization
from engine.verdict import Verdict
from infra.platform.base import PlatformError
from infra.settings import ModelConfig
from jobs import charts
from jobs.checks.base import MAX_FINDINGS, CheckFailed
from jobs.checks.options import utilization_limits
from jobs.context import MonitorContext


class UtilizationCheck:
    """CPU, memory, latency and errors of every serving deployment (signal ``utilization``)."""

    kind = CheckKind.UTILIZATION
    signals = CheckKind.UTILIZATION.signals

    def build_report(
        self, ctx: MonitorContext, model_cfg: ModelConfig, env: str, start: datetime, end: datetime
    ) -> CheckReport:
        return utilization_report(ctx, model_cfg, env, start, end)


def utilization_report(
    ctx: MonitorContext, model_cfg: ModelConfig, env: str, start: datetime, end: datetime
) -> CheckReport:
    cfg = utilization_limits(model_cfg)
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
    chart = charts.utilization_chart(
        frames[worst.deployment], worst, cfg, model=model_cfg.name, environment=env
    )
    return CheckReport(
        kind=CheckKind.UTILIZATION,
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
    UtilizationState.NO_DATA: "too few metrics",
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
            level=c.verdict,
            note=c.note or "",
        )
        for d in deployments
        for c in d.checks
    ]
    findings.sort(key=lambda f: -f.level.severity)
    return SignalResult(
        signal="utilization",
        level=report.verdict,
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
                f"{c.direction} {c.threshold:g} in {c.share:.0%} — {c.verdict.label}"
            )
        lines.extend(f"  reason: {r}" for r in d.reasons)
        if d.recommendation:
            lines.append(f"  suggestion: {d.recommendation}")
    return tuple(lines)
