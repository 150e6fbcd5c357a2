"""A metric in a performance report's details reads as a sentence (issue 14, item 11)."""

from __future__ import annotations

from engine import MetricResult
from engine.verdict import Verdict
from jobs.checks.performance import metric_sentence


def test_a_metric_without_a_limit_says_so_in_a_sentence() -> None:
    metric = MetricResult("precision", 0.510, baseline=0.815)
    text = metric_sentence(metric)
    assert text == (
        f"{metric.label} 0.510, 0.305 below the reference (0.815): healthy, no limit is set"
    )
    assert "limit no limit" not in text


def test_a_metric_with_limits_names_them() -> None:
    metric = MetricResult(
        "accuracy", 0.70, baseline=0.80, minimum=0.75, max_drop=0.05, verdict=Verdict.BREACH
    )
    text = metric_sentence(metric)
    assert text.endswith(
        "0.700, 0.100 below the reference (0.800): breach, limit ≥ 0.75; drop ≤ 0.05 from 0.800"
    )
    assert metric_sentence(MetricResult("f1", None, note="one class only")).endswith(
        "not computed — one class only"
    )
