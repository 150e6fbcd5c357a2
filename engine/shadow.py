"""Shadow comparison: how a candidate version answered the same live requests as the version
serving them (the requests mirrored to it), as evidence for an approver.

Pure computation on two frames of scored requests, one per version, with the columns
``correlation_id``, ``prediction``, ``score`` (optional), ``label`` (where known),
``latency_ms`` and ``error`` (optional; absent when the platform measures latency elsewhere)
and ``request_id`` (optional: rows of one request share its latency). Requests are paired by
correlation id when the platform keeps it on the mirrored copy; without pairs only the two
distributions are compared (PSI), which the result says.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from engine.stats import counts_in_bins, psi, quantile_edges

#: Bins of the score distributions compared by PSI (equal-mass bins of the serving scores).
PSI_BINS = 10


@dataclass(frozen=True)
class LatencySummary:
    """Requests, p50 / p99 latency (ms) and error rate of one version over the window."""

    requests: int = 0
    p50_ms: float | None = None
    p99_ms: float | None = None
    error_rate: float | None = None


@dataclass(frozen=True)
class ShadowComparison:
    """The evidence lines of a shadow evaluation (plain values, JSON-ready via :meth:`as_dict`)."""

    candidate_requests: int = 0
    serving_requests: int = 0
    paired: int = 0
    """Requests scored by both versions and joined by correlation id."""
    joinable: bool = True
    """False when the platform could not pair the two versions' answers (distributions only)."""
    agreement: float | None = None
    """Classification: share of paired requests with the same label."""
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)
    """Classification: serving label -> candidate label -> paired requests."""
    mean_abs_difference: float | None = None
    """Regression: mean |candidate − serving| over paired requests."""
    psi: float | None = None
    """Shift of the candidate's score (or prediction) distribution from the serving one's."""
    labelled: int = 0
    """Paired requests whose label is known."""
    serving_accuracy: float | None = None
    candidate_accuracy: float | None = None
    """Classification: accuracy; regression: mean absolute error (lower is better)."""
    serving_latency: LatencySummary = field(default_factory=LatencySummary)
    candidate_latency: LatencySummary = field(default_factory=LatencySummary)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ShadowComparison:
        values = dict(raw)
        for key in ("serving_latency", "candidate_latency"):
            values[key] = LatencySummary(**dict(values.get(key) or {}))
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in values.items() if k in known})


def latency_summary(records: pd.DataFrame) -> LatencySummary:
    """p50 / p99 over requests (the rows of one request share one latency) and the error rate."""
    if records.empty:
        return LatencySummary()
    frame = records
    measured = [c for c in ("latency_ms", "error") if c in frame.columns]
    if (
        "request_id" in frame.columns
        and frame["request_id"].notna().all()
        and frame["request_id"].duplicated().any()
    ):
        frame = frame.groupby("request_id", sort=False)[measured].max()
    latency = (
        pd.to_numeric(frame["latency_ms"], errors="coerce").dropna()
        if "latency_ms" in frame.columns
        else pd.Series(dtype=float)
    )
    errors = frame["error"].astype(bool) if "error" in frame.columns else None
    return LatencySummary(
        requests=len(frame),
        p50_ms=float(latency.quantile(0.5)) if len(latency) else None,
        p99_ms=float(latency.quantile(0.99)) if len(latency) else None,
        error_rate=float(errors.mean()) if errors is not None and len(errors) else None,
    )


def distribution_shift(serving: np.ndarray, candidate: np.ndarray) -> float | None:
    """PSI of the candidate's values against the serving version's, on equal-mass bins of the
    serving values (the engine's drift statistic); None when either side is empty."""
    serving = np.sort(serving[np.isfinite(serving)])
    candidate = np.sort(candidate[np.isfinite(candidate)])
    if not len(serving) or not len(candidate):
        return None
    edges = quantile_edges(serving, PSI_BINS)
    return psi(counts_in_bins(serving, edges), counts_in_bins(candidate, edges))


def _values(frame: pd.DataFrame, task: str) -> np.ndarray:
    column = "score" if task == "classification" and "score" in frame.columns else "prediction"
    if column not in frame.columns:
        return np.empty(0)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)


def _labels(values: pd.Series) -> pd.Series:
    """Labels as text, so 1, 1.0 and "1" are one class (scores and labels come in many types)."""
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().all() and (numeric % 1 == 0).all():
        return numeric.astype("int64").astype(str)
    return values.astype(str)


def _answered(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows with a prediction (failed requests have none)."""
    if "error" in frame.columns:
        frame = frame[~frame["error"].fillna(False).astype(bool)]
    return frame[frame["prediction"].notna()] if "prediction" in frame.columns else frame


def compare_shadow(
    serving: pd.DataFrame,
    candidate: pd.DataFrame,
    *,
    task: str = "classification",
    joinable: bool = True,
) -> ShadowComparison:
    """Every evidence line the frames allow (see the module docstring for their columns).

    ``serving`` should be the serving version's requests of the same window; when the two
    can be joined (``joinable``) agreement, confusion and accuracies use only paired requests,
    so both versions are judged on exactly the same inputs."""
    serving_ok, candidate_ok = _answered(serving), _answered(candidate)
    old_latency, new_latency = latency_summary(serving), latency_summary(candidate)
    result: dict[str, Any] = {
        "candidate_requests": new_latency.requests,
        "serving_requests": old_latency.requests,
        "joinable": joinable,
        "psi": distribution_shift(_values(serving_ok, task), _values(candidate_ok, task)),
        "serving_latency": old_latency,
        "candidate_latency": new_latency,
    }
    if not joinable or "correlation_id" not in serving.columns:
        return ShadowComparison(**{**result, "joinable": False})
    left = serving_ok.drop_duplicates("correlation_id").set_index("correlation_id")
    right = candidate_ok.drop_duplicates("correlation_id").set_index("correlation_id")
    common = left.index.intersection(right.index)
    result["paired"] = len(common)
    if not len(common):
        return ShadowComparison(**result)
    old, new = left.loc[common, "prediction"], right.loc[common, "prediction"]
    labels = left.loc[common, "label"] if "label" in left.columns else pd.Series(dtype=object)
    if "label" in right.columns:  # either side may carry the label
        labels = (
            labels.combine_first(right.loc[common, "label"])
            if len(labels)
            else right.loc[common, "label"]
        )
    known = labels.notna() if len(labels) else pd.Series(False, index=common)
    result["labelled"] = int(known.sum())
    if task == "classification":
        old_l, new_l = _labels(old), _labels(new)
        result["agreement"] = float((old_l == new_l).mean())
        table = pd.crosstab(old_l, new_l)
        result["confusion"] = {
            str(r): {str(c): int(table.loc[r, c]) for c in table.columns} for r in table.index
        }
        if result["labelled"]:
            truth = _labels(labels[known])
            result["serving_accuracy"] = float((old_l[known] == truth).mean())
            result["candidate_accuracy"] = float((new_l[known] == truth).mean())
    else:
        a = pd.to_numeric(old, errors="coerce")
        b = pd.to_numeric(new, errors="coerce")
        diff = (b - a).abs().dropna()
        result["mean_abs_difference"] = float(diff.mean()) if len(diff) else None
        if result["labelled"]:
            truth = pd.to_numeric(labels[known], errors="coerce")
            result["serving_accuracy"] = float((a[known] - truth).abs().mean())
            result["candidate_accuracy"] = float((b[known] - truth).abs().mean())
    return ShadowComparison(**_finite(result))


def _finite(values: dict[str, Any]) -> dict[str, Any]:
    """NaN is not JSON: an undefined statistic is None."""
    return {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in values.items()
    }
