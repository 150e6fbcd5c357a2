"""The reference side of every comparison, computed once and cached per model.

A scheduled drift job compares a fresh window against the same reference every hour. Sorting
the reference's numeric columns and counting its categories is most of the work of a cold run,
so the result — a :class:`ReferenceProfile` — is kept in an LRU cache (bounded in entries and
bytes) keyed by the model name and a fingerprint of the reference data. A new reference (a new training data version)
has a new fingerprint and so a new entry; nothing needs invalidating by hand.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.lazy import pandas as pd
from engine.samples import (
    CategoricalSample,
    ColumnKind,
    Frame,
    NumericSample,
    categorical_sample,
    numeric_sample,
    row_count,
)
from engine.stats import quantile_edges, sorted_unique

#: Resolution of the quantile grid used to summarize windows read in chunks (see ``chunks``).
#: A multiple of 10 so the PSI deciles are grid edges and chunked PSI equals in-memory PSI.
FINE_GRID_BINS = 2000


@dataclass(frozen=True, eq=False)
class NumericReference:
    sample: NumericSample

    @cached_property
    def std(self) -> float:
        return self.sample.std

    @cached_property
    def fine_edges(self) -> np.ndarray:
        """Reference quantiles at k/2000 including min and max: the chunked summaries' grid."""
        values = self.sample.sorted_values
        if len(values) == 0:
            return np.empty(0)
        levels = np.arange(FINE_GRID_BINS + 1) / FINE_GRID_BINS
        return sorted_unique(values[np.floor(levels * (len(values) - 1)).astype(np.int64)])

    @cached_property
    def fine_cdf(self) -> np.ndarray:
        """Reference CDF at each fine-grid edge (share of values <= edge)."""
        values = self.sample.sorted_values
        return np.searchsorted(values, self.fine_edges, side="right") / max(len(values), 1)

    @cached_property
    def fine_cdf_before(self) -> np.ndarray:
        """Reference CDF just below each fine-grid edge (share of values < edge)."""
        values = self.sample.sorted_values
        return np.searchsorted(values, self.fine_edges, side="left") / max(len(values), 1)

    def decile_edges(self, n_bins: int) -> np.ndarray:
        return quantile_edges(self.sample.sorted_values, n_bins)


@dataclass(frozen=True, eq=False)
class CategoricalReference:
    sample: CategoricalSample


ColumnReference = NumericReference | CategoricalReference


@dataclass(frozen=True, eq=False)
class ReferenceProfile:
    """Per-column reference summaries plus the identity of the data they came from."""

    fingerprint: str
    n_rows: int
    columns: Mapping[str, ColumnReference] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        """The memory its arrays hold (a cache's budget): sorted values, categories, counts."""
        total = 0
        for column in self.columns.values():
            if isinstance(column, NumericReference):
                total += column.sample.sorted_values.nbytes
            else:
                sample = column.sample
                total += sample.counts.nbytes + sample.categories.nbytes
                total += sum(len(str(c)) + 49 for c in sample.categories)  # the str objects
        return total

    def kind(self, name: str) -> ColumnKind:
        column = self.columns[name]
        return (
            ColumnKind.NUMERIC if isinstance(column, NumericReference) else ColumnKind.CATEGORICAL
        )


def build_profile(
    frame: Frame,
    kinds: Mapping[str, ColumnKind],
    *,
    fingerprint: str | None = None,
    max_workers: int | None = None,
) -> ReferenceProfile:
    """Sort / count every requested column, columns in parallel (numpy releases the GIL)."""

    def one(name: str) -> tuple[str, ColumnReference]:
        if kinds[name] is ColumnKind.NUMERIC:
            return name, NumericReference(numeric_sample(frame, name))
        return name, CategoricalReference(categorical_sample(frame, name))

    names = list(kinds)
    with ThreadPoolExecutor(max_workers=max_workers or default_workers()) as pool:
        columns = dict(pool.map(one, names))
    return ReferenceProfile(
        fingerprint=fingerprint or frame_fingerprint(frame),
        n_rows=row_count(frame),
        columns={name: columns[name] for name in names},
    )


def default_workers() -> int:
    import os

    return max(1, min(8, os.cpu_count() or 1))


