"""The drift engine: reference vs current window, per feature, per model output, per dataset.

``run_drift(model, reference, current, options=...)`` is what the drift check
(:mod:`jobs.checks.drift`) calls, with :class:`DriftOptions` built from the model's
configuration; ``drift_frames(reference, current)`` is the same without a model (the CLI).

Each numeric column is sorted once per sample (the reference's sorted arrays are cached per
model, see ``profile``) and compared in one merge; each categorical column is counted in one
hash pass. Columns run in parallel threads: numpy's sort, searchsorted and arithmetic release
the GIL. Method choice and thresholds: see ``methods`` for the defaults and their sources.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from engine import stats
from engine.methods import (
    DISCRETE_MAX_UNIQUE,
    ColumnFacts,
    Method,
    Profile,
    choose_method,
    is_drift,
)
from engine.model import ModelSpec
from engine.profile import (
    PROFILE_CACHE,
    CategoricalReference,
    NumericReference,
    ProfileCache,
    ReferenceProfile,
    build_profile,
    default_workers,
    frame_fingerprint,
)
from engine.quality import (
    ColumnQuality,
    QualityFinding,
    QualityReport,
    QualityThresholds,
    assess_column,
    missing_column_finding,
)
from engine.results import ColumnDriftResult, ColumnStatus, Distribution, DriftReport
from engine.samples import (
    CategoricalSample,
    ColumnKind,
    Frame,
    NumericSample,
    categorical_sample,
    column_names,
    infer_kinds,
    is_time_column,
    numeric_sample,
    row_count,
)

CHART_BINS = 30
CHART_TOP_CATEGORIES = 10


@dataclass(frozen=True)
class ColumnOverride:
    method: Method = Method.AUTO
    threshold: float | None = None


@dataclass(frozen=True)
class DriftOptions:
    """How the drift monitor judges a window (:func:`jobs.checks.options.drift_options` builds them
    from a model's ``monitoring.drift`` section)."""

    share_threshold: float = 0.5
    small_sample_rows: int = 1000
    min_rows: int = 30
    """Fewer valid rows than this in either window: "not enough data", never a verdict."""
    columns: Mapping[str, ColumnOverride] = field(default_factory=dict)
    profile: Profile = Profile.DEFAULT
    n_bins: int = 10
    """Reference-quantile bins for PSI and for Jensen–Shannon on continuous numbers."""
    quality: QualityThresholds = field(default_factory=QualityThresholds)
    max_workers: int | None = None
    ks_exact_band: float = 4.0

    def override(self, column: str) -> ColumnOverride:
        return self.columns.get(column, ColumnOverride())


# --------------------------------------------------------------------------- current-side views


class NumericView(Protocol):
    """The current window's numeric column: in memory (exact) or summarized from chunks."""

    exact: bool

    @property
    def n_valid(self) -> int: ...

    def unique_values(self, limit: int) -> np.ndarray | None: ...

    def counts_at(self, values: np.ndarray) -> np.ndarray: ...

    def counts_in_bins(self, inner_edges: np.ndarray) -> np.ndarray: ...

    def wasserstein(self, reference: NumericReference) -> float:
        """W1 distance to the reference, in the column's units."""
        ...

    def ks(self, reference: NumericReference) -> float:
        """Kolmogorov–Smirnov statistic against the reference."""
        ...

    def quantile(self, q: float) -> float: ...

    def values(self) -> np.ndarray | None:
        """All sorted values when held in memory (exact KS p-values, Sturges bins), else None."""
        ...


@dataclass(frozen=True)
class InMemoryNumeric:
    sample: NumericSample
    exact: bool = True

    @property
    def n_valid(self) -> int:
        return self.sample.n_valid

    def unique_values(self, limit: int) -> np.ndarray | None:
        return self.sample.unique_values(limit)

    def counts_at(self, values: np.ndarray) -> np.ndarray:
        return counts_at(self.sample.sorted_values, values)

    def counts_in_bins(self, inner_edges: np.ndarray) -> np.ndarray:
        return stats.counts_in_bins(self.sample.sorted_values, inner_edges)

    def wasserstein(self, reference: NumericReference) -> float:
        return stats.wasserstein_sorted(reference.sample.sorted_values, self.sample.sorted_values)

    def ks(self, reference: NumericReference) -> float:
        return stats.compare_sorted(reference.sample.sorted_values, self.sample.sorted_values).ks

    def quantile(self, q: float) -> float:
        return _sorted_quantile(self.sample.sorted_values, q)

    def values(self) -> np.ndarray | None:
        return self.sample.sorted_values


def counts_at(sorted_values: np.ndarray, points: np.ndarray) -> np.ndarray:
    return np.searchsorted(sorted_values, points, side="right") - np.searchsorted(
        sorted_values, points, side="left"
    )


def _sorted_quantile(sorted_values: np.ndarray, q: float) -> float:
    if len(sorted_values) == 0:
        return math.nan
    return float(sorted_values[math.floor(q * (len(sorted_values) - 1))])


# --------------------------------------------------------------------------- one column


def _not_enough(
    name: str, kind: ColumnKind, method: Method, threshold: float, note: str, n_ref: int, n_cur: int
) -> ColumnDriftResult:
    return ColumnDriftResult(
        column=name,
        kind=kind,
        method=method,
        threshold=threshold,
        score=None,
        p_value=None,
        drifted=False,
        status=ColumnStatus.NOT_ENOUGH_DATA,
        note=note,
        n_reference=n_ref,
        n_current=n_cur,
    )


def _size_note(n_ref: int, n_cur: int, min_rows: int) -> str | None:
    if n_cur == 0:
        return "no valid values in the current window"
    if n_ref == 0:
        return "no valid values in the reference"
    if min(n_ref, n_cur) < min_rows:
        which = "current window" if n_cur < n_ref else "reference"
        return f"not enough data: {min(n_ref, n_cur)} valid values in the {which} (need {min_rows})"
    return None


def _resolve(
    name: str, facts: ColumnFacts, options: DriftOptions, binary: bool
) -> tuple[Method, float, list[str]]:
    """Method and threshold for a column: its override if valid there, else the default."""
    notes: list[str] = []
    override = options.override(name)
    method = override.method
    if method is not Method.AUTO and method.numeric_only and not facts.numeric:
        notes.append(f"{method} needs numbers; used the default for categories")
        method = Method.AUTO
    if method is Method.Z and not binary:
        notes.append("z-test needs exactly two values; used chi-squared")
        method = Method.CHI2
    if method is Method.AUTO:
        method = choose_method(
            facts, profile=options.profile, small_sample_rows=options.small_sample_rows
        )
    threshold = override.threshold if override.threshold is not None else method.default_threshold
    return method, threshold, notes


def _count_test(
    method: Method, ref_counts: np.ndarray, cur_counts: np.ndarray, options: DriftOptions
) -> tuple[float, float, float | None]:
    """(score, statistic, p_value) of a count-based method on aligned count vectors."""
    evidently = options.profile is Profile.EVIDENTLY
    if method is Method.JENSEN_SHANNON:
        value = stats.jensen_shannon(ref_counts, cur_counts, base=None if evidently else 2.0)
        return value, value, None
    if method is Method.PSI:
        if evidently:
            value = stats.psi_evidently(ref_counts, cur_counts)
        else:
            value = stats.psi(ref_counts, cur_counts)
        return value, value, None
    if method is Method.CHI2:
        statistic, p = stats.chi2_contingency_test(ref_counts, cur_counts)
    elif method is Method.PEARSON_CHI2:
        statistic, p = stats.pearson_chi2_test(ref_counts, cur_counts)
    elif method is Method.Z:
        statistic, p = stats.proportions_z_test(ref_counts, cur_counts)
    else:  # pragma: no cover - guarded by _resolve
        raise ValueError(f"{method} is not a count-based method")
    return p, statistic, p


def numeric_column_drift(
    name: str,
    reference: NumericReference,
    current: NumericView,
    options: DriftOptions,
    *,
    with_distribution: bool = True,
) -> ColumnDriftResult:
    ref_sample = reference.sample
    n_ref, n_cur = ref_sample.n_valid, current.n_valid
    too_small = _size_note(n_ref, n_cur, options.min_rows)
    if too_small:
        override = options.override(name)
        method = override.method
        threshold = override.threshold or method.default_threshold
        return _not_enough(name, ColumnKind.NUMERIC, method, threshold, too_small, n_ref, n_cur)

    ref_unique = ref_sample.unique_values(DISCRETE_MAX_UNIQUE)
    cur_unique = current.unique_values(DISCRETE_MAX_UNIQUE)
    union = (
        stats.sorted_union(ref_unique, cur_unique)
        if ref_unique is not None and cur_unique is not None
        else None
    )
    facts = ColumnFacts(
        numeric=True,
        n_reference=n_ref,
        n_current=n_cur,
        n_distinct=len(union) if union is not None else None,
    )
    method, threshold, notes = _resolve(
        name, facts, options, binary=union is not None and len(union) == 2
    )

    if union is not None and len(union) == 1:
        return _not_enough(
            name,
            ColumnKind.NUMERIC,
            method,
            threshold,
            f"constant column: every value is {union[0]:.6g} in both windows",
            n_ref,
            n_cur,
        )
    if ref_unique is not None and len(ref_unique) == 1:
        notes.append(f"reference is constant ({ref_unique[0]:.6g})")

    statistic: float
    p_value: float | None = None
    exact = current.exact
    # The effect size every numeric column reports, whatever method decides its verdict: a
    # card or chart then shows the same labelled number when a bigger window switches the
    # method from KS to Wasserstein (issue 14 item 5).
    effect = stats.normalized_wasserstein(current.wasserstein(reference), reference.std)
    if method is Method.WASSERSTEIN:
        statistic = effect
        score = statistic
    elif method is Method.KS:
        statistic = current.ks(reference)
        p_value, _ = stats.ks_pvalue(
            statistic,
            n_ref,
            n_cur,
            alpha=threshold,
            reference=ref_sample.sorted_values,
            current=current.values(),
            band=options.ks_exact_band,
        )
        score = p_value
    else:
        if facts.discrete and union is not None:
            ref_counts = counts_at(ref_sample.sorted_values, union)
            cur_counts = current.counts_at(union)
        else:
            ref_counts, cur_counts, bin_exact = _binned_counts(reference, current, options)
            exact = exact and bin_exact
        score, statistic, p_value = _count_test(method, ref_counts, cur_counts, options)

    drifted = is_drift(method, score, threshold, options.profile)
    distribution = None
    if with_distribution:
        distribution = (
            _discrete_distribution(
                union, counts_at(ref_sample.sorted_values, union), current.counts_at(union)
            )
            if union is not None
            else _numeric_distribution(reference, current)
        )
    return ColumnDriftResult(
        column=name,
        kind=ColumnKind.NUMERIC,
        method=method,
        threshold=threshold,
        score=float(score),
        p_value=p_value,
        drifted=drifted,
        status=ColumnStatus.DRIFTED if drifted else ColumnStatus.OK,
        note="; ".join(notes) or None,
        statistic=float(statistic),
        effect=float(effect),
        n_reference=n_ref,
        n_current=n_cur,
        exact=exact,
        distribution=distribution,
    )


def _binned_counts(
    reference: NumericReference, current: NumericView, options: DriftOptions
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Bins for count-based methods on continuous numbers.

    Default: reference quantile bins (deciles) with open outer bins. Evidently profile: Sturges'
    rule over both samples together (``numpy.histogram_bin_edges(..., "sturges")``), which is
    what Evidently's ``get_binned_data`` does for numeric columns with > 20 distinct values.
    """
    ref_values = reference.sample.sorted_values
    cur_values = current.values()
    if options.profile is Profile.EVIDENTLY and cur_values is not None:
        edges = np.histogram_bin_edges(np.concatenate([ref_values, cur_values]), bins="sturges")
        return np.histogram(ref_values, edges)[0], np.histogram(cur_values, edges)[0], True
    inner = reference.decile_edges(options.n_bins)
    return stats.counts_in_bins(ref_values, inner), current.counts_in_bins(inner), True


def categorical_column_drift(
    name: str,
    reference: CategoricalSample,
    current: CategoricalSample,
    options: DriftOptions,
    *,
    exact: bool = True,
    with_distribution: bool = True,
) -> ColumnDriftResult:
    n_ref, n_cur = reference.n_valid, current.n_valid
    too_small = _size_note(n_ref, n_cur, options.min_rows)
    if too_small:
        override = options.override(name)
        threshold = override.threshold or override.method.default_threshold
        return _not_enough(
            name, ColumnKind.CATEGORICAL, override.method, threshold, too_small, n_ref, n_cur
        )

    labels, ref_counts, cur_counts = align_counts(reference, current)
    facts = ColumnFacts(numeric=False, n_reference=n_ref, n_current=n_cur, n_distinct=len(labels))
    method, threshold, notes = _resolve(name, facts, options, binary=len(labels) == 2)
    if len(labels) == 1:
        return _not_enough(
            name,
            ColumnKind.CATEGORICAL,
            method,
            threshold,
            f"constant column: every value is {labels[0]!r} in both windows",
            n_ref,
            n_cur,
        )
    if method is Method.Z:
        # Evidently's z-test takes the first value in sorted order as the "0" outcome.
        order = np.argsort(np.asarray(labels, dtype=object).astype(str))
        ref_counts, cur_counts = ref_counts[order], cur_counts[order]
    score, statistic, p_value = _count_test(method, ref_counts, cur_counts, options)
    drifted = is_drift(method, score, threshold, options.profile)
    return ColumnDriftResult(
        column=name,
        kind=ColumnKind.CATEGORICAL,
        method=method,
        threshold=threshold,
        score=float(score),
        p_value=p_value,
        drifted=drifted,
        status=ColumnStatus.DRIFTED if drifted else ColumnStatus.OK,
        note="; ".join(notes) or None,
        statistic=float(statistic),
        n_reference=n_ref,
        n_current=n_cur,
        exact=exact,
        distribution=_category_distribution(labels, ref_counts, cur_counts)
        if with_distribution
        else None,
    )


def align_counts(
    reference: CategoricalSample, current: CategoricalSample
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts of both windows over the union of categories (reference order, then new ones)."""
    where = {label: i for i, label in enumerate(reference.categories.tolist())}
    positions = np.fromiter(
        (where.get(label, -1) for label in current.categories.tolist()),
        dtype=np.int64,
        count=len(current.categories),
    )
    new = positions < 0
    labels = np.concatenate([reference.categories, current.categories[new]])
    ref_counts = np.concatenate([reference.counts, np.zeros(int(new.sum()), dtype=np.int64)])
    cur_counts = np.zeros(len(labels), dtype=np.int64)
    cur_counts[positions[~new]] = current.counts[~new]
    cur_counts[len(reference.categories) :] = current.counts[new]
    return labels, ref_counts, cur_counts


# --------------------------------------------------------------------------- chart data


def _shares(counts: np.ndarray) -> tuple[float, ...]:
    total = counts.sum()
    return tuple(float(c / total) if total else 0.0 for c in counts)


def _numeric_distribution(reference: NumericReference, current: NumericView) -> Distribution:
    """30 equal bins over the central 98% of both windows together; tails fold into end bins."""
    ref_values = reference.sample.sorted_values
    lo = min(_sorted_quantile(ref_values, 0.01), current.quantile(0.01))
    hi = max(_sorted_quantile(ref_values, 0.99), current.quantile(0.99))
    if not hi > lo:
        lo, hi = (
            min(ref_values[0], current.quantile(0.0)),
            max(ref_values[-1], current.quantile(1.0)),
        )
    if not hi > lo:
        hi = lo + 1.0
    if _integer_valued(ref_values):
        # Counts, ages: whole-number bins (one or a few integers each), never fractional slivers
        # that leave every other bar empty.
        width = max(1, math.ceil((hi - lo + 1) / CHART_BINS))
        edges = np.arange(math.floor(lo) - 0.5, math.ceil(hi) + width, width, dtype=np.float64)
    else:
        edges = np.linspace(lo, hi, CHART_BINS + 1)
    inner = edges[1:-1]
    ref_counts = stats.counts_in_bins(ref_values, inner)
    cur_counts = current.counts_in_bins(inner)
    labels = tuple(f"{a:.3g}–{b:.3g}" for a, b in itertools.pairwise(edges))
    return Distribution(
        kind=ColumnKind.NUMERIC,
        labels=labels,
        reference=_shares(ref_counts),
        current=_shares(cur_counts),
        edges=tuple(float(e) for e in edges),
    )


def _integer_valued(sorted_values: np.ndarray, probe: int = 10_000) -> bool:
    sample = sorted_values[:: max(1, len(sorted_values) // probe)]
    return bool(len(sample)) and bool(np.all(sample == np.round(sample)))


def _discrete_distribution(
    values: np.ndarray, ref_counts: np.ndarray, cur_counts: np.ndarray
) -> Distribution:
    labels = tuple(f"{v:.6g}" for v in values)
    return Distribution(
        kind=ColumnKind.CATEGORICAL,
        labels=labels,
        reference=_shares(ref_counts),
        current=_shares(cur_counts),
    )


def _category_distribution(
    labels: np.ndarray, ref_counts: np.ndarray, cur_counts: np.ndarray
) -> Distribution:
    """The categories with the largest share in either window; the rest as "other"."""
    ref_share = ref_counts / max(ref_counts.sum(), 1)
    cur_share = cur_counts / max(cur_counts.sum(), 1)
    order = np.argsort(-np.maximum(ref_share, cur_share), kind="stable")
    top = order[:CHART_TOP_CATEGORIES]
    names = [str(labels[i]) for i in top]
    ref_top, cur_top = list(ref_share[top]), list(cur_share[top])
    if len(order) > CHART_TOP_CATEGORIES:
        rest = order[CHART_TOP_CATEGORIES:]
        names.append(f"other ({len(rest)})")
        ref_top.append(float(ref_share[rest].sum()))
        cur_top.append(float(cur_share[rest].sum()))
    return Distribution(
        kind=ColumnKind.CATEGORICAL,
        labels=tuple(names),
        reference=tuple(float(v) for v in ref_top),
        current=tuple(float(v) for v in cur_top),
    )


# --------------------------------------------------------------------------- whole windows


def compare_to_profile(
    profile: ReferenceProfile,
    current: Frame,
    features: Sequence[str],
    *,
    outputs: Sequence[str] = (),
    options: DriftOptions | None = None,
    model: str | None = None,
) -> DriftReport:
    """Drift, prediction drift and data quality of ``current`` against a reference profile."""
    options = options or DriftOptions()
    started = time.perf_counter()
    present = set(column_names(current))
    names = list(dict.fromkeys([*features, *outputs]))

    def one(name: str) -> tuple[ColumnDriftResult, ColumnQuality | None, list[QualityFinding]]:
        reference = profile.columns.get(name)
        kind = profile.kind(name) if reference is not None else ColumnKind.NUMERIC
        override = options.override(name)
        threshold = override.threshold or override.method.default_threshold
        if reference is None:
            result = _not_enough(
                name, kind, override.method, threshold, "missing from the reference", 0, 0
            )
            return result, None, []
        if name not in present:
            result = _not_enough(
                name, kind, override.method, threshold, "missing from the current window", 0, 0
            )
            return result, None, [missing_column_finding(name)]
        sample: NumericSample | CategoricalSample
        if isinstance(reference, NumericReference):
            sample = numeric_sample(current, name)
            result = numeric_column_drift(name, reference, InMemoryNumeric(sample), options)
            ref_sample: NumericSample | CategoricalSample = reference.sample
        else:
            assert isinstance(reference, CategoricalReference)
            sample = categorical_sample(current, name)
            result = categorical_column_drift(name, reference.sample, sample, options)
            ref_sample = reference.sample
        quality, findings = assess_column(
            name, ref_sample, sample, options.quality, min_rows=options.min_rows
        )
        return result, quality, findings

    with ThreadPoolExecutor(max_workers=options.max_workers or default_workers()) as pool:
        computed = dict(zip(names, pool.map(one, names), strict=True))
    return _assemble(
        computed,
        features,
        outputs,
        options,
        model=model,
        n_reference=profile.n_rows,
        n_current=row_count(current),
        started=started,
        exact=True,
    )


def _assemble(
    computed: Mapping[str, tuple[ColumnDriftResult, ColumnQuality | None, list[QualityFinding]]],
    features: Sequence[str],
    outputs: Sequence[str],
    options: DriftOptions,
    *,
    model: str | None,
    n_reference: int,
    n_current: int,
    started: float,
    exact: bool,
    notes: Sequence[str] = (),
) -> DriftReport:
    columns = {name: computed[name][0] for name in features}
    output_results = {name: computed[name][0] for name in outputs if name not in columns}
    qualities = {name: q for name, (_, q, _) in computed.items() if q is not None}
    findings = tuple(f for name in computed for f in computed[name][2])
    return DriftReport(
        columns=columns,
        share_threshold=options.share_threshold,
        quality=QualityReport(columns=qualities, findings=findings),
        outputs=output_results,
        model=model,
        n_reference=n_reference,
        n_current=n_current,
        profile=str(options.profile),
        exact=exact,
        elapsed_seconds=time.perf_counter() - started,
        notes=tuple(notes),
    )


def model_columns(
    model_cfg: ModelSpec, reference: Frame
) -> tuple[dict[str, ColumnKind], list[str]]:
    """Feature kinds from the configuration (inferred from dtypes when none are listed) and the
    output columns (prediction, score) to watch for prediction drift."""
    cols = model_cfg.columns
    outputs: list[str] = []
    kinds: dict[str, ColumnKind] = {}
    if model_cfg.features.all:
        kinds.update({name: ColumnKind.NUMERIC for name in model_cfg.features.numeric})
        kinds.update({name: ColumnKind.CATEGORICAL for name in model_cfg.features.categorical})
    else:
        excluded = {
            cols.target,
            cols.prediction,
            cols.score,
            cols.timestamp,
            *model_cfg.sensitive_features,
        }
        available = [c for c in column_names(reference) if c not in excluded]
        kinds.update(infer_kinds(reference, available))
    present = set(column_names(reference))
    if cols.prediction in present:
        kinds.setdefault(
            cols.prediction,
            ColumnKind.CATEGORICAL if model_cfg.task == "classification" else ColumnKind.NUMERIC,
        )
        outputs.append(cols.prediction)
    if cols.score and cols.score in present:
        kinds.setdefault(cols.score, ColumnKind.NUMERIC)
        outputs.append(cols.score)
    return kinds, outputs


def run_drift(
    model_cfg: ModelSpec,
    reference: Frame,
    current: Frame,
    *,
    options: DriftOptions | None = None,
    reference_key: str | None = None,
    cache: ProfileCache | None = PROFILE_CACHE,
) -> DriftReport:
    """Drift of a model's current window against its reference, judged by ``options``.

    ``reference_key`` identifies the reference data for the profile cache (a data asset version
    or a file path with mtime); without it a cheap content fingerprint is used.
    """
    options = options or DriftOptions()
    kinds, outputs = model_columns(model_cfg, reference)
    ref_present = set(column_names(reference))
    profiled = {name: kind for name, kind in kinds.items() if name in ref_present}
    fingerprint = reference_key or frame_fingerprint(reference)

    def build() -> ReferenceProfile:
        return build_profile(
            reference, profiled, fingerprint=fingerprint, max_workers=options.max_workers
        )

    profile = (
        cache.get_or_build(model_cfg.name, fingerprint, profiled, build)
        if cache is not None
        else build()
    )
    features = [name for name in kinds if name not in outputs]
    return compare_to_profile(
        profile, current, features, outputs=outputs, options=options, model=model_cfg.name
    )


def drift_frames(
    reference: Frame,
    current: Frame,
    *,
    columns: Sequence[str] | None = None,
    kinds: Mapping[str, ColumnKind] | None = None,
    options: DriftOptions | None = None,
    progress: Callable[[str], None] | None = None,
) -> DriftReport:
    """Drift between two tables without a model configuration: shared columns, kinds from dtypes.

    Raises ValueError when the tables share no column or a requested column is missing.
    """
    options = options or DriftOptions()
    ref_cols, cur_cols = column_names(reference), set(column_names(current))
    shared = [c for c in ref_cols if c in cur_cols and not is_time_column(reference, c)]
    if columns:
        missing = [c for c in columns if c not in ref_cols or c not in cur_cols]
        if missing:
            raise ValueError(f"columns not in both files: {', '.join(missing)}")
        shared = list(columns)
    if not shared:
        raise ValueError("the two tables have no column in common")
    resolved = dict(infer_kinds(reference, shared))
    if kinds:
        resolved.update({k: v for k, v in kinds.items() if k in resolved})
    if progress:
        progress(f"profiling {len(shared)} reference columns")
    profile = build_profile(
        reference, resolved, fingerprint="adhoc", max_workers=options.max_workers
    )
    if progress:
        progress("comparing the current window")
    return compare_to_profile(profile, current, shared, options=options)
