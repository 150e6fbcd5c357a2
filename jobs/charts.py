"""Charts for Slack: PNG bytes in memory, one style, readable in a message preview.

Every function takes a report from ``engine`` (or a metric history) and returns a
:class:`core.replies.Upload` (file name, PNG bytes, title, alt text), ready for
``files_upload_v2``.
Images are 800 px wide (Slack shows previews at about that width) with fonts large enough to
read there without opening the image. Matplotlib's object API (``Figure`` + Agg canvas) keeps
rendering free of pyplot's global state.

Cost (issue 15: charts were 62% of a monitoring cycle). A chart is *deferred*: the function
works out its title, alt text and file name from the data and returns an
:meth:`Upload.deferred`; the figure is drawn only when a message that carries it is posted, so
a check that posts nothing draws nothing, and a chart shared by a summary and an alert is drawn
once. Drawing is cheap by construction: the style is applied once to matplotlib's defaults at
import (no per-chart ``rc_context`` copying every setting, which also made concurrent renders
race on the global settings), every layout is fixed in inches from what is known before drawing
(label lengths, row counts) instead of ``tight_layout``, which draws every text twice to measure
it, and tick counts are capped so no time goes into labels nobody reads. The two costliest
charts (utilization, distributions) also keep their axes: a figure and its axes are built once
per thread and layout and only what a chart drew is wiped before the next (:func:`_layout`),
because building axes and their ticks was a third of their time. ``benchmarks/charts.py``
times each type.

Colour carries the verdict everywhere (green healthy, amber warning, red breach, grey no data);
reference data is grey, current data blue.
"""

from __future__ import annotations

import io
import math
import re
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.transforms import Bbox

from core.backtest import BacktestResult
from core.replies import Upload
from engine.digest import DigestRow, worst_first
from engine.fairness import FairnessResult
from engine.results import STAT_LABELS, ColumnDriftResult, DriftReport
from engine.samples import ColumnKind
from engine.utilization import DeploymentUtilization, UtilizationLimits
from engine.verdict import Verdict
from infra.durations import format_duration

WIDTH_IN = 8.0
DPI = 100  # 8 in x 100 dpi = 800 px

VERDICT_COLORS = {
    Verdict.HEALTHY: "#2e7d32",
    Verdict.WARNING: "#e08600",
    Verdict.BREACH: "#c62828",
    Verdict.NO_DATA: "#9e9e9e",
}
VERDICT_FILL = {
    Verdict.HEALTHY: "#dcefdc",
    Verdict.WARNING: "#ffebc7",
    Verdict.BREACH: "#f9d4d4",
    Verdict.NO_DATA: "#ececec",
}
REFERENCE_COLOR = "#9aa7b4"
CURRENT_COLOR = "#1f6fb2"
THRESHOLD_COLOR = "#c62828"
TEXT_COLOR = "#222222"
MUTED = "#666666"

STYLE = {
    "font.size": 13,
    "axes.titlesize": 15,
    "axes.titleweight": "bold",
    "axes.labelsize": 13,
    "xtick.labelsize": 12,
    "ytick.labelsize": 12,
    "legend.fontsize": 12,
    "figure.titlesize": 17,
    "figure.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#888888",
    "axes.grid": True,
    "grid.color": "#e4e4e4",
    "grid.linewidth": 0.8,
    "axes.axisbelow": True,
    "text.color": TEXT_COLOR,
    "axes.labelcolor": TEXT_COLOR,
    "xtick.color": "#444444",
    "ytick.color": "#444444",
    "font.family": "DejaVu Sans",
    # Titles sit at the top of their axes (plus their pad). Left to matplotlib (None), every
    # draw measures each axes' tick labels to lift titles over a top axis none of these charts
    # has: a quarter of a four-panel chart's time.
    "axes.titley": 1.0,
}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "chart"


# Once, at import: every figure of the process shares the style, and nothing changes the global
# settings afterwards, so charts drawn on several threads never see each other's settings.
matplotlib.rcParams.update(STYLE)

#: Approximate width of one character of a 12 pt label, in inches (DejaVu Sans at 100 dpi), for
#: margins sized from label lengths instead of measured by drawing.
CHAR_IN = 0.1

Draw = Callable[[Figure], None]


_figures = threading.local()


def _figure(height_in: float) -> Figure:
    """A cleared figure of this size, reused by this thread.

    Reuse keeps the canvas's renderer, and with it matplotlib's text-metrics cache (keyed by
    renderer): tick labels, titles and legends that recur from chart to chart are measured once
    per thread instead of once per chart. One figure per thread, so concurrent renders never
    share one."""
    pool: dict[float, Figure] = _figures.__dict__.setdefault("by_height", {})
    key = round(height_in, 3)
    fig = pool.get(key)
    if fig is None:
        if len(pool) >= 16:  # digest and overview heights vary with row counts: keep a few
            pool.clear()
        fig = pool[key] = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI)
        FigureCanvasAgg(fig)
    else:
        fig.clear()
    return fig


#: Figures with their axes, per thread and layout (see :func:`_layout_png`). Each holds an
#: 800 px RGBA buffer (~2.5 MB), so only the few layouts that recur are kept.
MAX_LAYOUTS = 8

LayoutDraw = Callable[[Figure, Sequence[Axes]], None]


def _layout(key: tuple[object, ...], height_in: float, build: Callable[[Figure], Sequence[Axes]]):  # type: ignore[no-untyped-def]
    """(figure, axes) for a layout, built once per thread and wiped for every later chart.

    Creating axes is most of a chart's cost: each one builds its spines, axis objects and
    ticks (two lines and two texts per tick), and ``Figure.clear`` even clears every axes
    before deleting it. A layout whose charts always put the same kind of panel in the same
    axes (the key says which) can keep them: locators, formatters, grid and tick settings carry
    over, and :func:`_wipe` removes only what one chart drew."""
    pool: dict[tuple[object, ...], tuple[Figure, Sequence[Axes]]] = _figures.__dict__.setdefault(
        "by_layout", {}
    )
    key = (*key, round(height_in, 3))
    built = pool.get(key)
    if built is None:
        if len(pool) >= MAX_LAYOUTS:
            pool.clear()
        fig = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI)
        FigureCanvasAgg(fig)
        built = pool[key] = (fig, tuple(build(fig)))
    else:
        fig = built[0]
        for artist in (*fig.texts, *fig.legends):
            artist.remove()
        for ax in fig.axes:
            _wipe(ax)
    return built


