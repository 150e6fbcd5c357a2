"""AlertBook: reads and advances the ``alerts`` rows, one per fingerprint (model, environment,
signal), and tells people through the context's Publisher.

Each check's :class:`Observation` goes through :func:`core.alerting.policy.plan` (the rules:
K in a row, flapping, mutes, reopening) and the resulting transition is saved with a
compare-and-set on the row version (:func:`infra.store.retry_on_conflict`) before anything is
posted. Every row also keeps the last verdict of its signal (``summary["level"]``/
``["headline"]``), for ``/mlops status`` and the digest, healthy ones included.

Cards, edits and thread notes go through the outbox behind the Publisher: a card Slack does not
take at once is kept under one key per incident and delivered when Slack is back (a check
meanwhile refreshes its content, never queues a second card), then recorded on its row by
:meth:`AlertBook.card_delivered`; nothing is lost, nothing is posted twice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.alerting.policy import (
    Effect,
    Snapshot,
    Transition,
    fingerprint,
    plan,
    retrain_mode,
    severity,
)
from core.replies import MessageRef, Upload
from core.reports import SIGNAL_LABELS, AlertReply, AlertView, Finding
from infra.settings import ModelConfig
from infra.store import Alert, StaleStateError, Store, retry_on_conflict
from jobs.alerts.mutes import active_mute
from jobs.context import MonitorContext

log = logging.getLogger(__name__)

MAX_FINDINGS_STORED = 10
MAX_DETAIL_LINES = 120
MAX_TREND_POINTS = 60
CARD_HOOK = "alert-card"
"""The outbox hook name under which a late-delivered alert card is recorded."""


@dataclass(frozen=True)
class Observation:
    """One signal's result from one check."""

    model: str
    environment: str
    signal: str
    level: str
    headline: str
    findings: tuple[Finding, ...] = ()
    window: str = ""
    details: tuple[str, ...] = ()
    chart: Upload | None = None
    trend: tuple[tuple[str, float], ...] = ()

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.model, self.environment, self.signal)


@dataclass(frozen=True)
class Outcome:
    fingerprint: str
    state: str
    effect: Effect
    muted: bool
    confirmed_breach: bool
    message: MessageRef | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


