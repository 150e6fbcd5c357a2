"""Windows larger than memory: read in chunks into mergeable per-column summaries.

A production window of billions of rows cannot be sorted in memory, but drift only needs its
distribution at a resolution finer than any threshold. Each chunk (a parquet row group batch
or a CSV chunk) is summarized per column into a fixed-size structure, and summaries merge by
addition, so memory depends on the number of columns, not of rows:

* numeric: counts over the reference's quantile grid (2000 bins of equal reference mass, see
  ``profile.FINE_GRID_BINS``) with open outer bins, plus the exact sums of how far values
  fall below the reference minimum / above its maximum, plus exact value counts while the
  column has at most 64 distinct values (so discrete columns stay exact);
* categorical: exact counts per category.

From these, KS is evaluated at every grid edge (exact there; the true supremum can exceed it by
at most one bin's mass, ~0.05% of the reference), W1 integrates the CDF gap across the grid by
the trapezoid rule, and the two tails beyond the reference range contribute exactly. PSI uses
reference deciles, which are grid edges, so it equals the in-memory value. Results are marked
``exact=False`` where binning was involved. The reference itself is profiled in memory once
(cached per model), as reference data is training data and fits.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from engine import stats
from engine.drift import (
    DriftOptions,
    _assemble,
    _not_enough,
    categorical_column_drift,
    numeric_column_drift,
)
from engine.lazy import pandas as pd
from engine.profile import (
    CategoricalReference,
    NumericReference,
    ReferenceProfile,
    default_workers,
)
from engine.quality import (
    ColumnQuality,
    QualityFinding,
    assess_column,
    missing_column_finding,
)
from engine.results import ColumnDriftResult, DriftReport
from engine.samples import (
    CategoricalSample,
    ColumnKind,
    Frame,
    _as_float,
    as_labels,
    categorical_sample,
    column_names,
)

#: Exact value counts are kept while a numeric column has at most this many distinct values.
SMALL_VALUE_LIMIT = 64
_PROBE_ROWS = 1000


@dataclass
class NumericSummary:
    """Mergeable summary of one numeric column over the reference's fine quantile grid."""

    edges: np.ndarray
    counts: np.ndarray
    """``len(edges) + 1`` bins: (-inf, e0], (e0, e1], ..., (e_last, +inf)."""
    at_edges: np.ndarray
    """Values exactly equal to each edge (so CDFs are known on both sides of every edge)."""
    n_rows: int = 0
    n_missing: int = 0
    n_infinite: int = 0
    n_type_errors: int = 0
    n_below: int = 0
    """Valid values strictly below the reference minimum (e0)."""
    below_sum: float = 0.0
    """Σ (e0 − x) over those values: the exact W1 contribution of the lower tail × n."""
    above_sum: float = 0.0
    minimum: float = math.inf
    maximum: float = -math.inf
    small_values: dict[float, int] | None = field(default_factory=dict)
    exact: bool = False

    @classmethod
    def empty(cls, reference: NumericReference) -> NumericSummary:
        edges = reference.fine_edges
        return cls(
            edges=edges,
            counts=np.zeros(len(edges) + 1, dtype=np.int64),
            at_edges=np.zeros(len(edges), dtype=np.int64),
        )

    # -- building
    def add(self, values: np.ndarray, n_type_errors: int = 0) -> None:
        finite_mask = np.isfinite(values)
        finite = values[finite_mask]
        n_nan = int(np.count_nonzero(np.isnan(values)))
        self.n_rows += len(values)
        self.n_type_errors += n_type_errors
        self.n_missing += n_nan - n_type_errors
        self.n_infinite += len(values) - len(finite) - n_nan
        if len(finite) == 0:
            return
        bins = np.searchsorted(self.edges, finite, side="left")
        self.counts += np.bincount(bins, minlength=len(self.counts))
        on_edge = self.edges[np.minimum(bins, len(self.edges) - 1)] == finite
        self.at_edges += np.bincount(bins[on_edge], minlength=len(self.edges))
        lo, hi = self.edges[0], self.edges[-1]
        below = finite[finite < lo]
        above = finite[finite > hi]
        self.n_below += len(below)
        self.below_sum += float(np.sum(lo - below))
        self.above_sum += float(np.sum(above - hi))
        self.minimum = min(self.minimum, float(finite.min()))
        self.maximum = max(self.maximum, float(finite.max()))
        self._track_small_values(finite)

    def _track_small_values(self, finite: np.ndarray) -> None:
        if self.small_values is None:
            return
        # A cheap probe first: a continuous column shows > 64 distinct values in its first rows.
        if len(np.unique(finite[:_PROBE_ROWS])) > SMALL_VALUE_LIMIT:
            self.small_values = None
            return
        values, counts = np.unique(finite, return_counts=True)
        for value, count in zip(values.tolist(), counts.tolist(), strict=True):
            self.small_values[value] = self.small_values.get(value, 0) + count
        if len(self.small_values) > SMALL_VALUE_LIMIT:
            self.small_values = None

    def merge(self, other: NumericSummary) -> NumericSummary:
        if len(self.edges) != len(other.edges) or not np.array_equal(self.edges, other.edges):
            raise ValueError("summaries were built on different reference grids")
        small: dict[float, int] | None = None
        if self.small_values is not None and other.small_values is not None:
            small = dict(self.small_values)
            for value, count in other.small_values.items():
                small[value] = small.get(value, 0) + count
            if len(small) > SMALL_VALUE_LIMIT:
                small = None
        return NumericSummary(
            edges=self.edges,
            counts=self.counts + other.counts,
            at_edges=self.at_edges + other.at_edges,
            n_rows=self.n_rows + other.n_rows,
            n_missing=self.n_missing + other.n_missing,
            n_infinite=self.n_infinite + other.n_infinite,
            n_type_errors=self.n_type_errors + other.n_type_errors,
            n_below=self.n_below + other.n_below,
            below_sum=self.below_sum + other.below_sum,
            above_sum=self.above_sum + other.above_sum,
            minimum=min(self.minimum, other.minimum),
            maximum=max(self.maximum, other.maximum),
            small_values=small,
        )

    # -- the NumericView protocol used by the drift engine
    @property
    def n_valid(self) -> int:
        return int(self.counts.sum())

    def unique_values(self, limit: int) -> np.ndarray | None:
        if self.small_values is None or len(self.small_values) > limit:
            return None
        return np.array(sorted(self.small_values), dtype=np.float64)

    def counts_at(self, values: np.ndarray) -> np.ndarray:
        small = self.small_values or {}
        return np.array([small.get(float(v), 0) for v in values], dtype=np.int64)

    def _cumulative_at(self, points: np.ndarray) -> np.ndarray:
        """Values <= each point; exact at grid edges, the grid edge below otherwise."""
        cumulative = np.cumsum(self.counts)[: len(self.edges)]
        index = np.searchsorted(self.edges, points, side="right") - 1
        return np.where(index >= 0, cumulative[np.clip(index, 0, None)], 0)

    def counts_in_bins(self, inner_edges: np.ndarray) -> np.ndarray:
        cumulative = self._cumulative_at(np.asarray(inner_edges, dtype=np.float64))
        return np.diff(np.concatenate(([0], cumulative, [self.n_valid])))

    def wasserstein(self, reference: NumericReference) -> float:
        return self._compare(reference).wasserstein

    def ks(self, reference: NumericReference) -> float:
        return self._compare(reference).ks

    def _compare(self, reference: NumericReference) -> stats.SortedComparison:
        n = self.n_valid
        if n == 0:
            raise ValueError("both samples must be non-empty")
        cur_at = np.cumsum(self.counts)[: len(self.edges)] / n
        cur_before = cur_at - self.at_edges / n
        gap_at = np.abs(reference.fine_cdf - cur_at)
        gap_before = np.abs(reference.fine_cdf_before - cur_before)
        ks = float(max(gap_at.max(initial=0.0), gap_before.max(initial=0.0), self.n_below / n))
        # Between two edges the gap moves from its value at the left edge to its value just
        # before the right edge; linear in between (exact when no value lies strictly inside,
        # as for discrete columns, close otherwise: each interval holds 1/2000 of the reference).
        widths = np.diff(self.edges)
        inside = stats.weighted_sum(widths, (gap_at[:-1] + gap_before[1:]) / 2)
        return stats.SortedComparison(
            ks=min(ks, 1.0), wasserstein=inside + (self.below_sum + self.above_sum) / n
        )

    def quantile(self, q: float) -> float:
        n = self.n_valid
        if n == 0:
            return math.nan
        if q <= 0:
            return self.minimum
        if q >= 1:
            return self.maximum
        cumulative = np.cumsum(self.counts)[: len(self.edges)]
        index = int(np.searchsorted(cumulative, q * n, side="left"))
        if index >= len(self.edges):
            return self.maximum
        return (
            float(max(self.edges[index], self.minimum)) if index == 0 else float(self.edges[index])
        )

    def values(self) -> np.ndarray | None:
        return None

    def outside(self, low: float, high: float) -> int:
        if low == self.edges[0] and high == self.edges[-1]:
            return self.n_below + int(self.counts[-1])
        below = self._cumulative_at(np.array([low]))[0]
        above = self.n_valid - self._cumulative_at(np.array([high]))[0]
        return int(below + above)


