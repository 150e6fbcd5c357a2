"""Render every chart type from churn-like data into a folder, to look at them.

/work/venv/bin/python -m tests.jobs.render_charts /tmp/charts
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.replies import Upload
from engine import UtilizationLimits, digest_row, run_drift, run_performance, run_utilization
from jobs import charts
from tests.engine.churn_data import churn_frame, churn_model, utilization_frame


def render_all() -> list[Upload]:
    model = churn_model()
    reference = churn_frame(20_000, seed=1)
    drifted = churn_frame(5_000, seed=2, drifted=True, missing_rate=0.08)
    steady = churn_frame(5_000, seed=3)
    unfair = churn_frame(5_000, seed=4, unfair=True)

    drift = run_drift(model, reference, drifted)
    calm = run_drift(model, reference, steady)
    perf = run_performance(model, reference, unfair)
    cfg = UtilizationLimits()
    hot = utilization_frame(cpu=78, ramp=18, instances=2, latency_p99=900, seed=5)
    hot_report = run_utilization(cfg, hot, deployment="blue")
    idle = run_utilization(
        cfg, utilization_frame(cpu=3, memory=30, instances=3, seed=6), deployment="green"
    )

    start = datetime(2026, 4, 18, 6, tzinfo=UTC)
    accuracy = [
        0.86,
        0.865,
        0.858,
        0.861,
        0.852,
        0.849,
        0.846,
        0.84,
        0.83,
        0.826,
        0.81,
        0.79,
        0.775,
        0.741,
    ]
    history = [(start + timedelta(days=i), v) for i, v in enumerate(accuracy)]

    rows = [
        digest_row("churn-model", "prod", drift=drift, performance=perf, utilization=hot_report),
        digest_row("churn-model", "preprod", drift=calm, utilization=idle),
        digest_row(
            "fraud-model", "prod", drift=calm, performance=run_performance(model, reference, steady)
        ),
        digest_row("ltv-model", "prod"),
        digest_row(
            "fraud-model",
            "preprod",
            drift=calm,
            performance=run_performance(model, reference, steady),
            utilization=run_utilization(cfg, utilization_frame(seed=9), deployment="blue"),
        ),
    ]
    rendered = [
        charts.drift_overview_chart(drift),
        charts.drift_overview_chart(calm, title="churn-model · data drift (steady week)"),
        charts.distributions_chart(drift),
        charts.distributions_chart(drift, columns=["payment_method", "contract", "plan", "age"]),
        charts.metric_trend_chart(
            history, metric="accuracy", threshold=0.75, baseline=0.86, model="churn-model"
        ),
        charts.fairness_chart(perf.fairness[0], model="churn-model"),
        charts.utilization_chart(
            hot, hot_report.deployments["blue"], cfg, model="churn-model", environment="prod"
        ),
        charts.utilization_chart(
            utilization_frame(cpu=3, memory=30, instances=3, seed=6),
            idle.deployments["green"],
            cfg,
            model="churn-model",
            environment="preprod",
        ),
        charts.digest_chart(rows),
    ]
    return [c for c in rendered if c is not None]


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "charts-preview")
    out.mkdir(parents=True, exist_ok=True)
    for index, chart in enumerate(render_all()):
        path = out / f"{index:02d}-{chart.filename}"
        path.write_bytes(chart.content)
        print(f"{path}  {len(chart.content) // 1024} KB\n    alt: {chart.alt_text}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
