"""Data quality of a window against what the reference taught: missing values, values that are
not numbers or are infinite, numbers outside the reference range, categories never seen before.

Drift tests drop missing and non-finite values before comparing distributions (a column that
turns 40% empty can keep the same distribution of what is left), so these changes are reported
here, as findings of their own, with the rate, the reference rate and the threshold crossed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

import numpy as np

from engine.samples import CategoricalSample, ColumnKind
from engine.verdict import Verdict


class QualityCheck(StrEnum):
    MISSING_COLUMN = "missing_column"
    MISSING_VALUES = "missing_values"
    INVALID_VALUES = "invalid_values"
    OUT_OF_RANGE = "out_of_range"
    NEW_CATEGORIES = "new_categories"


@dataclass(frozen=True)
class QualityThresholds:
    """Warning / breach levels. Missing and invalid rates are compared as an *increase* over the
    reference rate (a column that was always 3% empty is not news); out-of-range and new-category
    shares are relative to the reference by construction."""

    missing_increase_warning: float = 0.05
    missing_increase_breach: float = 0.20
    invalid_increase_warning: float = 0.0
    """Any new unparseable or infinite value is worth a look."""
    invalid_increase_breach: float = 0.05
    out_of_range_warning: float = 0.05
    out_of_range_breach: float = 0.20
    new_category_warning: float = 0.01
    new_category_breach: float = 0.10


@dataclass(frozen=True)
class ColumnQuality:
    column: str
    kind: ColumnKind
    n_current: int
    missing_rate: float
    reference_missing_rate: float
    invalid_rate: float = 0.0
    reference_invalid_rate: float = 0.0
    out_of_range_rate: float | None = None
    """Numeric: share of current finite values outside the reference [min, max]."""
    reference_range: tuple[float, float] | None = None
    new_category_rate: float | None = None
    """Categorical: share of current non-missing rows in categories the reference never had."""
    new_categories: tuple[str, ...] = ()
    """The most frequent unseen categories (at most five)."""


@dataclass(frozen=True)
class QualityFinding:
    column: str
    check: QualityCheck
    verdict: Verdict
    value: float
    """The current rate (0..1)."""
    threshold: float
    """The rate the value had to exceed for this verdict."""
    reference: float | None
    message: str
    examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class QualityReport:
    columns: Mapping[str, ColumnQuality] = field(default_factory=dict)
    findings: tuple[QualityFinding, ...] = ()

    @property
    def verdict(self) -> Verdict:
        return Verdict.worst(f.verdict for f in self.findings)


class NumericCounts(Protocol):
    """What the checks need from a numeric column: a sample in memory or a chunked summary."""

    n_rows: int
    n_missing: int
    n_infinite: int
    n_type_errors: int

    @property
    def n_valid(self) -> int: ...

    def outside(self, low: float, high: float) -> int: ...


class NumericRange(Protocol):
    n_rows: int
    n_missing: int
    n_infinite: int
    n_type_errors: int
    sorted_values: np.ndarray

    @property
    def n_valid(self) -> int: ...


def _level(excess: float, warning: float, breach: float) -> tuple[Verdict, float] | None:
    if excess > breach:
        return Verdict.BREACH, breach
    if excess > warning:
        return Verdict.WARNING, warning
    return None


def _pct(rate: float) -> str:
    return f"{rate:.1%}" if rate >= 0.001 or rate == 0 else f"{rate:.3%}"


def missing_column_finding(column: str) -> QualityFinding:
    return QualityFinding(
        column=column,
        check=QualityCheck.MISSING_COLUMN,
        verdict=Verdict.BREACH,
        value=1.0,
        threshold=0.0,
        reference=0.0,
        message=f"{column}: column missing from the current window",
    )


def assess_column(
    column: str,
    reference: NumericRange | CategoricalSample,
    current: NumericCounts | CategoricalSample,
    thresholds: QualityThresholds,
    *,
    min_rows: int,
) -> tuple[ColumnQuality, list[QualityFinding]]:
    """Rates for one column and the findings that cross a threshold (none on tiny windows)."""
    ref_rows, cur_rows = max(reference.n_rows, 1), max(current.n_rows, 1)
    missing, ref_missing = current.n_missing / cur_rows, reference.n_missing / ref_rows
    findings: list[QualityFinding] = []
    enough = current.n_rows >= min_rows

    def add(
        check: QualityCheck,
        value: float,
        ref: float | None,
        excess: float,
        warn: float,
        breach: float,
        text: str,
        examples: tuple[str, ...] = (),
    ) -> None:
        level = _level(excess, warn, breach)
        if level is not None and enough:
            verdict, crossed = level
            threshold = crossed + (ref if ref is not None and check in _INCREASE_CHECKS else 0.0)
            findings.append(
                QualityFinding(column, check, verdict, value, threshold, ref, text, examples)
            )

    add(
        QualityCheck.MISSING_VALUES,
        missing,
        ref_missing,
        missing - ref_missing,
        thresholds.missing_increase_warning,
        thresholds.missing_increase_breach,
        f"{column}: {_pct(missing)} missing (reference {_pct(ref_missing)})",
    )
    if not isinstance(current, CategoricalSample) and not isinstance(reference, CategoricalSample):
        invalid = (current.n_type_errors + current.n_infinite) / cur_rows
        ref_invalid = (reference.n_type_errors + reference.n_infinite) / ref_rows
        what = []
        if current.n_type_errors:
            what.append(f"{current.n_type_errors} not numbers")
        if current.n_infinite:
            what.append(f"{current.n_infinite} infinite")
        add(
            QualityCheck.INVALID_VALUES,
            invalid,
            ref_invalid,
            invalid - ref_invalid,
            thresholds.invalid_increase_warning,
            thresholds.invalid_increase_breach,
            f"{column}: {_pct(invalid)} invalid values ({', '.join(what) or 'none'})",
        )
        out_rate: float | None = None
        ref_range: tuple[float, float] | None = None
        if reference.n_valid and current.n_valid:
            lo, hi = float(reference.sorted_values[0]), float(reference.sorted_values[-1])
            ref_range = (lo, hi)
            out_rate = current.outside(lo, hi) / current.n_valid
            add(
                QualityCheck.OUT_OF_RANGE,
                out_rate,
                None,
                out_rate,
                thresholds.out_of_range_warning,
                thresholds.out_of_range_breach,
                f"{column}: {_pct(out_rate)} of values outside the reference range "
                f"[{lo:.4g}, {hi:.4g}]",
            )
        quality = ColumnQuality(
            column=column,
            kind=ColumnKind.NUMERIC,
            n_current=current.n_rows,
            missing_rate=missing,
            reference_missing_rate=ref_missing,
            invalid_rate=invalid,
            reference_invalid_rate=ref_invalid,
            out_of_range_rate=out_rate,
            reference_range=ref_range,
        )
        return quality, findings

    assert isinstance(current, CategoricalSample) and isinstance(reference, CategoricalSample)
    known = set(reference.categories.tolist())
    unseen = np.fromiter(
        (label not in known for label in current.categories.tolist()),
        dtype=bool,
        count=len(current.categories),
    )
    new_rows = int(current.counts[unseen].sum())
    new_rate = new_rows / current.n_valid if current.n_valid else 0.0
    order = np.argsort(-current.counts[unseen], kind="stable")[:5]
    examples = tuple(str(v) for v in np.asarray(current.categories[unseen])[order])
    add(
        QualityCheck.NEW_CATEGORIES,
        new_rate,
        None,
        new_rate,
        thresholds.new_category_warning,
        thresholds.new_category_breach,
        f"{column}: {_pct(new_rate)} of rows in categories the reference never had"
        + (f" ({', '.join(examples)})" if examples else ""),
        examples,
    )
    quality = ColumnQuality(
        column=column,
        kind=ColumnKind.CATEGORICAL,
        n_current=current.n_rows,
        missing_rate=missing,
        reference_missing_rate=ref_missing,
        new_category_rate=new_rate,
        new_categories=examples,
    )
    return quality, findings


_INCREASE_CHECKS = {QualityCheck.MISSING_VALUES, QualityCheck.INVALID_VALUES}
