"""Request logs as daily parquet partitions, labels, and the metrics derived from them.

Every scored row is one record: its inputs, prediction and score, which deployment served it,
the measured latency, CPU and memory of its batch, whether it failed, and its request and
correlation ids. Records are buffered and written as immutable parquet parts under
``traffic/<model>/<YYYY-MM-DD>/`` (a part is written to a temporary name and renamed, so readers
in other processes never see half a file). A window query opens only the day directories it
overlaps. Days with many small parts (live traffic) are compacted under an exclusive file lock.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from infra.platform.base import METRIC_COLUMNS
from infra.platform.local.db import Database, labels, utcnow
from infra.platform.local.layout import EnvLayout

try:  # POSIX only; without it compaction is skipped and parts simply accumulate
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

#: Columns the platform writes; input columns with these names are not stored.
RECORD_COLUMNS: tuple[str, ...] = (
    "timestamp",
    "request_id",
    "correlation_id",
    "endpoint",
    "deployment",
    "model_version",
    "mirrored",
    "probe",
    "prediction",
    "score",
    "latency_ms",
    "error",
    "error_message",
    "cpu_percent",
    "memory_percent",
    "instance_count",
)
MEASURED_COLUMNS = tuple(c for c in METRIC_COLUMNS if c != "gpu_percent")
COMPACT_AFTER_PARTS = 48
_LABEL_CHUNK = 500


def utc_timestamp(moment: datetime | pd.Timestamp) -> pd.Timestamp:
    stamp = pd.Timestamp(moment)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _days(start: pd.Timestamp, end: pd.Timestamp) -> Iterator[date]:
    day, last = start.date(), (end - pd.Timedelta(1, "ns")).date()
    while day <= last:
        yield day
        day += timedelta(days=1)


class TrafficLog:
    """Buffered, partitioned request log of one environment.

    Scoring appends to an in-memory buffer (parquet files are written whole); the buffer is
    written when it holds ``flush_rows`` rows, at the first append after ``flush_seconds``,
    before every read, and on :meth:`LocalPlatform.close`.
    """

    def __init__(
        self, env: EnvLayout, *, flush_rows: int = 20_000, flush_seconds: float = 2.0
    ) -> None:
        self.env = env
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        self._lock = threading.RLock()
        self._buffer: dict[str, list[pd.DataFrame]] = {}
        self._buffered_rows = 0
        self._oldest: float | None = None

    # -- writing
    def append(self, model: str, records: pd.DataFrame) -> None:
        if records.empty:
            return
        with self._lock:
            self._buffer.setdefault(model, []).append(records)
            self._buffered_rows += len(records)
            self._oldest = self._oldest or time.monotonic()
            due = (
                self._buffered_rows >= self.flush_rows
                or time.monotonic() - self._oldest >= self.flush_seconds
            )
        if due:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            pending, self._buffer = self._buffer, {}
            self._buffered_rows, self._oldest = 0, None
            for model, frames in pending.items():
                frame = pd.concat(frames, ignore_index=True)
                days = frame["timestamp"].dt.strftime("%Y-%m-%d")
                for day, part in frame.groupby(days, sort=True):
                    self._write_part(self.env.traffic(model) / str(day), part)

    def _write_part(self, day_dir: Path, frame: pd.DataFrame) -> None:
        day_dir.mkdir(parents=True, exist_ok=True)
        name = f"part-{time.time_ns()}-{os.getpid()}-{uuid.uuid4().hex[:8]}.parquet"
        staging = day_dir / f".{name}.tmp"
        _arrow_safe(frame).sort_values("timestamp", kind="stable").to_parquet(staging, index=False)
        os.replace(staging, day_dir / name)
        if len(self._parts(day_dir)) > COMPACT_AFTER_PARTS:
            self._compact(day_dir)

    @staticmethod
    def _parts(day_dir: Path) -> list[Path]:
        return sorted(day_dir.glob("part-*.parquet"))

    def _compact(self, day_dir: Path) -> None:
        if fcntl is None:
            return
        with (day_dir / ".compact.lock").open("a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return  # another process is compacting this day
            try:
                parts = self._parts(day_dir)
                if len(parts) <= 1:
                    return
                merged = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
                name = f"part-{time.time_ns()}-{os.getpid()}-compacted.parquet"
                staging = day_dir / f".{name}.tmp"
                merged.sort_values("timestamp", kind="stable").to_parquet(staging, index=False)
                os.replace(staging, day_dir / name)
                for part in parts:
                    part.unlink(missing_ok=True)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    # -- reading
    def read(self, model: str, start: datetime, end: datetime) -> pd.DataFrame:
        """Records with ``start <= timestamp < end``, opening only the days in the window."""
        self.flush()
        lo, hi = utc_timestamp(start), utc_timestamp(end)
        frames: list[pd.DataFrame] = []
        if hi > lo:
            for day in _days(lo, hi):
                frames.extend(self._read_day(self.env.traffic(model) / day.isoformat()))
        if not frames:
            return pd.DataFrame(
                {c: pd.Series(dtype=_EMPTY_DTYPES.get(c, "object")) for c in RECORD_COLUMNS}
            )
        frame = pd.concat(frames, ignore_index=True)
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
        # Parts written before probes were marked have no column: those were all live requests.
        frame["probe"] = frame["probe"].fillna(False).astype(bool) if "probe" in frame else False
        window = frame[(frame["timestamp"] >= lo) & (frame["timestamp"] < hi)]
        return window.sort_values("timestamp", kind="stable").reset_index(drop=True)

    def _read_day(self, day_dir: Path) -> list[pd.DataFrame]:
        for _attempt in range(3):  # a concurrent compaction may remove a part between list and read
            try:
                return [pd.read_parquet(p) for p in self._parts(day_dir)]
            except FileNotFoundError:
                continue
        return [pd.read_parquet(p) for p in self._parts(day_dir)]

    def days(self, model: str) -> list[str]:
        self.flush()
        root = self.env.traffic(model)
        return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def _arrow_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Inputs are logged as received, even malformed ones: an object column parquet cannot type
    (a string among numbers) is stored as text rather than dropping the request."""
    converted = {}
    for column in [c for c in frame.columns if pd.api.types.is_object_dtype(frame[c])]:
        try:
            pa.array(frame[column], from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            text = frame[column].map(str, na_action="ignore")
            converted[column] = text.where(frame[column].notna(), None)
    return frame.assign(**converted) if converted else frame


_EMPTY_DTYPES = {
    "timestamp": "datetime64[ns, UTC]",
    "mirrored": "bool",
    "probe": "bool",
    "error": "bool",
    "latency_ms": "float64",
    "score": "float64",
    "cpu_percent": "float64",
    "memory_percent": "float64",
    "instance_count": "int64",
}


# --------------------------------------------------------------------------- labels


def record_labels(db: Database, model: str, values: Mapping[str, Any]) -> int:
    """Upsert ground truth by correlation id; a later label replaces an earlier one."""
    now = utcnow()
    rows = [
        {"model": model, "correlation_id": str(k), "value": _plain(v), "recorded": now}
        for k, v in values.items()
    ]
    statement = sqlite_insert(labels)
    statement = statement.on_conflict_do_update(
        index_elements=[labels.c.model, labels.c.correlation_id],
        set_={"value": statement.excluded.value, "recorded": statement.excluded.recorded},
    )
    if rows:
        with db.write() as conn:
            conn.execute(statement, rows)  # one executemany, not a statement per label
    return len(rows)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def lookup_labels(db: Database, model: str, correlation_ids: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    with db.read() as conn:
        for i in range(0, len(correlation_ids), _LABEL_CHUNK):
            chunk = correlation_ids[i : i + _LABEL_CHUNK]
            result = conn.execute(
                select(labels.c.correlation_id, labels.c.value).where(
                    labels.c.model == model, labels.c.correlation_id.in_(chunk)
                )
            )
            found.update({cid: value for cid, value in result})
    return found


# --------------------------------------------------------------------------- metrics


def request_metrics(
    records: pd.DataFrame,
    start: datetime,
    end: datetime,
    *,
    interval_minutes: int,
    instance_count: int | None,
) -> pd.DataFrame:
    """Bucket request records into the port's metric columns.

    A request is a (request id, deployment, mirrored) group: its latency is the slowest row's,
    it failed if any row failed. Buckets with no requests have 0 requests per minute and no
    latency; the instance count carries forward from the last bucket that saw one, else
    ``instance_count`` (the deployment's current size) when given.
    """
    freq = f"{interval_minutes}min"
    lo, hi = utc_timestamp(start), utc_timestamp(end)
    index = pd.date_range(lo.floor(freq), hi, freq=freq, inclusive="left", name="timestamp")
    out = pd.DataFrame(index=index, columns=list(MEASURED_COLUMNS), dtype="float64")
    out["requests_per_minute"] = 0.0
    if not records.empty:
        requests = (
            records.groupby(["request_id", "deployment", "mirrored"], sort=False)
            .agg(
                timestamp=("timestamp", "min"),
                latency_ms=("latency_ms", "max"),
                error=("error", "max"),
                cpu_percent=("cpu_percent", "mean"),
                memory_percent=("memory_percent", "mean"),
                instance_count=("instance_count", "max"),
            )
            .reset_index()
        )
        requests["bucket"] = requests["timestamp"].dt.floor(freq)
        grouped = requests.groupby("bucket")
        latency = grouped["latency_ms"].quantile([0.5, 0.95, 0.99]).unstack()
        out.loc[latency.index, "latency_p50_ms"] = latency[0.5]
        out.loc[latency.index, "latency_p95_ms"] = latency[0.95]
        out.loc[latency.index, "latency_p99_ms"] = latency[0.99]
        counts = grouped.size()
        out.loc[counts.index, "requests_per_minute"] = counts / interval_minutes
        out.loc[counts.index, "error_rate"] = grouped["error"].mean().astype(float)
        out.loc[counts.index, "cpu_percent"] = grouped["cpu_percent"].mean()
        out.loc[counts.index, "memory_percent"] = grouped["memory_percent"].mean()
        per_deployment = requests.groupby(["bucket", "deployment"])["instance_count"].max()
        instances = per_deployment.groupby(level="bucket").sum()
        out.loc[instances.index, "instance_count"] = instances.astype(float)
    out["instance_count"] = out["instance_count"].ffill()
    if instance_count is not None:
        out["instance_count"] = out["instance_count"].fillna(float(instance_count))
    return out


# --------------------------------------------------------------------------- production data

_INFRASTRUCTURE = [
    "mirrored",
    "probe",
    "endpoint",
    "cpu_percent",
    "memory_percent",
    "instance_count",
]


def production_frame(records: pd.DataFrame, known: Mapping[str, Any], columns: Any) -> pd.DataFrame:
    """Served requests in the model's column names: timestamp, ids, deployment and version,
    the inputs, then prediction, score, the label where known, latency and error."""
    served = records[~(records["mirrored"].astype(bool) | records["probe"].astype(bool))]
    served = served.reset_index(drop=True)
    target = columns.target or "label"
    served[target] = served["correlation_id"].map(known) if known else np.nan
    renames = {"timestamp": columns.timestamp, "prediction": columns.prediction}
    if columns.score:
        renames["score"] = columns.score
    served = served.drop(columns=_INFRASTRUCTURE).rename(columns=renames)
    leading = [columns.timestamp, "correlation_id", "request_id", "deployment", "model_version"]
    trailing = [
        renames["prediction"],
        renames.get("score", "score"),
        target,
        "latency_ms",
        "error",
        "error_message",
    ]
    inputs = [c for c in served.columns if c not in leading and c not in trailing]
    return served[leading + inputs + trailing]