@dataclass
class CategoricalSummary:
    counts: dict[str, int] = field(default_factory=dict)
    n_rows: int = 0
    n_missing: int = 0

    def add(self, sample: CategoricalSample) -> None:
        self.n_rows += sample.n_rows
        self.n_missing += sample.n_missing
        for label, count in zip(sample.categories, sample.counts.tolist(), strict=True):
            self.counts[label] = self.counts.get(label, 0) + count

    def merge(self, other: CategoricalSummary) -> CategoricalSummary:
        merged = CategoricalSummary(
            dict(self.counts), self.n_rows + other.n_rows, self.n_missing + other.n_missing
        )
        for label, count in other.counts.items():
            merged.counts[label] = merged.counts.get(label, 0) + count
        return merged

    def to_sample(self) -> CategoricalSample:
        return CategoricalSample(
            categories=as_labels(list(self.counts)),
            counts=np.array(list(self.counts.values()), dtype=np.int64),
            n_rows=self.n_rows,
            n_missing=self.n_missing,
        )


ColumnSummary = NumericSummary | CategoricalSummary


@dataclass
class WindowSummary:
    """Per-column summaries of a window; ``merge`` combines windows or chunks."""

    columns: dict[str, ColumnSummary]
    n_rows: int = 0
    absent: set[str] = field(default_factory=set)
    """Requested columns the data did not have."""

    def merge(self, other: WindowSummary) -> WindowSummary:
        columns: dict[str, ColumnSummary] = {}
        for name, summary in self.columns.items():
            columns[name] = summary.merge(other.columns[name])  # type: ignore[arg-type]
        return WindowSummary(columns, self.n_rows + other.n_rows, self.absent & other.absent)


