"""The alert lifecycle, one row per fingerprint (model, environment, signal) in ``alerts``.

Rules, so a drifting model produces one conversation instead of a flood:

* a breach must hold for ``consecutive_breaches`` checks (K) before it counts ("pending" until);
* the first confirmed breach posts one alert; later breaches reply in its thread and edit the
  alert's counters; recovery edits it to "resolved" and says so in the thread;
* a fingerprint whose confirmed condition flips ``flap_threshold`` times within ``flap_window``
  is held as "flapping" (one note, counters edited silently) until it settles;
* a mute suppresses posting (the state still advances; an unannounced open alert is posted at
  the first check after the mute expires).

Every row also keeps the last verdict of its signal (``summary["level"]``/``["headline"]``), for
``/mlops status`` and the digest, healthy ones included. State changes are compare-and-set on the
row version before any Slack call. Cards, edits and thread notes go through the outbox
(:mod:`bot.slack.outbox`): a card Slack does not take at once is kept under one key per incident and
delivered when Slack is back (a check meanwhile refreshes its content, never queues a second
card), then recorded on its row by :func:`card_delivered`; nothing is lost, nothing is posted
twice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from core.replies import MessageRef, Upload
from core.reports import SIGNAL_LABELS, AlertReply, AlertView, Finding
from infra.settings import AlertConfig, ModelConfig, Settings
from infra.store import Alert, Mute, StaleStateError, Store
from jobs.context import MonitorContext

log = logging.getLogger(__name__)

MAX_FINDINGS_STORED = 10
MAX_DETAIL_LINES = 120
MAX_TREND_POINTS = 60
CAS_ATTEMPTS = 5
CARD_HOOK = "alert-card"
"""The outbox hook name under which a late-delivered alert card is recorded."""

#: Which retraining trigger answers a breach of each signal.
RETRAIN_TRIGGER = {
    "drift": "on_drift",
    "performance": "on_performance",
    "fairness": "on_performance",
}


def fingerprint(model: str, environment: str, signal: str) -> str:
    return f"{model}/{environment}/{signal}"


def retrain_mode(model_cfg: ModelConfig, signal: str) -> str:
    """off / auto / ask: the retraining policy that applies to a breach of ``signal``."""
    key = RETRAIN_TRIGGER.get(signal)
    return str(getattr(model_cfg.retraining, key)) if key else "off"


def severity(settings: Settings, environment: str, level: str) -> str:
    """Production breaches are critical; anything else is a warning."""
    production = settings.env_names[-1]
    return "critical" if level == "breach" and environment == production else "warning"


# --------------------------------------------------------------------------- mutes


def active_mute(store: Store, model: str, signal: str, now: datetime) -> Mute | None:
    """The mute covering ``signal`` of ``model`` at ``now`` (a signal mute or a model-wide ``*``)."""
    with store.session() as session:
        return session.scalars(
            select(Mute)
            .where(Mute.model == model, Mute.signal.in_((signal, "*")), Mute.until > now)
            .order_by(Mute.until.desc())
            .limit(1)
        ).first()


def set_mute(
    store: Store, model: str, signal: str, until: datetime, by: str, now: datetime
) -> Mute:
    """Create or extend the mute of (model, signal); the unique constraint keeps one row."""
    for _ in range(CAS_ATTEMPTS):
        try:
            with store.session() as session:
                mute = session.scalars(
                    select(Mute).where(Mute.model == model, Mute.signal == signal)
                ).first()
                if mute is None:
                    mute = Mute(model=model, signal=signal, until=until, by=by, created_at=now)
                    session.add(mute)
                else:
                    mute.until, mute.by, mute.created_at = until, by, now
                session.flush()
                return mute
        except IntegrityError:
            continue  # another writer created it first: update that row
    raise StaleStateError(f"could not record the mute of {model}/{signal}")


def remove_mutes(store: Store, model: str, signal: str | None = None) -> int:
    with store.session() as session:
        query = delete(Mute).where(Mute.model == model)
        if signal is not None:
            query = query.where(Mute.signal == signal)
        return int(session.execute(query).rowcount or 0)


def list_mutes(store: Store, model: str, now: datetime) -> list[Mute]:
    with store.session() as session:
        return list(
            session.scalars(
                select(Mute).where(Mute.model == model, Mute.until > now).order_by(Mute.signal)
            )
        )


# --------------------------------------------------------------------------- the pure rules


class Effect(StrEnum):
    NONE = "none"
    PENDING = "pending"
    OPENED = "opened"
    UPDATED = "updated"
    REOPENED = "reopened"
    RESOLVED = "resolved"
    FLAPPING = "flapping"
    SETTLED = "settled"
    SUPPRESSED = "suppressed"
    """Breaching while muted: state advances, nothing is posted."""


@dataclass(frozen=True)
class Snapshot:
    """The parts of an ``alerts`` row the rules read."""

    state: str = "ok"
    consecutive: int = 0
    breach_count: int = 0
    condition: str = "clear"
    flips: tuple[str, ...] = ()
    opened_at: datetime | None = None
    resolved_at: datetime | None = None
    has_message: bool = False


@dataclass(frozen=True)
class Transition:
    state: str
    consecutive: int
    breach_count: int
    condition: str
    flips: tuple[str, ...]
    opened_at: datetime | None
    resolved_at: datetime | None
    effect: Effect
    post_new: bool = False
    """Post a new top-level alert (the old message, if any, belongs to a past incident)."""
    edit: bool = False
    note: str | None = None
    """Text for the alert's thread."""

    @property
    def confirmed_breach(self) -> bool:
        return self.condition == "breach" and self.state == "open"


