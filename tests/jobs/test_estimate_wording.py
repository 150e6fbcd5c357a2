"""How a drift alert words the estimated performance of a window without labels (issue 16)."""

from __future__ import annotations

from engine.estimation import MetricEstimate, PerformanceEstimate
from engine.verdict import Verdict
from jobs.checks.drift import estimate_sentence


def _estimate(value: float, *, dropped: bool) -> PerformanceEstimate:
    metric = MetricEstimate(
        "accuracy",
        value,
        value - 0.02,
        value + 0.02,
        baseline=0.83,
        verdict=Verdict.WARNING if dropped else Verdict.HEALTHY,
        dropped=dropped,
    )
    return PerformanceEstimate(metrics={"accuracy": metric}, n_rows=500, n_scored=500)


def test_a_drop_is_said_with_the_band_and_the_reference() -> None:
    assert estimate_sentence(_estimate(0.71, dropped=True)) == (
        "no labels yet; estimated accuracy dropped to 0.710 (0.690–0.730) from 0.830 "
        "on the reference"
    )


def test_no_drop_is_said_as_held() -> None:
    assert estimate_sentence(_estimate(0.82, dropped=False)) == (
        "no labels yet; estimated accuracy held at 0.820 (0.800–0.840; reference 0.830)"
    )


def test_a_refusal_says_why() -> None:
    refused = PerformanceEstimate(n_rows=500, refused="the model names no score column")
    assert estimate_sentence(refused) == (
        "no labels yet and performance not estimated: the model names no score column"
    )