class AlertBook:
    """Reads and advances alert rows; the only writer of ``alerts`` besides the buttons."""

    def __init__(self, ctx: MonitorContext) -> None:
        self.ctx = ctx

    @property
    def store(self) -> Store:
        return self.ctx.store

    # -- reading
    def get(self, fp: str) -> Alert | None:
        with self.store.read() as session:
            return session.get(Alert, fp)

    def previous_trend(self, fp: str) -> list[tuple[str, float]]:
        row = self.get(fp)
        if row is None:
            return []
        return [(str(t), float(v)) for t, v in row.summary.get("trend", [])]

    def view(self, row: Alert, model_cfg: ModelConfig) -> AlertView:
        now = self.ctx.now()
        mute = active_mute(self.store, row.model, row.signal, now)
        summary = row.summary or {}
        return AlertView(
            fingerprint=row.fingerprint,
            model=row.model,
            environment=row.environment,
            signal=row.signal,
            state="open" if row.state == "pending" else row.state,
            severity=row.severity,
            level=str(summary.get("level", "unknown")),
            headline=str(summary.get("headline", "")),
            findings=tuple(Finding.from_json(f) for f in summary.get("findings", [])),
            window=str(summary.get("window", "")),
            opened_at=row.opened_at,
            last_checked_at=row.last_checked_at,
            resolved_at=row.resolved_at,
            breach_count=row.breach_count,
            consecutive=row.consecutive,
            acknowledged_by=row.acknowledged_by,
            muted_until=mute.until if mute is not None else None,
            retrain_mode=retrain_mode(model_cfg, row.signal),
            retrain_note=summary.get("retrain_note"),
            flips=len(row.flips or []),
            chart_checked_at=_parse(summary.get("chart_check")),
        )

    def message_ref(self, row: Alert) -> MessageRef | None:
        if row.channel and row.message_ts:
            return MessageRef(row.channel, row.message_ts)
        return None

    # -- the lifecycle
    def observe(self, obs: Observation, model_cfg: ModelConfig) -> Outcome:
        now = self.ctx.now()
        fp = obs.fingerprint
        rules = model_cfg.monitoring.alerts
        mute = active_mute(self.store, obs.model, obs.signal, now)
        if (
            obs.chart is not None
            and not obs.chart.rendered
            and self._chart_needed(obs, rules, mute, now)
        ):
            # Drawn before the transaction, not inside it: on SQLite the transaction holds the
            # database's write lock, and an ack in another process would wait for the drawing.
            obs.chart.content  # noqa: B018

        def attempt() -> Transition:
            row = self._load_or_create(obs, now)
            before = _snapshot(row)
            step = _plan(before, obs, rules, mute, now)
            summary = self._summary(row.summary, obs, step, now)
            changes: dict[str, Any] = {
                "state": step.state,
                "consecutive": step.consecutive,
                "breach_count": step.breach_count,
                "flips": list(step.flips),
                "opened_at": step.opened_at,
                "resolved_at": step.resolved_at,
                "last_checked_at": now,
                "summary": summary,
                "severity": severity(self.ctx.settings, obs.environment, obs.level)
                if step.state in ("open", "flapping", "pending")
                else row.severity,
            }
            if step.post_new or (step.effect is Effect.SUPPRESSED and step.opened_at == now):
                # A new incident forgets the old message and its acknowledgement.
                changes.update(channel=None, message_ts=None, acknowledged_by=None)
            elif step.effect is Effect.REOPENED:
                changes["acknowledged_by"] = None
            self.store.compare_and_set(Alert, fp, row.version_no, **changes)
            return step

        # The transition, its audit row and the card / thread note announcing it are one
        # transaction (a transactional outbox): a crash cannot keep the new state and lose
        # the message, so the next check (which sees no change) never stays silent about it.
        # A new card is recorded on the alert by the delivery hook once Slack takes it.
        with self.store.transaction():
            step = retry_on_conflict(attempt)

            if step.effect not in (Effect.NONE, Effect.PENDING):
                self.store.audit(
                    "mlops-bot",
                    "alert",
                    str(step.effect),
                    model=obs.model,
                    environment=obs.environment,
                    subject=fp,
                    level=obs.level,
                    state=step.state,
                    headline=obs.headline,
                    muted=mute is not None,
                )
            ref = self._deliver(fp, step, obs, model_cfg)
        return Outcome(
            fingerprint=fp,
            state=step.state,
            effect=step.effect,
            muted=mute is not None,
            confirmed_breach=step.confirmed_breach,
            message=ref,
            notes=(step.note,) if step.note else (),
        )

    def _chart_needed(self, obs: Observation, rules: Any, mute: Any, now: datetime) -> bool:
        """Whether this observation will post its chart (a new card, or a card whose picture
        changed), decided on the row as it is now; the transaction decides again."""
        row = self.get(obs.fingerprint)
        before = _snapshot(row) if row is not None else _FIRST
        step = _plan(before, obs, rules, mute, now)
        if step.post_new:
            return True
        if row is None or not (step.edit and row.channel and row.message_ts):
            return False
        summary = row.summary or {}
        return not (summary.get("chart_check") and summary.get("chart_shape") == chart_shape(obs))

    def refresh(self, fp: str, model_cfg: ModelConfig) -> None:
        """Re-render the alert card from its row (after an acknowledgement, a mute, a retrain)."""
        row = self.get(fp)
        ref = self.message_ref(row) if row is not None else None
        if row is None or ref is None:
            return
        self.ctx.update(ref, AlertReply(alert=self.view(row, model_cfg)))

    def set_fields(self, fp: str, **changes: Any) -> Alert:
        """Compare-and-set ``changes`` (``summary`` keys merge) on the alert row, retrying."""

        def attempt() -> Alert:
            row = self.get(fp)
            if row is None:
                raise KeyError(fp)
            values = dict(changes)
            if "summary" in values:
                values["summary"] = {**(row.summary or {}), **values["summary"]}
            self.store.compare_and_set(Alert, fp, row.version_no, **values)
            updated = self.get(fp)
            assert updated is not None
            return updated

        return retry_on_conflict(attempt)

    # -- internals
    def _load_or_create(self, obs: Observation, now: datetime) -> Alert:
        row = self.get(obs.fingerprint)
        if row is not None:
            return row
        try:
            with self.store.session() as session:
                session.add(
                    Alert(
                        fingerprint=obs.fingerprint,
                        model=obs.model,
                        environment=obs.environment,
                        signal=obs.signal,
                        state="ok",
                        severity="warning",
                        consecutive=0,
                        breach_count=0,
                        flips=[],
                        summary={"condition": "clear"},
                        version_no=0,
                    )
                )
        except IntegrityError:
            pass  # created concurrently; read theirs
        row = self.get(obs.fingerprint)
        assert row is not None
        return row

    def _summary(
        self, old: dict[str, Any], obs: Observation, step: Transition, now: datetime
    ) -> dict[str, Any]:
        summary = dict(old or {})
        # Oldest first by time (a backfilled history arrives after newer points), one value per
        # time (the same window checked twice keeps the newer value).
        merged = {str(t): v for t, v in [*summary.get("trend", []), *obs.trend]}
        trend = [[t, v] for t, v in sorted(merged.items())]
        summary.update(
            level=obs.level,
            headline=obs.headline,
            condition=step.condition,
            window=obs.window,
            checked_at=now.isoformat(),
            findings=[f.to_json() for f in obs.findings[:MAX_FINDINGS_STORED]],
            details=list(obs.details[:MAX_DETAIL_LINES]),
            trend=trend[-MAX_TREND_POINTS:],
        )
        if step.post_new or step.effect is Effect.REOPENED:
            summary.pop("retrain_note", None)
        if step.post_new:
            # The new card's thread gets this check's chart (or none: forget the old one's).
            summary.pop("chart_check", None)
            summary.pop("chart_shape", None)
            if obs.chart is not None:
                summary.update(chart_check=now.isoformat(), chart_shape=chart_shape(obs))
        return summary

    def _deliver(
        self, fp: str, step: Transition, obs: Observation, model_cfg: ModelConfig
    ) -> MessageRef | None:
        row = self.get(fp)
        assert row is not None
        ref = self.message_ref(row)
        if step.post_new:
            return self._post_card(row, obs, model_cfg)
        if ref is None:
            return None
        if step.edit:
            row = self._post_newer_chart(row, obs) or row
            self.ctx.update(ref, AlertReply(alert=self.view(row, model_cfg)))
        if step.note:
            self.ctx.note(ref, step.note)
        return ref

    def _post_newer_chart(self, row: Alert, obs: Observation) -> Alert | None:
        """When this check changed what the card's chart would show (the level, which features
        drifted, or the method that judged them, e.g. KS on a small window becoming Wasserstein
        on a large one), post this check's chart into the card's thread and record it, so the
        card can say which check its chart belongs to.

        The same picture with other decimals keeps the chart in place: a chart per hourly
        "still breaching" check would bury the thread, and the card says which check the chart
        is from. The upload key names the check, so a retry or a second worker sends it once.
        """
        summary = row.summary or {}
        checked_at = summary.get("checked_at")
        if obs.chart is None or not checked_at:
            return None
        shape = chart_shape(obs)
        if summary.get("chart_check") and summary.get("chart_shape") == shape:
            return None
        if not row.channel or not row.message_ts:
            return None  # the card itself is still queued with its first chart
        self.ctx.out.upload(
            f"{card_key(row)}:charts:{checked_at}",
            row.channel,
            [obs.chart],
            thread_ts=row.message_ts,
        )
        return self.set_fields(
            row.fingerprint, summary={"chart_check": checked_at, "chart_shape": shape}
        )

    def _post_card(self, row: Alert, obs: Observation, model_cfg: ModelConfig) -> MessageRef | None:
        """Post the card of a new incident (and its chart into the card's thread).

        Through the outbox the card is kept until Slack takes it, under one key per incident:
        a check that runs while it is still queued refreshes its content instead of queueing a
        second card, and :meth:`AlertBook.card_delivered` records the card when it finally goes out."""
        fp = row.fingerprint
        opened_at = _iso(row.opened_at)
        ref = self.ctx.publish(
            card_key(row),
            self.ctx.settings.channel(model_cfg, "alerts"),
            AlertReply(alert=self.view(row, model_cfg)),
            [obs.chart] if obs.chart is not None else [],
            what=f"the {fp} alert",
            hook=CARD_HOOK,
            hook_args={"fingerprint": fp, "opened_at": opened_at},
        )
        if ref is not None:
            self.record_card(fp, opened_at, ref)
        return ref

    def card_delivered(
        self, args: Mapping[str, Any], ref: MessageRef | None, deferred: bool
    ) -> None:
        """Outbox hook (:data:`CARD_HOOK`): an alert card went out. Record it, and when it
        waited in the outbox, edit it to what the alert says now (it may have been resolved or
        muted meanwhile)."""
        if ref is None:
            return
        fp = str(args.get("fingerprint"))
        if not self.record_card(fp, args.get("opened_at"), ref) or not deferred:
            return
        row = self.get(fp)
        if row is None:
            return
        try:
            model_cfg = self.ctx.settings.model(row.model)
        except KeyError:
            return
        self.refresh(fp, model_cfg)

    def record_card(self, fp: str, opened_at: str | None, ref: MessageRef) -> bool:
        """Remember where the card of the incident that opened at ``opened_at`` was posted
        (compare-and-set; a card of an incident that is over by now is not attached)."""

        def attempt() -> bool:
            row = self.get(fp)
            if row is None or _iso(row.opened_at) != opened_at:
                return False
            if row.message_ts == ref.ts and row.channel == ref.channel:
                return True
            if row.message_ts:
                return False
            self.store.compare_and_set(
                Alert, fp, row.version_no, channel=ref.channel, message_ts=ref.ts
            )
            return True

        try:
            return retry_on_conflict(attempt)
        except StaleStateError:
            return False


