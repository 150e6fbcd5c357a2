"""The Azure ML data collector's file format, without any SDK: JSON Lines of CloudEvents under
``<deployment>/<collection>/yyyy/MM/dd/HH/<instance>.jsonl``, ``model_inputs`` and
``model_outputs`` of one request sharing a ``correlationid``.

Two readers use it: the bot's Azure adapter (:mod:`infra.platform.azure.datasets`, downloading
blobs with its own identity) and a check job on the platform's compute (:mod:`jobs.checkjob`),
which reads the same folders mounted into the job, so production data need never leave the
workspace. Kept free of azure-* imports so the job starts quickly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

COLLECTOR_ROOT = "modelDataCollector"
INPUTS, OUTPUTS = "model_inputs", "model_outputs"
CORRELATION = "correlationid"
ROW = "_row"
DEPLOYMENT_COLUMN = "deployment"
_HOUR_IN_PATH = re.compile(r"/(\d{4})/(\d{2})/(\d{2})/(\d{2})/[^/]+$")


def days_in(start: datetime, end: datetime) -> Iterator[datetime]:
    day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    while day < end:
        yield day
        day += timedelta(days=1)


def hour_of(blob_name: str) -> datetime | None:
    match = _HOUR_IN_PATH.search(blob_name)
    if not match:
        return None
    year, month, day, hour = (int(g) for g in match.groups())
    return datetime(year, month, day, hour, tzinfo=UTC)


def parse_events(raw: bytes, deployment: str) -> Iterator[tuple[dict[str, Any], Any]]:
    """(event envelope, one data row) for every row of every CloudEvent in a JSONL file."""
    for line in raw.decode("utf-8").splitlines():
        if not line.strip():
            continue
        event = json.loads(line)
        data = event.get("data")
        rows = data if isinstance(data, list) else [data]
        for index, row in enumerate(rows):
            envelope = {
                CORRELATION: event.get(CORRELATION) or event.get("id"),
                ROW: index,
                "_time": event.get("time"),
                DEPLOYMENT_COLUMN: deployment,
            }
            yield envelope, row


def collected_frame(
    events: Iterator[tuple[dict[str, Any], Any]], prediction_column: str
) -> pd.DataFrame:
    """Rows that are objects become columns; scalar outputs become the prediction column."""
    records = []
    for envelope, row in events:
        record = dict(envelope)
        if isinstance(row, dict):
            record.update(row)
        else:
            record[prediction_column] = row
        records.append(record)
    return pd.DataFrame.from_records(records)


def assemble(
    inputs: pd.DataFrame,
    outputs: pd.DataFrame,
    features: Sequence[str],
    prediction: str,
    timestamp: str,
    start: datetime,
    end: datetime,
) -> pd.DataFrame:
    """Inputs joined with their outputs row by row, in ``[start, end)``, oldest first."""
    if inputs.empty:
        return pd.DataFrame(columns=[*features, prediction, timestamp])
    keys = [CORRELATION, ROW, DEPLOYMENT_COLUMN]
    if not outputs.empty:
        outputs = outputs.drop(columns=["_time"]).drop_duplicates(subset=keys)
        inputs = inputs.merge(outputs, on=keys, how="left", suffixes=("", "_output"))
    inputs[timestamp] = pd.to_datetime(inputs.pop("_time"), utc=True, format="ISO8601")
    inside = (inputs[timestamp] >= pd.Timestamp(start)) & (inputs[timestamp] < pd.Timestamp(end))
    frame = inputs.loc[inside].drop(columns=[ROW])
    return frame.sort_values(timestamp).reset_index(drop=True)


def read_folder(
    root: Path,
    features: Sequence[str],
    prediction: str,
    timestamp: str,
    start: datetime,
    end: datetime,
) -> pd.DataFrame:
    """The window from an endpoint's collector folder (``root/<deployment>/<collection>/...``)
    on a local or mounted file system, opening only the hour folders inside the window."""
    first_hour = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    end = end.astimezone(UTC)
    frames: dict[str, list[pd.DataFrame]] = {INPUTS: [], OUTPUTS: []}
    deployments = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    for deployment in deployments:
        for collection, found in frames.items():
            for day in days_in(first_hour, end):
                folder = deployment / collection / f"{day:%Y/%m/%d}"
                for path in sorted(folder.glob("*/*.jsonl")) if folder.is_dir() else ():
                    hour = hour_of(path.as_posix())
                    if hour is None or not first_hour <= hour < end:
                        continue
                    events = parse_events(path.read_bytes(), deployment.name)
                    found.append(collected_frame(events, prediction))
    inputs = pd.concat(frames[INPUTS], ignore_index=True) if frames[INPUTS] else pd.DataFrame()
    outputs = pd.concat(frames[OUTPUTS], ignore_index=True) if frames[OUTPUTS] else pd.DataFrame()
    return assemble(inputs, outputs, features, prediction, timestamp, start, end)
