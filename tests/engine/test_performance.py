"""Performance against thresholds and the baseline, fairness against hand-computed values."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from engine import PerformanceReport, Verdict
from engine import run_performance as engine_run_performance
from engine.fairness import classification_fairness
from engine.performance import resolve_positive
from infra.settings import ModelConfig
from jobs.checks.options import performance_limits
from tests.engine.churn_data import churn_frame, churn_model


def run_performance(model: ModelConfig, *args: Any, **kwargs: Any) -> PerformanceReport:
    """The engine with the model's configured limits, as the performance check calls it."""
    return engine_run_performance(model, *args, limits=performance_limits(model), **kwargs)


def _model(**performance: object) -> ModelConfig:
    base = churn_model().model_dump(exclude_none=True)
    base["monitoring"]["performance"] = {**base["monitoring"]["performance"], **performance}
    return ModelConfig.model_validate(base)


def test_classification_metrics_match_sklearn() -> None:
    current = churn_frame(4000, seed=21)
    report = run_performance(churn_model(), None, current)
    y, p = current["churned"], current["prediction"]
    assert report.metrics["accuracy"].value == pytest.approx(skm.accuracy_score(y, p))
    assert report.metrics["precision"].value == pytest.approx(skm.precision_score(y, p))
    assert report.metrics["recall"].value == pytest.approx(skm.recall_score(y, p))
    assert report.metrics["f1"].value == pytest.approx(skm.f1_score(y, p))
    assert report.metrics["roc_auc"].value == pytest.approx(skm.roc_auc_score(y, current["score"]))
    assert [c.label for c in report.per_class] == ["0", "1"]
    assert report.positive_label == "1" and report.n_labelled == 4000
    assert report.baseline_source is None


def test_baseline_from_reference_and_drop_breach() -> None:
    reference = churn_frame(6000, seed=22)
    current = churn_frame(3000, seed=23)
    # Flip a quarter of the predictions: accuracy falls well beyond max_drop (0.05).
    rng = np.random.default_rng(0)
    flip = rng.uniform(size=len(current)) < 0.25
    current.loc[flip, "prediction"] = 1 - current.loc[flip, "prediction"]
    report = run_performance(_model(min_accuracy=None), reference, current)
    accuracy = report.metrics["accuracy"]
    assert report.baseline_source == "reference"
    assert accuracy.baseline == pytest.approx(
        skm.accuracy_score(reference["churned"], reference["prediction"])
    )
    assert accuracy.verdict is Verdict.BREACH and "below the baseline" in (accuracy.note or "")
    assert report.verdict is Verdict.BREACH and report.breaches


def test_absolute_threshold_and_given_baseline() -> None:
    current = churn_frame(3000, seed=24)
    report = run_performance(
        _model(min_accuracy=0.99), None, current, baseline={"accuracy": 0.76, "f1": 0.47}
    )
    assert report.baseline_source == "given"
    assert report.metrics["accuracy"].verdict is Verdict.BREACH
    assert "below the minimum 0.99" in (report.metrics["accuracy"].note or "")
    assert report.metrics["f1"].baseline == 0.47


def test_warning_between_half_and_full_drop() -> None:
    current = churn_frame(3000, seed=25)
    accuracy = skm.accuracy_score(current["churned"], current["prediction"])
    report = run_performance(
        _model(min_accuracy=None, max_drop=0.05),
        None,
        current,
        baseline={"accuracy": accuracy + 0.03},
    )
    assert report.metrics["accuracy"].verdict is Verdict.WARNING


def test_window_without_labels_says_so() -> None:
    current = churn_frame(500, seed=26)
    no_target = run_performance(churn_model(), None, current.drop(columns=["churned"]))
    assert no_target.verdict is Verdict.NO_DATA and "no labels" in no_target.notes[0]
    current["churned"] = current["churned"].astype(float)
    current.loc[current.index[10:], "churned"] = np.nan
    few = run_performance(churn_model(), None, current)
    assert (
        few.verdict is Verdict.NO_DATA
        and few.n_labelled == 10
        and "labels may not have arrived" in few.notes[0]
    )


