"""Routing scoring requests by the endpoint's traffic split, and the request records it makes.

Each row is sent to one live deployment drawn with the split's weights (what an Azure ML
endpoint's load balancer does per request); every deployment with mirror traffic also scores its
share of rows as a shadow, whose answers are logged but never returned. Rows routed to the same
deployment are scored as one batch, and each row's record carries that batch's measured latency,
CPU and memory.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from infra.platform.base import Deployment, EndpointState, InvalidRequestError
from infra.platform.local.serving import BatchResult
from infra.platform.local.telemetry import RECORD_COLUMNS, utc_timestamp

#: Columns of :meth:`LocalPlatform.score`'s answer, in order.
RESULT_COLUMNS = (
    "correlation_id",
    "request_id",
    "deployment",
    "model_version",
    "prediction",
    "score",
    "error",
    "error_message",
    "latency_ms",
)


@dataclass(frozen=True)
class Requests:
    """The rows of one scoring call with their ids and arrival times."""

    frame: pd.DataFrame
    timestamps: pd.Series
    correlation_ids: list[str]
    request_ids: list[str]

    @classmethod
    def build(
        cls,
        frame: pd.DataFrame,
        *,
        now: datetime,
        timestamps: Any = None,
        correlation_ids: Sequence[str] | None = None,
        request_ids: Sequence[str] | None = None,
    ) -> Requests:
        count = len(frame)
        correlation = (
            [str(c) for c in correlation_ids]
            if correlation_ids is not None
            else [uuid.uuid4().hex for _ in range(count)]
        )
        # Without ids, the whole call is one request (one HTTP call carrying several rows).
        requests = (
            [str(r) for r in request_ids] if request_ids is not None else [uuid.uuid4().hex] * count
        )
        if len(correlation) != count or len(requests) != count:
            raise InvalidRequestError("correlation_ids and request_ids need one entry per row")
        return cls(
            frame.reset_index(drop=True), _timestamps(timestamps, count, now), correlation, requests
        )


def route(
    requests: Requests,
    state: EndpointState,
    score: Callable[[Deployment, pd.DataFrame], BatchResult],
    *,
    seed: int | None = None,
    probe: bool = False,
) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """Score the requests through the split; returns (answers in input order, records to log).
    ``probe`` marks the records as the rollout's probes, not live traffic."""
    serving = [d for d in state.deployments if d.traffic > 0]
    count = len(requests.frame)
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(serving), size=count, p=[d.traffic / 100 for d in serving])
    batches = [(d, np.flatnonzero(chosen == i), False) for i, d in enumerate(serving)]
    for deployment in state.deployments:
        if deployment.mirror_traffic:
            shadowed = np.flatnonzero(rng.random(count) < deployment.mirror_traffic / 100)
            batches.append((deployment, shadowed, True))

    inputs = requests.frame.drop(columns=[c for c in requests.frame.columns if c in RECORD_COLUMNS])
    answers: dict[str, np.ndarray] = {
        "deployment": np.full(count, None, dtype=object),
        "model_version": np.full(count, None, dtype=object),
        "prediction": np.full(count, None, dtype=object),
        "score": np.full(count, np.nan),
        "error": np.zeros(count, dtype=bool),
        "error_message": np.full(count, None, dtype=object),
        "latency_ms": np.full(count, np.nan),
    }
    records: list[pd.DataFrame] = []
    for deployment, positions, mirrored in batches:
        if not len(positions):
            continue
        batch = score(deployment, requests.frame.iloc[positions].reset_index(drop=True))
        outcome = _outcome(deployment, batch, len(positions))
        meta = pd.DataFrame(
            {
                "timestamp": requests.timestamps.iloc[positions].to_numpy(),
                "request_id": np.asarray(requests.request_ids, dtype=object)[positions],
                "correlation_id": np.asarray(requests.correlation_ids, dtype=object)[positions],
                "endpoint": state.endpoint,
                "mirrored": mirrored,
                "probe": probe,
                **outcome,
                "cpu_percent": batch.cpu_percent,
                "memory_percent": batch.memory_percent,
                "instance_count": deployment.instance_count,
            }
        )
        meta["timestamp"] = pd.to_datetime(meta["timestamp"], utc=True)
        records.append(pd.concat([inputs.iloc[positions].reset_index(drop=True), meta], axis=1))
        if not mirrored:
            for column, values in outcome.items():
                answers[column][positions] = values
    result = pd.DataFrame(
        {"correlation_id": requests.correlation_ids, "request_id": requests.request_ids, **answers}
    )
    return result[list(RESULT_COLUMNS)], records


def _outcome(deployment: Deployment, batch: BatchResult, size: int) -> dict[str, np.ndarray]:
    return {
        "deployment": np.full(size, deployment.name, dtype=object),
        "model_version": np.full(size, deployment.model_version, dtype=object),
        "prediction": _objects(batch.predictions),
        "score": np.array(batch.scores, dtype="float64"),
        "error": np.array([e is not None for e in batch.errors], dtype=bool),
        "error_message": _objects(batch.errors),
        "latency_ms": np.full(size, batch.latency_ms),
    }


def _objects(values: Sequence[Any]) -> np.ndarray:
    """A 1-D object array, even when the values are themselves sequences."""
    array = np.empty(len(values), dtype=object)
    array[:] = list(values)
    return array


def _timestamps(given: Any, count: int, now: datetime) -> pd.Series:
    if given is None:
        return pd.Series([utc_timestamp(now)] * count, dtype="datetime64[ns, UTC]")
    if isinstance(given, datetime):
        return pd.Series([utc_timestamp(given)] * count, dtype="datetime64[ns, UTC]")
    stamps = pd.Series(pd.to_datetime(list(given), utc=True))
    if len(stamps) != count:
        raise InvalidRequestError(f"expected {count} timestamps, got {len(stamps)}")
    return stamps.reset_index(drop=True)