def _wipe(ax: Axes) -> None:
    """Remove what a chart drew on ``ax`` (data, texts, legend, titles) and forget its data
    limits, keeping the axes' own objects (spines, axis, ticks) and settings."""
    for artist in (*ax.lines, *ax.collections, *ax.patches, *ax.texts, *ax.images):
        artist.remove()
    ax.containers.clear()
    if ax.legend_ is not None:
        ax.legend_.remove()
    for loc in ("left", "center", "right"):
        ax.set_title("", loc=loc)
    # What Axes.clear does for the limits: the next artists set them afresh.
    ax.dataLim.set_points(Bbox.null().get_points())
    ax.ignore_existing_data_limits = True
    ax.set_autoscale_on(True)


def _layout_png(
    key: tuple[object, ...],
    height_in: float,
    build: Callable[[Figure], Sequence[Axes]],
    draw: LayoutDraw,
) -> bytes:
    fig, axes = _layout(key, height_in, build)
    draw(fig, axes)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    return buffer.getvalue()


def _margins(
    fig: Figure,
    *,
    left: float,
    right: float,
    top: float,
    bottom: float,
    hspace: float = 0.0,
    wspace: float = 0.0,
) -> None:
    """Place the subplot grid with margins and gaps in inches (what ``tight_layout`` would find,
    known in advance for each chart type)."""
    width, height = fig.get_size_inches()
    rows, cols = _grid_shape(fig)
    cell_h = (height - top - bottom - hspace * (rows - 1)) / rows
    cell_w = (width - left - right - wspace * (cols - 1)) / cols
    fig.subplots_adjust(
        left=left / width,
        right=1 - right / width,
        top=1 - top / height,
        bottom=bottom / height,
        hspace=hspace / cell_h if rows > 1 else 0.2,
        wspace=wspace / cell_w if cols > 1 else 0.2,
    )


def _grid_shape(fig: Figure) -> tuple[int, int]:
    for ax in fig.axes:
        spec = ax.get_subplotspec()
        if spec is not None:
            grid = spec.get_gridspec()
            return grid.nrows, grid.ncols
    return 1, 1


def _png(draw: Draw, height_in: float) -> bytes:
    fig = _figure(height_in)
    draw(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    return buffer.getvalue()


def _deferred(draw: Draw, height_in: float, title: str, alt_text: str, name: str) -> Upload:
    """The chart as an upload drawn on first read (see the module docstring)."""
    return Upload.deferred(f"{_slug(name)}.png", title, alt_text, lambda: _png(draw, height_in))


def _deferred_layout(
    key: tuple[object, ...],
    build: Callable[[Figure], Sequence[Axes]],
    draw: LayoutDraw,
    height_in: float,
    title: str,
    alt_text: str,
    name: str,
) -> Upload:
    """Like :func:`_deferred`, drawn on a reused layout (:func:`_layout`)."""
    return Upload.deferred(
        f"{_slug(name)}.png",
        title,
        alt_text,
        lambda: _layout_png(key, height_in, build, draw),
    )


def _heading(fig: Figure, text: str, *, x: float, y: float) -> None:
    """The chart's title, styled as ``suptitle`` but a plain figure text, which a reused
    layout removes with the rest (a suptitle is kept by the figure and only re-texted)."""
    fig.text(
        x,
        y,
        text,
        ha="left",
        va="top",
        fontsize=matplotlib.rcParams["figure.titlesize"],
        fontweight=matplotlib.rcParams["figure.titleweight"],
    )


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if value == 0:
        return "0"
    if abs(value) < 10**-(digits) or abs(value) >= 10**5:
        return f"{value:.1e}"
    return f"{value:.{digits}g}"


def _score_text(result: ColumnDriftResult) -> str:
    """The column's labelled statistic, the very text its alert card shows."""
    return result.statistic_text


# --------------------------------------------------------------------------- drift


def drift_overview_chart(
    report: DriftReport, *, max_features: int = 15, title: str | None = None
) -> Upload:
    """Score per feature against its threshold, most drifted first, drifted bars in red.

    When every tested feature uses a distance with the same threshold the axis is that
    distance; otherwise it is the score relative to its own threshold (1 = threshold; for
    p-value tests log(p)/log(alpha)), so mixed methods share one scale.
    """
    ranked = report.ranked()
    shown = ranked[:max_features]
    hidden = len(ranked) - len(shown)
    tested = [r for r in shown if r.tested]
    same_scale = bool(tested) and all(
        not r.method.is_test and r.threshold == tested[0].threshold for r in tested
    )
    heading = title or (f"{report.model} · data drift" if report.model else "Data drift")
    labels = [_ellipsis(r.column, 22) for r in shown]

    def draw(fig: Figure) -> None:
        values = [
            ((r.score or 0.0) if same_scale else min(r.strength, 1e6)) if r.tested else 0.0
            for r in shown
        ]
        threshold = tested[0].threshold if same_scale else 1.0
        finite = [v for v in values if math.isfinite(v)]
        top = max([threshold * 2.0, *(v * 1.25 for v in finite)]) if finite else threshold * 2
        limit = min(top, threshold * 6)
        ax = fig.add_subplot(1, 1, 1)
        positions = np.arange(len(shown))[::-1]
        colors = [
            VERDICT_COLORS[Verdict.BREACH]
            if r.drifted
            else VERDICT_COLORS[Verdict.NO_DATA]
            if not r.tested
            else CURRENT_COLOR
            for r in shown
        ]
        clipped = [min(v, limit) for v in values]
        ax.barh(positions, clipped, color=colors, height=0.66)
        ax.axvline(threshold, color=TEXT_COLOR, linestyle="--", linewidth=1.6, zorder=1)
        ax.text(
            threshold,
            len(shown) - 0.45,
            f"drift threshold {_fmt(threshold)}" if same_scale else "drift threshold",
            color=TEXT_COLOR,
            fontsize=12,
            va="center",
            ha="center",
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.5},
        )
        for y, value, shown_value, result in zip(positions, values, clipped, shown, strict=True):
            text = _score_text(result) + (" ▸" if value > limit else "")
            inside = shown_value > limit * 0.55
            ax.text(
                shown_value - limit * 0.012 if inside else shown_value + limit * 0.012,
                y,
                text,
                va="center",
                ha="right" if inside else "left",
                color="white" if inside else TEXT_COLOR,
                fontsize=12,
                fontweight="bold" if result.drifted else "normal",
                zorder=3,
                bbox=None
                if inside
                else {"facecolor": "white", "edgecolor": "none", "pad": 0.5, "alpha": 0.85},
            )
        ax.set_yticks(positions, labels)
        ax.set_xlim(0, limit * 1.02)
        ax.set_ylim(-0.6, len(shown) + 0.1)
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(6))
        ax.grid(axis="y", visible=False)
        if same_scale:
            ax.set_xlabel("distance   (" + _legend(tested) + ")")
        else:
            ax.set_xlabel("score ÷ threshold   (1 = threshold; p-values: log p ÷ log α)")
            fig.text(0.015, 0.08 / height, _legend(tested), fontsize=11, color=MUTED)
        fig.suptitle(heading, x=0.015, ha="left", y=1 - 0.08 / height, va="top")
        subtitle = report.headline + ("" if not hidden else f"; {hidden} more not shown")
        ax.set_title(
            subtitle,
            loc="left",
            fontsize=13,
            fontweight="normal",
            color=VERDICT_COLORS[report.verdict],
            pad=10,
        )
        longest = max((len(label) for label in labels), default=4)
        _margins(
            fig,
            left=0.3 + CHAR_IN * longest,
            right=0.25,
            top=0.85,
            bottom=0.75 if same_scale else 1.0,
        )

    height = 1.5 + 0.45 * (max(len(shown), 3) + 1) + (0.0 if same_scale else 0.25)
    drifted = [r for r in ranked if r.drifted]
    alt = f"{heading}: {report.headline}."
    if drifted:
        alt += (
            " Most drifted: "
            + ", ".join(
                f"{r.column} ({r.statistic_text}, threshold {_fmt(r.threshold)})"
                for r in drifted[:5]
            )
            + "."
        )
    untested = [r.column for r in ranked if not r.tested]
    if untested:
        alt += " Not enough data for: " + ", ".join(untested[:5]) + "."
    return _deferred(draw, height, heading, alt, f"{report.model or 'data'}-drift-overview")


