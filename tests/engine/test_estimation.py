"""Confidence-based performance estimation: close to the realized metrics where the score
relation holds, exact where the labels are certain, and plain refusals where it cannot work."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from engine.estimation import (
    MIN_CLASS_LABELS,
    MIN_REFERENCE_LABELS,
    Calibration,
    NotEstimable,
    PerformanceEstimator,
    expected_metrics,
    expected_roc_auc,
)
from engine.performance import PerformanceLimits
from engine.verdict import Verdict


@dataclass(frozen=True)
class Columns:
    target: str | None = "y"
    prediction: str = "pred"
    score: str | None = "score"
    timestamp: str = "ts"


@dataclass(frozen=True)
class Spec:
    name: str = "m"
    task: str = "classification"
    columns: Columns = field(default_factory=Columns)
    sensitive_features: tuple[str, ...] = ()
    positive_label: int | None = 1


def population(n: int, shift: float, seed: int, *, power: float = 1.0) -> pd.DataFrame:
    """P(y | x) fixed (logistic in x); ``shift`` moves x only (covariate shift). The score is
    the true probability raised to ``power``: calibrated at 1, monotone but off otherwise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1.0, n)
    p = 1 / (1 + np.exp(-(1.8 * x - 0.4)))
    y = (rng.random(n) < p).astype(int)
    score = p**power
    return pd.DataFrame({"score": score, "pred": (score >= 0.5**power).astype(int), "y": y})


def realized(frame: pd.DataFrame) -> dict[str, float]:
    y, pred = frame["y"], frame["pred"]
    return {
        "accuracy": skm.accuracy_score(y, pred),
        "precision": skm.precision_score(y, pred),
        "recall": skm.recall_score(y, pred),
        "f1": skm.f1_score(y, pred),
        "roc_auc": skm.roc_auc_score(y, frame["score"]),
    }


@pytest.mark.parametrize("power", [1.0, 3.0], ids=["calibrated", "miscalibrated"])
@pytest.mark.parametrize("shift", [0.0, 0.8, -0.8])
def test_estimate_is_close_to_realized_under_covariate_shift(power: float, shift: float) -> None:
    estimator = PerformanceEstimator(Spec(), population(5000, 0.0, seed=1, power=power))
    assert estimator.refused is None
    current = population(4000, shift, seed=2, power=power)
    truth = realized(current)
    estimate = estimator.estimate(current.drop(columns="y"))
    assert estimate.estimated and estimate.n_scored == 4000
    for name, value in truth.items():
        metric = estimate.metrics[name]
        assert metric.value == pytest.approx(value, abs=0.025), name
        assert metric.low is not None and metric.high is not None
        assert metric.low <= metric.value <= metric.high
        assert metric.high - metric.low < 0.1, f"{name}: band too wide to be useful"
    accuracy = estimate.metrics["accuracy"]
    assert accuracy.low <= truth["accuracy"] <= accuracy.high  # type: ignore[operator]


def test_miscalibrated_scores_are_calibrated_and_calibrated_ones_kept() -> None:
    raw = population(5000, 0.0, seed=3, power=3.0)
    truth = (raw["y"] == 1).to_numpy()
    assert Calibration.fit(raw["score"].to_numpy(), truth).method == "isotonic"
    good = population(5000, 0.0, seed=3)
    assert Calibration.fit(good["score"].to_numpy(), good["y"] == 1).method == "as is"
    # Taking the cubed scores at face value would be far off; calibrated they are not.
    current = population(3000, 0.5, seed=4, power=3.0)
    naive = expected_metrics(current["score"].to_numpy(), current["pred"] == 1)["accuracy"]
    estimate = PerformanceEstimator(Spec(), raw).estimate(current.drop(columns="y"))
    real = realized(current)["accuracy"]
    assert abs(naive - real) > 0.04
    assert estimate.metrics["accuracy"].value == pytest.approx(real, abs=0.02)


def test_certain_labels_give_the_realized_metrics_exactly() -> None:
    frame = population(2000, 0.3, seed=5)
    y = frame["y"].to_numpy()
    values = expected_metrics(y.astype(float), frame["pred"].to_numpy() == 1)
    for name, value in realized(frame).items():
        if name != "roc_auc":
            assert values[name] == pytest.approx(value)
    assert expected_roc_auc(frame["score"].to_numpy(), y.astype(float)) == pytest.approx(
        skm.roc_auc_score(y, frame["score"])
    )


def test_an_estimate_below_the_limit_warns_but_never_breaches() -> None:
    estimator = PerformanceEstimator(Spec(), population(5000, 0.0, seed=6))
    estimate = estimator.estimate(
        population(3000, 0.0, seed=7).drop(columns="y"), PerformanceLimits(min_accuracy=0.95)
    )
    accuracy = estimate.metrics["accuracy"]
    assert accuracy.verdict is Verdict.WARNING and "below the minimum 0.95" in (accuracy.note or "")
    assert estimate.verdict is Verdict.WARNING
    assert estimate.sentence().startswith("estimated accuracy ")


def _refusal(reference: pd.DataFrame, spec: Spec | None = None) -> str:
    estimator = PerformanceEstimator(spec or Spec(), reference)
    estimate = estimator.estimate(population(500, 0.0, seed=9))
    assert not estimate.estimated and estimate.verdict is Verdict.NO_DATA
    assert estimate.refused == estimator.refused
    assert estimate.sentence() == f"not estimated: {estimator.refused}"
    return str(estimator.refused)


def test_refusals_say_why() -> None:
    reference = population(3000, 0.0, seed=8)
    assert "no score column" in _refusal(reference, Spec(columns=Columns(score=None)))
    assert "classifiers only" in _refusal(reference, Spec(task="regression"))
    assert "no scores" in _refusal(reference.drop(columns="score"))
    assert "no labels" in _refusal(reference.drop(columns="y"))
    assert "no reference data" in _refusal(reference.iloc[0:0])
    assert "constant" in _refusal(reference.assign(score=0.7))
    assert "all one class" in _refusal(reference.assign(y=1, pred=1))
    assert f"need {MIN_REFERENCE_LABELS}" in _refusal(reference.head(MIN_REFERENCE_LABELS - 1))
    assert f"need {MIN_CLASS_LABELS}" in _refusal(
        pd.concat([reference[reference.y == 0].head(1000), reference[reference.y == 1].head(10)])
    )
    three = reference.assign(y=np.arange(len(reference)) % 3, pred=np.arange(len(reference)) % 3)
    assert "two classes" in _refusal(three)


def test_scores_unrelated_to_the_label_are_refused() -> None:
    # The higher score has the lower positive rate: an increasing calibration pools it flat.
    rng = np.random.default_rng(10)
    score = np.repeat([0.2, 0.8], 1000)
    y = np.r_[rng.random(1000) < 0.6, rng.random(1000) < 0.4].astype(int)
    with pytest.raises(NotEstimable, match="no information about the label"):
        Calibration.fit(score, y == 1)


def test_a_window_with_too_few_scored_rows_is_refused() -> None:
    estimator = PerformanceEstimator(Spec(), population(3000, 0.0, seed=11))
    current = population(100, 0.0, seed=12).drop(columns="y")
    current.loc[current.index[20:], "score"] = np.nan
    estimate = estimator.estimate(current)
    assert estimate.refused == "only 20 scored rows in the window (need 30)"
    assert "no 'score'" in (estimator.estimate(current.drop(columns="score")).refused or "")
