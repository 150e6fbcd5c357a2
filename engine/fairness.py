"""Fairness across a sensitive feature: per-group metrics and the two disparity measures.

Definitions are fairlearn's (``fairlearn.metrics``):

* demographic parity difference = max − min over groups of the selection rate P(ŷ = positive);
* equalized odds difference = the larger of (max − min of the true positive rate) and
  (max − min of the false positive rate) over groups.

Groups with fewer than ``min_group_rows`` labelled rows are shown but left out of the two
differences (a group of 3 people swings a rate by 33 points); likewise a group's true positive
rate counts only with that many actual positives, its false positive rate only with that many
actual negatives. The note says what was left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.verdict import Verdict


@dataclass(frozen=True)
class GroupMetrics:
    group: str
    count: int
    selection_rate: float | None = None
    accuracy: float | None = None
    true_positive_rate: float | None = None
    false_positive_rate: float | None = None
    mae: float | None = None
    """Regression: mean absolute error within the group."""
    positives: int = 0
    """Rows whose true label is the positive class (the true positive rate's denominator)."""
    negatives: int = 0
    included: bool = True
    """False when the group was too small to count towards the differences."""


@dataclass(frozen=True)
class FairnessResult:
    feature: str
    groups: tuple[GroupMetrics, ...]
    demographic_parity_difference: float | None
    equalized_odds_difference: float | None
    max_demographic_parity_difference: float
    max_equalized_odds_difference: float
    verdict: Verdict
    note: str | None = None

    @property
    def breaches(self) -> list[str]:
        found = []
        dp, eo = self.demographic_parity_difference, self.equalized_odds_difference
        if dp is not None and dp > self.max_demographic_parity_difference:
            found.append(
                f"demographic parity difference {dp:.3f} > {self.max_demographic_parity_difference:g}"
            )
        if eo is not None and eo > self.max_equalized_odds_difference:
            found.append(
                f"equalized odds difference {eo:.3f} > {self.max_equalized_odds_difference:g}"
            )
        return found


def _rate(mask: np.ndarray, of: np.ndarray) -> float | None:
    total = int(of.sum())
    return float((mask & of).sum() / total) if total else None


def _spread(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return float(max(present) - min(present)) if len(present) >= 2 else None


def classification_fairness(
    feature: str,
    groups: pd.Series,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    positive: object | None,
    *,
    max_dp: float,
    max_eo: float,
    min_group_rows: int = 30,
) -> FairnessResult:
    """Per-group selection rate, accuracy, TPR, FPR, and fairlearn's two differences.

    Without a positive label (multiclass) only per-group accuracy is reported.
    """
    keys = groups.astype(object).where(groups.notna(), "(missing)").astype(str).to_numpy()
    correct = np.asarray(y_true == y_pred)
    binary = positive is not None
    positive_true = np.asarray(y_true == positive) if binary else np.zeros(len(keys), dtype=bool)
    positive_pred = np.asarray(y_pred == positive) if binary else np.zeros(len(keys), dtype=bool)
    metrics: list[GroupMetrics] = []
    for key in sorted(set(keys.tolist())):
        in_group = keys == key
        count = int(in_group.sum())
        metrics.append(
            GroupMetrics(
                group=key,
                count=count,
                selection_rate=float(positive_pred[in_group].mean()) if binary else None,
                accuracy=float(correct[in_group].mean()),
                true_positive_rate=_rate(positive_pred, in_group & positive_true)
                if binary
                else None,
                false_positive_rate=_rate(positive_pred, in_group & ~positive_true)
                if binary
                else None,
                included=count >= min_group_rows,
                positives=int((in_group & positive_true).sum()),
                negatives=int((in_group & ~positive_true).sum()) if binary else 0,
            )
        )
    included = [m for m in metrics if m.included]
    dp = _spread([m.selection_rate for m in included])
    tpr_gap = _spread([m.true_positive_rate for m in included if m.positives >= min_group_rows])
    fpr_gap = _spread([m.false_positive_rate for m in included if m.negatives >= min_group_rows])
    gaps = [g for g in (tpr_gap, fpr_gap) if g is not None]
    eo = max(gaps) if gaps else None
    notes = []
    if binary:
        few_pos = [m.group for m in included if m.positives < min_group_rows]
        few_neg = [m.group for m in included if m.negatives < min_group_rows]
        if few_pos:
            notes.append(
                f"true positive rate left out for groups with under {min_group_rows} positives: {', '.join(few_pos)}"
            )
        if few_neg:
            notes.append(
                f"false positive rate left out for groups with under {min_group_rows} negatives: {', '.join(few_neg)}"
            )
    return _result(feature, metrics, dp, eo, max_dp, max_eo, min_group_rows, notes)


def regression_fairness(
    feature: str,
    groups: pd.Series,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    *,
    max_dp: float,
    max_eo: float,
    min_group_rows: int = 30,
) -> FairnessResult:
    """Per-group MAE; parity differences are classification notions and are left empty."""
    keys = groups.astype(object).where(groups.notna(), "(missing)").astype(str).to_numpy()
    errors = np.abs(np.asarray(y_true, dtype=float) - np.asarray(y_pred, dtype=float))
    metrics = [
        GroupMetrics(
            group=key,
            count=int((keys == key).sum()),
            mae=float(errors[keys == key].mean()),
            included=int((keys == key).sum()) >= min_group_rows,
        )
        for key in sorted(set(keys.tolist()))
    ]
    return _result(feature, metrics, None, None, max_dp, max_eo, min_group_rows)


def _result(
    feature: str,
    metrics: list[GroupMetrics],
    dp: float | None,
    eo: float | None,
    max_dp: float,
    max_eo: float,
    min_group_rows: int,
    extra_notes: list[str] | None = None,
) -> FairnessResult:
    small = [m.group for m in metrics if not m.included]
    notes = list(extra_notes or [])
    if small:
        notes.append(
            f"groups under {min_group_rows} rows left out of the differences: {', '.join(small)}"
        )
    if sum(1 for m in metrics if m.included) < 2:
        notes.append("fewer than two groups large enough to compare")
        verdict = Verdict.NO_DATA
    else:
        over = (dp is not None and dp > max_dp) or (eo is not None and eo > max_eo)
        near = (dp is not None and dp > max_dp / 2) or (eo is not None and eo > max_eo / 2)
        verdict = Verdict.BREACH if over else Verdict.WARNING if near else Verdict.HEALTHY
    return FairnessResult(
        feature=feature,
        groups=tuple(metrics),
        demographic_parity_difference=dp,
        equalized_odds_difference=eo,
        max_demographic_parity_difference=max_dp,
        max_equalized_odds_difference=max_eo,
        verdict=verdict,
        note="; ".join(notes) or None,
    )