def _legend(tested: Sequence[ColumnDriftResult]) -> str:
    """What the short labels on the bars mean ("W1/σ = normalized Wasserstein distance ...")."""
    used = {
        label
        for r in tested
        for label in STAT_LABELS
        if r.statistic_text.startswith(label) or f"· {label} " in r.statistic_text
    }
    return "; ".join(f"{label} = {STAT_LABELS[label]}" for label in sorted(used))


def _numeric_panel(result: ColumnDriftResult) -> bool:
    dist = result.distribution
    return dist is not None and dist.kind is ColumnKind.NUMERIC and bool(dist.edges)


def _panel_axes(ax: Axes, numeric: bool) -> None:
    """What a distribution panel's axes keep from chart to chart (see :func:`_layout`)."""
    if numeric:
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(5))
        ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(4))
    else:
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(4))
        ax.grid(axis="y", visible=False)


def _distribution_panel(ax: Axes, result: ColumnDriftResult) -> None:
    dist = result.distribution
    assert dist is not None
    if _numeric_panel(result):
        edges = np.asarray(dist.edges)
        ref = np.asarray(dist.reference) * 100
        cur = np.asarray(dist.current) * 100
        # One filled step patch, not a bar (a Rectangle with its own limits update) per bin.
        ax.stairs(
            ref,
            edges,
            fill=True,
            color=REFERENCE_COLOR,
            alpha=0.75,
            label="reference",
        )
        ax.stairs(cur, edges, color=CURRENT_COLOR, linewidth=2.4, label="current")
        ax.set_ylim(0, max(float(ref.max(initial=0)), float(cur.max(initial=0))) * 1.08 or 1)
        ax.set_xlim(edges[0], edges[-1])
    else:
        labels = list(dist.labels)
        y = np.arange(len(labels))[::-1]
        ref = np.asarray(dist.reference) * 100
        cur = np.asarray(dist.current) * 100
        ax.barh(y + 0.2, ref, height=0.4, color=REFERENCE_COLOR, label="reference")
        ax.barh(y - 0.2, cur, height=0.4, color=CURRENT_COLOR, label="current")
        ax.set_yticks(y, [_ellipsis(label, 14) for label in labels])
    state = "drifted" if result.drifted else "no drift" if result.tested else "not tested"
    ax.set_title(
        f"{result.column}\n{_score_text(result)} · {state}",
        fontsize=13.5,
        color=VERDICT_COLORS[Verdict.BREACH] if result.drifted else TEXT_COLOR,
    )


