"""In-process model serving: loading artifacts, shaping requests, scoring batches.

A batch that fails as a whole is retried row by row so one malformed request is flagged as an
error without failing its neighbours, which is what an HTTP endpoint serving them one at a time
would do. CPU and memory are measured around each batch: the process's CPU time over the wall
time and the machine's cores (so 100% means every core busy, as for an instance), and resident
memory over physical memory. That is the closest the local platform gets to instance metrics.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import psutil
from threadpoolctl import ThreadpoolController

from infra.platform.base import (
    EndpointState,
    InvalidRequestError,
    NotFoundError,
    SmokeTestResult,
)

_PROCESS = psutil.Process()
_CPUS = os.cpu_count() or 1
SAMPLE_ROWS = 5


class ModelCache:
    """Loaded artifacts by path (reloaded when the file changes); shared by all threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[Path, tuple[float, Any]] = {}

    def load(self, path: Path) -> Any:
        try:
            mtime = path.stat().st_mtime
        except OSError as exc:
            raise InvalidRequestError(f"model artifact {path} is missing: {exc}") from exc
        with self._lock:
            cached = self._models.get(path)
            if cached is not None and cached[0] == mtime:
                return cached[1]
        try:
            loaded = joblib.load(path)
        except Exception as exc:
            raise InvalidRequestError(
                f"model artifact {path.name} cannot be loaded: {exc}"
            ) from exc
        if not hasattr(loaded, "predict"):
            raise InvalidRequestError(
                f"model artifact {path.name} holds a {type(loaded).__name__}, not a model with predict()"
            )
        with self._lock:
            self._models[path] = (mtime, loaded)
        return loaded


def sample_frame(sample: Any) -> pd.DataFrame:
    """Turn a request payload into rows.

    Accepted shapes: a DataFrame; a list of row objects; one row object (feature -> value); a
    column mapping (feature -> list); ``{"columns": [...], "data": [[...]]}`` (pandas split /
    MLflow); and any of these wrapped in ``{"input_data": ...}`` or ``{"data": ...}``.
    """
    if isinstance(sample, pd.DataFrame):
        return sample.reset_index(drop=True)
    if isinstance(sample, Mapping):
        if "input_data" in sample and len(sample) == 1:
            return sample_frame(sample["input_data"])
        if "columns" in sample and "data" in sample:
            try:
                return pd.DataFrame(list(sample["data"]), columns=list(sample["columns"]))
            except (TypeError, ValueError) as exc:
                raise InvalidRequestError(
                    f"sample 'data' does not match its 'columns': {exc}"
                ) from exc
        if "data" in sample and len(sample) == 1:
            return sample_frame(sample["data"])
        if not sample:
            raise InvalidRequestError("the sample is empty; expected feature values")
        values = list(sample.values())
        if all(isinstance(v, list | tuple | np.ndarray) for v in values):
            lengths = {len(v) for v in values}
            if len(lengths) != 1:
                raise InvalidRequestError("sample columns have different lengths")
            return pd.DataFrame({str(k): list(v) for k, v in sample.items()})
        if any(isinstance(v, Mapping | list | tuple) for v in values):
            raise InvalidRequestError(
                "expected one row (feature -> value), columns (feature -> list) or "
                '{"columns": [...], "data": [[...]]}'
            )
        return pd.DataFrame([dict(sample)])
    if isinstance(sample, Sequence) and not isinstance(sample, str | bytes):
        if not sample:
            raise InvalidRequestError("the sample is empty; expected at least one row")
        if all(isinstance(row, Mapping) for row in sample):
            return pd.DataFrame([dict(row) for row in sample])
        raise InvalidRequestError(
            "a list sample must hold row objects (feature -> value); bare value lists need "
            '{"columns": [...], "data": [[...]]}'
        )
    raise InvalidRequestError(
        f"cannot read a sample of type {type(sample).__name__}; expected rows of feature values"
    )


def required_features(model: Any, configured: Sequence[str]) -> list[str]:
    """The columns the model was fitted on, else the configured features."""
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        return [str(n) for n in names]
    return list(configured)


@dataclass
class BatchResult:
    predictions: list[Any]
    scores: list[float | None]
    errors: list[str | None]
    latency_ms: float
    cpu_percent: float
    memory_percent: float


def _positive_column(model: Any, positive_label: Any) -> int:
    classes = list(getattr(model, "classes_", []))
    if positive_label is not None:
        for i, label in enumerate(classes):
            if label == positive_label or str(label) == str(positive_label):
                return i
    return len(classes) - 1


def _single_threaded() -> Any:
    """Request-sized batches score faster on one thread: OpenMP start-up per tree costs more
    than the work, and the bot's other threads need the remaining cores."""
    global _THREADPOOLS
    if _THREADPOOLS is None:
        _THREADPOOLS = ThreadpoolController()
    return _THREADPOOLS.limit(limits=1, user_api="openmp")


