"""Every chart type renders to an 800 px wide PNG with alt text that names what it shows."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from matplotlib import image

from core.replies import Upload
from engine import UtilizationLimits, digest_row, run_drift, run_performance, run_utilization
from jobs import charts
from tests.engine.churn_data import churn_frame, churn_model, utilization_frame
from tests.jobs.render_charts import render_all


def _size(png: bytes) -> tuple[int, int]:
    height, width = image.imread(io.BytesIO(png), format="png").shape[:2]
    return width, height


@pytest.fixture(scope="module")
def rendered() -> list[Upload]:
    return render_all()


def test_every_chart_type_renders(rendered: list[Upload]) -> None:
    kinds = {chart.filename.rsplit("-", 1)[-1] for chart in rendered}
    assert {
        "overview.png",
        "distributions.png",
        "trend.png",
        "gender.png",
        "utilization.png",
        "digest.png",
    } <= kinds
    for chart in rendered:
        assert chart.content.startswith(b"\x89PNG\r\n\x1a\n")
        width, height = _size(chart.content)
        assert width == 800 and 300 <= height <= 1000, chart.filename
        assert len(chart.alt_text) > 40 and chart.title in chart.alt_text
        assert chart.filename.endswith(".png") and " " not in chart.filename


def test_alt_text_carries_the_numbers() -> None:
    reference = churn_frame(5000, seed=31)
    report = run_drift(
        churn_model(), reference, churn_frame(2000, seed=32, drifted=True), cache=None
    )
    overview = charts.drift_overview_chart(report)
    top = report.ranked()[0]
    assert top.column in overview.alt_text and "drifted" in overview.alt_text
    distributions = charts.distributions_chart(report, columns=["payment_method", "age"])
    assert distributions is not None and "payment_method" in distributions.alt_text
    assert "reference" in distributions.alt_text


def test_overview_handles_mixed_methods_and_untested_columns() -> None:
    reference = churn_frame(5000, seed=33)
    small = churn_frame(300, seed=34, drifted=True).drop(columns=["plan"])
    report = run_drift(churn_model(), reference, small, cache=None)
    chart = charts.drift_overview_chart(report)
    assert "plan" in chart.alt_text  # listed as not enough data
    assert _size(chart.content)[0] == 800


def test_distributions_chart_without_testable_columns_is_none() -> None:
    report = run_drift(
        churn_model(), churn_frame(200, seed=35), churn_frame(5, seed=36), cache=None
    )
    assert charts.distributions_chart(report) is None


def test_trend_chart_marks_threshold_crossing() -> None:
    start = datetime(2026, 5, 1, tzinfo=UTC)
    history = [(start + timedelta(hours=i), 0.05 - i * 0.002) for i in range(12)]
    chart = charts.metric_trend_chart(
        history, metric="f1 drop", threshold=0.03, higher_is_better=True
    )
    assert "past the threshold" in chart.alt_text
    error = charts.metric_trend_chart(
        history, metric="error rate", threshold=0.1, higher_is_better=False, percent=True
    )
    assert "within the threshold 10" in error.alt_text
    with pytest.raises(ValueError):
        charts.metric_trend_chart([], metric="x")


def test_trend_chart_draws_realized_and_estimated_windows_on_one_chart() -> None:
    start = datetime(2026, 5, 1, tzinfo=UTC)
    realized = [(start + timedelta(days=i), 0.83 - i * 0.002) for i in range(8)]
    estimated = [
        (start + timedelta(days=8 + i), 0.80 - i * 0.01, 0.78 - i * 0.01, 0.82 - i * 0.01)
        for i in range(5)
    ]
    chart = charts.metric_trend_chart(
        realized, metric="accuracy", threshold=0.75, baseline=0.83, estimated=estimated
    )
    assert chart.content.startswith(b"\x89PNG")
    assert "latest 0.76 (estimated, no labels yet)" in chart.alt_text
    assert "5 of them estimated from the scores" in chart.alt_text
    assert "over 13 points" in chart.alt_text
    # Nothing labelled yet: the estimates alone still make a chart.
    alone = charts.metric_trend_chart([], metric="accuracy", estimated=estimated[:1])
    assert "latest 0.8 (estimated" in alone.alt_text and alone.content.startswith(b"\x89PNG")
    # Labels in for the newest window: the latest point is the realized one.
    newest = charts.metric_trend_chart(
        [*realized, (start + timedelta(days=20), 0.7)], metric="accuracy", estimated=estimated
    )
    assert "latest 0.7;" in newest.alt_text


def test_digest_orders_worst_first() -> None:
    model = churn_model()
    reference = churn_frame(3000, seed=37)
    bad = run_drift(model, reference, churn_frame(1000, seed=38, drifted=True), cache=None)
    good = run_drift(model, reference, churn_frame(1000, seed=39), cache=None)
    util = run_utilization(UtilizationLimits(), utilization_frame())
    rows = [
        digest_row(
            "a-model",
            "prod",
            drift=good,
            performance=run_performance(model, reference, churn_frame(1000, seed=40)),
            utilization=util,
        ),
        digest_row("z-model", "prod", drift=bad),
    ]
    chart = charts.digest_chart(rows)
    assert chart.alt_text.index("z-model") < chart.alt_text.index("a-model")


def test_charts_are_drawn_only_when_their_bytes_are_read() -> None:
    """Issue 15: a check that posts nothing draws nothing; a chart shared by a summary and an
    alert is drawn once."""
    report = run_drift(
        churn_model(), churn_frame(3000, seed=51), churn_frame(1500, seed=52), cache=None
    )
    calls: list[float] = []
    real = charts._png

    def counting(draw, height):  # type: ignore[no-untyped-def]
        calls.append(height)
        return real(draw, height)

    charts._png = counting  # type: ignore[assignment]
    try:
        overview = charts.drift_overview_chart(report)
        assert not overview.rendered and calls == []
        assert overview.title in overview.alt_text  # known without drawing
        first = overview.content
        assert overview.content is first and overview.rendered
        assert len(calls) == 1
    finally:
        charts._png = real  # type: ignore[assignment]


def test_concurrent_readers_draw_a_chart_once() -> None:
    from concurrent.futures import ThreadPoolExecutor

    drawn: list[int] = []

    def render() -> bytes:
        drawn.append(1)
        return b"\x89PNG fake"

    upload = Upload.deferred("x.png", "x", "an x chart", render)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: upload.content, range(32)))
    assert drawn == [1] and set(results) == {b"\x89PNG fake"}
    with pytest.raises(ValueError, match="either its content or a render"):
        Upload("y.png", title="y", alt_text="y")
    assert Upload("x.png", b"\x89PNG fake", "x", "an x chart") == upload


def test_charts_render_on_several_threads_at_once() -> None:
    """The style is set once at import and each thread has its own figure: renders on four
    threads give the same bytes as one after the other."""
    from concurrent.futures import ThreadPoolExecutor

    report = run_drift(
        churn_model(), churn_frame(3000, seed=53), churn_frame(1500, seed=54, drifted=True)
    )
    alone = charts.drift_overview_chart(report).content
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda _: charts.drift_overview_chart(report).content, range(8)))
    assert all(png == alone for png in together)


def _fresh(render: Callable[[], Upload | None]) -> bytes:
    """Rendered on a new thread, whose figure pool is empty: nothing reused."""
    out: list[bytes] = []
    thread = threading.Thread(target=lambda: out.append(render().content))  # type: ignore[union-attr]
    thread.start()
    thread.join(60)
    return out[0]


def _pixels(png: bytes) -> np.ndarray:
    return image.imread(io.BytesIO(png), format="png")


def test_a_reused_layout_draws_exactly_what_a_fresh_figure_draws() -> None:
    """Utilization and distributions reuse their axes (jobs.charts._layout): what one chart
    drew must not leak into the next one on the same layout (limits, lines, legends, titles)."""
    cfg = UtilizationLimits()
    hot = utilization_frame(cpu=78, ramp=18, instances=2, latency_p99=900, seed=5)
    calm = utilization_frame(cpu=20, ramp=2, instances=4, latency_p99=150, seed=6)
    model = churn_model()
    reference = churn_frame(5000, seed=41)
    drifted = run_drift(model, reference, churn_frame(2000, seed=42, drifted=True), cache=None)
    quiet = run_drift(model, reference, churn_frame(2000, seed=43), cache=None)
    pairs = [
        (
            lambda: charts.utilization_chart(
                hot, run_utilization(cfg, hot, deployment="blue").deployments["blue"], cfg
            ),
            lambda: charts.utilization_chart(
                calm, run_utilization(cfg, calm, deployment="green").deployments["green"], cfg
            ),
        ),
        (
            lambda: charts.distributions_chart(drifted, columns=["payment_method", "age"]),
            lambda: charts.distributions_chart(quiet, columns=["contract", "tenure_months"]),
        ),
    ]
    for first, second in pairs:
        assert first().content  # type: ignore[union-attr]  # the layout now holds it
        reused = second().content  # type: ignore[union-attr]
        fresh = _fresh(second)
        assert np.array_equal(_pixels(reused), _pixels(fresh))


def test_a_utilization_chart_of_one_sample_draws_without_a_warning() -> None:
    """`/mlops usage --window 1m` can hold one metric sample: the x axis then has no span, which
    matplotlib reports with a UserWarning (and the source path) on the bot's console."""
    import warnings

    cfg = UtilizationLimits()
    one = utilization_frame().head(1)
    result = run_utilization(cfg, one, deployment="blue").deployments["blue"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = charts.utilization_chart(one, result, cfg).content  # drawn when read
    assert [str(w.message) for w in caught] == []
    assert png and _size(png)[0] > 0
