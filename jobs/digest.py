"""The daily digest: every model and monitored environment in one message, worst first.

It reads the last verdict of every signal from the ``alerts`` rows (the scheduled checks keep
them current, healthy ones included) instead of re-running the checks, so it is cheap and says
what the team was told during the day. A verdict older than two days is shown as stale.
The combined chart is the engine's digest grid, uploaded into the message's thread.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from core.checks import CHECK_KINDS
from core.publisher import key_of
from core.replies import MessageRef, Upload
from core.reports import SIGNALS, DigestLine, DigestReply, ScheduleNote
from engine.digest import DigestRow
from engine.verdict import Verdict
from infra.durations import format_duration
from infra.store import Alert
from infra.workqueue import COALESCED, FAILED, WorkQueue
from jobs import charts
from jobs.alerts import active_mute
from jobs.context import MonitorContext

log = logging.getLogger(__name__)

STALE_AFTER = timedelta(days=2)
SCHEDULE_LOOKBACK = timedelta(days=1)

#: Digest columns: the engine's three monitors, each the worst of its signals.
_COLUMNS = {kind.value: kind.signals for kind in CHECK_KINDS}


def digest_lines(ctx: MonitorContext) -> list[DigestLine]:
    now = ctx.now()
    lines: list[DigestLine] = []
    with ctx.store.read() as session:
        rows = session.scalars(select(Alert)).all()
    by_key: dict[tuple[str, str], dict[str, Alert]] = {}
    for row in rows:
        by_key.setdefault((row.model, row.environment), {})[row.signal] = row
    for model in ctx.settings.models:
        for env in ctx.settings.monitored_envs(model):
            signals = by_key.get((model.name, env), {})
            entries: list[tuple[str, Verdict, str]] = []
            for signal in SIGNALS:
                row = signals.get(signal)
                if row is None:
                    continue
                level = Verdict.parse(row.summary.get("level"))
                text = str(row.summary.get("headline", ""))
                if row.last_checked_at is not None and now - row.last_checked_at > STALE_AFTER:
                    level, text = (
                        Verdict.NO_DATA,
                        f"stale (last check {row.last_checked_at:%b %d}): {text}",
                    )
                entries.append((signal, level, text))
            muted = any(active_mute(ctx.store, model.name, s, now) for s in SIGNALS)
            open_count = sum(1 for r in signals.values() if r.state in ("open", "flapping"))
            lines.append(
                DigestLine(
                    model=model.name,
                    environment=env,
                    level=Verdict.worst((e[1] for e in entries), default=Verdict.NO_DATA),
                    signals=tuple(entries),
                    open_alerts=open_count,
                    muted=muted,
                )
            )
    return sorted(
        lines,
        key=lambda line: (
            -line.level.severity,
            -sum(1 for _, level, _ in line.signals if level is not Verdict.HEALTHY),
            line.model,
            line.environment,
        ),
    )


def digest_rows(lines: list[DigestLine]) -> list[DigestRow]:
    """The engine's digest rows (for its combined chart) from the stored verdicts."""
    rows = []
    for line in lines:
        by_signal = {signal: (level, text) for signal, level, text in line.signals}
        values: dict[str, object] = {}
        for column, signals in _COLUMNS.items():
            present = [by_signal[s] for s in signals if s in by_signal]
            if not present:
                continue
            worst = max(present, key=lambda p: p[0].severity)
            values[column] = worst[0]
            values[f"{column}_text"] = _short(worst[1])
        rows.append(DigestRow(model=line.model, environment=line.environment, **values))  # type: ignore[arg-type]
    return rows


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def schedule_notes(ctx: MonitorContext) -> list[ScheduleNote]:
    """Scheduled runs of the last day that started late, were skipped (coalesced into a later
    run) or failed, from the work queue: a missed slot is never silent."""
    queue = WorkQueue(ctx.store, "digest")
    notes: list[ScheduleNote] = []
    for item in queue.irregular(ctx.now() - SCHEDULE_LOOKBACK):
        if item.state == COALESCED:
            outcome, why = "skipped", item.note or "replaced by a later run"
        elif item.state == FAILED:
            outcome, why = "failed", item.note or "the run failed"
        else:
            outcome = "late"
            why = f"started {format_duration(item.late_seconds or 0)} late (waiting for a worker)"
            if item.covers > 1:
                why += f"; it covered {item.covers} slots"
        notes.append(ScheduleNote(item.kind, item.model, item.environment, item.slot, outcome, why))
    return notes


def build_digest(ctx: MonitorContext) -> DigestReply:
    lines = digest_lines(ctx)
    chart: Upload | None = None
    if lines:
        chart = charts.digest_chart(digest_rows(lines))
    return DigestReply(
        public=True,
        lines=tuple(lines),
        generated_at=ctx.now(),
        chart=chart,
        schedule=tuple(schedule_notes(ctx)),
    )


def run_digest(
    ctx: MonitorContext, *, channel: str | None = None
) -> tuple[DigestReply, MessageRef | None]:
    """Post the digest (one message, chart in its thread) to the digest channel."""
    reply = build_digest(ctx)
    target = channel or ctx.settings.channel(None, "digest")
    key = key_of("digest", target, reply.generated_at.isoformat() if reply.generated_at else "")
    return reply, ctx.publish(key, target, reply, reply.uploads, what="the daily digest")