def empty_summary(profile: ReferenceProfile, names: Sequence[str]) -> WindowSummary:
    columns: dict[str, ColumnSummary] = {}
    for name in names:
        reference = profile.columns[name]
        if isinstance(reference, NumericReference):
            columns[name] = NumericSummary.empty(reference)
        else:
            columns[name] = CategoricalSummary()
    return WindowSummary(columns=columns, absent=set(names))


def summarize(
    chunks: Iterable[Frame],
    profile: ReferenceProfile,
    names: Sequence[str],
    *,
    max_workers: int | None = None,
) -> WindowSummary:
    """Fold chunks into one summary, columns of each chunk in parallel."""
    names = [n for n in names if n in profile.columns]
    summary = empty_summary(profile, names)
    with ThreadPoolExecutor(max_workers=max_workers or default_workers()) as pool:
        for chunk in chunks:
            present = set(column_names(chunk))
            summary.absent -= present
            summary.n_rows += chunk.num_rows if isinstance(chunk, pa.Table) else len(chunk)

            def one(name: str, chunk: Frame = chunk, present: set[str] = present) -> None:
                if name not in present:
                    return
                target = summary.columns[name]
                if isinstance(target, NumericSummary):
                    values, _, type_errors = _as_float(chunk, name)
                    target.add(values, type_errors)
                else:
                    target.add(categorical_sample(chunk, name))

            list(pool.map(one, names))
    return summary