def _ellipsis(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def distributions_chart(
    report: DriftReport, *, columns: Sequence[str] | None = None, top: int = 4
) -> Upload | None:
    """Reference vs current for the most drifted features (or ``columns``): up to four panels."""
    if columns is not None:
        chosen = [report.columns[c] for c in columns if c in report.columns]
    else:
        chosen = [r for r in report.ranked() if r.drifted] or [
            r for r in report.ranked() if r.tested
        ]
    chosen = [r for r in chosen if r.distribution is not None][:top]
    if not chosen:
        return None
    cols = 1 if len(chosen) == 1 else 2
    rows = math.ceil(len(chosen) / cols)
    height = 0.9 + 3.4 * rows
    heading = f"{report.model} · reference vs current" if report.model else "Reference vs current"
    # Left margin and the gap between columns: a categorical panel's labels (up to 14
    # characters) or a numeric panel's "% of rows" and its tick numbers.
    label_in = max(
        (
            CHAR_IN * max((len(_ellipsis(label, 14)) for label in r.distribution.labels), default=1)
            if r.distribution is not None and r.distribution.kind is not ColumnKind.NUMERIC
            else 0.4
            for r in chosen
        ),
        default=0.4,
    )

    kinds = tuple(_numeric_panel(r) for r in chosen)

    def build(fig: Figure) -> list[Axes]:
        axes = []
        for index, numeric in enumerate(kinds):
            ax = fig.add_subplot(rows, cols, index + 1)
            _panel_axes(ax, numeric)
            axes.append(ax)
        return axes

    def draw(fig: Figure, axes: Sequence[Axes]) -> None:
        for ax, result in zip(axes, chosen, strict=True):
            _distribution_panel(ax, result)
        _heading(fig, heading, x=0.02, y=1 - 0.06 / height)
        # One note for every panel instead of an axis label each: an axis label is placed by
        # measuring its tick labels on every draw.
        fig.text(
            0.02,
            0.12 / height,
            "bars and lines: % of rows in each window",
            fontsize=11.5,
            color=MUTED,
            ha="left",
            va="bottom",
        )
        fig.legend(
            handles=[
                Patch(color=REFERENCE_COLOR, label="reference"),
                Patch(color=CURRENT_COLOR, label="current"),
            ],
            loc="upper right",
            ncols=2,
            frameon=False,
            bbox_to_anchor=(0.99, 1.0),
        )
        _margins(
            fig,
            left=0.3 + label_in,
            right=0.25,
            top=1.15,
            bottom=0.75,
            hspace=1.1,
            wspace=0.45 + label_in,
        )

    parts = []
    for result in chosen:
        dist = result.distribution
        assert dist is not None
        if dist.kind is ColumnKind.NUMERIC and dist.edges:
            centers = (np.asarray(dist.edges[:-1]) + np.asarray(dist.edges[1:])) / 2
            ref_mean = float(np.dot(centers, dist.reference))
            cur_mean = float(np.dot(centers, dist.current))
            parts.append(
                f"{result.column}: typical value {_fmt(ref_mean)} in the reference, {_fmt(cur_mean)} now ({_score_text(result)})"
            )
        else:
            moved = max(
                zip(dist.labels, dist.reference, dist.current, strict=True),
                key=lambda t: abs(t[2] - t[1]),
            )
            parts.append(
                f"{result.column}: '{moved[0]}' {moved[1]:.0%} in the reference, {moved[2]:.0%} now ({_score_text(result)})"
            )
    alt = f"{heading}. " + "; ".join(parts) + "."
    return _deferred_layout(
        ("distributions", rows, cols, kinds),
        build,
        draw,
        height,
        heading,
        alt,
        f"{report.model or 'data'}-distributions",
    )


# --------------------------------------------------------------------------- metric trend


#: An estimated window on the trend chart: (window end, estimate, band low, band high).
EstimatedPoint = tuple[datetime, float, float | None, float | None]
ESTIMATE_COLOR = "#7b4fa0"


def metric_trend_chart(
    history: Sequence[tuple[datetime, float]],
    *,
    metric: str,
    threshold: float | None = None,
    baseline: float | None = None,
    higher_is_better: bool = True,
    model: str | None = None,
    percent: bool = False,
    estimated: Sequence[EstimatedPoint] = (),
) -> Upload:
    """A metric over time, its threshold line (bad side shaded), the baseline, the latest point.

    ``history`` holds realized values (solid line); ``estimated`` the windows whose labels have
    not arrived, estimated from the scores (dashed line with its band, labelled "estimated"),
    so one chart reads across the moment the labels stop. The latest point of either is marked
    and labelled, with "est." when it is an estimate.
    """
    if not history and not estimated:
        raise ValueError("metric_trend_chart needs at least one point")
    points = sorted(history, key=lambda p: p[0])
    guesses = sorted(estimated, key=lambda p: p[0])
    scale = 100.0 if percent else 1.0
    times = [p[0] for p in points]
    shown = np.array([p[1] for p in points], dtype=float) * scale
    e_times = [p[0] for p in guesses]
    e_shown = np.array([p[1] for p in guesses], dtype=float) * scale
    e_low = np.array([p[1] if p[2] is None else p[2] for p in guesses], dtype=float) * scale
    e_high = np.array([p[1] if p[3] is None else p[3] for p in guesses], dtype=float) * scale
    latest_is_estimate = bool(guesses) and (not points or guesses[-1][0] > points[-1][0])
    last_time, last_value = (
        (e_times[-1], float(e_shown[-1])) if latest_is_estimate else (times[-1], float(shown[-1]))
    )
    last_raw = last_value / scale
    bad = threshold is not None and bool(
        last_raw < threshold if higher_is_better else last_raw > threshold
    )
    heading = f"{model} · {metric}" if model else metric
    all_times = sorted([*times, *e_times])
    previous = sorted([*zip(times, shown, strict=True), *zip(e_times, e_shown, strict=True)])

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot(1, 1, 1)
        if points:
            ax.plot(
                times,
                shown,
                color=CURRENT_COLOR,
                linewidth=2.4,
                marker="o",
                markersize=5,
                label="realized (labelled windows)",
            )
        if guesses:
            # The dashed line starts at the last realized window before the estimates, so the
            # eye follows one series across the point where the labels stop.
            lead = [(t, v) for t, v in zip(times, shown, strict=True) if t < e_times[0]][-1:]
            ax.fill_between(
                e_times,
                e_low,
                e_high,
                color=ESTIMATE_COLOR,
                alpha=0.18,
                linewidth=0,
                label="95% band of the estimate",
            )
            if len(e_times) == 1:
                # A band is an area between windows: a lone estimate (the newest window, the
                # usual case when labels lag by one window) would have none, so its interval
                # is drawn as a bar instead.
                ax.vlines(
                    e_times, e_low, e_high, color=ESTIMATE_COLOR, alpha=0.45, linewidth=6, zorder=2
                )
            ax.plot(
                [t for t, _ in lead] + e_times,
                [v for _, v in lead] + list(e_shown),
                color=ESTIMATE_COLOR,
                linewidth=2.2,
                linestyle=(0, (5, 3)),
                marker="o",
                markersize=5,
                markerfacecolor="white",
                markevery=list(range(len(lead), len(lead) + len(e_times))),
                label="estimated (no labels yet)",
            )
        candidates = [*shown, *e_low, *e_high]
        if threshold is not None:
            candidates.append(threshold * scale)
        if baseline is not None:
            candidates.append(baseline * scale)
        low, high = min(candidates), max(candidates)
        pad = (high - low) * 0.25 or abs(high) * 0.05 or 1.0
        ax.set_ylim(low - pad, high + pad)
        # Two right-hand labels closer than their own height would print over each other:
        # push them apart, the higher one up (points; each label is two lines of 12 pt).
        apart = 0
        if threshold is not None and baseline is not None:
            y_lo, y_hi = ax.get_ylim()
            if abs(baseline - threshold) * scale < 0.12 * (y_hi - y_lo):
                apart = 14
        if threshold is not None:
            t = threshold * scale
            ax.axhline(t, color=THRESHOLD_COLOR, linestyle="--", linewidth=1.8)
            lo, hi = ax.get_ylim()
            if higher_is_better:
                ax.axhspan(lo, t, color=VERDICT_FILL[Verdict.BREACH], alpha=0.6, zorder=0)
            else:
                ax.axhspan(t, hi, color=VERDICT_FILL[Verdict.BREACH], alpha=0.6, zorder=0)
            ax.set_ylim(lo, hi)
            ax.annotate(
                f"threshold\n{_fmt(t)}",
                xy=(1.0, t),
                xycoords=("axes fraction", "data"),
                xytext=(8, -apart if baseline is not None and baseline >= threshold else apart),
                textcoords="offset points",
                va="center",
                ha="left",
                color=THRESHOLD_COLOR,
                fontsize=12,
            )
        if baseline is not None:
            ax.axhline(baseline * scale, color=MUTED, linestyle=":", linewidth=1.8)
            ax.annotate(
                f"baseline\n{_fmt(baseline * scale)}",
                xy=(1.0, baseline * scale),
                xycoords=("axes fraction", "data"),
                xytext=(8, apart if threshold is None or baseline >= threshold else -apart),
                textcoords="offset points",
                va="center",
                ha="left",
                color=MUTED,
                fontsize=12,
            )
        if bad:
            color = VERDICT_COLORS[Verdict.BREACH]
        else:
            color = ESTIMATE_COLOR if latest_is_estimate else CURRENT_COLOR
        ax.scatter(
            [last_time],
            [last_value],
            s=160,
            color="white" if latest_is_estimate else color,
            edgecolor=color if latest_is_estimate else "white",
            linewidth=2.5 if latest_is_estimate else 2,
            zorder=5,
        )
        going_down = len(previous) > 1 and previous[-1][1] < previous[-2][1]
        ax.annotate(
            f"{_fmt(last_value)}{'%' if percent else ''}"
            + (" estimated" if latest_is_estimate else ""),
            xy=(last_time, last_value),
            xytext=(-14, -6 if going_down else 6),
            textcoords="offset points",
            ha="right",
            va="top" if going_down else "bottom",
            fontsize=14,
            fontweight="bold",
            color=color,
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 1, "alpha": 0.85},
            zorder=6,
        )
        if len(all_times) == 1:
            # One point: a day either side, or matplotlib spreads it over years of empty axis.
            ax.set_xlim(all_times[0] - timedelta(days=1), all_times[0] + timedelta(days=1))
        locator = mdates.AutoDateLocator(minticks=3, maxticks=6)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(_dates(locator))
        ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(6))
        ax.set_ylabel(metric + (" (%)" if percent else ""))
        if guesses:
            ax.legend(loc="lower left", fontsize=11, framealpha=0.9)
        fig.suptitle(heading, x=0.02, ha="left", y=1 - 0.08 / 4.6, va="top")
        annotated = threshold is not None or baseline is not None
        _margins(fig, left=1.0, right=1.0 if annotated else 0.3, top=0.6, bottom=0.75)

    latest = f"latest {_fmt(last_value)}{'%' if percent else ''}"
    if latest_is_estimate:
        latest += " (estimated, no labels yet)"
    alt = (
        f"{heading} over {len(all_times)} points from {all_times[0]:%Y-%m-%d %H:%M} to "
        f"{all_times[-1]:%Y-%m-%d %H:%M}; {latest}"
    )
    if guesses:
        alt += (
            f"; {len(guesses)} of them estimated from the scores (dashed, with a 95% band) "
            "because their labels have not arrived"
        )
    if threshold is not None:
        side = "below" if higher_is_better else "above"
        alt += f", {'past' if bad else 'within'} the threshold {_fmt(threshold * scale)} ({side} is bad)"
    if baseline is not None:
        alt += f", baseline {_fmt(baseline * scale)}"
    return _deferred(draw, 4.6, heading, alt + ".", f"{model or 'model'}-{metric}-trend")