def frame_fingerprint(frame: Frame, sample_rows: int = 2048) -> str:
    """A cheap content fingerprint: schema, row count, numeric column sums, sampled rows.

    Hashing every value of a large reference would cost about as much as profiling it, which is
    what the cache saves. Sums catch virtually any edit of a numeric column; evenly spaced
    sample rows catch changes elsewhere. Callers that know a better identity (a data asset
    version, a file path with its modification time) pass it as ``reference_key`` instead.
    """
    digest = hashlib.blake2b(digest_size=16)
    n = frame.num_rows if isinstance(frame, pa.Table) else len(frame)
    if isinstance(frame, pa.Table):
        digest.update(str(frame.schema).encode())
        picks = np.unique(np.linspace(0, max(n - 1, 0), num=min(n, sample_rows)).astype(np.int64))
        sample = frame.take(pa.array(picks)).to_pandas() if n else frame.to_pandas()
        # Summed in Arrow, chunk by chunk: converting each column to numpy first copied the
        # whole reference once more (0.3-1 s for 1M x 60, on one thread, before any work).
        sums = np.array(
            [
                _finite_sum(frame.column(c))
                for c in frame.column_names
                if pa.types.is_integer(frame.schema.field(c).type)
                or pa.types.is_floating(frame.schema.field(c).type)
            ],
            dtype=np.float64,
        )
    else:
        digest.update(repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
        picks = np.unique(np.linspace(0, max(n - 1, 0), num=min(n, sample_rows)).astype(np.int64))
        sample = frame.iloc[picks]
        numeric = [
            frame[c].to_numpy(dtype=np.float64, na_value=np.nan)
            for c in frame.columns
            if pd.api.types.is_numeric_dtype(frame[c].dtype)
            and not pd.api.types.is_bool_dtype(frame[c].dtype)
        ]
        sums = np.array([np.sum(v[np.isfinite(v)]) for v in numeric], dtype=np.float64)
    digest.update(str(n).encode())
    digest.update(sums.tobytes())
    if len(sample):
        hashed = pd.util.hash_pandas_object(
            sample.astype(object).where(sample.notna(), None), index=False
        )
        digest.update(hashed.to_numpy().tobytes())
    return digest.hexdigest()


def _finite_sum(column: pa.ChunkedArray) -> float:
    """Sum of the finite values (nulls, NaN and ±inf left out), as a float."""
    if pa.types.is_floating(column.type):
        column = pc.if_else(pc.is_finite(column), column, None)
    total = pc.sum(column).as_py()
    return float(total) if total is not None else 0.0


class ProfileCache:
    """A thread-safe LRU of reference profiles keyed by (model, reference fingerprint, columns)."""

    def __init__(self, max_entries: int = 256, max_bytes: int | None = 256 * 2**20) -> None:
        """At most ``max_entries`` profiles and ``max_bytes`` of their arrays, the least
        recently used evicted first, the newest always kept. A worker runs the checks of a whole
        fleet in turn: a count bound alone (it was 16) evicts every small profile before its
        model's next run once the fleet is larger, while a few huge references (1M rows x 60
        columns is ~0.5 GB of sorted values) need the byte bound."""
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._bytes = 0
        self._entries: OrderedDict[
            tuple[str, str, tuple[tuple[str, str], ...]], ReferenceProfile
        ] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_or_build(
        self,
        model: str,
        fingerprint: str,
        kinds: Mapping[str, ColumnKind],
        build: Callable[[], ReferenceProfile],
    ) -> ReferenceProfile:
        key = (model, fingerprint, tuple(sorted((name, str(kind)) for name, kind in kinds.items())))
        with self._lock:
            profile = self._entries.get(key)
            if profile is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return profile
            self.misses += 1
        profile = build()
        size = profile.nbytes
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:  # built twice at once: keep one, count it once
                self._bytes -= previous.nbytes
            self._entries[key] = profile
            self._bytes += size
            while len(self._entries) > 1 and (
                len(self._entries) > self.max_entries
                or (self.max_bytes is not None and self._bytes > self.max_bytes)
            ):
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.nbytes
        return profile

    @property
    def nbytes(self) -> int:
        return self._bytes

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)


#: The process-wide cache the scheduled jobs share.
PROFILE_CACHE = ProfileCache()
