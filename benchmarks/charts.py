"""Time each chart type: build + render to PNG, the cost a posted check pays per chart.

    python benchmarks/charts.py [--repeats 7]

Inputs are the churn-like data of ``tests/jobs/render_charts.py`` (a drifted window, an unfair
one, a hot deployment). Each chart is rendered once to warm up (fonts, caches), then
``--repeats`` times; the median and the best are printed with the PNG size, beside issue 15's
target of 0.15 s per chart. Rendering is forced by reading ``Upload.content`` (charts are
rendered only when a message that carries them is posted).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.replies import Upload  # noqa: E402
from engine import (  # noqa: E402
    UtilizationLimits,
    digest_row,
    run_drift,
    run_performance,
    run_utilization,
)
from jobs import charts  # noqa: E402
from tests.engine.churn_data import churn_frame, churn_model, utilization_frame  # noqa: E402

TARGET_S = 0.15


def cases(charts=charts) -> dict[str, Callable[[], Upload | None]]:  # type: ignore[no-untyped-def]
    model = churn_model()
    reference = churn_frame(20_000, seed=1)
    drifted = churn_frame(5_000, seed=2, drifted=True, missing_rate=0.08)
    unfair = churn_frame(5_000, seed=4, unfair=True)
    drift = run_drift(model, reference, drifted)
    perf = run_performance(model, reference, unfair)
    cfg = UtilizationLimits()
    hot = utilization_frame(cpu=78, ramp=18, instances=2, latency_p99=900, seed=5)
    hot_report = run_utilization(cfg, hot, deployment="blue")
    start = datetime(2026, 4, 18, 6, tzinfo=UTC)
    values = [0.86, 0.865, 0.858, 0.861, 0.852, 0.849, 0.846, 0.84, 0.83, 0.826, 0.81, 0.79]
    history = [(start + timedelta(days=i), v) for i, v in enumerate(values)]
    rows = [
        digest_row(f"model-{i}", "prod", drift=drift, performance=perf, utilization=hot_report)
        for i in range(8)
    ]
    return {
        "utilization": lambda: charts.utilization_chart(
            hot, hot_report.deployments["blue"], cfg, model="churn-model", environment="prod"
        ),
        "distributions": lambda: charts.distributions_chart(drift),
        "drift overview": lambda: charts.drift_overview_chart(drift),
        "metric trend": lambda: charts.metric_trend_chart(
            history, metric="accuracy", threshold=0.75, baseline=0.86, model="churn-model"
        ),
        "fairness": lambda: charts.fairness_chart(perf.fairness[0], model="churn-model"),
        "digest (8 rows)": lambda: charts.digest_chart(rows),
    }


def measure(build: Callable[[], Upload | None], repeats: int) -> tuple[float, float, float, int]:
    """(median wall, best wall, median CPU of this thread, PNG bytes). CPU time is what a
    shared machine's load does not inflate much; wall is what a cycle waits."""

    def once() -> tuple[float, float, int]:
        started, cpu = time.perf_counter(), time.thread_time()
        upload = build()
        size = len(upload.content) if upload is not None else 0
        return time.perf_counter() - started, time.thread_time() - cpu, size

    once()  # warm-up: font cache, first canvas
    walls, cpus = [], []
    size = 0
    for _ in range(repeats):
        wall, cpu, size = once()
        walls.append(wall)
        cpus.append(cpu)
    return statistics.median(walls), min(walls), statistics.median(cpus), size


def load_module(path: Path):  # type: ignore[no-untyped-def]
    """Another version of ``jobs/charts.py`` (e.g. ``git show main:jobs/charts.py``), to
    compare before and after on the same inputs in the same run."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("charts_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--before", type=Path, help="an older jobs/charts.py to time beside this one"
    )
    args = parser.parse_args(argv)
    import os

    print(f"chart render times · {os.cpu_count()} CPUs · load average {os.getloadavg()[0]:.1f}")
    versions = {"now": cases()}
    if args.before:
        versions = {"before": cases(load_module(args.before)), **versions}
    header = "".join(f" | {v:>6} wall  best   CPU" for v in versions)
    print(f"  {'chart':<16}{header}")
    worst = 0.0
    for name in versions["now"]:
        cells = []
        for version, builds in versions.items():
            median, best, cpu, _size = measure(builds[name], args.repeats)
            if version == "now":
                worst = max(worst, cpu)
            cells.append(f" | {median:>10.3f} {best:>5.3f} {cpu:>5.3f}")
        print(f"  {name:<16}{''.join(cells)}")
    print(
        f"  target <= {TARGET_S} s per chart (median CPU, now): "
        f"{'met' if worst <= TARGET_S else 'NOT met'} (worst {worst:.3f} s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
