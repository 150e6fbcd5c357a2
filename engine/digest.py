"""One row per model and environment for the daily digest: three verdicts and short texts.

Built from whichever reports the day produced; a monitor that did not run shows "no data".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from engine.performance import PerformanceReport
from engine.results import DriftReport
from engine.utilization import UtilizationReport, UtilizationState
from engine.verdict import Verdict

_SHORT = {"accuracy": "acc", "roc_auc": "AUC", "f1": "F1", "r2": "R²", "mae": "MAE", "rmse": "RMSE"}


@dataclass(frozen=True)
class DigestRow:
    model: str
    environment: str
    drift: Verdict = Verdict.NO_DATA
    performance: Verdict = Verdict.NO_DATA
    utilization: Verdict = Verdict.NO_DATA
    drift_text: str = "no data"
    performance_text: str = "no data"
    utilization_text: str = "no data"

    @property
    def worst(self) -> Verdict:
        return Verdict.worst([self.drift, self.performance, self.utilization])

    @property
    def name(self) -> str:
        return f"{self.model} · {self.environment}"


def digest_row(
    model: str,
    environment: str,
    *,
    drift: DriftReport | None = None,
    performance: PerformanceReport | None = None,
    utilization: UtilizationReport | None = None,
) -> DigestRow:
    drift_verdict, drift_text = Verdict.NO_DATA, "no data"
    if drift is not None:
        drift_verdict = Verdict.worst([drift.verdict, drift.quality.verdict])
        findings = len(drift.quality.findings)
        if not drift.tested_count:
            drift_text = "not enough data"
        elif drift.drifted_count or not findings:
            drift_text = f"{drift.drifted_count}/{drift.tested_count} drifted"
        else:
            drift_text = f"quality: {findings} issue{'s' if findings > 1 else ''}"
    perf_verdict, perf_text = Verdict.NO_DATA, "no data"
    if performance is not None:
        perf_verdict = performance.verdict
        headline = next(
            (m for m in performance.metrics.values() if m.value is not None),
            None,
        )
        if not performance.has_labels:
            perf_text = "no labels"
        elif headline is not None:
            perf_text = f"{_SHORT.get(headline.name, headline.label)} {headline.value:.3f}"
            if headline.change is not None:
                perf_text += f" ({headline.change:+.3f})".replace("-", "−")
        fairness_breach = any(f.verdict is Verdict.BREACH for f in performance.fairness)
        if fairness_breach and not any(
            m.verdict is Verdict.BREACH for m in performance.metrics.values()
        ):
            perf_text = "fairness " + perf_text
    util_verdict, util_text = Verdict.NO_DATA, "no data"
    if utilization is not None and utilization.deployments:
        util_verdict = utilization.verdict
        worst = max(utilization.deployments.values(), key=lambda d: d.verdict.severity)
        if worst.state is UtilizationState.OVER:
            util_text = "over-utilized"
        elif worst.state is UtilizationState.UNDER:
            util_text = "under-utilized"
        elif worst.state is UtilizationState.NO_DATA:
            util_text = "no data"
        else:
            cpu = worst.summary.get("cpu_percent")
            util_text = f"CPU {cpu:.0f}%" if cpu is not None and cpu == cpu else "healthy"
        breaches = [
            c.label
            for c in worst.checks
            if c.verdict is Verdict.BREACH and c.metric in ("error_rate", "latency_p99_ms")
        ]
        if breaches:
            util_text += ", " + ", ".join(breaches)
    return DigestRow(
        model=model,
        environment=environment,
        drift=drift_verdict,
        performance=perf_verdict,
        utilization=util_verdict,
        drift_text=drift_text,
        performance_text=perf_text,
        utilization_text=util_text,
    )


def worst_first(rows: Iterable[DigestRow]) -> list[DigestRow]:
    """Most severe first; ties by the number of non-healthy monitors, then by name."""

    def key(row: DigestRow) -> tuple[int, int, str]:
        unhealthy = sum(
            v is not Verdict.HEALTHY for v in (row.drift, row.performance, row.utilization)
        )
        return (-row.worst.severity, -unhealthy, row.name)

    return sorted(rows, key=key)
