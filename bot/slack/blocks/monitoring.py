"""Monitoring cards: a check's summary, an alert, its full report, the daily digest, mutes.

Pure builders; importing the module registers them with :mod:`bot.slack.blocks.render`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    DividerBlock,
    PlainTextObject,
)

from bot.slack.blocks.common import (
    LEVEL_MARK,
    MAX_SECTION_TEXT,
    clip,
    code,
    context,
    esc,
    header,
    pre,
    section,
    slack_date,
    user,
)
from bot.slack.blocks.render import register_renderer
from core.reports import (
    SIGNAL_LABELS,
    AlertReply,
    AlertView,
    ButtonAnswer,
    DetailsReply,
    DigestReply,
    Finding,
    MuteReply,
    StandingSummaryReply,
    SummaryReply,
)
from engine.verdict import Verdict
from infra.durations import format_duration

ACTION_RETRAIN = "alert_retrain"
ACTION_MUTE = "alert_mute"
ACTION_ACK = "alert_ack"
ACTION_DETAILS = "alert_details"

MAX_FINDINGS_SHOWN = 5
_TRIGGER = {"scheduled": "scheduled check", "on demand": "run on demand", "run-job": "run-job"}


def _label(signal: str) -> str:
    return SIGNAL_LABELS.get(signal, signal.replace("_", " ").capitalize())


def _mark(level: str) -> str:
    return LEVEL_MARK.get(level, LEVEL_MARK["unknown"])


def _finding_line(finding: Finding, headline: str = "") -> str:
    line = (
        f"{_mark(finding.level)} {code(finding.name)} {esc(finding.value)} — {esc(finding.limit)}"
    )
    if finding.note and finding.level != "healthy" and finding.note not in headline:
        line += f"\n      _{esc(finding.note)}_"
    return line


# --------------------------------------------------------------------------- summary


def summary_blocks(reply: SummaryReply) -> list[Block]:
    report = reply.report
    if report is None:
        return [section("No report.")]
    kind = _label(report.kind)
    blocks: list[Block] = [
        header(
            f"{_mark(report.level)} {kind} · {report.model} · {report.environment}"
            f" — {Verdict.parse(report.level).label}"
        )
    ]
    window = (
        f"{slack_date(report.start)} → {slack_date(report.end)}"
        f" (last {format_duration(report.end - report.start)})"
    )
    about = [f":calendar: {window}", _TRIGGER.get(reply.trigger, esc(reply.trigger))]
    if reply.muted:
        about.append(":no_bell: muted: " + ", ".join(_label(s) for s in reply.muted))
    blocks.append(context(" · ".join(about)))
    verdicts = "\n".join(
        f"{_mark(s.level)} *{_label(s.signal)}*: {esc(s.headline)}" for s in report.signals
    )
    blocks.append(section(verdicts))
    if report.fields:
        blocks.append(
            section("", fields=[f"*{esc(label)}*\n{esc(value)}" for label, value in report.fields])
        )
    top = [f for f in report.main.findings if f.level != "healthy"][:MAX_FINDINGS_SHOWN]
    if top:
        lines = [_finding_line(f, report.main.headline) for f in top]
        blocks.append(section("*What changed*\n" + "\n".join(lines)))
    footer = []
    if reply.open_alerts:
        footer.append(
            ":rotating_light: open alert: " + ", ".join(_label(s) for s in reply.open_alerts)
        )
    if report.charts:
        count = len(report.charts)
        footer.append(f":bar_chart: {count} chart{'s' if count > 1 else ''} in the thread")
    footer.extend(esc(n) for n in report.notes[:2])
    if footer:
        blocks.append(context(*footer))
    return blocks


def standing_blocks(reply: StandingSummaryReply) -> list[Block]:
    """The standing summary: each check's latest verdict, since when, and what is muted."""
    level = reply.level.value
    blocks: list[Block] = [
        header(f"{_mark(level)} {reply.model} · {reply.environment} — {reply.level.label}"),
    ]
    for entry in reply.entries:
        lines = [
            f"{_mark(entry.level)} *{esc(_label(entry.kind))}* — {esc(entry.headline)}",
            f"checked {slack_date(entry.checked_at)} · {entry.level.label} since "
            f"{slack_date(entry.changed_at)}",
        ]
        lines.extend(
            f"      {_mark(lv)} {esc(_label(signal))}: {esc(text)}"
            for signal, lv, text in entry.signals
            if signal != entry.kind and lv is not Verdict.HEALTHY
        )
        if entry.muted:
            lines.append(
                ":no_bell: muted: "
                + ", ".join(esc(_label(s)) for s in entry.muted)
                + " — checks still run, alerts stay quiet"
            )
        blocks.append(section("\n".join(lines)))
    footer = [
        ":pushpin: Scheduled checks edit this message; a new message is posted only when a "
        "verdict changes. The daily digest carries the rest."
    ]
    if reply.open_alerts:
        footer.insert(
            0,
            ":rotating_light: open alert: " + ", ".join(esc(_label(s)) for s in reply.open_alerts),
        )
    blocks.append(context(*footer))
    return blocks


