"""Utilization verdicts per deployment from the platform's metric series.

Input: what ``MLPlatform.deployment_metrics`` returns — a DatetimeIndex and columns from
``METRIC_COLUMNS`` (cpu_percent, memory_percent, gpu_percent, requests_per_minute,
latency_p50/p95/p99_ms, error_rate, instance_count), one frame per deployment or one frame with
a ``deployment`` column. A metric the platform cannot measure is simply absent.

"Sustained" means a share of the window's samples (``sustained_share``, 80% by default) beyond
the threshold, so one spike neither pages anyone nor hides a saturated deployment:

* over-utilized: CPU, memory or GPU sustained above its high mark → breach, scale up;
* under-utilized: CPU (and GPU when present) sustained below the low mark, memory not high →
  warning, scale down (cost);
* error rate: the request-weighted mean over the window above ``max_error_rate`` → breach;
* latency: p99 sustained above ``max_latency_p99_ms`` → breach.

Thresholds come in :class:`UtilizationLimits` (the utilization check builds them from
``monitoring.utilization``). Half the sustained share (or half the error budget) is a warning. GPU uses the CPU thresholds.

The suggested instance count sizes the deployment so its 90th-percentile load would sit at 75%
of the high mark: ``ceil(instances × p90(load %) / (0.75 × high %))``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import numpy as np
import pandas as pd

from engine.verdict import Verdict

MIN_SAMPLES = 3
TARGET_FRACTION_OF_HIGH = 0.75
LOAD_QUANTILE = 0.9

_LABELS = {
    "cpu_percent": "CPU",
    "memory_percent": "memory",
    "gpu_percent": "GPU",
    "error_rate": "error rate",
    "latency_p99_ms": "p99 latency",
}


class UtilizationState(StrEnum):
    OVER = "over_utilized"
    UNDER = "under_utilized"
    HEALTHY = "healthy"
    NO_DATA = "no_data"


@dataclass(frozen=True)
class UtilizationLimits:
    """Thresholds of the utilization monitor (:mod:`jobs.checks.options` builds them from a
    model's ``monitoring.utilization`` section)."""

    high_cpu_percent: float = 80
    low_cpu_percent: float = 10
    high_memory_percent: float = 85
    max_error_rate: float = 0.02
    max_latency_p99_ms: float = 1000
    sustained_share: float = 0.8
    """Share of samples in the window that must be over/under a threshold to count."""


@dataclass(frozen=True)
class SignalCheck:
    metric: str
    threshold: float
    direction: str
    """"above" or "below": which side of the threshold is bad."""
    share: float
    """Share of samples beyond the threshold (for error rate: the weighted mean rate)."""
    mean: float
    p95: float
    latest: float
    verdict: Verdict
    note: str | None = None

    @property
    def label(self) -> str:
        return _LABELS.get(self.metric, self.metric)


@dataclass(frozen=True)
class DeploymentUtilization:
    deployment: str
    state: UtilizationState
    verdict: Verdict
    checks: tuple[SignalCheck, ...] = ()
    instance_count: int | None = None
    suggested_instance_count: int | None = None
    n_samples: int = 0
    start: datetime | None = None
    end: datetime | None = None
    summary: Mapping[str, float] = field(default_factory=dict)
    """Window mean of each metric present."""
    reasons: tuple[str, ...] = ()

    @property
    def recommendation(self) -> str | None:
        current, suggested = self.instance_count, self.suggested_instance_count
        if self.state is UtilizationState.OVER:
            if suggested is not None and current is not None:
                return f"scale up to {suggested} instances (from {current})"
            return "scale up: add instances or a larger instance type"
        if self.state is UtilizationState.UNDER:
            if suggested is not None and current is not None and suggested < current:
                return f"scale down to {suggested} instance{'s' if suggested > 1 else ''} (from {current})"
            return "already at the minimum instance count; consider a smaller instance type"
        return None


@dataclass(frozen=True)
class UtilizationReport:
    deployments: Mapping[str, DeploymentUtilization]
    config: UtilizationLimits

    @property
    def verdict(self) -> Verdict:
        return Verdict.worst(
            (d.verdict for d in self.deployments.values()), default=Verdict.NO_DATA
        )


def _series(frame: pd.DataFrame, name: str) -> pd.Series | None:
    if name not in frame.columns:
        return None
    values = pd.to_numeric(frame[name], errors="coerce").dropna()
    return values if len(values) else None


def _share_check(
    values: pd.Series, metric: str, threshold: float, direction: str, sustained: float
) -> SignalCheck:
    beyond = values > threshold if direction == "above" else values < threshold
    share = float(beyond.mean())
    if share >= sustained:
        verdict = Verdict.BREACH if direction == "above" else Verdict.WARNING
    elif share >= sustained / 2 and direction == "above":
        verdict = Verdict.WARNING
    else:
        verdict = Verdict.HEALTHY
    label = _LABELS.get(metric, metric)
    unit = " ms" if metric.endswith("_ms") else "%"
    note = None
    if verdict is not Verdict.HEALTHY:
        note = f"{label} {direction} {threshold:g}{unit} in {share:.0%} of samples"
    return SignalCheck(
        metric=metric,
        threshold=threshold,
        direction=direction,
        share=share,
        mean=float(values.mean()),
        p95=float(values.quantile(0.95)),
        latest=float(values.iloc[-1]),
        verdict=verdict,
        note=note,
    )


def assess_deployment(
    name: str, frame: pd.DataFrame, cfg: UtilizationLimits
) -> DeploymentUtilization:
    frame = frame.sort_index()
    frame = frame.dropna(how="all")
    n = len(frame)
    start = (
        frame.index[0].to_pydatetime() if n and isinstance(frame.index, pd.DatetimeIndex) else None
    )
    end = (
        frame.index[-1].to_pydatetime() if n and isinstance(frame.index, pd.DatetimeIndex) else None
    )
    means = {
        c: float(pd.to_numeric(frame[c], errors="coerce").mean())
        for c in frame.columns
        if c != "deployment" and pd.api.types.is_numeric_dtype(frame[c])
    }
    summary = {c: v for c, v in means.items() if not math.isnan(v)}
    instances_series = _series(frame, "instance_count")
    instances = int(instances_series.iloc[-1]) if instances_series is not None else None
    if n < MIN_SAMPLES:
        return DeploymentUtilization(
            deployment=name,
            state=UtilizationState.NO_DATA,
            verdict=Verdict.NO_DATA,
            instance_count=instances,
            n_samples=n,
            start=start,
            end=end,
            summary=summary,
            reasons=(
                f"only {n} metric sample{'' if n == 1 else 's'} in the window, "
                f"{MIN_SAMPLES} are needed",
            ),
        )
    sustained = cfg.sustained_share
    checks: list[SignalCheck] = []
    high = {
        "cpu_percent": cfg.high_cpu_percent,
        "memory_percent": cfg.high_memory_percent,
        "gpu_percent": cfg.high_cpu_percent,
    }
    load_checks: list[SignalCheck] = []
    for metric, threshold in high.items():
        values = _series(frame, metric)
        if values is not None:
            check = _share_check(values, metric, threshold, "above", sustained)
            checks.append(check)
            load_checks.append(check)

    cpu = _series(frame, "cpu_percent")
    gpu = _series(frame, "gpu_percent")
    under_checks: list[SignalCheck] = []
    for metric, values in (("cpu_percent", cpu), ("gpu_percent", gpu)):
        if values is not None:
            under_checks.append(
                _share_check(values, metric, cfg.low_cpu_percent, "below", sustained)
            )

    errors = _series(frame, "error_rate")
    if errors is not None:
        weights = _series(frame, "requests_per_minute")
        aligned = weights.reindex(errors.index).fillna(0) if weights is not None else None
        if aligned is not None and aligned.sum() > 0:
            rate = float(np.average(errors, weights=aligned))
        else:
            rate = float(errors.mean())
        verdict = (
            Verdict.BREACH
            if rate > cfg.max_error_rate
            else Verdict.WARNING
            if rate > cfg.max_error_rate / 2
            else Verdict.HEALTHY
        )
        checks.append(
            SignalCheck(
                metric="error_rate",
                threshold=cfg.max_error_rate,
                direction="above",
                share=rate,
                mean=rate,
                p95=float(errors.quantile(0.95)),
                latest=float(errors.iloc[-1]),
                verdict=verdict,
                note=None
                if verdict is Verdict.HEALTHY
                else f"error rate {rate:.2%} (limit {cfg.max_error_rate:.2%})",
            )
        )
    latency = _series(frame, "latency_p99_ms")
    if latency is not None:
        checks.append(
            _share_check(latency, "latency_p99_ms", cfg.max_latency_p99_ms, "above", sustained)
        )

    over = [c for c in load_checks if c.verdict is Verdict.BREACH]
    under = bool(under_checks) and all(c.verdict is not Verdict.HEALTHY for c in under_checks)
    memory_high = any(
        c.metric == "memory_percent" and c.verdict is not Verdict.HEALTHY for c in load_checks
    )
    reasons = [c.note for c in checks if c.note]
    suggested: int | None = None
    if over:
        state = UtilizationState.OVER
        suggested = _scale_up_target(frame, over, instances)
    elif under and not memory_high:
        state = UtilizationState.UNDER
        checks.extend(under_checks)
        reasons.extend(c.note for c in under_checks if c.note)
        suggested = _scale_down_target(frame, instances, cfg)
    else:
        state = UtilizationState.HEALTHY
    verdict = Verdict.worst([c.verdict for c in checks])
    return DeploymentUtilization(
        deployment=name,
        state=state,
        verdict=verdict,
        checks=tuple(checks),
        instance_count=instances,
        suggested_instance_count=suggested,
        n_samples=n,
        start=start,
        end=end,
        summary=summary,
        reasons=tuple(reasons),
    )


def _scale_up_target(
    frame: pd.DataFrame, checks: list[SignalCheck], instances: int | None
) -> int | None:
    """Instances that would put the p90 load at 75% of the high mark (see module doc)."""
    if instances is None:
        return None
    needed = instances + 1
    for check in checks:
        values = _series(frame, check.metric)
        if values is not None:
            load = float(values.quantile(LOAD_QUANTILE))
            needed = max(
                needed, math.ceil(instances * load / (TARGET_FRACTION_OF_HIGH * check.threshold))
            )
    return needed


def _scale_down_target(
    frame: pd.DataFrame, instances: int | None, cfg: UtilizationLimits
) -> int | None:
    if instances is None:
        return None
    needed = 1
    for metric in ("cpu_percent", "gpu_percent", "memory_percent"):
        values = _series(frame, metric)
        if values is None:
            continue
        high = cfg.high_memory_percent if metric == "memory_percent" else cfg.high_cpu_percent
        load = float(values.quantile(LOAD_QUANTILE))
        needed = max(needed, math.ceil(instances * load / (TARGET_FRACTION_OF_HIGH * high)))
    return max(1, min(needed, instances))


def run_utilization(
    cfg: UtilizationLimits,
    metrics: pd.DataFrame | Mapping[str, pd.DataFrame],
    *,
    deployment: str = "default",
) -> UtilizationReport:
    """A verdict per deployment. ``metrics`` is one frame (split by its ``deployment`` column if
    it has one, else named ``deployment``) or a mapping of deployment name to frame."""
    frames: dict[str, pd.DataFrame]
    if isinstance(metrics, Mapping):
        frames = dict(metrics)
    elif "deployment" in metrics.columns:
        # A metric one deployment lacks is NaN after concatenation: absent, as the port promises.
        frames = {
            str(name): group.drop(columns="deployment").dropna(axis=1, how="all")
            for name, group in metrics.groupby("deployment")
        }
    else:
        frames = {deployment: metrics}
    results = {name: assess_deployment(name, frame, cfg) for name, frame in frames.items()}
    return UtilizationReport(deployments=results, config=cfg)
