"""Plain result dataclasses of the drift engine: what a Slack card, an alert or the CLI shows.

They hold numbers and short sentences only (no Slack, no matplotlib), so the Block Kit builders
and the charts render the same object, and ``to_json`` gives the CLI's stable schema.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from engine.methods import Method
from engine.quality import QualityReport
from engine.samples import ColumnKind
from engine.verdict import Verdict

EFFECT_SHORT = "W1/σ"
"""Short label of the effect size of numeric columns (normalized Wasserstein distance)."""

SHORT_METHOD = {
    Method.WASSERSTEIN: EFFECT_SHORT,
    Method.KS: "KS p",
    Method.JENSEN_SHANNON: "JS",
    Method.CHI2: "χ² p",
    Method.PSI: "PSI",
    Method.PEARSON_CHI2: "χ² p",
    Method.Z: "z p",
}
"""Short labels of each method's score, as cards and charts print them."""

STAT_LABELS = {
    "KS p": "Kolmogorov–Smirnov p-value",
    "χ² p": "chi-squared p-value",
    "z p": "z-test p-value",
    EFFECT_SHORT: "normalized Wasserstein distance (W1 ÷ reference std)",
    "JS": "Jensen–Shannon distance",
    "PSI": "population stability index",
}


def fmt_stat(value: float | None, digits: int = 3) -> str:
    """A score as cards and charts print it: ``digits`` significant digits, "–", "∞"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if math.isinf(value):
        return "∞"
    if value == 0:
        return "0"
    if abs(value) < 10**-digits or abs(value) >= 10**5:
        return f"{value:.1e}"
    return f"{value:.{digits}g}"


class ColumnStatus(StrEnum):
    OK = "ok"
    DRIFTED = "drifted"
    NOT_ENOUGH_DATA = "not_enough_data"


@dataclass(frozen=True)
class Distribution:
    """Reference and current shares over common bins or categories, ready to plot."""

    kind: ColumnKind
    labels: tuple[str, ...]
    """One label per bar (categories, or formatted bin ranges for numbers)."""
    reference: tuple[float, ...]
    current: tuple[float, ...]
    edges: tuple[float, ...] = ()
    """Numeric bins: ``len(labels) + 1`` edges; the outer bins also hold values beyond them."""


@dataclass(frozen=True)
class ColumnDriftResult:
    column: str
    kind: ColumnKind
    method: Method
    threshold: float
    score: float | None
    """The number compared with ``threshold``: a distance, or the p-value for tests."""
    p_value: float | None
    drifted: bool
    status: ColumnStatus
    note: str | None = None
    statistic: float | None = None
    """The test statistic (KS D, chi-squared, z) or, for distances, the distance itself."""
    n_reference: int = 0
    n_current: int = 0
    exact: bool = True
    """False when computed from chunked summaries (binned CDFs)."""
    distribution: Distribution | None = None
    effect: float | None = None
    """Normalized Wasserstein distance (W1 / reference std) of a numeric column, whatever the
    method: the effect size shown beside the verdict (None for categories)."""

    @property
    def tested(self) -> bool:
        return self.status is not ColumnStatus.NOT_ENOUGH_DATA

    @property
    def strength(self) -> float:
        """Score relative to its threshold, 1 at the threshold and larger = more drift.

        Distances: ``score / threshold``. Tests: ``log(p) / log(threshold)``, so p = 0.05 is 1
        and p = 0.0025 is 2; p = 0 is infinite. Lets one chart rank mixed methods.
        """
        if self.score is None or not self.tested or math.isnan(self.score):
            return 0.0
        if self.method.is_test:
            if self.score <= 0:
                return math.inf
            if self.score >= 1:
                return 0.0
            return math.log(self.score) / math.log(self.threshold)
        return self.score / self.threshold if self.threshold > 0 else math.inf

    @property
    def verdict_text(self) -> str:
        """ "drifted", "no drift" or "not tested": the method's verdict, in words."""
        if not self.tested:
            return "not tested"
        return "drifted" if self.drifted else "no drift"

    @property
    def statistic_text(self) -> str:
        """The one labelled statistic of this column that every card, chart and report shows:
        the deciding score of its method, then the effect size when that is another number.

        "KS p=0.003 · W1/σ 0.21" (a test on few rows), "W1/σ 0.21" (Wasserstein on many rows,
        where the score is the effect size), "χ² p=0.04", "JS 0.12". Labels are in
        :data:`STAT_LABELS`, for a chart's legend."""
        if not self.tested or self.score is None:
            return "not enough data"
        short = SHORT_METHOD.get(self.method, str(self.method))
        score = (
            f"{short}={fmt_stat(self.score)}"
            if self.method.is_test
            else (f"{short} {fmt_stat(self.score)}")
        )
        if self.effect is None or self.method is Method.WASSERSTEIN:
            return score
        return f"{score} · {EFFECT_SHORT} {fmt_stat(self.effect)}"

    def to_json(self) -> dict[str, Any]:
        return {
            "method": str(self.method),
            "score": _finite_or_none(self.score),
            "threshold": self.threshold,
            "p_value": _finite_or_none(self.p_value),
            "drifted": self.drifted,
            "note": self.note,
        }


