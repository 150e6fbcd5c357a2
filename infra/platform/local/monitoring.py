"""What the monitoring jobs read from the local platform: reference data, labels, production
data and request metrics, each shaped from the request log (``telemetry``) as the port promises.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from infra.platform.base import SCORED_COLUMNS, EndpointState, InvalidRequestError, NotFoundError
from infra.platform.local import telemetry
from infra.platform.local.db import Database


def read_reference(path: Path, model: str) -> pd.DataFrame:
    """The reference data file (CSV or parquet); ``NotFoundError`` with a hint when missing."""
    if not path.is_file():
        raise NotFoundError(
            f"reference data for {model} not found at {path}",
            hint="run `mlops-bot demo` or set models[].reference_data",
        )
    return pd.read_csv(path) if path.suffix.lower() == ".csv" else pd.read_parquet(path)


def label_values(labels: pd.DataFrame | Mapping[str, Any], target: str | None) -> dict[str, Any]:
    """Labels by correlation id, from a mapping or a frame with ``correlation_id`` and
    ``target`` (``label`` when the model names no target column)."""
    if isinstance(labels, pd.DataFrame):
        target = target or "label"
        if "correlation_id" not in labels.columns or target not in labels.columns:
            raise InvalidRequestError(
                f"labels need columns 'correlation_id' and {target!r}, got {list(labels.columns)}"
            )
        return dict(zip(labels["correlation_id"].astype(str), labels[target], strict=True))
    return {str(k): v for k, v in labels.items()}


def arrived_labels(
    records: pd.DataFrame, db: Database, model: str, arrived_before: datetime | None
) -> dict[str, Any]:
    """The labels of ``records`` that have arrived: with ``arrived_before`` (now less the
    model's ``label_delay``), only those of requests made before it, as on a platform whose
    labels are written days after the request; the younger requests' labels are not looked up."""
    if arrived_before is not None:
        records = records[records["timestamp"] < telemetry.utc_timestamp(arrived_before)]
    return telemetry.lookup_labels(db, model, records["correlation_id"].astype(str).tolist())


def production_data(
    records: pd.DataFrame,
    db: Database,
    model: str,
    columns: Any,
    arrived_before: datetime | None = None,
) -> pd.DataFrame:
    """Logged requests joined with the labels arrived so far, in the model's column names.
    Probe requests are not production data: they are left out."""
    records = records[~records["probe"].astype(bool)]
    known = arrived_labels(records, db, model, arrived_before)
    return telemetry.production_frame(records, known, columns)


def check_window(start: datetime, end: datetime, interval_minutes: int) -> None:
    if interval_minutes < 1:
        raise InvalidRequestError(f"interval_minutes must be at least 1, got {interval_minutes}")
    if telemetry.utc_timestamp(end) <= telemetry.utc_timestamp(start):
        raise InvalidRequestError(f"the window must end after it starts ({start} .. {end})")


def deployment_metrics(
    records: pd.DataFrame,
    state: EndpointState,
    start: datetime,
    end: datetime,
    *,
    deployment: str | None,
    interval_minutes: int,
    include_probes: bool = False,
) -> pd.DataFrame:
    """Metrics of the endpoint's live requests, or of everything one deployment served
    (mirrored requests included); ``NotFoundError`` for a deployment never seen. Probe
    requests (the rollout's health gate) count only with ``include_probes``."""
    records = records[records["endpoint"] == state.endpoint]
    if not include_probes:
        records = records[~records["probe"].astype(bool)]
    if deployment is not None:
        current = next((d for d in state.deployments if d.name == deployment), None)
        records = records[records["deployment"] == deployment]
        if current is None and records.empty:
            state.deployment(deployment)  # raises NotFoundError naming the endpoint
        fallback = current.instance_count if current is not None else None
    else:
        records = records[~records["mirrored"].astype(bool)]
        fallback = sum(d.instance_count for d in state.deployments) or None
    return telemetry.request_metrics(
        records, start, end, interval_minutes=interval_minutes, instance_count=fallback
    )


def scored_requests(
    records: pd.DataFrame,
    db: Database,
    model: str,
    state: EndpointState,
    deployments: Any,
    arrived_before: datetime | None = None,
) -> pd.DataFrame:
    """What the named deployments of the endpoint answered, live and mirrored (not probes),
    with the labels arrived so far, in :data:`infra.platform.base.SCORED_COLUMNS`."""
    wanted = {str(d) for d in deployments}
    records = records[
        (records["endpoint"] == state.endpoint)
        & ~records["probe"].astype(bool)
        & records["deployment"].isin(wanted)
    ].reset_index(drop=True)
    known = arrived_labels(records, db, model, arrived_before)
    frame = records.assign(
        label=records["correlation_id"].map(known) if known else None,
        mirrored=records["mirrored"].astype(bool),
    )
    return frame[list(SCORED_COLUMNS)]
