"""Model performance on labelled production data, against thresholds and the reference baseline.

Classification: accuracy, precision, recall, F1 (binary on the positive label, macro-averaged
for more classes, with per-class rows), ROC AUC when a score column exists (binary only).
Regression: MAE, RMSE, R². Every metric comes from scikit-learn's ``sklearn.metrics``.

Two kinds of limits, both in :class:`PerformanceLimits` (the performance check builds them from
``monitoring.performance`` in the model's configuration):

* absolute: ``min_accuracy``, ``min_f1``, ``min_roc_auc``, ``max_mae``, ``max_rmse``, ``min_r2``
  — crossing one is a breach;
* relative to the baseline (the same metrics on the reference data, or an explicit dict):
  a drop of more than ``max_drop`` points (accuracy, F1, ROC AUC, R²), or an increase of more
  than ``max_drop`` as a fraction (MAE, RMSE, whose scale is the target's) is a breach; more
  than half of that is a warning.

Fairness per configured sensitive feature is computed on the same rows (see ``fairness``).
A window with fewer than ``min_labelled_rows`` labels says "no data" rather than guessing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from engine.fairness import FairnessResult, classification_fairness, regression_fairness
from engine.model import ModelSpec
from engine.verdict import Verdict

MIN_LABELLED_ROWS = 30

_LABELS = {
    "accuracy": "Accuracy",
    "precision": "Precision",
    "recall": "Recall",
    "f1": "F1",
    "roc_auc": "ROC AUC",
    "mae": "MAE",
    "rmse": "RMSE",
    "r2": "R²",
}
_LOWER_IS_BETTER = {"mae", "rmse"}
_HEADLINE = {"classification": ("accuracy", "f1", "roc_auc"), "regression": ("r2", "mae", "rmse")}


@dataclass(frozen=True)
class PerformanceLimits:
    """What the performance and fairness monitors hold a window to (absolute limits, the largest
    drop from the baseline, fairness gaps); :mod:`jobs.checks.options` builds them from a model's
    ``monitoring.performance`` section."""

    min_accuracy: float | None = None
    min_f1: float | None = None
    min_roc_auc: float | None = None
    max_mae: float | None = None
    max_rmse: float | None = None
    min_r2: float | None = None
    max_drop: float = 0.05
    max_demographic_parity_difference: float = 0.1
    max_equalized_odds_difference: float = 0.1


@dataclass(frozen=True)
class MetricResult:
    name: str
    value: float | None
    baseline: float | None = None
    minimum: float | None = None
    """Absolute floor (higher-is-better metrics)."""
    maximum: float | None = None
    """Absolute ceiling (error metrics)."""
    max_drop: float | None = None
    """Allowed degradation against the baseline (points, or a fraction for MAE/RMSE)."""
    verdict: Verdict = Verdict.HEALTHY
    note: str | None = None

    @property
    def label(self) -> str:
        return _LABELS.get(self.name, self.name)

    @property
    def higher_is_better(self) -> bool:
        return self.name not in _LOWER_IS_BETTER

    @property
    def change(self) -> float | None:
        if self.value is None or self.baseline is None:
            return None
        return self.value - self.baseline

    @property
    def threshold(self) -> float | None:
        """The absolute limit for charts (floor or ceiling)."""
        return self.minimum if self.higher_is_better else self.maximum


@dataclass(frozen=True)
class ClassMetrics:
    label: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class PerformanceReport:
    task: str
    metrics: Mapping[str, MetricResult] = field(default_factory=dict)
    per_class: tuple[ClassMetrics, ...] = ()
    fairness: tuple[FairnessResult, ...] = ()
    model: str | None = None
    n_rows: int = 0
    n_labelled: int = 0
    positive_label: str | None = None
    baseline_source: str | None = None
    """"reference", "given", or None when no baseline was available."""
    notes: tuple[str, ...] = ()

    @property
    def label_coverage(self) -> float:
        return self.n_labelled / self.n_rows if self.n_rows else 0.0

    @property
    def has_labels(self) -> bool:
        return self.n_labelled >= MIN_LABELLED_ROWS

    @property
    def verdict(self) -> Verdict:
        if not self.has_labels:
            return Verdict.NO_DATA
        return Verdict.worst(
            [m.verdict for m in self.metrics.values()]
            + [f.verdict for f in self.fairness if f.verdict is not Verdict.NO_DATA]
        )

    @property
    def breaches(self) -> list[str]:
        """One sentence per breached metric or fairness limit."""
        found = [m.note or m.label for m in self.metrics.values() if m.verdict is Verdict.BREACH]
        for result in self.fairness:
            found.extend(f"{result.feature}: {text}" for text in result.breaches)
        return found

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": str(self.verdict),
            "task": self.task,
            "n_rows": self.n_rows,
            "n_labelled": self.n_labelled,
            "baseline_source": self.baseline_source,
            "metrics": {
                name: {
                    "value": m.value,
                    "baseline": m.baseline,
                    "minimum": m.minimum,
                    "maximum": m.maximum,
                    "max_drop": m.max_drop,
                    "verdict": str(m.verdict),
                    "note": m.note,
                }
                for name, m in self.metrics.items()
            },
            "fairness": {
                f.feature: {
                    "demographic_parity_difference": f.demographic_parity_difference,
                    "equalized_odds_difference": f.equalized_odds_difference,
                    "verdict": str(f.verdict),
                    "groups": {
                        g.group: {
                            "count": g.count,
                            "selection_rate": g.selection_rate,
                            "accuracy": g.accuracy,
                            "true_positive_rate": g.true_positive_rate,
                            "false_positive_rate": g.false_positive_rate,
                            "mae": g.mae,
                        }
                        for g in f.groups
                    },
                    "note": f.note,
                }
                for f in self.fairness
            },
            "notes": list(self.notes),
        }


# --------------------------------------------------------------------------- computing metrics


def resolve_positive(labels: Sequence[Any], configured: Any) -> Any | None:
    """The positive class as it appears in the data, or None for multiclass without one.

    Matches the configured label by value or by text (config ``1`` vs data ``"1"`` or ``True``);
    without configuration a {0, 1} / {False, True} target takes 1 / True.
    """
    present = list(labels)
    if configured is not None:
        for label in present:
            if label == configured or str(label) == str(configured):
                return label
    if len(present) <= 2:
        for label in present:
            if str(label).lower() in ("1", "1.0", "true", "yes"):
                return label
        if len(present) == 2:
            return sorted(present, key=str)[-1]
    return None


def classification_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, scores: np.ndarray | None, positive: Any | None
) -> tuple[dict[str, float | None], tuple[ClassMetrics, ...], list[str]]:
    notes: list[str] = []
    values: dict[str, float | None] = {"accuracy": float(skm.accuracy_score(y_true, y_pred))}
    labels = sorted(set(pd.unique(np.concatenate([y_true, y_pred]))), key=str)
    if positive is not None and len(labels) <= 2:
        precision, recall, f1, _ = skm.precision_recall_fscore_support(
            y_true, y_pred, pos_label=positive, average="binary", zero_division=0
        )
    else:
        precision, recall, f1, _ = skm.precision_recall_fscore_support(
            y_true, y_pred, average="macro", zero_division=0
        )
        notes.append("precision, recall and F1 are macro averages over classes")
    values.update(precision=float(precision), recall=float(recall), f1=float(f1))
    p_c, r_c, f_c, s_c = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average=None, zero_division=0
    )
    per_class = tuple(
        ClassMetrics(str(label), float(p), float(r), float(f), int(s))
        for label, p, r, f, s in zip(labels, p_c, r_c, f_c, s_c, strict=True)
    )
    values["roc_auc"] = None
    if scores is not None and positive is not None:
        truth = np.asarray(y_true == positive)
        finite = np.isfinite(scores)
        if truth[finite].all() or not truth[finite].any():
            notes.append("ROC AUC needs both classes among the labels")
        else:
            values["roc_auc"] = float(skm.roc_auc_score(truth[finite], scores[finite]))
    return values, per_class, notes


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float | None]:
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    r2 = float(skm.r2_score(y_true, y_pred)) if len(y_true) >= 2 and np.ptp(y_true) > 0 else None
    return {
        "mae": float(skm.mean_absolute_error(y_true, y_pred)),
        "rmse": float(math.sqrt(skm.mean_squared_error(y_true, y_pred))),
        "r2": r2,
    }


@dataclass(frozen=True)
class _Columns:
    target: str
    prediction: str
    score: str | None


def _labelled(frame: pd.DataFrame, cols: _Columns) -> pd.DataFrame:
    if cols.target not in frame.columns or cols.prediction not in frame.columns:
        return frame.iloc[0:0]
    mask = frame[cols.target].notna() & frame[cols.prediction].notna()
    return frame.loc[mask]


def _compute(
    frame: pd.DataFrame, task: str, cols: _Columns, positive_cfg: Any
) -> tuple[dict[str, float | None], tuple[ClassMetrics, ...], Any | None, list[str]]:
    y_true = frame[cols.target].to_numpy()
    y_pred = frame[cols.prediction].to_numpy()
    if task == "regression":
        return regression_metrics(y_true, y_pred), (), None, []
    labels = pd.unique(np.concatenate([y_true, y_pred]))
    positive = resolve_positive(labels, positive_cfg)
    scores = None
    if cols.score and cols.score in frame.columns:
        scores = pd.to_numeric(frame[cols.score], errors="coerce").to_numpy(dtype=float)
    values, per_class, notes = classification_metrics(y_true, y_pred, scores, positive)
    return values, per_class, positive, notes


def _judge(
    name: str,
    value: float | None,
    baseline: float | None,
    config: PerformanceLimits,
    headline: Sequence[str],
) -> MetricResult:
    minimum = {
        "accuracy": config.min_accuracy,
        "f1": config.min_f1,
        "roc_auc": config.min_roc_auc,
        "r2": config.min_r2,
    }.get(name)
    maximum = {"mae": config.max_mae, "rmse": config.max_rmse}.get(name)
    max_drop = config.max_drop if name in headline else None
    label = _LABELS.get(name, name)
    if value is None:
        return MetricResult(name, None, baseline, minimum, maximum, max_drop, Verdict.NO_DATA)
    if minimum is not None and value < minimum:
        return MetricResult(
            name,
            value,
            baseline,
            minimum,
            maximum,
            max_drop,
            Verdict.BREACH,
            f"{label} {value:.3f} below the minimum {minimum:g}",
        )
    if maximum is not None and value > maximum:
        return MetricResult(
            name,
            value,
            baseline,
            minimum,
            maximum,
            max_drop,
            Verdict.BREACH,
            f"{label} {value:.4g} above the maximum {maximum:g}",
        )
    verdict, note = Verdict.HEALTHY, None
    if max_drop is not None and baseline is not None:
        if name in _LOWER_IS_BETTER:
            worse = (value - baseline) / abs(baseline) if baseline else 0.0
            what = f"{label} {value:.4g} is {worse:.1%} worse than the baseline {baseline:.4g}"
        else:
            worse = baseline - value
            what = f"{label} {value:.3f} is {worse:.3f} below the baseline {baseline:.3f}"
        if worse > max_drop:
            verdict, note = Verdict.BREACH, f"{what} (limit {max_drop:g})"
        elif worse > max_drop / 2:
            verdict, note = Verdict.WARNING, f"{what} (limit {max_drop:g})"
    return MetricResult(name, value, baseline, minimum, maximum, max_drop, verdict, note)


def run_performance(
    model_cfg: ModelSpec,
    reference: pd.DataFrame | None,
    current: pd.DataFrame,
    *,
    baseline: Mapping[str, float] | None = None,
    limits: PerformanceLimits | None = None,
    fairness_check: bool = True,
) -> PerformanceReport:
    """Performance and fairness of the labelled rows of ``current``.

    The baseline is ``baseline`` when given, else the same metrics on ``reference`` when it has
    target and prediction columns, else absent (only absolute limits apply).
    ``fairness_check=False`` leaves fairness out (a trend's past windows need only a metric).
    """
    config = limits or PerformanceLimits()
    task = model_cfg.task
    cols = _Columns(
        target=model_cfg.columns.target or "target",
        prediction=model_cfg.columns.prediction,
        score=model_cfg.columns.score,
    )
    notes: list[str] = []
    labelled = _labelled(current, cols)
    n_labelled = len(labelled)
    if cols.target not in current.columns:
        notes.append(f"no labels in this window (column {cols.target!r} absent)")
    elif cols.prediction not in current.columns:
        notes.append(f"no predictions in this window (column {cols.prediction!r} absent)")
    elif n_labelled < MIN_LABELLED_ROWS:
        notes.append(
            f"only {n_labelled} labelled rows in this window (need {MIN_LABELLED_ROWS}); "
            "labels may not have arrived yet"
        )
    if n_labelled < MIN_LABELLED_ROWS:
        return PerformanceReport(
            task=task,
            model=model_cfg.name,
            n_rows=len(current),
            n_labelled=n_labelled,
            notes=tuple(notes),
        )

    values, per_class, positive, compute_notes = _compute(
        labelled, task, cols, model_cfg.positive_label
    )
    notes.extend(compute_notes)

    baseline_values: Mapping[str, float | None] = {}
    source: str | None = None
    if baseline is not None:
        baseline_values, source = dict(baseline), "given"
    elif reference is not None:
        ref_labelled = _labelled(reference, cols)
        if len(ref_labelled) >= MIN_LABELLED_ROWS:
            baseline_values = _compute(ref_labelled, task, cols, model_cfg.positive_label)[0]
            source = "reference"
        else:
            notes.append("the reference has no target and prediction columns: no baseline")

    headline = _HEADLINE[task]
    results = {
        name: _judge(name, value, baseline_values.get(name), config, headline)
        for name, value in values.items()
        if value is not None or name in headline
    }

    fairness: list[FairnessResult] = []
    for feature in model_cfg.sensitive_features if fairness_check else ():
        if feature not in labelled.columns:
            notes.append(f"sensitive feature {feature!r} absent: no fairness check")
            continue
        y_true = labelled[cols.target].to_numpy()
        y_pred = labelled[cols.prediction].to_numpy()
        if task == "classification":
            fairness.append(
                classification_fairness(
                    feature,
                    labelled[feature],
                    y_true,
                    y_pred,
                    positive,
                    max_dp=config.max_demographic_parity_difference,
                    max_eo=config.max_equalized_odds_difference,
                )
            )
        else:
            fairness.append(
                regression_fairness(
                    feature,
                    labelled[feature],
                    y_true,
                    y_pred,
                    max_dp=config.max_demographic_parity_difference,
                    max_eo=config.max_equalized_odds_difference,
                )
            )
    return PerformanceReport(
        task=task,
        metrics=results,
        per_class=per_class,
        fairness=tuple(fairness),
        model=model_cfg.name,
        n_rows=len(current),
        n_labelled=n_labelled,
        positive_label=None if positive is None else str(positive),
        baseline_source=source,
        notes=tuple(notes),
    )


def rejudge(report: PerformanceReport, limits: PerformanceLimits) -> PerformanceReport:
    """The same window held to other limits: every metric's value and baseline kept, its verdict
    worked out again. A backtest tries proposed limits on past windows this way without
    computing a metric twice. Fairness is left as it was judged (its limits are not metrics')."""
    if not report.metrics:
        return report
    headline = _HEADLINE[report.task]
    metrics = {
        name: _judge(name, metric.value, metric.baseline, limits, headline)
        for name, metric in report.metrics.items()
    }
    return replace(report, metrics=metrics)
