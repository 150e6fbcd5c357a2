"""What a monitoring run produces and what the monitoring cards show: plain data, no Slack.

A check turns an engine report (drift, performance, utilization) into a :class:`CheckReport`:
per-signal levels and headlines, the key numbers, the "what changed" findings and PNG charts.
Levels are :class:`engine.verdict.Verdict`, the one level scale of the product.
The alert lifecycle, the summary card, the alert card and the digest all read this one shape,
so a scheduled run, ``mlops-bot run-job`` and ``/mlops drift`` say exactly the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from core.replies import Reply, Upload
from engine.verdict import Verdict

#: Alert signals, one fingerprint each per model and environment.
SIGNALS: tuple[str, ...] = ("drift", "data_quality", "performance", "fairness", "utilization")

SIGNAL_LABELS: dict[str, str] = {
    "drift": "Drift",
    "data_quality": "Data quality",
    "performance": "Performance",
    "fairness": "Fairness",
    "utilization": "Utilization",
}


@dataclass(frozen=True)
class Finding:
    """One line of "what changed": a feature or metric, its value and the limit it is held to."""

    name: str
    value: str
    limit: str
    level: Verdict
    note: str = ""

    def __post_init__(self) -> None:
        # Levels given as text ("breach", or the stored "unknown") become the Verdict they name.
        object.__setattr__(self, "level", Verdict.parse(self.level))

    def to_json(self) -> dict[str, str]:
        return {
            "name": self.name,
            "value": self.value,
            "limit": self.limit,
            "level": self.level.value,
            "note": self.note,
        }

    @classmethod
    def from_json(cls, data: dict[str, str]) -> Finding:
        return cls(
            name=str(data.get("name", "")),
            value=str(data.get("value", "")),
            limit=str(data.get("limit", "")),
            level=Verdict.parse(data.get("level")),
            note=str(data.get("note", "")),
        )


@dataclass(frozen=True)
class SignalResult:
    signal: str
    level: Verdict
    headline: str
    findings: tuple[Finding, ...] = ()
    """Worst first; the alert card shows the top few."""
    chart: Upload | None = None
    """The one chart that explains this signal (uploaded with its alert)."""
    trend: tuple[tuple[str, float], ...] = ()
    """(ISO time, value) of the headline number, for trend charts across checks."""
    estimated: bool = False
    """The level judges an estimate, not a measurement (performance before its labels): the
    summary shows it; the alert lifecycle reads it as no data, so it never opens, escalates or
    resolves an alert — the labels decide."""

    def __post_init__(self) -> None:
        # Levels given as text ("breach", or the stored "unknown") become the Verdict they name.
        object.__setattr__(self, "level", Verdict.parse(self.level))


@dataclass(frozen=True)
class CheckReport:
    kind: str
    model: str
    environment: str
    start: datetime
    end: datetime
    signals: tuple[SignalResult, ...]
    fields: tuple[tuple[str, str], ...] = ()
    """Key numbers as (label, value), shown as card fields."""
    details: tuple[str, ...] = ()
    """The full report as text lines (the alert's Details button posts them)."""
    charts: tuple[Upload, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def level(self) -> Verdict:
        return Verdict.worst(s.level for s in self.signals)

    @property
    def main(self) -> SignalResult:
        return self.signals[0]

    @property
    def headline(self) -> str:
        return self.main.headline

    def signal(self, name: str) -> SignalResult | None:
        return next((s for s in self.signals if s.signal == name), None)


# --------------------------------------------------------------------------- replies


@dataclass(frozen=True)
class StandingEntry:
    """One check kind's latest scheduled result on a standing summary."""

    kind: str
    level: Verdict
    headline: str
    checked_at: datetime
    changed_at: datetime
    """When this verdict was first seen (the last change)."""
    signals: tuple[tuple[str, Verdict, str], ...] = ()
    """(signal, level, headline) of each signal of the check."""
    muted: tuple[str, ...] = ()
    """Signals of the check muted when it ran."""

    def __post_init__(self) -> None:
        # Stored as text; read back as the one level scale (unknown text reads as no data).
        object.__setattr__(self, "level", Verdict.parse(self.level))
        object.__setattr__(
            self,
            "signals",
            tuple((signal, Verdict.parse(level), text) for signal, level, text in self.signals),
        )


@dataclass(frozen=True)
class StandingSummaryReply(Reply):
    """The one message per model and environment that scheduled checks edit in place; a new
    top-level message is posted only when a check's verdict changes."""

    model: str = ""
    environment: str = ""
    entries: tuple[StandingEntry, ...] = ()
    open_alerts: tuple[str, ...] = ()

    @property
    def level(self) -> Verdict:
        return Verdict.worst(e.level for e in self.entries)

    @property
    def fallback_text(self) -> str:
        return f"Standing summary of {self.model} in {self.environment}: {self.level.label}"


@dataclass(frozen=True)
class SummaryReply(Reply):
    """One scheduled (or on-demand) run: verdict header, window, key numbers; charts go in its
    thread through ``uploads``."""

    report: CheckReport | None = None
    muted: tuple[str, ...] = ()
    """Signals whose alerts are muted right now (the summary still runs, marked muted)."""
    open_alerts: tuple[str, ...] = ()
    """Signals with an open alert, so the summary points at it instead of repeating it."""
    trigger: str = "scheduled"
    """scheduled, on demand (``/mlops drift``), or ``run-job``."""

    @property
    def uploads(self) -> tuple[Upload, ...]:
        return self.report.charts if self.report else ()

    @property
    def fallback_text(self) -> str:
        if self.report is None:
            return "monitoring summary"
        r = self.report
        label = SIGNAL_LABELS.get(r.kind, r.kind)
        level = Verdict.parse(r.level).label  # "no data", not the stored spelling "no_data"
        return f"{label} check of {r.model} in {r.environment}: {level} — {r.headline}"


@dataclass(frozen=True)
class AlertView:
    """What the alert card shows, read back from the ``alerts`` row."""

    fingerprint: str
    model: str
    environment: str
    signal: str
    state: str
    """open, resolved or flapping."""
    severity: str
    level: str
    headline: str
    findings: tuple[Finding, ...] = ()
    window: str = ""
    opened_at: datetime | None = None
    last_checked_at: datetime | None = None
    resolved_at: datetime | None = None
    breach_count: int = 0
    consecutive: int = 0
    checks: int = 0
    acknowledged_by: str | None = None
    muted_until: datetime | None = None
    retrain_mode: str = "off"
    """off / auto / ask for this signal's trigger; decides the Retrain button."""
    retrain_note: str | None = None
    """e.g. "Retraining job abc submitted automatically"."""
    flips: int = 0
    chart_checked_at: datetime | None = None
    """The check whose chart is in the card's thread (the card's numbers are from
    ``last_checked_at``); the card says both when they differ."""


@dataclass(frozen=True)
class AlertReply(Reply):
    alert: AlertView | None = None

    @property
    def fallback_text(self) -> str:
        a = self.alert
        if a is None:
            return "alert"
        label = SIGNAL_LABELS.get(a.signal, a.signal)
        prefix = {"resolved": "Resolved: ", "flapping": "Flapping: "}.get(a.state, "")
        return f"{prefix}{label} alert for {a.model} in {a.environment}: {a.headline}"


@dataclass(frozen=True)
class DetailsReply(Reply):
    """The full report of an alert, posted in its thread by the Details button."""

    title: str = ""
    lines: tuple[str, ...] = ()

    @property
    def fallback_text(self) -> str:
        return self.title


@dataclass(frozen=True)
class DigestLine:
    model: str
    environment: str
    level: Verdict
    signals: tuple[tuple[str, Verdict, str], ...] = ()
    """(signal, level, short text) in SIGNALS order."""
    open_alerts: int = 0
    muted: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "level", Verdict.parse(self.level))
        signals = tuple((s, Verdict.parse(level), text) for s, level, text in self.signals)
        object.__setattr__(self, "signals", signals)


@dataclass(frozen=True)
class ScheduleNote:
    """A scheduled run the digest must mention: it ran late, was skipped or failed, and why."""

    kind: str
    model: str
    environment: str
    slot: datetime
    outcome: str
    """``late``, ``skipped`` or ``failed``."""
    why: str


@dataclass(frozen=True)
class DigestReply(Reply):
    lines: tuple[DigestLine, ...] = ()
    generated_at: datetime | None = None
    chart: Upload | None = None
    schedule: tuple[ScheduleNote, ...] = ()
    """Runs of the last day that were late, skipped or failed (never dropped silently)."""

    @property
    def uploads(self) -> tuple[Upload, ...]:
        return (self.chart,) if self.chart else ()

    @property
    def fallback_text(self) -> str:
        bad = sum(1 for line in self.lines if line.level == "breach")
        return f"Daily model health: {len(self.lines)} model environments, {bad} in breach"


@dataclass(frozen=True)
class ButtonAnswer(Reply):
    """An ephemeral answer to a button press; ``mention`` (a Slack user ID) becomes a mention
    after ``text`` (free text is escaped, IDs from Slack payloads are safe to mention)."""

    text: str = ""
    mention: str | None = None
    ok: bool = True

    @property
    def fallback_text(self) -> str:
        return self.text


@dataclass(frozen=True)
class MuteReply(Reply):
    model: str = ""
    signal: str = "*"
    until: datetime | None = None
    by: str | None = None
    removed: int = 0
    active: tuple[tuple[str, datetime, str], ...] = field(default_factory=tuple)
    """(signal, until, by) of the model's mutes after the change."""
    replaced: tuple[datetime, str] | None = None
    """(until, by) of the mute this one replaced, when that one was still in force."""

    @property
    def fallback_text(self) -> str:
        what = "every signal" if self.signal == "*" else self.signal
        if self.until is not None:
            return f"Alerts of {self.model} ({what}) muted until {self.until:%Y-%m-%d %H:%M} UTC"
        if self.removed:
            return f"Alerts of {self.model} ({what}) unmuted"
        return f"{self.model} had no mute for {what}; nothing changed"