# --------------------------------------------------------------------------- fairness

_PALETTE = (
    "#1f6fb2",
    "#f28e2b",
    "#59a14f",
    "#b07aa1",
    "#76b7b2",
    "#edc948",
    "#ff9da7",
    "#9c755f",
)


def fairness_chart(result: FairnessResult, *, model: str | None = None) -> Upload:
    """Per-group rates side by side, with the two disparity measures against their limits."""
    groups = list(result.groups)
    metrics = [
        ("selection_rate", "selection rate"),
        ("true_positive_rate", "true positive rate"),
        ("false_positive_rate", "false positive rate"),
        ("accuracy", "accuracy"),
    ]
    metrics = [
        (key, label) for key, label in metrics if any(getattr(g, key) is not None for g in groups)
    ]
    regression = not metrics
    if regression:
        metrics = [("mae", "MAE")]
    heading = (
        f"{model} · fairness by {result.feature}" if model else f"Fairness by {result.feature}"
    )
    parts = []
    dp, eo = result.demographic_parity_difference, result.equalized_odds_difference
    if dp is not None:
        parts.append(
            f"demographic parity diff {dp:.3f} (limit {result.max_demographic_parity_difference:g})"
        )
    if eo is not None:
        parts.append(
            f"equalized odds diff {eo:.3f} (limit {result.max_equalized_odds_difference:g})"
        )
    subtitle = " · ".join(parts) or (result.note or "")
    height = 1.9 + len(metrics) * (0.32 * len(groups) + 0.45)
    legend_rows = math.ceil(max(len(groups), 1) / 3)

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot(1, 1, 1)
        band = 0.8 / max(len(groups), 1)
        y = np.arange(len(metrics))[::-1]
        top_value = max((getattr(g, key) or 0.0) for g in groups for key, _ in metrics) or 1.0
        for index, group in enumerate(groups):
            widths = [getattr(group, key) or 0.0 for key, _ in metrics]
            offsets = y + 0.4 - band * (index + 0.5)
            ax.barh(
                offsets,
                widths,
                height=band * 0.9,
                color=_PALETTE[index % len(_PALETTE)],
                alpha=1.0 if group.included else 0.35,
                label=f"{group.group} (n={group.count})"
                + ("" if group.included else ", too small"),
            )
            for offset, value in zip(offsets, widths, strict=True):
                ax.text(
                    value + top_value * 0.01,
                    offset,
                    f"{value:.2f}",
                    va="center",
                    fontsize=11.5,
                    color=TEXT_COLOR,
                )
        ax.set_yticks(y, [label for _, label in metrics])
        ax.set_xlim(0, 1.08 if not regression else top_value * 1.15)
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(6))
        ax.grid(axis="y", visible=False)
        ax.legend(
            loc="lower center",
            bbox_to_anchor=(0.45, 1.0),
            ncols=min(len(groups), 3),
            frameon=False,
        )
        fig.suptitle(heading, x=0.015, ha="left", y=1 - 0.08 / height, va="top")
        fig.text(
            0.015,
            1 - 0.78 / height,
            subtitle,
            fontsize=12.5,
            color=VERDICT_COLORS[result.verdict],
            ha="left",
            va="center",
        )
        longest = max(len(label) for _, label in metrics)
        _margins(
            fig,
            left=0.3 + CHAR_IN * longest,
            right=0.35,
            top=1.0 + 0.3 * legend_rows,
            bottom=0.45,
        )

    alt = f"{heading}: " + "; ".join(
        f"{g.group} (n={g.count}) "
        + ", ".join(
            f"{label} {getattr(g, key):.2f}"
            for key, label in metrics
            if getattr(g, key) is not None
        )
        for g in groups
    )
    if parts:
        alt += ". " + "; ".join(parts)
    return _deferred(
        draw, height, heading, alt + ".", f"{model or 'model'}-fairness-{result.feature}"
    )