_THREADPOOLS: ThreadpoolController | None = None


def _predict(
    model: Any, frame: pd.DataFrame, task: str, positive_label: Any
) -> tuple[list[Any], list[float | None]]:
    with _single_threaded():
        if (
            task == "classification"
            and hasattr(model, "predict_proba")
            and hasattr(model, "classes_")
        ):
            # One pass: the predicted class is the most probable one, as predict() would say.
            probabilities = model.predict_proba(frame)
            predictions = np.asarray(model.classes_)[probabilities.argmax(axis=1)]
            positive = probabilities[:, _positive_column(model, positive_label)]
            scores: list[float | None] = [float(p) for p in positive]
        else:
            predictions = model.predict(frame)
            scores = [None] * len(frame)
    return [p.item() if isinstance(p, np.generic) else p for p in predictions], scores


def score_batch(
    model: Any,
    rows: pd.DataFrame,
    *,
    features: Sequence[str],
    task: str,
    positive_label: Any,
) -> BatchResult:
    """Score ``rows`` with ``model``; per-row errors instead of an exception."""
    started, cpu_started = time.perf_counter(), time.process_time()
    count = len(rows)
    missing = [f for f in features if f not in rows.columns]
    predictions: list[Any] = [None] * count
    scores: list[float | None] = [None] * count
    errors: list[str | None] = [None] * count
    if missing:
        errors = [f"missing features: {', '.join(missing)}"] * count
    elif count:
        inputs = rows.loc[:, list(features)]
        try:
            predictions, scores = _predict(model, inputs, task, positive_label)
        except Exception:
            for i in range(count):
                try:
                    (predictions[i],), (scores[i],) = _predict(
                        model, inputs.iloc[[i]], task, positive_label
                    )
                except Exception as exc:
                    errors[i] = f"{type(exc).__name__}: {exc}"[:500]
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    cpu_percent = min(100.0, 100.0 * cpu / max(elapsed, 1e-9) / _CPUS)
    memory_percent = 100.0 * _PROCESS.memory_info().rss / psutil.virtual_memory().total
    return BatchResult(predictions, scores, errors, elapsed * 1000.0, cpu_percent, memory_percent)


# --------------------------------------------------------------------------- a configured model


def default_sample(config: Any, reference: Callable[[], pd.DataFrame]) -> pd.DataFrame | None:
    """What a deployment is validated with: the configured ``sample_request``, else the first
    rows of the reference data (``reference``) on the model's features; None without either."""
    if config.sample_request:
        return sample_frame(config.sample_request)
    try:
        frame = reference()
    except NotFoundError:
        return None
    features = [f for f in config.features.all if f in frame.columns]
    if not features:
        columns = config.columns
        excluded = {columns.target, columns.prediction, columns.score, columns.timestamp}
        features = [c for c in frame.columns if c not in excluded]
    return frame.head(SAMPLE_ROWS)[features].reset_index(drop=True)


def score_with_config(config: Any, loaded: Any, frame: pd.DataFrame) -> BatchResult:
    """Score ``frame`` with a loaded model as the model's configuration says."""
    return score_batch(
        loaded,
        frame,
        features=required_features(loaded, config.features.all),
        task=config.task,
        positive_label=config.positive_label,
    )


def is_empty(sample: Any) -> bool:
    """True for no sample at all: None, an empty frame, mapping or list."""
    if sample is None:
        return True
    if isinstance(sample, pd.DataFrame):
        return sample.empty
    return isinstance(sample, Mapping | list | tuple) and len(sample) == 0


def smoke_result(config: Any, loaded: Any, frame: pd.DataFrame, where: str) -> SmokeTestResult:
    """Score a smoke-test sample on one loaded model and say how it went."""
    result = score_with_config(config, loaded, frame)
    failures = [e for e in result.errors if e]
    if failures:
        detail = f"{where} failed on {len(failures)} of {len(frame)} row(s): {failures[0]}"
    else:
        shown = ", ".join(str(p) for p in result.predictions[:5])
        detail = f"{where} scored {len(frame)} row(s) in {result.latency_ms:.1f} ms: [{shown}]"
    return SmokeTestResult(
        ok=not failures,
        latency_ms=result.latency_ms,
        detail=detail,
        response={"predictions": result.predictions, "scores": result.scores},
    )


def pinned_to(state: EndpointState, deployment: str) -> EndpointState:
    """``state`` with all live traffic on ``deployment`` and no mirroring (probe requests go
    through the endpoint's routing to that one deployment)."""
    return dataclasses.replace(
        state,
        deployments=tuple(
            dataclasses.replace(d, traffic=100 if d.name == deployment else 0, mirror_traffic=0)
            for d in state.deployments
        ),
    )