def iter_parquet(
    path: str | Path, columns: Sequence[str] | None = None, batch_rows: int = 262_144
) -> Iterator[pa.Table]:
    """Row-group batches of a parquet file; memory holds one batch at a time."""
    parquet = pq.ParquetFile(path)
    wanted = (
        [c for c in columns if c in parquet.schema_arrow.names] if columns is not None else None
    )
    for batch in parquet.iter_batches(batch_size=batch_rows, columns=wanted):
        yield pa.Table.from_batches([batch])


def iter_csv(
    path: str | Path, columns: Sequence[str] | None = None, chunk_rows: int = 262_144
) -> Iterator[pd.DataFrame]:
    header = pd.read_csv(path, nrows=0).columns
    wanted = [c for c in columns if c in header] if columns is not None else None
    yield from pd.read_csv(path, usecols=wanted, chunksize=chunk_rows)


def drift_from_summary(
    profile: ReferenceProfile,
    summary: WindowSummary,
    features: Sequence[str],
    *,
    outputs: Sequence[str] = (),
    options: DriftOptions | None = None,
    model: str | None = None,
) -> DriftReport:
    """The same report as ``compare_to_profile``, from a chunked summary of the window."""
    options = options or DriftOptions()
    started = time.perf_counter()
    names = list(dict.fromkeys([*features, *outputs]))
    computed: dict[str, tuple[ColumnDriftResult, ColumnQuality | None, list[QualityFinding]]] = {}
    for name in names:
        reference = profile.columns.get(name)
        override = options.override(name)
        threshold = override.threshold or override.method.default_threshold
        if reference is None:
            computed[name] = (
                _not_enough(
                    name,
                    ColumnKind.NUMERIC,
                    override.method,
                    threshold,
                    "missing from the reference",
                    0,
                    0,
                ),
                None,
                [],
            )
            continue
        kind = profile.kind(name)
        if name in summary.absent or name not in summary.columns:
            computed[name] = (
                _not_enough(
                    name, kind, override.method, threshold, "missing from the current window", 0, 0
                ),
                None,
                [missing_column_finding(name)],
            )
            continue
        current = summary.columns[name]
        if isinstance(reference, NumericReference):
            assert isinstance(current, NumericSummary)
            result = numeric_column_drift(name, reference, current, options)
            quality, findings = assess_column(
                name, reference.sample, current, options.quality, min_rows=options.min_rows
            )
        else:
            assert isinstance(reference, CategoricalReference) and isinstance(
                current, CategoricalSummary
            )
            sample = current.to_sample()
            result = categorical_column_drift(name, reference.sample, sample, options)
            quality, findings = assess_column(
                name, reference.sample, sample, options.quality, min_rows=options.min_rows
            )
        computed[name] = (result, quality, findings)
    return _assemble(
        computed,
        features,
        outputs,
        options,
        model=model,
        n_reference=profile.n_rows,
        n_current=summary.n_rows,
        started=started,
        exact=all(r.exact for r, _, _ in computed.values()),
        notes=("current window summarized in chunks: numeric distances are binned approximations",),
    )