# --------------------------------------------------------------------------- utilization

_LOAD_LINES = (
    ("cpu_percent", "CPU", CURRENT_COLOR),
    ("memory_percent", "memory", "#f28e2b"),
    ("gpu_percent", "GPU", "#59a14f"),
)
_LATENCY_LINES = (
    ("latency_p50_ms", "p50", ":"),
    ("latency_p95_ms", "p95", "--"),
    ("latency_p99_ms", "p99", "-"),
)
_UTILIZATION_HEIGHT = 7.8


def utilization_chart(
    frame: pd.DataFrame,
    result: DeploymentUtilization,
    cfg: UtilizationLimits,
    *,
    model: str | None = None,
    environment: str | None = None,
) -> Upload:
    """Four panels over the window: CPU/memory/GPU %, traffic and instances, latency, errors."""
    frame = frame.sort_index()
    where = " · ".join(p for p in (model, environment, result.deployment) if p)
    heading = f"{where} · utilization" if where else "Utilization"
    state = result.state.value.replace("_", "-")
    subtitle = f"{state}" + (f": {result.recommendation}" if result.recommendation else "")
    detail = "; ".join(result.reasons[:2])

    instances = (
        pd.to_numeric(frame["instance_count"], errors="coerce")
        if "instance_count" in frame.columns
        else None
    )

    def draw(fig: Figure, axes: Sequence[Axes]) -> None:
        height = _UTILIZATION_HEIGHT
        load, traffic, latency, errors, *twins = axes
        index = frame.index

        def series(name: str) -> pd.Series | None:
            return pd.to_numeric(frame[name], errors="coerce") if name in frame.columns else None

        legend = {
            "loc": "lower left",
            "bbox_to_anchor": (-0.02, 0.99),
            "frameon": False,
            "ncols": 3,
            "fontsize": 11.5,
            "columnspacing": 1.0,
            "borderaxespad": 0.2,
        }
        for name, label, color in _LOAD_LINES:
            values = series(name)
            if values is not None:
                load.plot(index, values, color=color, linewidth=2, label=label)
        load.axhline(cfg.high_cpu_percent, color=THRESHOLD_COLOR, linestyle="--", linewidth=1.5)
        load.axhline(cfg.low_cpu_percent, color=MUTED, linestyle=":", linewidth=1.5)
        load.set_ylim(0, 105)
        load.set_title("utilization %", loc="left", pad=26)
        load.legend(handlelength=1.5, **legend)

        rpm = series("requests_per_minute")
        if rpm is not None:
            traffic.fill_between(index, rpm, color=CURRENT_COLOR, alpha=0.25, linewidth=0)
            traffic.plot(index, rpm, color=CURRENT_COLOR, linewidth=2)
        traffic.set_title(
            "req / min" + (" · instances ▬" if instances is not None else ""),
            loc="left",
            pad=26,
        )
        if instances is not None:
            twin = twins[0]
            twin.step(index, instances, where="post", color=TEXT_COLOR, linewidth=1.8)
            twin.set_ylim(0, max(float(instances.max()) * 1.6, 2))

        for name, label, style in _LATENCY_LINES:
            values = series(name)
            if values is not None:
                latency.plot(
                    index, values, color=CURRENT_COLOR, linestyle=style, linewidth=2, label=label
                )
        latency.axhline(
            cfg.max_latency_p99_ms, color=THRESHOLD_COLOR, linestyle="--", linewidth=1.5
        )
        latency.set_title("latency ms", loc="left", pad=26)
        latency.legend(handlelength=1.8, **legend)
        latency.set_ylim(bottom=0)

        err = series("error_rate")
        if err is not None:
            errors.plot(index, err * 100, color=VERDICT_COLORS[Verdict.BREACH], linewidth=2)
        errors.axhline(
            cfg.max_error_rate * 100, color=THRESHOLD_COLOR, linestyle="--", linewidth=1.5
        )
        errors.set_title("error rate %", loc="left", pad=26)
        errors.set_ylim(bottom=0)

        if len(index):
            # One sample (a window of a few minutes) has no span: give it five minutes each
            # side, or matplotlib warns on the console about a singular axis and guesses.
            low, high = index.min(), index.max()
            if low == high:
                low, high = low - timedelta(minutes=5), high + timedelta(minutes=5)
            for ax in (load, traffic, latency, errors):
                ax.set_xlim(low, high)

        _heading(fig, heading, x=0.015, y=1 - 0.08 / height)
        lines = "\n".join(filter(None, [subtitle, _ellipsis(detail, 88)]))
        fig.text(
            0.015,
            1 - 0.5 / height,
            lines,
            fontsize=12.5,
            color=VERDICT_COLORS[result.verdict],
            ha="left",
            va="top",
            linespacing=1.4,
        )
        _margins(
            fig,
            left=0.7,
            right=0.45 if instances is not None else 0.25,
            top=(1.75 if detail else 1.45),
            bottom=0.75,
            hspace=0.75,
            wspace=0.65 + (0.45 if instances is not None else 0.0),
        )

    def build(fig: Figure) -> list[Axes]:
        # Not sharex: a shared axis measures its siblings' tick labels on every draw. The same
        # limits and locator on all four, labels on the bottom row only, look the same.
        (load, traffic), (latency, errors) = fig.subplots(2, 2)
        axes = [load, traffic, latency, errors]
        for ax in axes:
            ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(4))
            locator = mdates.AutoDateLocator(minticks=3, maxticks=5)
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(_dates(locator))
        for ax in (load, traffic):
            ax.tick_params(labelbottom=False)
        if instances is not None:
            twin = traffic.twinx()
            twin.xaxis.set_visible(False)  # the shared time axis is drawn once, by traffic
            twin.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(4, integer=True))
            twin.spines["right"].set_visible(True)
            twin.grid(False)
            axes.append(twin)
        return axes

    summary = subtitle + (" — " + detail if detail else "")
    alt = f"{heading}: {summary}."
    means = {k: v for k, v in result.summary.items() if v == v}
    if "cpu_percent" in means:
        alt += f" Mean CPU {means['cpu_percent']:.0f}%"
    if "memory_percent" in means:
        alt += f", memory {means['memory_percent']:.0f}%"
    if "latency_p99_ms" in means:
        alt += f", p99 latency {means['latency_p99_ms']:.0f} ms"
    if "error_rate" in means:
        alt += f", error rate {means['error_rate']:.2%}"
    return _deferred_layout(
        ("utilization", instances is not None),
        build,
        draw,
        _UTILIZATION_HEIGHT,
        heading,
        alt + ".",
        f"{model or 'model'}-{environment or ''}-{result.deployment}-utilization",
    )


