"""What every check kind shares: the :class:`Check` interface, the error a check raises when it
cannot read its data, and the small formatting helpers the kinds use for findings."""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from core.checks import CheckKind
from core.reports import CheckReport
from infra.settings import ModelConfig

if TYPE_CHECKING:  # the platform check job imports the checks without the bot's context
    from jobs.context import MonitorContext

MAX_FINDINGS = 8


class CheckFailed(Exception):
    """The check could not read its data; ``str()`` is safe to show in Slack."""


class Check(Protocol):
    """One kind of monitoring check: platform data -> engine -> :class:`CheckReport`."""

    kind: CheckKind

    @property
    def signals(self) -> tuple[str, ...]:
        """The alert signals the check reports, main signal first (``kind.signals``)."""
        ...

    def build_report(
        self,
        ctx: MonitorContext,
        model_cfg: ModelConfig,
        env: str,
        start: datetime,
        end: datetime,
    ) -> CheckReport:
        """Read the window from the platform, run the engine, return the report (with charts).

        Raises :class:`CheckFailed` when the data cannot be read."""
        ...


def num(value: float | None, digits: int = 3) -> str:
    """A number for a finding: ``digits`` significant digits, ``–`` when missing, ``∞``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if math.isinf(value):
        return "∞"
    return f"{value:.{digits}g}"
