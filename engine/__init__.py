"""The statistics engine: drift, data quality, performance, fairness and utilization.

Pure computation on pandas / pyarrow data. It imports nothing else from the product (no
settings, no store, no Slack; ``lint-imports`` enforces it): a model is described by
:class:`ModelSpec` and every threshold comes in the engine's own option types
(:class:`DriftOptions`, :class:`QualityThresholds`, :class:`PerformanceLimits`,
:class:`UtilizationLimits`), which :mod:`jobs.checks.options` builds from the configuration.
Every monitor speaks one verdict scale, :class:`Verdict`. One call per monitor:

* :func:`run_drift` (model, reference, current, options) -> :class:`DriftReport`
* :func:`run_performance` (model, reference, current, limits) -> :class:`PerformanceReport`
* :func:`run_utilization` (limits, metrics frame) -> :class:`UtilizationReport`

and :func:`drift_frames` for two tables without a model (the ``mlops-bot drift`` CLI).
"""

from engine.chunks import (
    WindowSummary,
    drift_from_summary,
    iter_csv,
    iter_parquet,
    summarize,
)
from engine.digest import DigestRow, digest_row, worst_first
from engine.drift import (
    ColumnOverride,
    DriftOptions,
    compare_to_profile,
    drift_frames,
    run_drift,
)
from engine.fairness import FairnessResult, GroupMetrics
from engine.methods import Method, Profile
from engine.model import ModelSpec
from engine.performance import (
    ClassMetrics,
    MetricResult,
    PerformanceLimits,
    PerformanceReport,
    run_performance,
)
from engine.profile import PROFILE_CACHE, ProfileCache, ReferenceProfile, build_profile
from engine.quality import QualityCheck, QualityFinding, QualityReport, QualityThresholds
from engine.results import ColumnDriftResult, ColumnStatus, Distribution, DriftReport
from engine.samples import ColumnKind
from engine.utilization import (
    DeploymentUtilization,
    SignalCheck,
    UtilizationLimits,
    UtilizationReport,
    UtilizationState,
    run_utilization,
)
from engine.verdict import Verdict

__all__ = [
    "PROFILE_CACHE",
    "ClassMetrics",
    "ColumnDriftResult",
    "ColumnKind",
    "ColumnOverride",
    "ColumnStatus",
    "DeploymentUtilization",
    "DigestRow",
    "Distribution",
    "DriftOptions",
    "DriftReport",
    "FairnessResult",
    "GroupMetrics",
    "Method",
    "MetricResult",
    "ModelSpec",
    "PerformanceLimits",
    "PerformanceReport",
    "Profile",
    "ProfileCache",
    "QualityCheck",
    "QualityFinding",
    "QualityReport",
    "QualityThresholds",
    "ReferenceProfile",
    "SignalCheck",
    "UtilizationLimits",
    "UtilizationReport",
    "UtilizationState",
    "Verdict",
    "WindowSummary",
    "build_profile",
    "compare_to_profile",
    "digest_row",
    "drift_frames",
    "drift_from_summary",
    "iter_csv",
    "iter_parquet",
    "run_drift",
    "run_performance",
    "run_utilization",
    "summarize",
    "worst_first",
]