# --------------------------------------------------------------------------- digest


def digest_chart(rows: Sequence[DigestRow], *, title: str = "Daily model health") -> Upload:
    """One row per model and environment, worst first; a coloured cell per monitor."""
    ordered = worst_first(rows)
    n = max(len(ordered), 1)
    height = 1.5 + 0.58 * n
    breaches = sum(1 for r in ordered if r.worst is Verdict.BREACH)
    warnings_ = sum(1 for r in ordered if r.worst is Verdict.WARNING)
    summary = f"{len(ordered)} deployments · {breaches} breach · {warnings_} warning"

    def draw(fig: Figure) -> None:
        ax = fig.add_axes((0.0, 0.0, 1.0, 1 - 1.05 / height))
        ax.set_xlim(0, 1)
        ax.set_ylim(n, -0.75)
        ax.axis("off")
        columns = [
            (0.02, "model · environment"),
            (0.335, "drift"),
            (0.555, "performance"),
            (0.775, "utilization"),
        ]
        for x, label in columns:
            ax.text(
                x + (0.0 if x < 0.3 else 0.01),
                -0.4,
                label,
                fontsize=12.5,
                color=MUTED,
                fontweight="bold",
                va="center",
            )
        for i, row in enumerate(ordered):
            ax.add_patch(
                matplotlib.patches.Rectangle(
                    (0.005, i + 0.06), 0.012, 0.88, color=VERDICT_COLORS[row.worst]
                )
            )
            ax.text(
                0.03,
                i + 0.5,
                _ellipsis(row.name, 27),
                va="center",
                fontsize=12.5,
                fontweight="bold",
            )
            for (x, _), verdict, text in zip(
                columns[1:],
                (row.drift, row.performance, row.utilization),
                (row.drift_text, row.performance_text, row.utilization_text),
                strict=True,
            ):
                ax.add_patch(
                    matplotlib.patches.FancyBboxPatch(
                        (x, i + 0.1),
                        0.213,
                        0.8,
                        boxstyle="round,pad=0,rounding_size=0.02",
                        facecolor=VERDICT_FILL[verdict],
                        edgecolor="none",
                    )
                )
                ax.text(
                    x + 0.01, i + 0.5, "●", color=VERDICT_COLORS[verdict], va="center", fontsize=12
                )
                ax.text(x + 0.035, i + 0.5, _ellipsis(text, 20), va="center", fontsize=11)
        fig.suptitle(title, x=0.02, ha="left", y=1 - 0.3 / height, va="center")
        fig.text(
            0.02, 1 - 0.72 / height, summary, fontsize=12.5, color=MUTED, ha="left", va="center"
        )

    alt = f"{title}: {summary}. " + "; ".join(
        f"{r.name}: drift {r.drift_text} ({r.drift.label}), performance {r.performance_text} "
        f"({r.performance.label}), utilization {r.utilization_text} ({r.utilization.label})"
        for r in ordered
    )
    return _deferred(draw, height, title, alt + ".", "daily-digest")


# --------------------------------------------------------------------------- backtest

PROPOSED_COLOR = "#c62828"
NOW_COLOR = "#555555"
_BACKTEST_HEIGHT = 5.6


