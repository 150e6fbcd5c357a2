"""Utilization verdicts and instance suggestions per deployment."""

from __future__ import annotations

import pandas as pd

from engine import UtilizationLimits, UtilizationState, Verdict, run_utilization
from infra.platform.base import METRIC_COLUMNS
from tests.engine.churn_data import utilization_frame

CFG = UtilizationLimits()


def test_frame_uses_platform_metric_columns() -> None:
    assert set(utilization_frame().columns) <= set(METRIC_COLUMNS)


def test_healthy_deployment() -> None:
    result = run_utilization(CFG, utilization_frame(cpu=45)).deployments["default"]
    assert result.state is UtilizationState.HEALTHY and result.verdict is Verdict.HEALTHY
    assert result.recommendation is None and result.instance_count == 2
    assert result.summary["cpu_percent"] > 40


def test_sustained_high_cpu_scales_up() -> None:
    result = run_utilization(
        CFG, utilization_frame(cpu=92, instances=2), deployment="blue"
    ).deployments["blue"]
    assert result.state is UtilizationState.OVER and result.verdict is Verdict.BREACH
    # p90 CPU ~ 100% on 2 instances -> 2 * 100 / 60 -> 4.
    assert result.suggested_instance_count in (4, 5)
    assert result.recommendation.startswith("scale up to")


def test_a_spike_is_not_sustained() -> None:
    frame = utilization_frame(cpu=40)
    frame.iloc[:5, frame.columns.get_loc("cpu_percent")] = 99
    result = run_utilization(CFG, frame).deployments["default"]
    assert result.state is UtilizationState.HEALTHY


def test_idle_deployment_scales_down() -> None:
    result = run_utilization(CFG, utilization_frame(cpu=2, memory=20, instances=4)).deployments[
        "default"
    ]
    assert result.state is UtilizationState.UNDER and result.verdict is Verdict.WARNING
    assert result.suggested_instance_count is not None and result.suggested_instance_count < 4
    single = run_utilization(CFG, utilization_frame(cpu=2, memory=20, instances=1)).deployments[
        "default"
    ]
    assert "minimum" in (single.recommendation or "")


def test_error_rate_and_latency_breaches() -> None:
    errors = run_utilization(CFG, utilization_frame(error_rate=0.05)).deployments["default"]
    assert errors.verdict is Verdict.BREACH and any("error rate" in r for r in errors.reasons)
    slow = run_utilization(CFG, utilization_frame(latency_p99=2500)).deployments["default"]
    assert slow.verdict is Verdict.BREACH and any("p99 latency" in r for r in slow.reasons)
    assert slow.state is UtilizationState.HEALTHY  # latency alone is not a capacity verdict


def test_error_rate_is_weighted_by_requests() -> None:
    frame = utilization_frame(error_rate=0.0)
    frame["error_rate"] = 0.0
    frame["requests_per_minute"] = 1.0
    # One busy interval with 100% errors dominates when weighted by traffic.
    frame.iloc[0, frame.columns.get_loc("error_rate")] = 1.0
    frame.iloc[0, frame.columns.get_loc("requests_per_minute")] = 1000.0
    result = run_utilization(CFG, frame).deployments["default"]
    check = next(c for c in result.checks if c.metric == "error_rate")
    assert check.share > 0.9 and result.verdict is Verdict.BREACH


def test_multiple_deployments_and_missing_metrics() -> None:
    blue = utilization_frame(cpu=95).assign(deployment="blue")
    green = (
        utilization_frame(cpu=40)
        .drop(columns=["memory_percent", "instance_count"])
        .assign(deployment="green")
    )
    report = run_utilization(CFG, pd.concat([blue, green]))
    assert set(report.deployments) == {"blue", "green"}
    assert report.verdict is Verdict.BREACH
    assert report.deployments["green"].instance_count is None
    assert "memory_percent" not in report.deployments["green"].summary


def test_too_few_samples_is_no_data() -> None:
    report = run_utilization(CFG, utilization_frame().head(2))
    assert report.deployments["default"].state is UtilizationState.NO_DATA
    assert report.verdict is Verdict.NO_DATA
    assert run_utilization(CFG, {}).verdict is Verdict.NO_DATA