# --------------------------------------------------------------------------- alert

_STATE_TITLE = {
    "open": ":rotating_light: {label} alert",
    "resolved": ":white_check_mark: Resolved: {label}",
    "flapping": ":arrows_counterclockwise: Flapping: {label}",
}


def alert_blocks(reply: AlertReply) -> list[Block]:
    alert = reply.alert
    if alert is None:
        return [section("No alert.")]
    label = _label(alert.signal)
    title = _STATE_TITLE.get(alert.state, ":rotating_light: {label} alert").format(label=label)
    blocks: list[Block] = [header(f"{title} · {alert.model} · {alert.environment}")]
    level = "healthy" if alert.state == "resolved" else alert.level
    severity = "" if alert.state == "resolved" else f"*{esc(alert.severity.upper())}* · "
    blocks.append(section(f"{_mark(level)} {severity}{esc(alert.headline)}"))
    shown = [f for f in alert.findings if f.level != "healthy"][:MAX_FINDINGS_SHOWN] or list(
        alert.findings[:3]
    )
    if shown and alert.state != "resolved":
        lines = [_finding_line(f, alert.headline) for f in shown]
        blocks.append(section("*What changed*\n" + "\n".join(lines)))
    blocks.append(section("", fields=_alert_fields(alert)))
    notes = _alert_notes(alert)
    if notes:
        blocks.append(context(*notes))
    actions = _alert_actions(alert)
    if actions:
        blocks.append(ActionsBlock(block_id=f"alert:{alert.fingerprint}"[:255], elements=actions))
    return blocks


def alert_state_text(alert: AlertView) -> str:
    """``open``, or ``open · acknowledged by @bob`` / ``open · muted until …``: the state
    field agrees with what people did to the alert."""
    parts = [esc(alert.state)]
    if alert.state != "resolved":
        if alert.acknowledged_by:
            parts.append(f"acknowledged by {user(alert.acknowledged_by)}")
        if alert.muted_until is not None:
            parts.append(f"muted until {slack_date(alert.muted_until)}")
    return " · ".join(parts)


def _alert_fields(alert: AlertView) -> list[str]:
    fields = [f"*State*\n{alert_state_text(alert)}"]
    if alert.opened_at is not None:
        fields.append(f"*First seen*\n{slack_date(alert.opened_at)}")
    if alert.last_checked_at is not None:
        fields.append(f"*Last check*\n{slack_date(alert.last_checked_at)}")
    if alert.state == "resolved" and alert.resolved_at is not None:
        fields.append(f"*Resolved*\n{slack_date(alert.resolved_at)}")
    fields.append(f"*Breaching checks*\n{alert.breach_count}")
    if alert.state != "resolved":
        fields.append(f"*In a row*\n{alert.consecutive}")
    if alert.state == "flapping":
        fields.append(f"*Changes*\n{alert.flips} in the flap window")
    if alert.window:
        fields.append(f"*Window*\n{esc(alert.window)}")
    return fields


