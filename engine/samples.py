"""Turn one column of a pandas DataFrame or pyarrow Table into what the statistics need.

A numeric column becomes a sorted array of its finite values plus counts of what was dropped
(missing, ±inf, unparseable). A categorical column becomes its distinct values (as strings, so
a CSV "1" and a parquet 1 are the same category) with counts. Both are computed once per sample
and reused for drift, data quality and charts.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

Frame = pd.DataFrame | pa.Table
"""What the engine reads: an in-memory pandas frame or a pyarrow table (no pandas copy)."""


class ColumnKind(StrEnum):
    NUMERIC = "numeric"
    CATEGORICAL = "categorical"


@dataclass(frozen=True)
class NumericSample:
    sorted_values: np.ndarray
    """Finite values, ascending."""
    n_rows: int
    n_missing: int
    n_infinite: int
    n_type_errors: int
    """Non-empty values that are not numbers ("abc" in a numeric column)."""

    @property
    def n_valid(self) -> int:
        return len(self.sorted_values)

    def unique_values(self, limit: int) -> np.ndarray | None:
        """The distinct values when there are at most ``limit`` of them, else None.

        Hops from one distinct value to the next with a binary search, so answering "more than
        five" for a continuous column of a million rows costs six searches, not a pass.
        """
        values = self.sorted_values
        found: list[float] = []
        position = 0
        while position < len(values):
            if len(found) == limit:
                return None
            value = values[position]
            found.append(float(value))
            position = int(np.searchsorted(values, value, side="right"))
        return np.array(found, dtype=np.float64)

    def outside(self, low: float, high: float) -> int:
        """Valid values below ``low`` or above ``high``."""
        values = self.sorted_values
        below = int(np.searchsorted(values, low, side="left"))
        return below + int(len(values) - np.searchsorted(values, high, side="right"))

    @property
    def std(self) -> float:
        return float(np.std(self.sorted_values)) if self.n_valid else 0.0

    @property
    def mean(self) -> float:
        return float(np.mean(self.sorted_values)) if self.n_valid else float("nan")


@dataclass(frozen=True)
class CategoricalSample:
    categories: pd.Index
    """Distinct non-missing values as strings, in first-seen order."""
    counts: np.ndarray
    n_rows: int
    n_missing: int

    @property
    def n_valid(self) -> int:
        return int(self.counts.sum())


def column_names(frame: Frame) -> list[str]:
    return (
        list(frame.column_names) if isinstance(frame, pa.Table) else [str(c) for c in frame.columns]
    )


def row_count(frame: Frame) -> int:
    return frame.num_rows if isinstance(frame, pa.Table) else len(frame)


def is_numeric_column(frame: Frame, name: str) -> bool:
    """Numbers (not booleans) are numeric; everything else is treated as categories."""
    if isinstance(frame, pa.Table):
        kind = frame.schema.field(name).type
        return bool(
            pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)
        )
    dtype = frame[name].dtype
    return bool(pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype))


def is_time_column(frame: Frame, name: str) -> bool:
    """Datetime columns (event times) always "drift" between windows: never compared by default."""
    if isinstance(frame, pa.Table):
        kind = frame.schema.field(name).type
        return bool(pa.types.is_timestamp(kind) or pa.types.is_date(kind))
    return bool(pd.api.types.is_datetime64_any_dtype(frame[name].dtype))


def infer_kinds(frame: Frame, names: list[str]) -> dict[str, ColumnKind]:
    return {
        name: ColumnKind.NUMERIC if is_numeric_column(frame, name) else ColumnKind.CATEGORICAL
        for name in names
    }


def numeric_sample(frame: Frame, name: str) -> NumericSample:
    """Finite values sorted once (numpy's SIMD sort), with what was dropped counted."""
    values, n_rows, n_type_errors = _as_float(frame, name)
    finite = np.isfinite(values)
    n_finite = int(np.count_nonzero(finite))
    if n_finite < len(values):
        n_missing = int(np.count_nonzero(np.isnan(values))) - n_type_errors
        kept = values[finite]
    else:
        n_missing = 0
        # pyarrow never hands out writeable views of its buffers: a writeable array came from a
        # conversion and can be sorted in place; anything else (pandas data) is copied first.
        kept = values if isinstance(frame, pa.Table) and values.flags.writeable else values.copy()
    kept.sort()
    return NumericSample(
        sorted_values=kept,
        n_rows=n_rows,
        n_missing=n_missing,
        n_infinite=len(values) - n_finite - n_missing - n_type_errors,
        n_type_errors=n_type_errors,
    )


def categorical_sample(frame: Frame, name: str) -> CategoricalSample:
    """Distinct values and counts from one hash pass (value_counts), keys as strings."""
    if isinstance(frame, pa.Table):
        column = frame.column(name)
        n_rows = len(column)
        n_missing = column.null_count
        counted = pc.value_counts(column.drop_null() if n_missing else column)
        keys = counted.field("values").to_pylist()
        counts = np.asarray(counted.field("counts").to_numpy(zero_copy_only=False), dtype=np.int64)
    else:
        series = frame[name]
        n_rows = len(series)
        counted_series = series.value_counts(dropna=True, sort=False)
        keys = list(counted_series.index)
        counts = counted_series.to_numpy(dtype=np.int64)
        n_missing = n_rows - int(counts.sum())
    labels = pd.Index([_label(k) for k in keys], dtype=object)
    if labels.has_duplicates:  # e.g. 1 and "1" in one object column: same category
        grouped = pd.Series(counts, index=labels).groupby(level=0, sort=False).sum()
        labels, counts = pd.Index(grouped.index, dtype=object), grouped.to_numpy(dtype=np.int64)
    return CategoricalSample(categories=labels, counts=counts, n_rows=n_rows, n_missing=n_missing)


def _label(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _as_float(frame: Frame, name: str) -> tuple[np.ndarray, int, int]:
    """(float64 values with NaN for missing, rows, values that failed to parse as numbers)."""
    if isinstance(frame, pa.Table):
        column = frame.column(name)
        kind = column.type
        if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind):
            if column.null_count == 0 and pa.types.is_floating(kind):
                return np.asarray(column.to_numpy(), dtype=np.float64), len(column), 0
            return (
                np.asarray(
                    pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64
                ),
                len(column),
                0,
            )
        series = column.to_pandas()
    else:
        series = frame[name]
    n_rows = len(series)
    if pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan), n_rows, 0
    present = series.notna().to_numpy()
    parsed = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    n_type_errors = int(np.count_nonzero(present & np.isnan(parsed)))
    # Strings such as "inf" parse to infinity: they count as infinite, not as type errors.
    return parsed, n_rows, n_type_errors
