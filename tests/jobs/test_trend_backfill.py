"""The performance trend's backfill computes each past window's metric and nothing else.

It used to run the whole performance check on each of thirteen past windows, the reference's
baseline metrics and fairness included, to keep one number per window. The points must be the
same as that full computation's, with one metric computation per window.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

import engine.performance
from engine.performance import run_performance
from infra.defaults import demo_config
from infra.settings import Settings
from jobs.checks.options import performance_limits
from jobs.checks.performance import TREND_POINTS, backfilled_trend

END = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)
WINDOW = timedelta(hours=6)


def frame(n: int, start: datetime, span: timedelta, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    score = rng.uniform(0, 1, n)
    churned = (rng.uniform(0, 1, n) < score).astype(int)
    return pd.DataFrame(
        {
            "timestamp": start + span * (np.arange(n) / n),
            "score": score,
            "prediction": (score > 0.5).astype(int),
            "churned": churned,
            "gender": rng.choice(["f", "m"], n),
        }
    )


class Ctx:
    def __init__(self, history: pd.DataFrame) -> None:
        self.platform = self
        self.history = history

    def production_data(self, model: str, env: str, start: datetime, end: datetime) -> Any:
        t = self.history["timestamp"]
        return self.history[(t >= start) & (t < end)]


def test_the_backfill_keeps_the_full_checks_values_with_one_metric_pass_per_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cfg = Settings.model_validate(demo_config()).models[0]
    start = END - WINDOW
    earliest = start - WINDOW * (TREND_POINTS - 1)
    history = frame(4000, earliest, start - earliest, 1)
    reference = frame(3000, earliest - timedelta(days=30), timedelta(days=10), 2)
    limits = performance_limits(cfg)

    expected = []
    for index in range(TREND_POINTS - 1):
        bucket_end = earliest + WINDOW * (index + 1)
        rows = Ctx(history).production_data("", "", bucket_end - WINDOW, bucket_end)
        full = run_performance(cfg, reference, rows, limits=limits)
        expected.append((bucket_end, full.metrics["roc_auc"].value))

    computed: list[int] = []
    real = engine.performance._compute

    def counted(*args: Any, **kwargs: Any) -> Any:
        computed.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(engine.performance, "_compute", counted)
    trend = backfilled_trend(Ctx(history), cfg, "prod", start, END, reference, "roc_auc")  # type: ignore[arg-type]
    assert trend.realized == expected
    assert len(computed) == TREND_POINTS - 1  # the windows' own; none for the reference
