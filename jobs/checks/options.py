"""The engine's options from the configuration: the only place a model's ``monitoring`` section
becomes :class:`~engine.DriftOptions`, :class:`~engine.PerformanceLimits` or
:class:`~engine.UtilizationLimits` (the engine itself never reads the settings)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from engine import DriftOptions, PerformanceLimits, QualityThresholds, UtilizationLimits
from engine.drift import ColumnOverride
from engine.methods import Method
from infra.settings import (
    DriftConfig,
    ModelConfig,
    PerformanceConfig,
    QualityConfig,
    UtilizationConfig,
)


def quality_thresholds(config: QualityConfig) -> QualityThresholds:
    """The levels a model's ``monitoring.drift.quality`` section sets."""
    return QualityThresholds(
        missing_increase_warning=config.missing_increase.warning,
        missing_increase_breach=config.missing_increase.breach,
        invalid_increase_warning=config.invalid_increase.warning,
        invalid_increase_breach=config.invalid_increase.breach,
        out_of_range_warning=config.out_of_range.warning,
        out_of_range_breach=config.out_of_range.breach,
        new_category_warning=config.new_category.warning,
        new_category_breach=config.new_category.breach,
    )


def drift_options(config: ModelConfig | DriftConfig, **overrides: Any) -> DriftOptions:
    """A model's (or a ``monitoring.drift`` section's) drift settings as engine options."""
    if isinstance(config, ModelConfig):
        config = config.monitoring.drift
    columns = {
        name: ColumnOverride(Method(setting.method), setting.threshold)
        for name, setting in config.columns.items()
    }
    base = DriftOptions(
        share_threshold=config.share_threshold,
        small_sample_rows=config.small_sample_rows,
        min_rows=config.min_rows,
        columns=columns,
        quality=quality_thresholds(config.quality),
    )
    return replace(base, **overrides)


def performance_limits(config: ModelConfig | PerformanceConfig) -> PerformanceLimits:
    """A model's (or a ``monitoring.performance`` section's) limits for the engine."""
    if isinstance(config, ModelConfig):
        config = config.monitoring.performance
    return PerformanceLimits(
        min_accuracy=config.min_accuracy,
        min_f1=config.min_f1,
        min_roc_auc=config.min_roc_auc,
        max_mae=config.max_mae,
        max_rmse=config.max_rmse,
        min_r2=config.min_r2,
        max_drop=config.max_drop,
        max_demographic_parity_difference=config.max_demographic_parity_difference,
        max_equalized_odds_difference=config.max_equalized_odds_difference,
    )


def utilization_limits(config: ModelConfig | UtilizationConfig) -> UtilizationLimits:
    """A model's (or a ``monitoring.utilization`` section's) thresholds for the engine."""
    if isinstance(config, ModelConfig):
        config = config.monitoring.utilization
    return UtilizationLimits(
        high_cpu_percent=config.high_cpu_percent,
        low_cpu_percent=config.low_cpu_percent,
        high_memory_percent=config.high_memory_percent,
        max_error_rate=config.max_error_rate,
        max_latency_p99_ms=config.max_latency_p99_ms,
        sustained_share=config.sustained_share,
    )
