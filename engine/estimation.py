"""Performance estimated before the labels arrive: confidence-based performance estimation.

Labels (a churn, a default, a chargeback) arrive weeks after the prediction, so the windows a
team worries about most have none. A binary classifier whose score ranks rows by their chance
of being positive can still say how it is doing, under one assumption: the relation between
score and outcome, P(y = 1 | score), is the same in production as on the labelled reference
data. Covariate shift (the population moves, P(y | x) stays) keeps that relation; concept
drift (P(y | x) itself changes) breaks it and is invisible here (docs/monitoring.md).

How (the method NannyML calls CBPE, Kivimäki et al.):

1. Calibrate the score on the labelled reference rows with isotonic regression
   (scikit-learn's ``isotonic_regression``, pool-adjacent-violators: monotone, no shape
   assumed): ``p_i`` is the probability that row ``i`` is positive. Scores that are
   probabilities already and predict the reference labels at least as well as the isotonic
   fit does out of fold (5-fold Brier score) are used as they are: calibrating them would only
   copy the reference's sampling noise into every estimate.
2. Each production row then contributes ``p_i`` of a positive and ``1 - p_i`` of a negative to
   the confusion matrix its prediction selects: E[TP] = Σ p_i over predicted positives,
   E[FP] = Σ (1 - p_i) there, E[FN] = Σ p_i over predicted negatives, E[TN] the rest.
   Accuracy and precision are exact expectations; recall and F1 are ratios of expectations.
   ROC AUC comes from the expected TPR/FPR curve along the score order.
3. The band: the true count of positives among rows with probabilities p_i is Poisson–binomial
   (mean Σ p_i, variance Σ p_i(1 - p_i)), drawn here with its normal approximation, once per
   calibrator refitted on a bootstrap resample of the reference (the calibration's own error).
   The band is the central ``confidence`` share of the metrics over those draws. ROC AUC's band
   adds Hanley–McNeil's standard error to the calibrator spread.

It refuses, with a sentence saying why, rather than guess: no score or prediction column, not a
binary task, constant scores, scores that carry no information about the label on the
reference (the calibration is flat), one class in the reference labels, or fewer than
:data:`MIN_REFERENCE_LABELS` labelled reference rows (or :data:`MIN_CLASS_LABELS` of a class).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.isotonic import isotonic_regression

from engine.model import ModelSpec
from engine.performance import (
    MIN_LABELLED_ROWS,
    PerformanceLimits,
    classification_metrics,
    resolve_positive,
)
from engine.verdict import Verdict

#: Labelled reference rows needed to calibrate. Isotonic regression on n rows pins the
#: calibrated probability within roughly ±1/sqrt(n per step); at 500 rows the calibration
#: bootstrap alone moves the estimated accuracy by about ±0.02, the error this feature is for.
MIN_REFERENCE_LABELS = 500
#: Labelled reference rows needed of each class: with fewer the calibration cannot say how
#: often the rare class happens at a given score.
MIN_CLASS_LABELS = 50
#: Scored rows a window needs before its estimate is shown (as many as labelled rows need).
MIN_SCORED_ROWS = MIN_LABELLED_ROWS
#: Calibrators refitted on bootstrap resamples of the reference, for the band.
BOOTSTRAP = 200
CONFIDENCE = 0.95
#: A note when more than this share of the window scores outside the reference's score range:
#: the calibration is extrapolated (clipped) there.
OUT_OF_RANGE_NOTE = 0.05

_LABELS = {
    "accuracy": "Accuracy",
    "precision": "Precision",
    "recall": "Recall",
    "f1": "F1",
    "roc_auc": "ROC AUC",
}
METRICS: tuple[str, ...] = tuple(_LABELS)
_HEADLINE = ("accuracy", "f1", "roc_auc")


# --------------------------------------------------------------------------- calibration


class NotEstimable(ValueError):
    """The scores cannot be calibrated or the data is too thin; ``str()`` says why, plainly."""


Curve = tuple[np.ndarray, np.ndarray]
"""An increasing step function as (scores, probabilities), linear between steps, flat outside."""


@dataclass(frozen=True)
class Calibration:
    """P(positive | score) fitted on labelled reference rows: the full fit for the estimate and
    bootstrap refits for the band. Immutable, so one fit serves many windows."""

    curve: Curve | None
    """The calibration the estimate uses; None when the scores are calibrated already and
    are used as they are (isotonic regression would only add the reference's noise)."""
    isotonic: Curve
    """The isotonic fit on the whole reference (the centre the bootstrap refits vary around)."""
    resamples: tuple[Curve, ...]
    n_reference: int
    n_positive: int
    score_range: tuple[float, float]

    @property
    def method(self) -> str:
        return "isotonic" if self.curve is not None else "as is"

    @classmethod
    def fit(
        cls,
        scores: np.ndarray,
        is_positive: np.ndarray,
        *,
        bootstrap: int = BOOTSTRAP,
        seed: int = 0,
        min_labels: int = MIN_REFERENCE_LABELS,
        min_class: int = MIN_CLASS_LABELS,
    ) -> Calibration:
        """Fit on reference ``scores`` and whether each row's label is the positive class.
        Raises :class:`NotEstimable` saying why the scores cannot be calibrated."""
        scores = np.asarray(scores, dtype=float)
        truth = np.asarray(is_positive, dtype=bool)
        keep = np.isfinite(scores)
        scores, truth = scores[keep], truth[keep]
        n, positives = len(scores), int(truth.sum())
        if n < min_labels:
            raise NotEstimable(
                f"only {n} labelled reference rows with a score (need {min_labels} to calibrate)"
            )
        if positives == 0 or positives == n:
            raise NotEstimable("the reference labels are all one class: nothing to calibrate")
        if min(positives, n - positives) < min_class:
            raise NotEstimable(
                f"only {min(positives, n - positives)} reference rows of the rarer class "
                f"(need {min_class} to calibrate)"
            )
        if np.ptp(scores) == 0:
            raise NotEstimable("the scores are constant on the reference: they rank nothing")
        # Rows with equal scores are one point of the fit (as IsotonicRegression does), so a
        # bootstrap resample is just new weights per distinct score: no re-sorting per refit.
        unique, index = np.unique(scores, return_inverse=True)
        rows = np.bincount(index, minlength=len(unique)).astype(float)
        hits = np.bincount(index, weights=truth.astype(float), minlength=len(unique))
        curve = _pava(unique, rows, hits)
        if np.ptp(curve[1]) < 1e-9:
            raise NotEstimable(
                "the scores carry no information about the label on the reference "
                "(the calibration is flat)"
            )
        rng = np.random.default_rng(seed)
        keep_raw = _already_calibrated(scores, truth, rng)
        resamples = []
        for _ in range(bootstrap):
            weight = np.bincount(rng.integers(0, n, n), minlength=n).astype(float)
            resamples.append(
                _pava(
                    unique,
                    np.bincount(index, weights=weight, minlength=len(unique)),
                    np.bincount(index, weights=weight * truth, minlength=len(unique)),
                )
            )
        return cls(
            curve=None if keep_raw else curve,
            isotonic=curve,
            resamples=tuple(resamples),
            n_reference=n,
            n_positive=positives,
            score_range=(float(unique[0]), float(unique[-1])),
        )

    def probability(self, scores: np.ndarray) -> np.ndarray:
        """Calibrated P(positive) per score (scores outside the reference range are clipped)."""
        if self.curve is None:
            return np.clip(np.asarray(scores, dtype=float), 0.0, 1.0)
        return _apply(self.curve, scores)


#: Folds of the cross-validated test that decides whether the scores need calibrating.
CALIBRATION_FOLDS = 5


def _already_calibrated(scores: np.ndarray, truth: np.ndarray, rng: np.random.Generator) -> bool:
    """Whether probabilities in [0, 1] predict the reference labels at least as well (Brier
    score) as an isotonic calibration does out of fold. If so, calibrating would fit the
    reference's own sampling noise (a reference whose accuracy happens to sit 1.5 standard
    errors low moves every estimate by that much), so the scores are used as they are, as
    NannyML does after its own calibration check."""
    if scores.min() < 0.0 or scores.max() > 1.0:
        return False
    folds = rng.permutation(len(scores)) % CALIBRATION_FOLDS
    calibrated = np.empty(len(scores))
    for fold in range(CALIBRATION_FOLDS):
        train, test = folds != fold, folds == fold
        unique, index = np.unique(scores[train], return_inverse=True)
        rows = np.bincount(index, minlength=len(unique)).astype(float)
        hits = np.bincount(index, weights=truth[train].astype(float), minlength=len(unique))
        calibrated[test] = _apply(_pava(unique, rows, hits), scores[test])
    target = truth.astype(float)
    return bool(np.mean((scores - target) ** 2) <= np.mean((calibrated - target) ** 2))


def _pava(unique: np.ndarray, rows: np.ndarray, hits: np.ndarray) -> Curve:
    """Isotonic (pool-adjacent-violators) fit of the positive rate per distinct score,
    weighted by its rows; scores without rows in this (re)sample are left out."""
    present = rows > 0
    x, w = unique[present], rows[present]
    y = isotonic_regression(hits[present] / w, sample_weight=w, y_min=0.0, y_max=1.0)
    return x, np.asarray(y, dtype=float)


def _apply(curve: Curve, scores: np.ndarray) -> np.ndarray:
    x, y = curve
    return np.interp(np.asarray(scores, dtype=float), x, y)


# --------------------------------------------------------------------------- estimating


@dataclass(frozen=True)
class MetricEstimate:
    """One estimated metric with its band and the realized reference value to compare to."""

    name: str
    value: float | None
    low: float | None = None
    high: float | None = None
    baseline: float | None = None
    verdict: Verdict = Verdict.NO_DATA
    note: str | None = None
    minimum: float | None = None
    """The absolute floor the metric is held to (``min_accuracy`` and the like), if any."""
    dropped: bool = False
    """Estimated below the reference by more than half the allowed drop (the warning line)."""

    @property
    def label(self) -> str:
        return _LABELS.get(self.name, self.name)

    @property
    def minimum_crossed(self) -> bool:
        return self.minimum is not None and self.value is not None and self.value < self.minimum

    @property
    def change(self) -> float | None:
        if self.value is None or self.baseline is None:
            return None
        return self.value - self.baseline

    @property
    def band_text(self) -> str:
        if self.low is None or self.high is None:
            return ""
        return f"{self.low:.3f}–{self.high:.3f}"


@dataclass(frozen=True)
class PerformanceEstimate:
    """Estimated metrics of one unlabelled window, or why none was made (``refused``)."""

    metrics: Mapping[str, MetricEstimate] = field(default_factory=dict)
    n_rows: int = 0
    n_scored: int = 0
    refused: str | None = None
    """A plain sentence when the bot declined to estimate; None when it estimated."""
    confidence: float = CONFIDENCE
    notes: tuple[str, ...] = ()

    @property
    def estimated(self) -> bool:
        return self.refused is None and bool(self.metrics)

    @property
    def headline_metric(self) -> MetricEstimate | None:
        return next((self.metrics[m] for m in _HEADLINE if m in self.metrics), None)

    @property
    def verdict(self) -> Verdict:
        if not self.estimated:
            return Verdict.NO_DATA
        return Verdict.worst(m.verdict for m in self.metrics.values())

    def sentence(self) -> str:
        """``estimated accuracy 0.781 (0.752–0.809), 0.049 below the reference 0.830``, or
        ``not estimated: <why>``: what cards and alerts say about a window without labels."""
        if not self.estimated:
            return f"not estimated: {self.refused or 'no estimate'}"
        metric = self.headline_metric
        assert metric is not None and metric.value is not None
        text = f"estimated {metric.label.lower() if metric.name != 'roc_auc' else 'ROC AUC'}"
        text += f" {metric.value:.3f} ({metric.band_text})"
        if metric.change is not None and metric.baseline is not None:
            direction = "below" if metric.change < 0 else "above"
            text += f", {abs(metric.change):.3f} {direction} the reference {metric.baseline:.3f}"
        return text

    @property
    def dropped(self) -> bool | None:
        """Whether the headline metric is estimated to have dropped beyond half the allowed
        drop (the warning line), None when nothing was estimated or there is no baseline."""
        metric = self.headline_metric
        if metric is None or metric.change is None:
            return None
        return metric.dropped


def expected_metrics(probability: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Accuracy, precision, recall, F1 from the expected confusion matrix (point estimates)."""
    p = np.asarray(probability, dtype=float)
    pos = np.asarray(predicted, dtype=bool)
    tp = float(p[pos].sum())
    fn = float(p[~pos].sum())
    return _ratios(tp, fn, int(pos.sum()), int((~pos).sum()))


def _ratios(tp: Any, fn: Any, n_pos_pred: int, n_neg_pred: int) -> dict[str, Any]:
    """Metrics from expected TP and FN (scalars or arrays of draws); FP and TN follow."""
    fp = n_pos_pred - tp
    tn = n_neg_pred - fn
    n = n_pos_pred + n_neg_pred
    with np.errstate(divide="ignore", invalid="ignore"):
        accuracy = (tp + tn) / n
        precision = np.where(n_pos_pred > 0, tp / max(n_pos_pred, 1), 0.0)
        recall = np.where(tp + fn > 0, tp / np.maximum(tp + fn, 1e-12), 0.0)
        f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1e-12), 0.0)
    out = {"accuracy": accuracy, "precision": precision, "recall": recall, "f1": f1}
    if np.ndim(tp) == 0:
        return {k: float(v) for k, v in out.items()}
    return out


def expected_roc_auc(scores: np.ndarray, probability: np.ndarray) -> float | None:
    """Area under the expected ROC curve: rows in decreasing score order, each adding p_i to
    the true and 1 - p_i to the false positives (tied scores move together)."""
    order, ends = _score_order(np.asarray(scores, dtype=float))
    return _auc_sorted(np.asarray(probability, dtype=float)[order], ends)


def _score_order(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Decreasing score order and the last position of each group of tied scores."""
    order = np.argsort(-scores, kind="stable")
    ranked = scores[order]
    return order, np.r_[np.flatnonzero(np.diff(ranked) != 0), len(ranked) - 1]


def _auc_rows(q: np.ndarray, weight: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Expected ROC AUC for each row of ``q`` (probabilities of cells of ``weight`` rows in
    decreasing score order, ``ends`` closing each run of tied cells); NaN for one class."""
    pos_mass, neg_mass = q * weight, (1 - q) * weight
    total_pos = pos_mass.sum(axis=1, keepdims=True)
    total_neg = neg_mass.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        zero = np.zeros((len(q), 1))
        tpr = np.hstack([zero, np.cumsum(pos_mass, axis=1)[:, ends] / total_pos])
        fpr = np.hstack([zero, np.cumsum(neg_mass, axis=1)[:, ends] / total_neg])
        auc = np.sum(np.diff(fpr, axis=1) * (tpr[:, 1:] + tpr[:, :-1]) / 2, axis=1)
    return np.where((total_pos[:, 0] > 0) & (total_neg[:, 0] > 0), auc, np.nan)


#: Cells the band's draws run on (see :func:`_cells`).
BAND_CELLS = 2000


def _cells(
    scores: np.ndarray, pos: np.ndarray, order: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The window as cells in decreasing score order: (mean score, rows, predicted positive,
    last cell of each tie group). Small windows are their rows; larger ones are cut into
    ``BAND_CELLS / 2`` runs of neighbouring scores, each split by prediction."""
    n = len(scores)
    if n <= BAND_CELLS:
        ranked = scores[order]
        ends = np.r_[np.flatnonzero(np.diff(ranked) != 0), n - 1]
        return ranked, np.ones(n), pos[order], ends
    runs = BAND_CELLS // 2
    run = np.arange(n) * runs // n  # by rank, decreasing score
    key = run * 2 + (~pos[order]).astype(int)  # positives first within a run
    counts = np.bincount(key, minlength=runs * 2)
    sums = np.bincount(key, weights=scores[order], minlength=runs * 2)
    present = counts > 0
    cell_run = (np.arange(runs * 2) // 2)[present]
    ends = np.r_[np.flatnonzero(np.diff(cell_run) != 0), len(cell_run) - 1]
    return (
        sums[present] / counts[present],
        counts[present].astype(float),
        (np.arange(runs * 2) % 2 == 0)[present],
        ends,
    )


def _auc_sorted(p: np.ndarray, ends: np.ndarray) -> float | None:
    total_pos = float(p.sum())
    total_neg = len(p) - total_pos
    if total_pos <= 0 or total_neg <= 0:
        return None
    tpr = np.r_[0.0, np.cumsum(p)[ends] / total_pos]
    fpr = np.r_[0.0, np.cumsum(1 - p)[ends] / total_neg]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def estimate_arrays(
    calibration: Calibration,
    scores: np.ndarray,
    predicted_positive: np.ndarray,
    *,
    confidence: float = CONFIDENCE,
    seed: int = 1,
) -> dict[str, tuple[float | None, float | None, float | None]]:
    """(value, low, high) per metric for one window's scores and predictions."""
    scores = np.asarray(scores, dtype=float)
    pos = np.asarray(predicted_positive, dtype=bool)
    p = calibration.probability(scores)
    order, ends = _score_order(scores)
    point: dict[str, float | None] = dict(expected_metrics(p, pos))
    point["roc_auc"] = _auc_sorted(p[order], ends)

    # The band's draws run on the window compressed to at most BAND_CELLS cells (runs of
    # neighbouring scores, split by prediction), so a 100k-row window costs what a 2k-row one
    # does; the point estimate above is exact.
    cell_score, weight, cell_pos, cell_ends = _cells(scores, pos, order)
    rng = np.random.default_rng(seed)
    n_pos_pred, n_neg_pred = int(pos.sum()), int((~pos).sum())
    curves = calibration.resamples or (calibration.isotonic,)
    draws: dict[str, list[np.ndarray]] = {name: [] for name in METRICS}
    for first in range(0, len(curves), 50):
        q = np.stack([_apply(curve, cell_score) for curve in curves[first : first + 50]])
        wq, wv = q * weight, q * (1 - q) * weight
        tp = rng.normal(wq[:, cell_pos].sum(axis=1), np.sqrt(wv[:, cell_pos].sum(axis=1)))
        fn = rng.normal(wq[:, ~cell_pos].sum(axis=1), np.sqrt(wv[:, ~cell_pos].sum(axis=1)))
        tp, fn = np.clip(tp, 0.0, n_pos_pred), np.clip(fn, 0.0, n_neg_pred)
        for name, value in _ratios(tp, fn, n_pos_pred, n_neg_pred).items():
            draws[name].append(np.asarray(value, dtype=float))
        if point["roc_auc"] is not None:
            draws["roc_auc"].append(_auc_rows(q, weight, cell_ends))
    # The draws vary around the isotonic fit on the whole reference; the band is that spread
    # placed around the point estimate (the same thing when the estimate is isotonic).
    middle_q = _apply(calibration.isotonic, cell_score)
    centre: dict[str, float | None] = dict(
        _ratios(
            float((middle_q * weight)[cell_pos].sum()),
            float((middle_q * weight)[~cell_pos].sum()),
            n_pos_pred,
            n_neg_pred,
        )
    )
    centre["roc_auc"] = float(_auc_rows(middle_q[None, :], weight, cell_ends)[0])
    tail = (1 - confidence) / 2
    out: dict[str, tuple[float | None, float | None, float | None]] = {}
    for name in METRICS:
        value, middle = point.get(name), centre.get(name)
        values = np.concatenate(draws[name]) if draws[name] else np.empty(0)
        values = values[np.isfinite(values)]
        if value is None or middle is None or not len(values):
            out[name] = (value, None, None)
            continue
        values = values - middle + value
        if name == "roc_auc":
            # Sampling error of an AUC on this many expected positives and negatives.
            se = _hanley_mcneil(value, float(p.sum()), float((1 - p).sum()))
            spread = values.std()
            half = _z(confidence) * math.sqrt(spread**2 + se**2)
            out[name] = (value, max(0.0, value - half), min(1.0, value + half))
            continue
        low, high = np.quantile(values, [tail, 1 - tail])
        out[name] = (value, float(max(0.0, min(low, value))), float(min(1.0, max(high, value))))
    return out


def _hanley_mcneil(auc: float, n_pos: float, n_neg: float) -> float:
    if n_pos < 1 or n_neg < 1:
        return 0.0
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)) / (
        n_pos * n_neg
    )
    return math.sqrt(max(var, 0.0))


def _z(confidence: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(1 - (1 - confidence) / 2))


# --------------------------------------------------------------------------- the model's view


class PerformanceEstimator:
    """One model's calibration, fitted once on its reference data and reused for every window
    (the check's own window and the trend's). ``refused`` is set when it cannot estimate."""

    def __init__(
        self,
        model: ModelSpec,
        reference: pd.DataFrame | None,
        *,
        bootstrap: int = BOOTSTRAP,
        seed: int = 0,
    ) -> None:
        self.model = model
        self.target = model.columns.target or "target"
        self.prediction = model.columns.prediction
        self.score = model.columns.score
        self.calibration: Calibration | None = None
        self.positive: Any = None
        self.baseline: dict[str, float | None] = {}
        self.refused: str | None = None
        try:
            self._fit(reference, bootstrap, seed)
        except NotEstimable as exc:
            self.refused = str(exc)

    def _fit(self, reference: pd.DataFrame | None, bootstrap: int, seed: int) -> None:
        if self.model.task != "classification":
            raise NotEstimable("performance is estimated for classifiers only")
        if not self.score:
            raise NotEstimable("the model names no score column to calibrate")
        if reference is None or reference.empty:
            raise NotEstimable("there is no reference data to calibrate the scores on")
        for column, what in (
            (self.target, "labels"),
            (self.prediction, "predictions"),
            (self.score, "scores"),
        ):
            if column not in reference.columns:
                raise NotEstimable(f"the reference data has no {what} (column {column!r})")
        rows = reference[[self.target, self.prediction, self.score]].dropna()
        labels = pd.unique(np.concatenate([rows[self.target].to_numpy(), rows[self.prediction]]))
        if len(labels) > 2:
            raise NotEstimable(
                f"performance is estimated for two classes; the reference has {len(labels)}"
            )
        self.positive = resolve_positive(labels, self.model.positive_label)
        if self.positive is None:
            raise NotEstimable("the positive class cannot be told from the reference labels")
        scores = pd.to_numeric(rows[self.score], errors="coerce").to_numpy(dtype=float)
        truth = _is(rows[self.target].to_numpy(), self.positive)
        self.calibration = Calibration.fit(scores, truth, bootstrap=bootstrap, seed=seed)
        finite = np.isfinite(scores)
        values, _, _ = classification_metrics(
            rows[self.target].to_numpy()[finite],
            rows[self.prediction].to_numpy()[finite],
            scores[finite],
            self.positive,
        )
        self.baseline = values

    def estimate(
        self,
        current: pd.DataFrame,
        limits: PerformanceLimits | None = None,
        *,
        confidence: float = CONFIDENCE,
    ) -> PerformanceEstimate:
        """The estimated metrics of ``current`` (its labels, if any, are not looked at)."""
        n_rows = len(current)
        if self.refused is not None or self.calibration is None:
            return PerformanceEstimate(n_rows=n_rows, refused=self.refused)
        missing = [c for c in (self.prediction, self.score) if c not in current.columns]
        if missing:
            return PerformanceEstimate(
                n_rows=n_rows, refused=f"the window has no {' or '.join(map(repr, missing))} column"
            )
        scores = pd.to_numeric(current[self.score], errors="coerce").to_numpy(dtype=float)
        predictions = current[self.prediction]
        keep = np.isfinite(scores) & predictions.notna().to_numpy()
        n_scored = int(keep.sum())
        if n_scored < MIN_SCORED_ROWS:
            return PerformanceEstimate(
                n_rows=n_rows,
                n_scored=n_scored,
                refused=f"only {n_scored} scored rows in the window (need {MIN_SCORED_ROWS})",
            )
        scores = scores[keep]
        predicted = _is(predictions.to_numpy()[keep], self.positive)
        values = estimate_arrays(self.calibration, scores, predicted, confidence=confidence)
        config = limits or PerformanceLimits()
        metrics = {
            name: _judge(name, value, low, high, self.baseline.get(name), config)
            for name, (value, low, high) in values.items()
            if value is not None
        }
        notes = [
            f"estimated from {n_scored:,} scored rows, calibrated on "
            f"{self.calibration.n_reference:,} labelled reference rows; "
            f"band: {confidence:.0%} (label sampling and calibration error)"
        ]
        lo, hi = self.calibration.score_range
        outside = float(((scores < lo) | (scores > hi)).mean())
        if outside > OUT_OF_RANGE_NOTE:
            notes.append(
                f"{outside:.0%} of the window scores outside the reference's range "
                f"({lo:.3g}–{hi:.3g}): the calibration is extrapolated there"
            )
        return PerformanceEstimate(
            metrics=metrics,
            n_rows=n_rows,
            n_scored=n_scored,
            confidence=confidence,
            notes=tuple(notes),
        )


def _is(values: np.ndarray, positive: Any) -> np.ndarray:
    """Whether each value is the positive class, matched by value or text (1 vs "1")."""
    text = str(positive)
    return np.fromiter((v == positive or str(v) == text for v in values), bool, len(values))


def _judge(
    name: str,
    value: float,
    low: float | None,
    high: float | None,
    baseline: float | None,
    limits: PerformanceLimits,
) -> MetricEstimate:
    """An estimate against the same limits as a realized value, but it only ever warns: a band
    is not a measurement, so the breach (a page, an automatic retraining) waits for labels."""
    minimum = {
        "accuracy": limits.min_accuracy,
        "f1": limits.min_f1,
        "roc_auc": limits.min_roc_auc,
    }.get(name)
    label = _LABELS[name] if name in ("f1", "roc_auc") else name
    notes = []
    if minimum is not None and value < minimum:
        notes.append(f"estimated {label} {value:.3f} below the minimum {minimum:g}")
    dropped = baseline is not None and name in _HEADLINE and baseline - value > limits.max_drop / 2
    if dropped:
        assert baseline is not None
        notes.append(
            f"estimated {label} {value:.3f} is {baseline - value:.3f} below the reference "
            f"{baseline:.3f} (limit {limits.max_drop:g})"
        )
    verdict = Verdict.WARNING if notes else Verdict.HEALTHY
    return MetricEstimate(
        name, value, low, high, baseline, verdict, "; ".join(notes) or None, minimum, dropped
    )


def estimate_performance(
    model: ModelSpec,
    reference: pd.DataFrame | None,
    current: pd.DataFrame,
    limits: PerformanceLimits | None = None,
) -> PerformanceEstimate:
    """One-shot :class:`PerformanceEstimator` fit and estimate (fit once to reuse)."""
    return PerformanceEstimator(model, reference).estimate(current, limits)


__all__: Sequence[str] = (
    "BOOTSTRAP",
    "MIN_CLASS_LABELS",
    "MIN_REFERENCE_LABELS",
    "Calibration",
    "MetricEstimate",
    "NotEstimable",
    "PerformanceEstimate",
    "PerformanceEstimator",
    "estimate_arrays",
    "estimate_performance",
    "expected_metrics",
    "expected_roc_auc",
)