def test_regression_metrics() -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(100, 20, 2000)
    frame = pd.DataFrame(
        {"y": y, "yhat": y + rng.normal(0, 5, 2000), "region": rng.choice(["a", "b"], 2000)}
    )
    model = ModelConfig.model_validate(
        {
            "name": "ltv",
            "task": "regression",
            "columns": {"target": "y", "prediction": "yhat"},
            "sensitive_features": ["region"],
            "monitoring": {"performance": {"max_mae": 3.0}},
        }
    )
    report = run_performance(model, None, frame)
    assert report.metrics["mae"].value == pytest.approx(
        skm.mean_absolute_error(frame.y, frame.yhat)
    )
    assert report.metrics["rmse"].value == pytest.approx(
        np.sqrt(skm.mean_squared_error(frame.y, frame.yhat))
    )
    assert report.metrics["r2"].value == pytest.approx(skm.r2_score(frame.y, frame.yhat))
    assert report.metrics["mae"].verdict is Verdict.BREACH  # MAE ~4 > 3
    assert {g.group for g in report.fairness[0].groups} == {"a", "b"}


def test_fairness_definitions_hand_computed() -> None:
    # Group a: 40 rows, predictions positive for 20 (TPR 15/20, FPR 5/20).
    # Group b: 40 rows, predictions positive for 8 (TPR 6/20, FPR 2/20).
    y_a = np.array([1] * 20 + [0] * 20)
    p_a = np.array([1] * 15 + [0] * 5 + [1] * 5 + [0] * 15)
    y_b = np.array([1] * 20 + [0] * 20)
    p_b = np.array([1] * 6 + [0] * 14 + [1] * 2 + [0] * 18)
    groups = pd.Series(["a"] * 40 + ["b"] * 40)
    result = classification_fairness(
        "g",
        groups,
        np.concatenate([y_a, y_b]),
        np.concatenate([p_a, p_b]),
        1,
        max_dp=0.1,
        max_eo=0.1,
        min_group_rows=10,
    )
    assert result.demographic_parity_difference == pytest.approx(20 / 40 - 8 / 40)
    assert result.equalized_odds_difference == pytest.approx(max(15 / 20 - 6 / 20, 5 / 20 - 2 / 20))
    assert result.verdict is Verdict.BREACH and len(result.breaches) == 2
    by_group = {g.group: g for g in result.groups}
    assert by_group["a"].true_positive_rate == 0.75 and by_group["b"].false_positive_rate == 0.1


def test_small_groups_are_left_out_of_differences() -> None:
    groups = pd.Series(["big"] * 200 + ["tiny"] * 5)
    y = np.array([1, 0] * 100 + [1] * 5)
    p = np.array([1, 0] * 100 + [0] * 5)
    result = classification_fairness("g", groups, y, p, 1, max_dp=0.1, max_eo=0.1)
    assert result.verdict is Verdict.NO_DATA and "tiny" in (result.note or "")
    assert result.demographic_parity_difference is None


def test_unfair_scores_breach_on_the_churn_data() -> None:
    report = run_performance(churn_model(), None, churn_frame(5000, seed=27, unfair=True))
    gender = report.fairness[0]
    assert gender.feature == "gender" and gender.verdict is Verdict.BREACH
    assert (
        gender.demographic_parity_difference is not None
        and gender.demographic_parity_difference > 0.1
    )


@pytest.mark.parametrize(
    ("labels", "configured", "expected"),
    [
        ([0, 1], None, 1),
        ([False, True], None, True),
        (["no", "yes"], None, "yes"),
        ([1, 2, 3], None, None),
        (["0", "1"], 1, "1"),
    ],
)
def test_resolve_positive(labels: list[object], configured: object, expected: object) -> None:
    assert resolve_positive(labels, configured) == expected


def test_rejudge_holds_the_same_values_to_other_limits() -> None:
    """What a backtest does per window: one computation, judged by the current and the proposed
    limits; the re-judged report says what running with those limits would have said."""
    from dataclasses import replace

    from engine.performance import rejudge

    reference = churn_frame(6000, seed=26)
    current = churn_frame(3000, seed=27)
    model = _model(min_accuracy=None)
    report = run_performance(model, reference, current)
    assert report.metrics["accuracy"].verdict is Verdict.HEALTHY
    strict = replace(performance_limits(model), min_accuracy=0.99)
    again = rejudge(report, strict)
    direct = engine_run_performance(model, reference, current, limits=strict)
    assert again.metrics == direct.metrics
    assert again.metrics["accuracy"].verdict is Verdict.BREACH
    assert {n: m.value for n, m in again.metrics.items()} == {
        n: m.value for n, m in report.metrics.items()
    }
    assert rejudge(report, performance_limits(model)).metrics == report.metrics