def plan(
    before: Snapshot,
    level: str,
    *,
    rules: AlertConfig,
    muted: bool,
    now: datetime,
    headline: str,
) -> Transition:
    """The next state of one fingerprint after a check that measured ``level``."""
    breach = level == "breach"
    if level == "unknown":
        # Not enough data says nothing about recovery or breach: keep everything as it is.
        return Transition(
            before.state,
            before.consecutive,
            before.breach_count,
            before.condition,
            before.flips,
            before.opened_at,
            before.resolved_at,
            Effect.NONE,
        )
    consecutive = before.consecutive + 1 if breach else 0
    if breach and consecutive >= rules.consecutive_breaches:
        condition = "breach"
    elif not breach:
        condition = "clear"
    else:
        condition = before.condition
    horizon = now - rules.flap_window
    flips = [f for f in before.flips if datetime.fromisoformat(f) > horizon]
    if condition != before.condition:
        flips.append(now.isoformat())
    flapping = len(flips) >= rules.flap_threshold
    breach_count = before.breach_count + 1 if breach else before.breach_count
    base = Transition(
        state=before.state,
        consecutive=consecutive,
        breach_count=breach_count,
        condition=condition,
        flips=tuple(flips),
        opened_at=before.opened_at,
        resolved_at=before.resolved_at,
        effect=Effect.NONE,
    )
    has_message = before.has_message

    if flapping:
        if before.state != "flapping":
            window = _human(rules.flap_window)
            return replace(
                base,
                state="flapping",
                effect=Effect.FLAPPING,
                edit=has_message,
                note=f":arrows_counterclockwise: Flapping: {len(flips)} changes in the last "
                f"{window}. Holding further alerts until it settles.",
            )
        return replace(base, state="flapping", edit=has_message)

    if condition == "breach":
        if before.state == "open":
            if has_message:
                note = (
                    None
                    if muted
                    else (
                        f":red_circle: Still breaching (check {breach_count}, "
                        f"{consecutive} in a row): {headline}"
                    )
                )
                return replace(
                    base,
                    effect=Effect.SUPPRESSED if muted else Effect.UPDATED,
                    edit=True,
                    note=note,
                )
            if muted:
                return replace(base, effect=Effect.SUPPRESSED)
            return replace(base, effect=Effect.OPENED, post_new=True)
        if before.state == "flapping" and has_message:
            return replace(
                base,
                state="open",
                effect=Effect.SETTLED,
                edit=True,
                note=f":red_circle: Settled, still breaching: {headline}",
            )
        # A new incident.
        opened = replace(
            base, state="open", opened_at=now, resolved_at=None, breach_count=consecutive
        )
        if muted:
            return replace(opened, effect=Effect.SUPPRESSED)
        recent = before.resolved_at is not None and now - before.resolved_at <= rules.flap_window
        if has_message and recent:
            return replace(
                opened,
                effect=Effect.REOPENED,
                edit=True,
                note=f":red_circle: Breaching again: {headline}",
            )
        return replace(opened, effect=Effect.OPENED, post_new=True)

    # condition == "clear"
    if before.state in ("open", "flapping"):
        if before.state == "open" and before.opened_at is not None:
            text = (
                f":large_green_circle: Resolved after {_human(now - before.opened_at)}: {headline}"
            )
        else:
            text = f":large_green_circle: Settled and resolved: {headline}"
        return replace(
            base,
            state="resolved",
            resolved_at=now,
            effect=Effect.RESOLVED if before.state == "open" else Effect.SETTLED,
            edit=has_message,
            note=text if has_message else None,
        )
    if breach:
        return replace(base, state="pending", effect=Effect.PENDING)
    if before.state == "pending":
        return replace(base, state="ok")
    return base


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds >= 86400 and seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    if seconds >= 3600:
        hours, rest = divmod(seconds, 3600)
        return f"{hours}h" + (f" {rest // 60}m" if rest >= 60 else "")
    if seconds >= 60:
        return f"{seconds // 60}m"
    return f"{seconds}s"


