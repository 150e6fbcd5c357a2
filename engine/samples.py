"""Turn one column of a pandas DataFrame or pyarrow Table into what the statistics need.

A numeric column becomes a sorted array of its finite values plus counts of what was dropped
(missing, ±inf, unparseable). A categorical column becomes its distinct values (as strings, so
a CSV "1" and a parquet 1 are the same category) with counts. Both are computed once per sample
and reused for drift, data quality and charts.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Union

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.lazy import pandas as pd

if TYPE_CHECKING:
    import pandas

#: A pyarrow Table (parquet, read without pandas) or a pandas DataFrame (CSV, the platform).
Frame = Union["pandas.DataFrame", pa.Table]
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
    categories: np.ndarray
    """Distinct non-missing values as strings (an object array), in first-seen order."""
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
        if _countable_codes(column):
            keys, counts = _dictionary_counts(column)
        else:
            counted = pc.value_counts(column.drop_null() if n_missing else column)
            keys = counted.field("values").to_pylist()
            counts = arrow_numbers(counted.field("counts"), np.int64)
    else:
        series = frame[name]
        n_rows = len(series)
        counted_series = series.value_counts(dropna=True, sort=False)
        keys = list(counted_series.index)
        counts = counted_series.to_numpy(dtype=np.int64)
        n_missing = n_rows - int(counts.sum())
    labels = [_label(k) for k in keys]
    if len(set(labels)) < len(labels):  # e.g. 1 and "1" in one object column: same category
        merged: dict[str, int] = {}
        for label, count in zip(labels, counts.tolist(), strict=True):
            merged[label] = merged.get(label, 0) + count
        labels, counts = list(merged), np.fromiter(merged.values(), dtype=np.int64)
    return CategoricalSample(
        categories=as_labels(labels), counts=counts, n_rows=n_rows, n_missing=n_missing
    )


def _countable_codes(column: pa.ChunkedArray) -> bool:
    """A dictionary column whose categories are its dictionary entries (none of them null)."""
    return (
        isinstance(column, pa.ChunkedArray)
        and pa.types.is_dictionary(column.type)
        and pa.types.is_integer(column.type.index_type)
        and not any(chunk.dictionary.null_count for chunk in column.chunks)
    )


def _dictionary_counts(column: pa.ChunkedArray) -> tuple[list[Any], np.ndarray]:
    """Category counts of a dictionary-encoded column (how parquet text columns are read) by
    counting its integer codes, chunk by chunk (each chunk may have its own dictionary).

    ``pc.value_counts`` hashes every code: 10 ms per million rows, against about 1 ms for a
    ``bincount`` of the codes. Categories are in order of first appearance in the
    dictionaries; entries no row uses are left out, as ``value_counts`` would."""
    totals: dict[Any, int] = {}
    for chunk in column.chunks:
        n = len(chunk)
        if n == 0 or chunk.null_count == n:
            continue
        indices = chunk.indices
        width = indices.type.bit_width // 8
        kind = "i" if pa.types.is_signed_integer(indices.type) else "u"
        codes = np.frombuffer(
            indices.buffers()[1], dtype=f"<{kind}{width}", count=n, offset=indices.offset * width
        )
        if chunk.null_count:
            bits = np.unpackbits(
                np.frombuffer(indices.buffers()[0], dtype=np.uint8), bitorder="little"
            )
            codes = codes[bits[indices.offset : indices.offset + n].astype(bool)]
        dictionary = chunk.dictionary
        counted = np.bincount(codes, minlength=len(dictionary))
        for key, count in zip(dictionary.to_pylist(), counted.tolist(), strict=False):
            if count:
                totals[key] = totals.get(key, 0) + count
    return list(totals), np.fromiter(totals.values(), dtype=np.int64, count=len(totals))


def as_labels(labels: list[str]) -> np.ndarray:
    """Category labels as a 1-d object array (``np.array`` would split tuples into columns)."""
    array = np.empty(len(labels), dtype=object)
    array[:] = labels
    return array


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
            return arrow_numbers(column, np.float64), len(column), 0
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


_ARROW_TYPES = {np.dtype(np.float64): pa.float64(), np.dtype(np.int64): pa.int64()}


def arrow_numbers(column: pa.Array | pa.ChunkedArray, dtype: type = np.float64) -> np.ndarray:
    """The values of a numeric Arrow column as a numpy array (NaN where null for floats),
    read from the column's buffers.

    ``Array.to_numpy()`` imports pandas the first time it runs (pyarrow's pandas shim), a third
    of a second that ``mlops-bot drift`` on parquet files does not need. A column without
    nulls in one chunk comes back as a read-only view of Arrow's memory (no copy).
    """
    target = _ARROW_TYPES[np.dtype(dtype)]
    if column.type != target:
        column = pc.cast(column, target)
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    parts = []
    for chunk in chunks:
        n = len(chunk)
        if n == 0:
            continue
        validity, data = chunk.buffers()[0], chunk.buffers()[1]
        width = np.dtype(dtype).itemsize
        values = np.frombuffer(data, dtype=dtype, count=n, offset=chunk.offset * width)
        if chunk.null_count:
            bits = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")
            valid = bits[chunk.offset : chunk.offset + n].astype(bool)
            values = np.where(valid, values, np.nan if dtype is np.float64 else 0).astype(dtype)
        parts.append(values)
    if not parts:
        return np.empty(0, dtype=dtype)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)