@dataclass(frozen=True)
class DriftReport:
    """Drift of one current window against the reference, per feature and for the dataset."""

    columns: Mapping[str, ColumnDriftResult]
    """Model features, in configuration order."""
    share_threshold: float
    quality: QualityReport = field(default_factory=QualityReport)
    outputs: Mapping[str, ColumnDriftResult] = field(default_factory=dict)
    """Prediction drift: the model's prediction and score columns, same machinery."""
    model: str | None = None
    n_reference: int = 0
    n_current: int = 0
    profile: str = "default"
    exact: bool = True
    elapsed_seconds: float = 0.0
    notes: tuple[str, ...] = ()

    @property
    def tested(self) -> list[ColumnDriftResult]:
        return [c for c in self.columns.values() if c.tested]

    @property
    def drifted(self) -> list[ColumnDriftResult]:
        return [c for c in self.columns.values() if c.drifted]

    @property
    def drifted_count(self) -> int:
        return len(self.drifted)

    @property
    def tested_count(self) -> int:
        return len(self.tested)

    @property
    def share_drifted(self) -> float:
        """Drifted features over features that could be tested (untestable ones do not dilute)."""
        tested = self.tested_count
        return self.drifted_count / tested if tested else 0.0

    @property
    def dataset_drift(self) -> bool:
        return self.tested_count > 0 and self.share_drifted >= self.share_threshold

    @property
    def prediction_drift(self) -> bool:
        return any(c.drifted for c in self.outputs.values())

    @property
    def verdict(self) -> Verdict:
        if self.tested_count == 0:
            return Verdict.NO_DATA
        if self.dataset_drift:
            return Verdict.BREACH
        if self.drifted_count or self.prediction_drift:
            return Verdict.WARNING
        return Verdict.HEALTHY

    def ranked(self) -> list[ColumnDriftResult]:
        """Features, most drifted first (by score relative to threshold)."""
        return sorted(self.columns.values(), key=lambda c: (-c.strength, c.column))

    @property
    def headline(self) -> str:
        untested = len(self.columns) - self.tested_count
        if self.tested_count == 0:
            return f"not enough data to test any of {len(self.columns)} features"
        text = (
            f"{self.drifted_count} of {self.tested_count} features drifted "
            f"({self.share_drifted:.0%}; dataset drift at {self.share_threshold:.0%})"
        )
        if untested:
            text += f", {untested} not tested"
        return text

    def to_json(self) -> dict[str, Any]:
        """The CLI's ``--json`` schema."""
        return {
            "dataset_drift": self.dataset_drift,
            "drifted_count": self.drifted_count,
            "share_drifted": self.share_drifted,
            "columns": {name: result.to_json() for name, result in self.columns.items()},
        }


def _finite_or_none(value: float | None) -> float | None:
    if value is None or math.isnan(value):
        return None
    if math.isinf(value):
        return None
    return float(value)