def card_key(row: Alert) -> str:
    """The outbox key of an incident's card: one card per fingerprint and opening time."""
    return f"alert:{row.fingerprint}:{_iso(row.opened_at)}"


def chart_shape(obs: Observation) -> str:
    """What a chart shows at a glance: the level and, per feature, its verdict and the method
    behind it ("tenure breach KS p"...). Another decimal is not another picture."""
    parts = [obs.level]
    # A drift finding's limit is its verdict and rule ("drifted (drift when KS p < 0.05)").
    # Sorted: the ranking by score reorders features from check to check.
    parts.extend(sorted(f"{f.name}|{f.level.value}|{f.limit}" for f in obs.findings))
    return "\n".join(parts)


def _parse(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def label(signal: str) -> str:
    """The people's name of a signal ("Drift", "Data quality"...)."""
    return SIGNAL_LABELS.get(signal, signal)


def open_alert_signals(
    store: Store, model: str, environment: str, signals: Sequence[str]
) -> list[str]:
    with store.read() as session:
        rows = session.scalars(
            select(Alert).where(
                Alert.model == model,
                Alert.environment == environment,
                Alert.signal.in_(list(signals)),
                Alert.state.in_(("open", "flapping")),
            )
        ).all()
        return [r.signal for r in rows]


def _snapshot(row: Alert) -> Snapshot:
    """What the lifecycle decides on, from an alert row."""
    return Snapshot(
        state=row.state,
        consecutive=row.consecutive,
        breach_count=row.breach_count,
        condition=str(row.summary.get("condition", "clear")),
        flips=tuple(row.flips or ()),
        opened_at=row.opened_at,
        resolved_at=row.resolved_at,
        has_message=bool(row.message_ts),
    )


_FIRST = Snapshot(
    state="ok",
    consecutive=0,
    breach_count=0,
    condition="clear",
    flips=(),
    opened_at=None,
    resolved_at=None,
    has_message=False,
)
"""A signal's row before its first observation (as :meth:`AlertBook._load_or_create` makes it)."""


def _plan(before: Snapshot, obs: Observation, rules: Any, mute: Any, now: datetime) -> Transition:
    """The alert policy's next step for ``obs`` from ``before`` (the same decision before the
    transaction, to know whether to draw the chart, and inside it)."""
    return plan(
        before, obs.level, rules=rules, muted=mute is not None, now=now, headline=obs.headline
    )
