"""The settings a backtest can try, spelled as the configuration spells them.

Each is a key of a model's ``monitoring`` section with dashes for underscores
(``monitoring.drift.share_threshold`` is ``--share-threshold``), and a proposed value is held to
the range the configuration itself accepts (read from the settings model, so the two cannot
disagree). Only settings whose effect can be worked out again from stored production data are
here: the drift share, the performance limits, and the alert rule's ``consecutive_breaches``.
Utilization reads platform metrics, not the request log, and per-feature drift methods or the
fairness and data-quality limits are not offered yet.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel

from core.backtest import SettingChange
from core.checks import CheckKind
from engine import DriftOptions, PerformanceLimits
from infra.settings import AlertConfig, ModelConfig
from jobs.checks.options import drift_options, performance_limits


@dataclass(frozen=True)
class Tunable:
    option: str
    """The command option and the configuration key, with dashes (``min-accuracy``)."""
    section: str
    """The ``monitoring`` section holding it: drift, performance or alerts."""
    metric: str | None = None
    """The performance metric it limits (None: the check's headline statistic)."""

    @property
    def key(self) -> str:
        return self.option.replace("-", "_")

    def config(self, model_cfg: ModelConfig) -> BaseModel:
        return getattr(model_cfg.monitoring, self.section)  # type: ignore[no-any-return]

    def current(self, model_cfg: ModelConfig) -> float | None:
        value = getattr(self.config(model_cfg), self.key)
        return None if value is None else float(value)

    @property
    def applies_to_every_kind(self) -> bool:
        return self.section == "alerts"

    def fits(self, model_cfg: ModelConfig) -> bool:
        """Whether the model's task has this metric (no MAE on a classifier, no F1 on a
        regressor): a limit the check never applies would backtest an empty chart."""
        if self.metric is None:
            return True
        return (self.metric in _REGRESSION_METRICS) == (model_cfg.task == "regression")


_REGRESSION_METRICS = ("mae", "rmse", "r2")

#: Every setting a backtest can try, in the order the usage lists them.
TUNABLES: tuple[Tunable, ...] = (
    Tunable("share-threshold", "drift"),
    Tunable("min-accuracy", "performance", "accuracy"),
    Tunable("min-f1", "performance", "f1"),
    Tunable("min-roc-auc", "performance", "roc_auc"),
    Tunable("max-mae", "performance", "mae"),
    Tunable("max-rmse", "performance", "rmse"),
    Tunable("min-r2", "performance", "r2"),
    Tunable("max-drop", "performance"),
    Tunable("consecutive-breaches", "alerts"),
)
BY_OPTION = {t.option: t for t in TUNABLES}

#: The check kinds a backtest can recompute from the request log and its labels.
BACKTESTABLE: tuple[CheckKind, ...] = (CheckKind.DRIFT, CheckKind.PERFORMANCE)


def tunables_of(kind: CheckKind) -> tuple[Tunable, ...]:
    return tuple(t for t in TUNABLES if t.section == kind.value or t.applies_to_every_kind)


class BadValue(ValueError):
    """A proposed value the configuration would refuse; ``str()`` says what it accepts."""


def parse_value(tunable: Tunable, model_cfg: ModelConfig, text: str) -> float:
    """``text`` as a value of ``tunable``, within the range its configuration key accepts."""
    field = type(tunable.config(model_cfg)).model_fields[tunable.key]
    whole = field.annotation is int
    expected = _expected(field.metadata, whole)
    try:
        value = float(text)
    except ValueError:
        raise BadValue(f"--{tunable.option} expects {expected}, got {text!r}") from None
    if not math.isfinite(value) or (whole and value != int(value)):
        raise BadValue(f"--{tunable.option} expects {expected}, got {text!r}")
    for bound in field.metadata:
        if not _within(value, bound):
            raise BadValue(f"--{tunable.option} expects {expected}, got {text}")
    return value


def _within(value: float, bound: Any) -> bool:
    if isinstance(bound, Gt):
        return value > bound.gt  # type: ignore[operator]
    if isinstance(bound, Ge):
        return value >= bound.ge  # type: ignore[operator]
    if isinstance(bound, Lt):
        return value < bound.lt  # type: ignore[operator]
    if isinstance(bound, Le):
        return value <= bound.le  # type: ignore[operator]
    return True


def _expected(metadata: list[Any], whole: bool) -> str:
    """The accepted range in words: "a number from 0 to 1", "a number above 0 and up to 1"."""
    parts = []
    for bound in metadata:
        if isinstance(bound, Gt):
            parts.append(f"above {bound.gt:g}")
        elif isinstance(bound, Ge):
            parts.append(f"of at least {bound.ge:g}")
        elif isinstance(bound, Lt):
            parts.append(f"below {bound.lt:g}")
        elif isinstance(bound, Le):
            parts.append(f"up to {bound.le:g}")
    text = " and ".join(parts)
    if len(parts) == 2 and text.startswith("of at least ") and " and up to " in text:
        text = text.replace("of at least ", "from ").replace(" and up to ", " to ")
    return ("a whole number" if whole else "a number") + (f" {text}" if text else "")


@dataclass(frozen=True)
class Proposal:
    """The settings to try: at most one threshold of the check and the alert rule's K."""

    kind: CheckKind
    threshold: tuple[Tunable, float] | None = None
    consecutive_breaches: int | None = None

    @property
    def tunable(self) -> Tunable | None:
        return self.threshold[0] if self.threshold else None

    def changes(self, model_cfg: ModelConfig) -> tuple[SettingChange, ...]:
        found = []
        if self.threshold is not None:
            tunable, value = self.threshold
            found.append(
                SettingChange(tunable.option, tunable.section, tunable.current(model_cfg), value)
            )
        if self.consecutive_breaches is not None:
            current = model_cfg.monitoring.alerts.consecutive_breaches
            found.append(
                SettingChange("consecutive-breaches", "alerts", current, self.consecutive_breaches)
            )
        return tuple(found)

    def drift_options(self, model_cfg: ModelConfig) -> DriftOptions:
        options = drift_options(model_cfg)
        if self.tunable is not None and self.tunable.key == "share_threshold":
            return replace(options, share_threshold=self.threshold[1])  # type: ignore[index]
        return options

    def performance_limits(self, model_cfg: ModelConfig) -> PerformanceLimits:
        limits = performance_limits(model_cfg)
        if self.tunable is not None and self.tunable.section == "performance":
            return replace(limits, **{self.tunable.key: self.threshold[1]})  # type: ignore[index]
        return limits

    def alert_rules(self, model_cfg: ModelConfig) -> AlertConfig:
        rules = model_cfg.monitoring.alerts
        if self.consecutive_breaches is None:
            return rules
        return rules.model_copy(update={"consecutive_breaches": self.consecutive_breaches})
