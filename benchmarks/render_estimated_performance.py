"""Render the accuracy-trend chart of a model whose last labels have not arrived, through the
performance check itself (``jobs.checks.performance.performance_report``).

    python benchmarks/render_estimated_performance.py docs/images/estimated-performance.png

Fourteen daily windows of a churn-like classifier whose population moves, from day 6 on,
towards customers the model is unsure about (covariate shift: P(y | x) never changes), so its
accuracy falls. Labels arrive a week late: the last six windows have none, and the chart shows
them estimated from the scores (dashed, with the 95% band) after the realized ones (solid).
Also prints each window's realized accuracy (known here, hidden from the check) beside it.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from infra.defaults import DEMO_MODEL, demo_config  # noqa: E402
from infra.settings import Settings  # noqa: E402
from jobs.checks.performance import performance_report  # noqa: E402
from jobs.context import MonitorContext  # noqa: E402

END = datetime(2026, 11, 30, 6, tzinfo=UTC)
DAYS = 14
LABEL_LAG_DAYS = 6
ROWS_PER_DAY = 1500


class ShiftingPlatform:
    """The two reads the performance check makes, from a fixed P(y | x) and a moving x."""

    def __init__(self, seed: int = 5) -> None:
        from sklearn.ensemble import HistGradientBoostingClassifier

        self.rng = np.random.default_rng(seed)
        x, y = self._population(20_000, 0.0)
        self.model = HistGradientBoostingClassifier(max_iter=120, random_state=seed).fit(x, y)
        self.reference = self._frame(*self._population(5_000, 0.0), END - timedelta(days=60))
        self.days: list[pd.DataFrame] = []
        for day in range(DAYS):
            squeeze = max(0, day - 5) / (DAYS - 6)  # 0 until day 6, then up to 1
            start = END - timedelta(days=DAYS - day)
            self.days.append(self._frame(*self._population(ROWS_PER_DAY, squeeze), start))
        self.labelled_until = END - timedelta(days=LABEL_LAG_DAYS)

    def _population(self, n: int, squeeze: float) -> tuple[np.ndarray, np.ndarray]:
        x = self.rng.normal(0.0, 1.0, (n, 4))
        x[:, 0] *= 1.0 - 0.65 * squeeze  # customers bunch up where the model hesitates
        logit = 1.6 * x[:, 0] - 0.8 * x[:, 1] + 0.4 * x[:, 2] - 0.2
        return x, (self.rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)

    def _frame(self, x: np.ndarray, y: np.ndarray, start: datetime) -> pd.DataFrame:
        score = self.model.predict_proba(x)[:, 1]
        stamps = pd.date_range(start, start + timedelta(days=1), periods=len(y) + 1, tz=UTC)[:-1]
        return pd.DataFrame(
            {
                "timestamp": stamps,
                "prediction": (score >= 0.5).astype(int),
                "score": score,
                "churned": y,
            }
        )

    def reference_data(self, model: str) -> pd.DataFrame:
        return self.reference.copy()

    def production_data(self, model: str, env: str, start: datetime, end: datetime) -> pd.DataFrame:
        frame = pd.concat(self.days, ignore_index=True)
        frame = frame[(frame["timestamp"] >= start) & (frame["timestamp"] < end)].copy()
        frame["churned"] = frame["churned"].astype("Int64")
        frame.loc[frame["timestamp"] >= self.labelled_until, "churned"] = pd.NA
        return frame


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "estimated-performance.png")
    settings = Settings.model_validate(demo_config())
    platform = ShiftingPlatform()
    ctx = MonitorContext(settings=settings, platform=platform, store=None)  # type: ignore[arg-type]
    model = settings.model(DEMO_MODEL)
    report = performance_report(ctx, model, "prod", END - timedelta(days=1), END, history=[])
    signal = report.signal("performance")
    assert signal is not None and signal.chart is not None
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(signal.chart.content)
    print(f"headline: {signal.headline}")
    print(f"alt text: {signal.chart.alt_text}")
    for frame in platform.days:
        real = float((frame["prediction"] == frame["churned"]).mean())
        labelled = frame["timestamp"].iloc[0] < platform.labelled_until
        print(
            f"  {frame['timestamp'].iloc[0]:%b %d}: realized {real:.3f}"
            + ("" if labelled else " (hidden from the check: estimated on the chart)")
        )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