def backtest_chart(result: BacktestResult) -> Upload:
    """The statistic per past window with the current and the proposed threshold lines; below
    it, one strip per setting showing when its alert would have been open, each opening marked.

    The strips come from the replayed alert rules, not from the windows past a line: with
    ``consecutive_breaches`` or a flapping spell the two differ, and the strips are what people
    would have been paged with."""
    windows = result.windows
    if not windows:
        raise ValueError("backtest_chart needs at least one window")
    scale = 100.0 if result.percent else 1.0
    ends = [w.end for w in windows]
    # Each point stands for its whole window: drawn at its middle, inside its shading.
    middles = [w.end - (w.end - w.start) / 2 for w in windows]
    values = np.array([np.nan if w.value is None else w.value * scale for w in windows])
    unit = "%" if result.percent else ""
    now_line = None if result.current_line is None else result.current_line * scale
    new_line = None if result.proposed_line is None else result.proposed_line * scale
    heading = f"{result.model} · {result.environment} · {result.kind} backtest"
    tried = " · ".join(
        f"{c.option} {'unset' if c.current is None else f'{c.current:g}'} → {c.proposed:g}"
        for c in result.changes
    )
    summary = (
        f"{tried}: {result.proposed.alerts} alert{'s' if result.proposed.alerts != 1 else ''}"
        f" (now {result.current.alerts})"
        f" · {len(windows)} windows of {format_duration(result.window)}"
    )
    step = result.window

    def draw(fig: Figure) -> None:
        grid = fig.add_gridspec(2, 1, height_ratios=[3.2, 1.0])
        ax = fig.add_subplot(grid[0])
        strips = fig.add_subplot(grid[1], sharex=ax)
        finite = values[np.isfinite(values)]
        candidates = [*finite.tolist(), *(v for v in (now_line, new_line) if v is not None)]
        low, high = (min(candidates), max(candidates)) if candidates else (0.0, 1.0)
        pad = (high - low) * 0.15 or abs(high) * 0.05 or 1.0
        if result.percent:
            low, high = max(low - pad, -2.0), min(high + pad, 102.0)
        else:
            low, high = low - pad, high + pad
        ax.set_ylim(low, high)
        # Windows the proposed setting would have alerted on: shaded behind the line.
        for index, active in enumerate(result.proposed.active):
            if active:
                ax.axvspan(
                    ends[index] - step,
                    ends[index],
                    color=VERDICT_FILL[Verdict.BREACH],
                    alpha=0.7,
                    zorder=0,
                    linewidth=0,
                )
        dots = 4.5 if len(windows) <= 60 else 2.5
        ax.plot(middles, values, color=CURRENT_COLOR, linewidth=2.2, marker="o", markersize=dots)
        same = now_line is not None and new_line is not None and abs(now_line - new_line) < 1e-12
        labels: list[tuple[float, str, str]] = []
        if now_line is not None:
            ax.axhline(now_line, color=NOW_COLOR, linestyle=":", linewidth=2.0)
            labels.append(
                (now_line, f"{'threshold' if same else 'now'} {_fmt(now_line)}{unit}", NOW_COLOR)
            )
        if new_line is not None and not same:
            ax.axhline(new_line, color=PROPOSED_COLOR, linestyle="--", linewidth=2.0)
            labels.append((new_line, f"proposed {_fmt(new_line)}{unit}", PROPOSED_COLOR))
        _line_labels(ax, labels, low, high)
        ax.set_ylabel(result.statistic + (" (%)" if result.percent else ""))
        ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(5))
        ax.tick_params(labelbottom=False)

        rows = (("proposed", result.proposed, PROPOSED_COLOR), ("now", result.current, NOW_COLOR))
        for row, (_, replayed, color) in enumerate(rows):
            y = len(rows) - 1 - row
            for index, active in enumerate(replayed.active):
                if active:
                    strips.broken_barh(
                        [(mdates.date2num(ends[index] - step), step / timedelta(days=1))],
                        (y + 0.2, 0.6),
                        facecolors=color,
                        alpha=0.35 if color == NOW_COLOR else 0.55,
                    )
            opened = [middles[i] for i, fired in enumerate(replayed.opened) if fired]
            strips.scatter(
                opened,
                [y + 0.5] * len(opened),
                marker="v",
                s=90,
                color=color,
                edgecolor="white",
                linewidth=1,
                zorder=5,
            )
        strips.set_ylim(0, len(rows))
        strips.set_yticks([len(rows) - 0.5 - i for i in range(len(rows))])
        strips.set_yticklabels(
            [f"{name}: {replayed.alerts}" for name, replayed, _ in rows], fontsize=12
        )
        for tick, (_, _, color) in zip(strips.get_yticklabels(), rows, strict=True):
            tick.set_color(color)
        strips.grid(False)
        strips.tick_params(axis="y", length=0)
        strips.set_xlim(ends[0] - step * 1.2, ends[-1] + step * 0.2)
        locator = mdates.AutoDateLocator(minticks=4, maxticks=8)
        strips.xaxis.set_major_locator(locator)
        strips.xaxis.set_major_formatter(_dates(locator))
        strips.set_title("alerts (▼ = paged)", loc="left", fontsize=12, fontweight="normal", pad=4)
        fig.suptitle(heading, x=0.02, ha="left", y=1 - 0.1 / _BACKTEST_HEIGHT, va="top")
        fig.text(0.02, 1 - 0.5 / _BACKTEST_HEIGHT, summary, fontsize=12.5, color=MUTED, va="top")
        _margins(fig, left=1.35, right=1.45, top=0.95, bottom=0.75, hspace=0.45)

    alt = (
        f"{heading}: {result.statistic} per {format_duration(result.window)} window from "
        f"{ends[0] - step:%Y-%m-%d} to {ends[-1]:%Y-%m-%d}; {tried}; "
        f"{result.proposed.alerts} alerts with the proposed settings, "
        f"{result.current.alerts} with the current ones."
    )
    return _deferred(
        draw,
        _BACKTEST_HEIGHT,
        heading,
        alt,
        f"{result.model}-{result.environment}-{result.kind}-backtest",
    )


def _dates(locator: mdates.AutoDateLocator) -> mdates.ConciseDateFormatter:
    """Concise date ticks that name the month on every day tick ("Nov 08", "Dec 01") and only the
    year as the offset: the default's "08 15 22 Dec" under "2026-Dec" reads November as December."""
    return mdates.ConciseDateFormatter(
        locator,
        formats=["%Y", "%b", "%b %d", "%H:%M", "%H:%M", "%S.%f"],
        offset_formats=["", "%Y", "%Y", "%Y %b %d", "%Y %b %d", "%Y %b %d %H:%M"],
    )


def _line_labels(ax: Axes, labels: list[tuple[float, str, str]], low: float, high: float) -> None:
    """Threshold labels in the right margin, nudged apart when the lines are close."""
    gap = (high - low) * 0.09
    placed: list[float] = []
    for value, text, color in sorted(labels):
        y = value
        for other in placed:
            if abs(y - other) < gap:
                y = other + gap
        placed.append(y)
        ax.annotate(
            text,
            xy=(1.0, value),
            xycoords=("axes fraction", "data"),
            xytext=(1.0, y),
            textcoords=("axes fraction", "data"),
            va="center",
            ha="left",
            color=color,
            fontsize=12,
            annotation_clip=False,
        )
