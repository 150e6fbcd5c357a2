"""Drift methods, their default thresholds, and how the default method is chosen per column.

Defaults and their sources
--------------------------
* Numeric, both samples large: normalized Wasserstein distance (W1 / reference std, std floored
  at 0.001) >= 0.1. Azure ML model monitoring's default for numerical features
  ("Normalized Wasserstein distance", threshold 0.1) and Evidently's default for numerical
  columns with more than 1000 reference rows (``wasserstein``, 0.1).
* Numeric, small samples: two-sample Kolmogorov–Smirnov p <= 0.05 (Evidently's test registry:
  ``ks`` for <= 1000 reference rows). Distances carry no sampling error bar, so on a small window
  they alarm on noise; a test's p-value accounts for the sample size.
* Categorical (and numeric with at most 5 distinct values), large: Jensen–Shannon distance
  >= 0.1 (Azure ML's default for categorical features, Evidently's ``jensenshannon`` at 0.1).
  We use log base 2 so the distance lies in [0, 1]; Evidently uses the natural log (scipy's
  default), whose range is [0, 0.833], so the same 0.1 is slightly stricter here.
* Categorical, small: chi-squared test of homogeneity (``scipy.stats.chi2_contingency``)
  p <= 0.05. Evidently's registry uses the goodness-of-fit form (``scipy.stats.chisquare``
  against reference shares, kept here as ``pearson_chi2``), which treats a small reference as
  exact and so raises false alarms; the contingency form treats both windows as samples.
* Dataset drift: share of drifted features >= 0.5 (Evidently's ``drift_share`` default).

Where we depart from Evidently on purpose: the small/large switch looks at
``min(n_reference, n_current)`` (Evidently looks at the reference alone, so a 200-row current
window against a big reference gets a distance and false alarms), the contingency chi-squared,
and log base 2. The ``evidently`` profile reproduces Evidently 0.7's choices exactly for
comparisons (see benchmarks/drift_vs_evidently.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Method(StrEnum):
    AUTO = "auto"
    WASSERSTEIN = "wasserstein"
    KS = "ks"
    JENSEN_SHANNON = "jensenshannon"
    CHI2 = "chi2"
    PSI = "psi"
    PEARSON_CHI2 = "pearson_chi2"
    Z = "z"
    """Two-proportion z-test; used by the ``evidently`` profile for binary columns."""

    @property
    def is_test(self) -> bool:
        """Tests compare a p-value (drift when small); the others a distance (drift when large)."""
        return self in _TESTS

    @property
    def default_threshold(self) -> float:
        return _DEFAULT_THRESHOLDS[self]

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def numeric_only(self) -> bool:
        return self in (Method.WASSERSTEIN, Method.KS)


_TESTS = {Method.KS, Method.CHI2, Method.PEARSON_CHI2, Method.Z}
_DEFAULT_THRESHOLDS = {
    Method.AUTO: 0.1,
    Method.WASSERSTEIN: 0.1,
    Method.KS: 0.05,
    Method.JENSEN_SHANNON: 0.1,
    Method.CHI2: 0.05,
    Method.PSI: 0.1,
    Method.PEARSON_CHI2: 0.05,
    Method.Z: 0.05,
}
_LABELS = {
    Method.AUTO: "auto",
    Method.WASSERSTEIN: "Wasserstein (normed)",
    Method.KS: "Kolmogorov–Smirnov p",
    Method.JENSEN_SHANNON: "Jensen–Shannon",
    Method.CHI2: "chi-squared p",
    Method.PSI: "PSI",
    Method.PEARSON_CHI2: "Pearson chi-squared p",
    Method.Z: "z-test p",
}


class Profile(StrEnum):
    """Which rule book picks methods and definitions."""

    DEFAULT = "default"
    EVIDENTLY = "evidently"
    """Evidently 0.7's DataDriftPreset defaults: reference-size switch at 1000 rows, goodness-of-
    fit chi-squared, z-test for binary columns, natural-log Jensen–Shannon, Sturges bins."""


#: At most this many distinct values (both windows together) makes a numeric column discrete.
DISCRETE_MAX_UNIQUE = 5


@dataclass(frozen=True)
class ColumnFacts:
    """What the method choice needs to know about one column pair."""

    numeric: bool
    n_reference: int
    n_current: int
    n_distinct: int | None
    """Distinct values in both windows together; None when known to exceed the discrete limit."""

    @property
    def discrete(self) -> bool:
        return not self.numeric or (
            self.n_distinct is not None and self.n_distinct <= DISCRETE_MAX_UNIQUE
        )


def choose_method(facts: ColumnFacts, *, profile: Profile, small_sample_rows: int) -> Method:
    """The default method for a column (``auto``)."""
    if profile is Profile.EVIDENTLY:
        small = facts.n_reference <= 1000
        distinct = facts.n_distinct if facts.n_distinct is not None else DISCRETE_MAX_UNIQUE + 1
        if small:
            if facts.numeric and distinct > DISCRETE_MAX_UNIQUE:
                return Method.KS
            return Method.PEARSON_CHI2 if distinct > 2 else Method.Z
        if facts.numeric and distinct > DISCRETE_MAX_UNIQUE:
            return Method.WASSERSTEIN
        return Method.JENSEN_SHANNON
    small = min(facts.n_reference, facts.n_current) < small_sample_rows
    if facts.discrete:
        return Method.CHI2 if small else Method.JENSEN_SHANNON
    return Method.KS if small else Method.WASSERSTEIN


def is_drift(method: Method, score: float, threshold: float, profile: Profile) -> bool:
    """Distances drift at or above the threshold, p-values at or below it.

    Evidently compares its chi-squared and z-test p-values strictly (``p < threshold``), so the
    ``evidently`` profile does too; everything else uses the issue's ``<=`` / ``>=``.
    """
    if score != score:  # NaN: nothing measurable
        return False
    if method.is_test:
        if profile is Profile.EVIDENTLY and method in (Method.PEARSON_CHI2, Method.Z, Method.CHI2):
            return score < threshold
        return score <= threshold
    return score >= threshold