# --------------------------------------------------------------------------- applying them


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
        with self.store.session() as session:
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
        for _ in range(CAS_ATTEMPTS):
            row = self._load_or_create(obs, now)
            before = Snapshot(
                state=row.state,
                consecutive=row.consecutive,
                breach_count=row.breach_count,
                condition=str(row.summary.get("condition", "clear")),
                flips=tuple(row.flips or ()),
                opened_at=row.opened_at,
                resolved_at=row.resolved_at,
                has_message=bool(row.message_ts),
            )
            step = plan(
                before,
                obs.level,
                rules=rules,
                muted=mute is not None,
                now=now,
                headline=obs.headline,
            )
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
            try:
                self.store.compare_and_set(Alert, fp, row.version_no, **changes)
                break
            except StaleStateError:
                continue
        else:
            raise StaleStateError(f"alert {fp} kept changing; gave up after {CAS_ATTEMPTS} tries")

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

    def refresh(self, fp: str, model_cfg: ModelConfig) -> None:
        """Re-render the alert card from its row (after an acknowledgement, a mute, a retrain)."""
        row = self.get(fp)
        ref = self.message_ref(row) if row is not None else None
        if row is None or ref is None:
            return
        self.ctx.update(ref, AlertReply(alert=self.view(row, model_cfg)))

    def set_fields(self, fp: str, **changes: Any) -> Alert:
        """Compare-and-set ``changes`` (``summary`` keys merge) on the alert row, retrying."""
        for _ in range(CAS_ATTEMPTS):
            row = self.get(fp)
            if row is None:
                raise KeyError(fp)
            values = dict(changes)
            if "summary" in values:
                values["summary"] = {**(row.summary or {}), **values["summary"]}
            try:
                self.store.compare_and_set(Alert, fp, row.version_no, **values)
            except StaleStateError:
                continue
            updated = self.get(fp)
            assert updated is not None
            return updated
        raise StaleStateError(f"alert {fp} kept changing")

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
        trend = [list(p) for p in summary.get("trend", [])]
        trend.extend([list(p) for p in obs.trend])
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
            self.ctx.update(ref, AlertReply(alert=self.view(row, model_cfg)))
        if step.note:
            self.ctx.note(ref, step.note)
        return ref

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
        for _ in range(CAS_ATTEMPTS):
            row = self.get(fp)
            if row is None or _iso(row.opened_at) != opened_at:
                return False
            if row.message_ts == ref.ts and row.channel == ref.channel:
                return True
            if row.message_ts:
                return False
            try:
                self.store.compare_and_set(
                    Alert, fp, row.version_no, channel=ref.channel, message_ts=ref.ts
                )
                return True
            except StaleStateError:
                continue
        return False


def card_key(row: Alert) -> str:
    """The outbox key of an incident's card: one card per fingerprint and opening time."""
    return f"alert:{row.fingerprint}:{_iso(row.opened_at)}"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def label(signal: str) -> str:
    return SIGNAL_LABELS.get(signal, signal)


def open_alert_signals(
    store: Store, model: str, environment: str, signals: Sequence[str]
) -> list[str]:
    with store.session() as session:
        rows = session.scalars(
            select(Alert).where(
                Alert.model == model,
                Alert.environment == environment,
                Alert.signal.in_(list(signals)),
                Alert.state.in_(("open", "flapping")),
            )
        ).all()
        return [r.signal for r in rows]
