"""Run one scheduled job by kind: what the scheduler calls, and what ``mlops-bot run-job``
(:mod:`bot.cli.run_job`) calls once from the command line.

Imports stay inside functions so ``mlops-bot --help`` does not load pandas and matplotlib.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from core.checks import CHECK_KINDS, CheckKind
from engine.verdict import Verdict

if TYPE_CHECKING:
    from jobs.context import MonitorContext

log = logging.getLogger(__name__)

KINDS: tuple[str, ...] = (*CHECK_KINDS, "digest", "retrain")
"""Every job kind: the checks (:data:`core.checks.CHECK_KINDS`), the digest and retraining."""

EXIT_OK, EXIT_BREACH, EXIT_USAGE, EXIT_FAILED = 0, 1, 2, 3


@dataclass
class JobResult:
    kind: str
    model: str | None
    env: str | None
    level: str
    """A check's :class:`~engine.verdict.Verdict` (the digest's worst), ``unknown`` when the job
    could not run; submitted / held for retrain."""
    headline: str
    lines: list[str] = field(default_factory=list)
    posted: bool = False
    report: Any = None


# --------------------------------------------------------------------------- the runners


def _check(kind: CheckKind) -> Callable[..., JobResult]:
    def run(
        ctx: MonitorContext,
        model: str | None,
        env: str | None,
        *,
        publish: bool = True,
        window: timedelta | None = None,
        trigger: str = "scheduled",
    ) -> JobResult:
        from jobs.checks import run_check

        if model is None or env is None:
            raise ValueError(f"a {kind} check needs a model and an environment")
        model_cfg = ctx.settings.model(model)
        if publish and ctx.settings.check_compute(model_cfg, kind) == "platform":
            # Where the data lives: the job watcher applies the result when the job ends.
            from jobs.checks.platform import submit

            submission = submit(ctx, kind, model_cfg, env, window=window, trigger=trigger)
            level = "submitted" if submission.submitted else "held"
            return JobResult(kind, model, env, level, submission.sentence, [submission.sentence])
        started, outcome = time.perf_counter(), "failed"
        try:
            result = run_check(
                ctx,
                kind,
                model_cfg,
                env,
                window=window,
                track_alerts=publish,
                publish=publish,
                trigger=trigger,
            )
            outcome = "ok"
        finally:
            if ctx.metrics is not None:
                ctx.metrics.check_seconds.labels(str(kind), outcome).observe(
                    time.perf_counter() - started
                )
        report = result.report
        lines = [f"{label}: {value}" for label, value in report.fields]
        for signal in report.signals:
            lines.append(f"{signal.signal}: {signal.level} — {signal.headline}")
            lines.extend(f"  {f.name}: {f.value} ({f.limit})" for f in signal.findings[:5])
        lines.extend(f"alert {o.fingerprint}: {o.effect} ({o.state})" for o in result.outcomes)
        lines.extend(result.retraining)
        return JobResult(
            kind,
            model,
            env,
            report.level,
            report.headline,
            lines,
            posted=result.summary is not None,
            report=report,
        )

    return run


def _digest(
    ctx: MonitorContext, model: str | None, env: str | None, *, publish: bool = True, **_: Any
) -> JobResult:
    from jobs.digest import build_digest, run_digest

    if publish:
        reply, ref = run_digest(ctx)
    else:
        reply, ref = build_digest(ctx), None
    lines = [
        f"{line.model} · {line.environment}: {line.level} "
        + ", ".join(f"{s} {lvl}" for s, lvl, _ in line.signals)
        for line in reply.lines
    ]
    worst = reply.lines[0].level if reply.lines else Verdict.NO_DATA
    return JobResult(
        "digest", None, None, worst, reply.fallback_text, lines, posted=ref is not None
    )


def _retrain(
    ctx: MonitorContext, model: str | None, env: str | None, *, publish: bool = True, **_: Any
) -> JobResult:
    from jobs.retraining import scheduled_retrain

    if model is None:
        raise ValueError("retraining needs a model")
    decision = scheduled_retrain(ctx, ctx.settings.model(model), announce=publish)
    level = "submitted" if decision.submitted else "held"
    return JobResult("retrain", model, None, level, decision.sentence, posted=publish)


#: kind -> runner(ctx, model, env, **options). Tests may add kinds (e.g. a probe).
RUNNERS: dict[str, Callable[..., Any]] = {
    **{kind.value: _check(kind) for kind in CHECK_KINDS},
    "digest": _digest,
    "retrain": _retrain,
}


def run_kind(
    ctx: MonitorContext, kind: str, model: str | None, env: str | None, **options: Any
) -> Any:
    """What the scheduler calls for every configured job."""
    runner = RUNNERS.get(kind)
    if runner is None:
        raise ValueError(f"unknown job kind {kind!r}; expected one of {', '.join(RUNNERS)}")
    try:
        return runner(ctx, model, env, **options)
    except Exception as exc:
        from jobs.checks import CheckFailed

        if isinstance(exc, CheckFailed):
            log.warning("%s of %s in %s could not run: %s", kind, model, env, exc)
            return JobResult(kind, model, env, "unknown", str(exc))
        raise