def check_time(moment: datetime) -> str:
    """A check's time as cards and chart titles both print it ("2026-12-05 14:05 UTC")."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return f"{aware.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _source_note(alert: AlertView) -> str | None:
    """Which check the card's numbers and the chart in its thread come from, so the two are
    never read as one picture when a later check changed the numbers."""
    numbers, chart = alert.last_checked_at, alert.chart_checked_at
    if alert.state == "resolved" or numbers is None or chart is None:
        return None
    if chart == numbers:
        return (
            f":bar_chart: Numbers and chart (in the thread) from the check at {check_time(numbers)}"
        )
    return (
        f":bar_chart: Numbers from the check at {check_time(numbers)}; the chart in the thread "
        f"is from the check at {check_time(chart)} (same verdicts and methods)"
    )


def _alert_notes(alert: AlertView) -> list[str]:
    notes = []
    source = _source_note(alert)
    if source:
        notes.append(source)
    if alert.acknowledged_by:
        notes.append(f":eyes: Acknowledged by {user(alert.acknowledged_by)}")
    if alert.muted_until is not None:
        notes.append(f":no_bell: Muted until {slack_date(alert.muted_until)}")
    if alert.retrain_note:
        notes.append(f":repeat: {esc(alert.retrain_note)}")
    elif alert.retrain_mode == "auto" and alert.state == "open":
        notes.append(":repeat: Retraining is automatic for this signal (cooldown permitting)")
    return notes


def _alert_actions(alert: AlertView) -> list[ButtonElement]:
    value = alert.fingerprint
    buttons: list[ButtonElement] = []
    if alert.state != "resolved" and alert.retrain_mode != "off":
        buttons.append(
            ButtonElement(
                text="Retrain",
                action_id=ACTION_RETRAIN,
                value=value,
                style="primary" if alert.retrain_mode == "ask" else None,
                confirm=ConfirmObject(
                    title="Retrain?",
                    text=PlainTextObject(
                        text=clip(f"Submit the retraining pipeline of {alert.model} now?", 300)
                    ),
                    confirm="Retrain",
                    deny="Cancel",
                ),
            )
        )
    if alert.state != "resolved" and alert.muted_until is None:
        buttons.append(ButtonElement(text="Mute 24h", action_id=ACTION_MUTE, value=value))
    if alert.state != "resolved" and not alert.acknowledged_by:
        buttons.append(ButtonElement(text="Acknowledge", action_id=ACTION_ACK, value=value))
    buttons.append(ButtonElement(text="Details", action_id=ACTION_DETAILS, value=value))
    return buttons


# --------------------------------------------------------------------------- details


def details_blocks(reply: DetailsReply) -> list[Block]:
    blocks: list[Block] = [section(f"*{esc(reply.title)}*")]
    chunk: list[str] = []
    budget = MAX_SECTION_TEXT - 10
    for line in reply.lines or ("(no details recorded)",):
        text = str(line)
        if chunk and sum(len(c) + 1 for c in chunk) + len(text) > budget:
            blocks.append(section(pre("\n".join(chunk))))
            chunk = []
        chunk.append(clip(text, budget))
        if len(blocks) >= 45:
            break
    if chunk:
        blocks.append(section(pre("\n".join(chunk))))
    return blocks


# --------------------------------------------------------------------------- digest


def digest_blocks(reply: DigestReply) -> list[Block]:
    when = reply.generated_at or datetime.now(UTC)
    breaches = sum(1 for line in reply.lines if line.level == "breach")
    warnings = sum(1 for line in reply.lines if line.level == "warning")
    worst = reply.lines[0].level if reply.lines else "unknown"
    blocks: list[Block] = [header(f"{_mark(worst)} Daily model health")]
    blocks.append(
        context(
            f"{slack_date(when, '{date_short_pretty}')} · {len(reply.lines)} model "
            f"environment{'s' if len(reply.lines) != 1 else ''} · "
            f"{breaches} in breach · {warnings} with warnings"
        )
    )
    if not reply.lines:
        blocks.append(section("No monitored models yet."))
        return blocks
    rendered = []
    for line in reply.lines:
        parts = [
            f"{_label(signal)} {_mark(level)} {esc(clip(text, 90))}"
            for signal, level, text in line.signals
        ] or ["no checks have run yet"]
        extra = []
        if line.open_alerts:
            extra.append(f":rotating_light: {line.open_alerts} open")
        if line.muted:
            extra.append(":no_bell: muted")
        suffix = f" ({', '.join(extra)})" if extra else ""
        rendered.append(
            f"{_mark(line.level)} *{esc(line.model)}* · {esc(line.environment)}{suffix}\n"
            + "\n".join(f"      {p}" for p in parts)
        )
    chunk: list[str] = []
    for text in rendered:
        if chunk and sum(len(c) + 2 for c in chunk) + len(text) > MAX_SECTION_TEXT - 50:
            blocks.append(section("\n\n".join(chunk)))
            chunk = []
        chunk.append(clip(text, MAX_SECTION_TEXT - 50))
        if len(blocks) >= 45:
            break
    if chunk:
        blocks.append(section("\n\n".join(chunk)))
    if reply.schedule and len(blocks) < 46:
        blocks.append(section(_schedule_text(reply)))
    if reply.chart is not None:
        blocks.append(DividerBlock())
        blocks.append(context(":bar_chart: The combined chart is in the thread"))
    return blocks


SCHEDULE_LINES = 12


def _schedule_text(reply: DigestReply) -> str:
    """Checks of the last day that ran late, were skipped or failed, and why."""
    marks = {"late": ":hourglass:", "skipped": ":fast_forward:", "failed": ":x:"}
    shown = [
        f"{marks.get(n.outcome, '')} {esc(n.kind)} · *{esc(n.model or 'all models')}*"
        + (f" · {esc(n.environment)}" if n.environment else "")
        + f", {n.slot:%b %d %H:%M} UTC run {esc(n.outcome)}: {esc(clip(n.why, 160))}"
        for n in reply.schedule[:SCHEDULE_LINES]
    ]
    more = len(reply.schedule) - len(shown)
    if more > 0:
        shown.append(f"… and {more} more")
    title = "*Scheduled checks that ran late, were skipped or failed (last 24 h)*"
    return clip(title + "\n" + "\n".join(shown), MAX_SECTION_TEXT)


# --------------------------------------------------------------------------- mutes


def mute_blocks(reply: MuteReply) -> list[Block]:
    what = "every signal" if reply.signal == "*" else _label(reply.signal)
    if reply.until is not None:
        text = (
            f":no_bell: Alerts of *{esc(reply.model)}* ({esc(what)}) are muted until "
            f"{slack_date(reply.until)}. Summaries still run and say they are muted."
        )
        if reply.replaced is not None:
            until, by = reply.replaced
            text += f"\nThis replaces the mute until {slack_date(until)} set by {user(by)}."
    elif reply.removed:
        text = (
            f":bell: Unmuted *{esc(reply.model)}* ({esc(what)}): "
            f"{reply.removed} {'mute' if reply.removed == 1 else 'mutes'} removed."
        )
    else:
        text = f":bell: *{esc(reply.model)}* had no mute for {esc(what)}; nothing changed."
    blocks: list[Block] = [section(text)]
    if reply.active:
        lines = [
            f"{'every signal' if s == '*' else esc(_label(s))} until {slack_date(u)} by {user(b)}"
            for s, u, b in reply.active
        ]
        blocks.append(context("Active mutes: " + "; ".join(lines)))
    return blocks


def answer_blocks(reply: ButtonAnswer) -> list[Block]:
    mark = ":white_check_mark:" if reply.ok else ":warning:"
    mention = f" {user(reply.mention)}" if reply.mention else ""
    return [section(f"{mark} {esc(reply.text)}{mention}")]


register_renderer(SummaryReply, summary_blocks)
register_renderer(StandingSummaryReply, standing_blocks)
register_renderer(ButtonAnswer, answer_blocks)
register_renderer(AlertReply, alert_blocks)
register_renderer(DetailsReply, details_blocks)
register_renderer(DigestReply, digest_blocks)
register_renderer(MuteReply, mute_blocks)

__all__ = ["ACTION_ACK", "ACTION_DETAILS", "ACTION_MUTE", "ACTION_RETRAIN"]
