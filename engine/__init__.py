"""The statistics engine: drift, data quality, performance, fairness and utilization.

Pure computation on pandas / pyarrow data. It imports nothing else from the product (no
settings, no store, no Slack; ``lint-imports`` enforces it): a model is described by
:class:`ModelSpec` and every threshold comes in the engine's own option types
(:class:`DriftOptions`, :class:`QualityThresholds`, :class:`PerformanceLimits`,
:class:`UtilizationLimits`), which :mod:`jobs.checks.options` builds from the configuration.
Every monitor speaks one verdict scale, :class:`Verdict`. One call per monitor:

* :func:`run_drift` (model, reference, current, options) -> :class:`DriftReport`
* :func:`run_performance` (model, reference, current, limits) -> :class:`PerformanceReport`
* :func:`estimate_performance` (model, reference, current, limits) -> :class:`PerformanceEstimate`
  for windows without labels (or :class:`PerformanceEstimator` to calibrate once, reuse)
* :func:`run_utilization` (limits, metrics frame) -> :class:`UtilizationReport`

and :func:`drift_frames` for two tables without a model (the ``mlops-bot drift`` CLI).
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names below, imported on first use (see __getattr__)
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
    from engine.estimation import PerformanceEstimate, PerformanceEstimator, estimate_performance
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

_WHERE = {
    "ClassMetrics": "engine.performance",
    "ColumnDriftResult": "engine.results",
    "ColumnKind": "engine.samples",
    "ColumnOverride": "engine.drift",
    "ColumnStatus": "engine.results",
    "DeploymentUtilization": "engine.utilization",
    "DigestRow": "engine.digest",
    "Distribution": "engine.results",
    "DriftOptions": "engine.drift",
    "DriftReport": "engine.results",
    "FairnessResult": "engine.fairness",
    "GroupMetrics": "engine.fairness",
    "Method": "engine.methods",
    "MetricResult": "engine.performance",
    "ModelSpec": "engine.model",
    "PROFILE_CACHE": "engine.profile",
    "PerformanceEstimate": "engine.estimation",
    "PerformanceEstimator": "engine.estimation",
    "PerformanceLimits": "engine.performance",
    "PerformanceReport": "engine.performance",
    "Profile": "engine.methods",
    "ProfileCache": "engine.profile",
    "QualityCheck": "engine.quality",
    "QualityFinding": "engine.quality",
    "QualityReport": "engine.quality",
    "QualityThresholds": "engine.quality",
    "ReferenceProfile": "engine.profile",
    "SignalCheck": "engine.utilization",
    "UtilizationLimits": "engine.utilization",
    "UtilizationReport": "engine.utilization",
    "UtilizationState": "engine.utilization",
    "Verdict": "engine.verdict",
    "WindowSummary": "engine.chunks",
    "build_profile": "engine.profile",
    "compare_to_profile": "engine.drift",
    "digest_row": "engine.digest",
    "drift_frames": "engine.drift",
    "estimate_performance": "engine.estimation",
    "drift_from_summary": "engine.chunks",
    "iter_csv": "engine.chunks",
    "iter_parquet": "engine.chunks",
    "run_drift": "engine.drift",
    "run_performance": "engine.performance",
    "run_utilization": "engine.utilization",
    "summarize": "engine.chunks",
    "worst_first": "engine.digest",
}

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
    "PerformanceEstimate",
    "PerformanceEstimator",
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
    "estimate_performance",
    "iter_csv",
    "iter_parquet",
    "run_drift",
    "run_performance",
    "run_utilization",
    "summarize",
    "worst_first",
]


def __getattr__(name: str) -> Any:
    """Import the module that defines ``name`` on first use: ``import engine.allocator`` or
    ``engine.drift`` alone does not pull in pandas, scipy or sklearn through this package."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
